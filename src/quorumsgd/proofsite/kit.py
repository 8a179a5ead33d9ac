r"""What a proof notebook needs beyond the package's public API: executed checks, math display, plots.

A proof notebook states a result, derives it step by step with :mod:`quorumsgd.bounds` and
:mod:`quorumsgd.contraction`, and turns every algebraic claim into an executed check:

>>> proof = Proof("demo", display=False)
>>> import sympy
>>> x = sympy.Symbol("x", positive=True)
>>> proof.same("(x + 1)^2 expands", (x + 1) ** 2, x**2 + 2 * x + 1)
>>> proof.check("x > 0", x.is_positive)
>>> proof.check("a false claim", 1 > 2, "one is not greater than two")
Traceback (most recent call last):
...
quorumsgd.proofsite.kit.ProofStepFailed: proof step 'a false claim' failed: one is not greater than two
>>> [s["ok"] for s in proof.steps]
[True, True, False]

Nothing here re-derives a bound: the checks compare the package's derived objects with the proof's
independent steps (a SymPy identity, a number with a tolerance). :data:`QUICK` (environment variable
``QUORUMSGD_PROOFS_QUICK=1``) asks the notebooks for small simulations, so that each runs in seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

QUICK_ENV = "QUORUMSGD_PROOFS_QUICK"
"""Environment variable that selects quick mode (``1``/``true``/``yes``)."""

QUICK: bool = os.environ.get(QUICK_ENV, "").strip().lower() in ("1", "true", "yes", "on")
"""Quick mode: small simulations (a few seconds per notebook); full mode measures with the default settings."""

SUMMARY_MIME = "application/vnd.quorumsgd.proof+json"
"""MIME type of the machine-readable summary a notebook displays last (read back by the renderer and tests)."""


class ProofStepFailed(AssertionError):
    """An executed proof step did not check out; the message names the step."""

    def __init__(self, step: str, detail: str = ""):
        self.step, self.detail = step, detail
        tail = f": {detail}" if detail else ""
        super().__init__(f"proof step '{step}' failed{tail}")


def truth(condition: Any) -> bool:
    """A definite truth value of a Python, numpy or SymPy condition; an undecidable SymPy relation is False."""
    if isinstance(condition, sympy.Basic):
        if condition is sympy.true:
            return True
        if condition is sympy.false:
            return False
        simplified = sympy.simplify(condition)
        return simplified is sympy.true
    return bool(np.all(np.asarray(condition)))


def is_zero(expr: Any) -> bool:
    """``expr`` simplifies to zero (a SymPy expression or matrix, or numbers)."""
    if isinstance(expr, sympy.MatrixBase):
        return all(is_zero(e) for e in expr)
    if isinstance(expr, sympy.Basic):
        return sympy.simplify(expr) == 0 or sympy.simplify(sympy.expand(expr)) == 0
    return bool(np.all(np.asarray(expr) == 0))


def latex(expr: Any) -> str:
    """LaTeX of a SymPy object in the paper's letters (``coupling`` prints as :math:`k`, ...)."""
    from quorumsgd.parameters import latex as paper_latex

    return expr if isinstance(expr, str) else paper_latex(expr)


def _json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json(value.tolist())
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, sympy.Basic):
        return str(value)
    return value


@dataclass
class Proof:
    """The record of one notebook's executed proof: its steps, its key numbers and its verdict.

    Attributes:
        name: the result's design name (``thm5.1``).
        display: show each step as it is checked (off in doctests).
        steps: every checked step, in order, ``{"step", "ok", "detail"}``.
        values: named numbers the notebook wants compared by value (read back by the tests).
    """

    name: str
    display: bool = True
    steps: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    # -- checks ------------------------------------------------------------------------------------------------

    def check(self, step: str, condition: Any, detail: str = "") -> None:
        """Record ``step``; raise :class:`ProofStepFailed` naming it when ``condition`` is not definitely true."""
        ok = truth(condition)
        self.steps.append({"step": step, "ok": ok, "detail": detail})
        if self.display:
            print(("✓ " if ok else "✗ ") + step)
        if not ok:
            raise ProofStepFailed(step, detail or f"condition {condition!r} does not hold")

    def same(self, step: str, lhs: Any, rhs: Any) -> None:
        """Check a SymPy identity ``lhs == rhs`` (expressions or matrices) by simplifying the difference."""
        difference = (sympy.Matrix(lhs) - sympy.Matrix(rhs)) if isinstance(lhs, sympy.MatrixBase) else lhs - rhs
        self.check(step, is_zero(difference), f"{lhs} - ({rhs}) does not simplify to 0")

    def close(self, step: str, actual: Any, expected: Any, rel: float = 1e-9, abs_tol: float = 1e-12) -> None:
        """Check numbers (or arrays) agree: ``|actual - expected| <= abs_tol + rel |expected|``."""
        a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
        ok = bool(np.all(np.abs(a - e) <= abs_tol + rel * np.abs(e)))
        self.check(step, ok, f"{a} vs expected {e} (rel {rel}, abs {abs_tol})")

    def at_most(self, step: str, smaller: Any, larger: Any, tol: float = 0.0) -> None:
        """Check ``smaller <= larger + tol`` element-wise (an inequality of the proof, on numbers)."""
        s, g = np.asarray(smaller, dtype=float), np.asarray(larger, dtype=float)
        self.check(step, bool(np.all(s <= g + tol)), f"{s} is not <= {g} (tol {tol})")

    def record(self, key: str, value: Any) -> Any:
        """Keep a number for the summary (compared by value by the tests); returns ``value``."""
        self.values[key] = _json(value)
        return value

    # -- the closing summary ---------------------------------------------------------------------------------------

    def summary(self, verdict: str) -> dict[str, Any]:
        """Display the verdict with the table of checked steps, and the machine-readable summary."""
        payload = {
            "name": self.name,
            "quick": QUICK,
            "verdict": verdict,
            "checks": len(self.steps),
            "failed": [s["step"] for s in self.steps if not s["ok"]],
            "steps": self.steps,
            "values": self.values,
        }
        if self.display:
            rows = "\n".join(f"| {i} | {s['step']} | {'✓' if s['ok'] else '✗'} |" for i, s in enumerate(self.steps, 1))
            text = f"**Verdict.** {verdict}\n\n| # | checked step | |\n|---|---|---|\n{rows}\n"
            _display({"text/markdown": text, SUMMARY_MIME: _json(payload), "text/plain": text})
        return payload


def _display(bundle: dict[str, Any]) -> None:
    from IPython.display import display

    display(bundle, raw=True)


def show(*parts: Any) -> None:
    r"""Display text and math: strings are Markdown; SymPy objects become display math.

    ``show("The rate is", expr)`` renders the expression in the paper's letters.
    """
    pieces = []
    for part in parts:
        if isinstance(part, (sympy.Basic, sympy.MatrixBase)):
            pieces.append(f"$$\n{latex(part)}\n$$")
        else:
            pieces.append(str(part))
    text = "\n\n".join(pieces)
    _display({"text/markdown": text, "text/plain": text})


def equation(lhs: str, rhs: Any, relation: str = "=") -> None:
    r"""Display ``lhs relation rhs`` as one display equation (``lhs`` is LaTeX, ``rhs`` LaTeX or SymPy)."""
    text = f"$$\n{lhs} {relation} {latex(rhs)}\n$$"
    _display({"text/markdown": text, "text/plain": text})


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 5) -> None:
    """Display a Markdown table; floats are shown with ``digits`` significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, (float, np.floating)):
            return "n/a" if not np.isfinite(value) else f"{float(value):.{digits}g}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    text = "\n".join(lines)
    _display({"text/markdown": text, "text/plain": text})


# --- settings of the measurements ------------------------------------------------------------------------------


def settings() -> Any:
    """The :class:`quorumsgd.verify.checks.Settings` of the measurements: small in quick mode."""
    from quorumsgd.verify.checks import QUICK as DEFAULT
    from quorumsgd.verify.checks import Settings

    return Settings(sims=32, window=4.0, steps_per_time=10.0) if QUICK else DEFAULT


def grid(quick: Sequence[float], full: Sequence[float]) -> list[float]:
    """Sweep values: the short list in quick mode, the long one otherwise."""
    return list(quick if QUICK else full)


# --- plots ----------------------------------------------------------------------------------------------------------


def _axes(n: int, width: float = 5.2, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, axes[0]


def plot_sweeps(sweeps: Sequence[Any], title: str, extra: Mapping[str, Sequence[Callable[[Any], float]]] | None = None
                ) -> None:
    """Measured vs bound across each sweep (one panel per swept field), from :func:`quorumsgd.verify.report.run_sweep`.

    ``extra`` maps a label to one function per sweep giving an additional curve (e.g. the LMI-metric bound)
    from each :class:`~quorumsgd.verify.result.CheckResult`.
    """
    import matplotlib.pyplot as plt

    fig, axes = _axes(len(sweeps))
    for i, (ax, sweep) in enumerate(zip(axes, sweeps, strict=True)):
        x = np.asarray(sweep.values, dtype=float)
        results = sweep.results
        lower = results[0].direction == "lower"
        ax.plot(x, [r.bound for r in results], "o-", color="C0", label="bound (paper's metric)")
        for label, fns in (extra or {}).items():
            ax.plot(x, [fns[i](r) for r in results], "d-.", color="C2", label=label)
        ax.plot(x, [r.measured for r in results], "s-", color="C3", label="measured")
        conf = [r.lower_confidence if lower else r.upper_confidence for r in results]
        ax.plot(x, conf, "v--", color="C3", alpha=0.6,
                label=("lower" if lower else "upper") + f" {results[0].confidence:.0%} confidence")
        ax.set_xlabel(sweep.field)
        ax.set_ylabel(results[0].statistic)
        if sweep.field == "n_agents":
            ax.set_xscale("log", base=2)
        else:
            ax.set_xscale("log")
        if not lower:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()


def plot_curves(panels: Sequence[Mapping[str, Any]], title: str) -> None:
    """Structure plots: each panel ``{"x": values, "xlabel", "ylabel", "curves": {label: ys}, "logx", "logy"}``."""
    import matplotlib.pyplot as plt

    fig, axes = _axes(len(panels))
    for ax, panel in zip(axes, panels, strict=True):
        styles = ["o-", "s--", "d-.", "v:", "^-", "x--"]
        for i, (label, ys) in enumerate(panel["curves"].items()):
            ax.plot(panel["x"], ys, styles[i % len(styles)], label=label)
        ax.set_xlabel(panel["xlabel"])
        ax.set_ylabel(panel.get("ylabel", ""))
        if panel.get("logx"):
            ax.set_xscale("log", base=panel.get("logx_base", 10))
        if panel.get("logy"):
            ax.set_yscale("log")
        if panel.get("title"):
            ax.set_title(panel["title"], fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()


def sweep_record(proof: Proof, sweeps: Sequence[Any]) -> None:
    """Keep each sweep's bounds, measurements and verdicts in the proof's values (compared by the tests)."""
    for sweep in sweeps:
        proof.record(f"sweep:{sweep.field}", {
            "values": sweep.values,
            "bound": [r.bound for r in sweep.results],
            "measured": [r.measured for r in sweep.results],
            "upper_confidence": [r.upper_confidence for r in sweep.results],
            "lower_confidence": [r.lower_confidence for r in sweep.results],
            "verdicts": [r.verdict for r in sweep.results],
            "direction": sweep.results[0].direction,
        })


def summary_of(outputs: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The proof summary among a code cell's outputs (nbformat dicts), or None."""
    for out in outputs:
        data = out.get("data", {})
        if SUMMARY_MIME in data:
            value = data[SUMMARY_MIME]
            return json.loads(value) if isinstance(value, str) else dict(value)
    return None


__all__ = [
    "QUICK",
    "QUICK_ENV",
    "SUMMARY_MIME",
    "Proof",
    "ProofStepFailed",
    "equation",
    "grid",
    "is_zero",
    "latex",
    "plot_curves",
    "plot_sweeps",
    "settings",
    "show",
    "summary_of",
    "sweep_record",
    "table",
    "truth",
]
