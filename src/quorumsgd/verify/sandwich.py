r"""The *sandwich*: the true worst case of a bound, pinned down from both sides at one problem's parameters.

* **found** — a measured statistic (a check's, or the worst case a hunt found): a *lower* bound on the worst
  case over the class, up to its confidence interval;
* **SDP** — the certificate over the whole class :math:`\mathcal S(\lambda,L)` (an *upper* bound):
  ``quorumsgd.bounds.evaluate(name, method="sdp", smoothness=L, ...)``;
* **paper** — the paper's bound at the same parameters ((22), (31), (47), (48), (51), (54), (59));
* **exact quadratic** — the exact stationary value on the isotropic quadratic of curvature :math:`\lambda` with
  isotropic Gaussian noise (Lyapunov equation, :mod:`quorumsgd.simulate.oracle`).

The ratio certified / found says how well the worst case is pinned down (1: exactly). ``quorumsgd verify``
reports it for every check; ``quorumsgd hunt`` for the worst case it found.

Example:
    >>> from quorumsgd.verify.problems import Problem
    >>> p = Problem.quadratic(dim=2, strong_convexity=0.5, smoothness=0.5, n_agents=4, coupling=2.0)
    >>> s = sandwich("lemma3.1", p, measured=0.1)
    >>> round(s["exact_quadratic"] / s["paper"], 6)   # (22) with the factor (p - 1) is attained by the quadratic
    1.0
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from quorumsgd.bounds.registry import HUNTABLE, REGISTRY
from quorumsgd.errors import InvalidParameter, NumericalFailure, QuorumSGDError
from quorumsgd.verify.problems import Problem, ProblemSpec

SANDWICH_THEOREMS: tuple[str, ...] = HUNTABLE
"""The measurable upper bounds: those a check measures and a hunt searches (from the registry)."""

_QUANTITY_FIELDS = {"center": "x", "quorum": "quorum", "center_velocity": "v"}
"""The field whose agent average (or, for the quorum, value) each certified first-moment quantity measures."""


def bound_parameters(theorem: str, problem: Problem) -> dict[str, Any]:
    """The bound calculator's parameters for a problem, exactly as the verify check passes them.

    The theorem's registry entry says which parameters it takes; the problem gives their values (Lemma 5.5's
    ``curvature`` is the quadratic's :math:`\\lambda`; its ``time`` is the horizon, added by the caller).
    """
    if theorem not in SANDWICH_THEOREMS:
        raise InvalidParameter("theorem", f"be one of {', '.join(SANDWICH_THEOREMS)}", theorem, "sandwich")
    s = problem.spec
    available = {
        "n_agents": s.n_agents, "lr": problem.mean_lr, "batch_size": s.batch_size, "sigma2": problem.sigma2,
        "dim": s.dim, "q": problem.q, "strong_convexity": problem.strong_convexity, "smoothness": problem.smoothness,
        "coupling": s.coupling, "damping": s.damping, "lambda_max": problem.lambda_max,
        "curvature": problem.strong_convexity,
    }
    return {name: available[name] for name in REGISTRY[theorem].parameters if name in available}


def sdp_certificate(theorem: str, params: dict[str, Any], smoothness: float) -> tuple[float | None, str]:
    """The SDP certificate over :math:`\\mathcal S(\\lambda,L)` where the calculator has one: ``(value, note)``."""
    from quorumsgd import bounds

    try:
        result = bounds.evaluate(theorem, method="sdp", **{**params, "smoothness": smoothness})
    except (QuorumSGDError, NumericalFailure) as err:  # not certified for this theorem or these parameters: say why
        return None, f"no SDP certificate: {err}"
    value = float(result.value)
    return (value, "SDP certificate over S(lambda, L)") if np.isfinite(value) else (None, "SDP certificate infinite")


def _selector(layout: Any, fields: list[str]) -> np.ndarray:
    """Rows picking the agent average of each field with an agent axis, or the field itself (the quorum)."""
    rows = []
    for name in fields:
        idx = layout.index(name)
        columns = [idx[:, j] for j in range(idx.shape[1])] if idx.ndim == 2 else [idx[j:j + 1] for j in range(idx.shape[0])]
        for cols in columns:
            row = np.zeros(layout.size)
            row[cols] = 1.0 / len(cols)
            rows.append(row)
    return np.array(rows)


def exact_quadratic_value(theorem: str, problem: Problem) -> float | None:
    r"""The exact stationary statistic on :math:`\frac\lambda2\|\mathbf x\|^2` with isotropic Gaussian noise.

    ``None`` for Lemma 5.5 (its check reports the exact finite-time value itself); 0 for Thm 3.2 (a quadratic
    has no disturbance :math:`\boldsymbol\epsilon`).
    """
    from quorumsgd.objectives import GaussianNoise, Quadratic
    from quorumsgd.simulate import expected_norm, linearize

    if theorem == "thm3.2":
        return 0.0
    sdp = REGISTRY[theorem].sdp if theorem in REGISTRY else None
    if sdp is None:  # the certified quantities are the statistics with a Gaussian closed form
        return None
    s = problem.spec
    dim, n = int(s.dim), int(s.n_agents) if "n_agents" in REGISTRY[theorem].parameters else 1
    alg = sdp.continuous({"coupling": float(s.coupling), "damping": float(s.damping or 0.0)})
    f = Quadratic.isotropic(dim, float(problem.strong_convexity))
    sde = linearize(alg, f, n, GaussianNoise.isotropic(dim, float(problem.sigma2)), float(problem.mean_lr),
                    float(s.batch_size))
    law = sde.stationary()
    if sdp.quantity == ("spread",):
        return law.expected_spread()
    sel = _selector(sde.layout, [_QUANTITY_FIELDS[quantity] for quantity in sdp.quantity])
    size = sde.layout.size
    return expected_norm(sel @ law.mean[:size], sel @ law.cov[:size, :size] @ sel.T)


def sandwich(theorem: str, problem: Problem, measured: float, lower_confidence: float | None = None,
             paper: float | None = None, exact: float | None = None, time: float | None = None) -> dict[str, Any]:
    """Found (lower) / SDP certificate (upper) / paper's bound / exact quadratic value, side by side.

    ``paper`` and ``exact`` override the computed values (a check's own bound, Lemma 5.5's exact finite-time
    value); ``time`` is Lemma 5.5's horizon. ``paper`` is ``None`` where the paper's hypotheses fail (an
    infinite :math:`Q`) while the certificate, which needs no :math:`Q`, still holds.
    """
    from quorumsgd import bounds

    params = bound_parameters(theorem, problem)
    if "time" in REGISTRY[theorem].parameters:  # Lemma 5.5: a bound at the horizon of the time average
        if time is None:
            raise InvalidParameter("time", f"be given for {theorem} (the horizon of the time average)", None,
                                   "sandwich")
        params["time"] = float(time)
    if paper is None:
        try:
            paper = float(bounds.evaluate(theorem, **params).value)
        except QuorumSGDError:  # outside the paper's hypotheses (e.g. Q infinite): the certificate may still hold
            paper = None
    sdp, note = sdp_certificate(theorem, params, problem.smoothness)
    exact = exact_quadratic_value(theorem, problem) if exact is None else exact
    return {
        "theorem": theorem, "found": measured, "found_lower_confidence": lower_confidence, "sdp": sdp,
        "sdp_note": note, "paper": paper, "exact_quadratic": exact,
        "certified_over_found": None if sdp is None or measured <= 0 else sdp / measured,
        "paper_over_found": paper / measured if paper is not None and measured > 0 else None,
    }


def sandwich_for_check(result: Any) -> dict[str, Any] | None:
    """The sandwich of a :class:`~quorumsgd.verify.result.CheckResult`, at the check's own problem.

    ``None`` for checks without one (Lemma 5.4's rate) or whose problem a spec cannot rebuild.
    """
    spec = (result.params or {}).get("problem")
    name = result.name.split(":")[0]
    if spec is None or name not in SANDWICH_THEOREMS or spec.get("objective") not in ("quadratic", "logcosh"):
        return None
    spec = {f.name: spec[f.name] for f in fields(ProblemSpec) if f.name in spec}  # the JSON adds derived constants
    if isinstance(spec.get("lr"), list):
        spec["lr"] = tuple(spec["lr"])
    problem = Problem.build(ProblemSpec(**spec))
    details = result.details or {}
    return sandwich(name, problem, result.measured, result.lower_confidence, paper=result.bound,
                    exact=details.get("exact_finite_time") if name == "lemma5.5" else None, time=result.params.get("T"))
