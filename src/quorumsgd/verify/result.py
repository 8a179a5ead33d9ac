"""What a verification check returns, and how its verdict is decided.

A check compares a measured statistic with a derived bound. For an *upper* bound (the usual case):

* ``holds``: the one-sided upper confidence bound of the measurement is at most the bound;
* ``violated``: the one-sided *lower* confidence bound exceeds the bound (a statistically significant
  violation: a finding, reported with the parameters that reproduce it);
* ``inconclusive``: neither (the bound is tight or the sample too small to tell).

For a *lower* bound (a contraction rate), the roles of the confidence bounds swap.

Example:
    >>> verdict_for(measured_ucb=0.8, measured_lcb=0.7, bound=1.0)
    'holds'
    >>> verdict_for(measured_ucb=1.3, measured_lcb=1.1, bound=1.0)
    'violated'
    >>> verdict_for(measured_ucb=1.1, measured_lcb=0.9, bound=1.0)
    'inconclusive'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Verdict = Literal["holds", "violated", "inconclusive"]


def verdict_for(measured_ucb: float, measured_lcb: float, bound: float, direction: str = "upper") -> Verdict:
    """Verdict of one comparison (see the module docstring)."""
    if direction == "upper":
        if measured_ucb <= bound:
            return "holds"
        return "violated" if measured_lcb > bound else "inconclusive"
    if measured_lcb >= bound:
        return "holds"
    return "violated" if measured_ucb < bound else "inconclusive"


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class CheckResult:
    """One measured-vs-bound comparison.

    Attributes:
        name: the theorem checked (theorem name, e.g. ``thm5.1``), or ``name:variant``.
        statistic: what was measured (e.g. ``E|x_bar - x*|``).
        bound: the derived bound (paper's metric).
        measured, stderr: the estimate and its standard error.
        upper_confidence, lower_confidence: one-sided confidence bounds at ``confidence``.
        tightness: ``measured / bound`` for upper bounds, ``bound / measured`` for lower bounds (rates).
        verdict: ``holds``, ``violated`` or ``inconclusive``.
        direction: ``upper`` (measured <= bound) or ``lower`` (measured >= bound, for rates).
        params: everything needed to reproduce the run (problem, simulation settings, seed).
        terms: the bound's named terms.
        bound_lmi: the bound with an LMI-certified metric, where available.
        details: extra numbers (exact oracle values, sample counts, timings).
    """

    name: str
    statistic: str
    bound: float
    measured: float
    stderr: float
    upper_confidence: float
    lower_confidence: float
    confidence: float
    tightness: float
    verdict: Verdict
    direction: str = "upper"
    n_samples: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    terms: dict[str, float] = field(default_factory=dict)
    bound_lmi: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_measurement(
        cls,
        name: str,
        statistic: str,
        bound: float,
        mean: float,
        stderr: float,
        ucb: float,
        lcb: float,
        confidence: float,
        n_samples: int,
        direction: str = "upper",
        **extra: Any,
    ) -> CheckResult:
        if direction == "upper":
            # One agent has zero spread and a zero bound: a tight, trivially satisfied case.
            tight = mean / bound if bound > 0 else (0.0 if mean == 0 else float("inf"))
        else:
            tight = bound / mean if mean > 0 else float("inf")
        return cls(
            name=name,
            statistic=statistic,
            bound=float(bound),
            measured=float(mean),
            stderr=float(stderr),
            upper_confidence=float(ucb),
            lower_confidence=float(lcb),
            confidence=float(confidence),
            tightness=float(tight),
            verdict=verdict_for(ucb, lcb, bound, direction),
            direction=direction,
            n_samples=int(n_samples),
            **extra,
        )

    def to_json(self) -> dict[str, Any]:
        return _clean(
            {
                "name": self.name,
                "statistic": self.statistic,
                "bound": self.bound,
                "measured": self.measured,
                "stderr": self.stderr,
                "upper_confidence": self.upper_confidence,
                "lower_confidence": self.lower_confidence,
                "confidence": self.confidence,
                "tightness": self.tightness,
                "verdict": self.verdict,
                "direction": self.direction,
                "n_samples": self.n_samples,
                "bound_lmi": self.bound_lmi,
                "terms": self.terms,
                "params": self.params,
                "details": self.details,
            }
        )
