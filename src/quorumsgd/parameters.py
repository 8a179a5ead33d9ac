r"""The named parameters of the paper: one SymPy symbol, CLI flag, LaTeX letter and domain for each.

Code, CLI flags and JSON keys use descriptive names, never the paper's ambiguous letters; the
LaTeX rendering maps them back to the paper's notation (``coupling`` prints as :math:`k`, ``n_agents`` as
:math:`p`, ...).

Example:
    >>> PARAMETERS["n_agents"].flag, PARAMETERS["n_agents"].latex
    ('--n-agents', 'p')
    >>> import sympy
    >>> latex(symbol("coupling") + symbol("strong_convexity"))
    'k + \\lambda'
    >>> validate_values({"lr": -1.0}, where="thm5.1")
    Traceback (most recent call last):
    ...
    quorumsgd.errors.InvalidParameter: thm5.1: parameter lr must satisfy lr > 0 (got -1.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np

from quorumsgd.errors import InvalidParameter

if TYPE_CHECKING:  # SymPy is imported on first use: validating numbers (the CLI's bound) needs none of it
    import sympy

Domain = Literal["positive", "nonnegative", "real", "positive_integer", "unit_interval", "at_least_one"]


@dataclass(frozen=True)
class Parameter:
    """A named scalar parameter of the theory."""

    name: str
    latex: str
    domain: Domain
    description: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def symbol(self) -> sympy.Symbol:
        return symbol(self.name)

    @property
    def constraint(self) -> str:
        return {
            "positive": f"{self.name} > 0",
            "nonnegative": f"{self.name} >= 0",
            "real": f"{self.name} finite",
            "positive_integer": f"{self.name} integer >= 1",
            "unit_interval": f"0 <= {self.name} < 1",
            "at_least_one": f"{self.name} >= 1",
        }[self.domain]

    def ok(self, value: np.ndarray) -> np.ndarray:
        """Element-wise: does ``value`` lie in the domain (and is it finite)?"""
        v = np.asarray(value, dtype=float)
        finite = np.isfinite(v)
        with np.errstate(invalid="ignore"):
            inside = {
                "positive": v > 0,
                "nonnegative": v >= 0,
                "real": finite,
                "positive_integer": (v >= 1) & (np.mod(v, 1) == 0),
                "unit_interval": (v >= 0) & (v < 1),
                "at_least_one": v >= 1,
            }[self.domain]
        return finite & inside


_P = Parameter
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in [
        _P("n_agents", "p", "positive_integer", "number of agents"),
        _P("coupling", "k", "nonnegative", "coupling gain k"),
        _P("lr", r"\eta", "positive", "learning rate (for per-agent rates: their mean, Sec. 3.4)"),
        _P("batch_size", "b", "positive_integer", "mini-batch size"),
        _P("sigma2", r"\sigma^{2}", "positive", "bound on tr(B^T B), the single-sample noise strength"),
        _P("dim", "n", "positive_integer", "dimension of the parameter space"),
        _P("q", "Q", "nonnegative", "bound on the Hessians of the gradient components (Assumption 2.1)"),
        _P("strong_convexity", r"\lambda", "positive", "strong-convexity constant"),
        _P("smoothness", "L", "positive", "smoothness constant (largest Hessian eigenvalue)"),
        _P("lambda_max", r"\lambda_{\max}", "real", "sup of the largest eigenvalue of -Hessian"),
        _P("damping", r"\gamma", "positive", "momentum damping (continuous time)"),
        _P("velocity_coupling", "k_v", "nonnegative", "velocity coupling gain"),
        _P("alpha", r"\alpha", "positive", "EASGD agent moving rate"),
        _P("beta", r"\beta", "positive", "EASGD quorum moving rate"),
        _P("momentum", r"\delta", "unit_interval", "Nesterov / heavy-ball momentum (discrete)"),
        _P("curvature", "h", "positive", "Hessian eigenvalue of a quadratic f = h/2 ‖x‖^2"),
        _P("time", "t", "positive", "time since the start (continuous time, t = lr x iterations)"),
        _P("chi", r"\chi", "at_least_one", "condition number of the metric transformation Theta"),
        _P("disturbance", r"\bar d", "nonnegative", "bound on the disturbance ‖d‖"),
        _P("rate", r"\lambda_c", "positive", "contraction rate"),
        _P("beta_min", r"\beta_{\min}", "positive", "lower bound of the metric, M >= beta_min I"),
        _P("noise_bound", "C", "nonnegative", "bound on tr(B^T M B)"),
        _P("initial_gap2", r"V_0", "nonnegative", "E ‖a(0) - b(0)‖_M^2, initial squared distance"),
        _P("magnification", r"A_{\rm mag}", "nonnegative", "SD-QSGD winner gain magnification"),
        _P("tau", r"\tau", "positive", "SD-QSGD spike relaxation time"),
        _P("metric_a", "a", "positive", "Lemma 5.3 metric parameter a, 0 < a < damping"),
    ]
}


_ASSUMPTIONS = {
    "positive": {"positive": True},
    "nonnegative": {"nonnegative": True},
    "real": {"real": True},
    "positive_integer": {"positive": True, "integer": True},
    "unit_interval": {"nonnegative": True},
    "at_least_one": {"positive": True},
}
@cache
def _symbols() -> dict[str, sympy.Symbol]:
    import sympy

    return {name: sympy.Symbol(name, **_ASSUMPTIONS[p.domain]) for name, p in PARAMETERS.items()}


def symbol(name: str) -> sympy.Symbol:
    """The SymPy symbol of a named parameter (same object every call)."""
    try:
        return _symbols()[name]
    except KeyError:
        raise InvalidParameter(name, "be a known parameter name") from None


def symbols(*names: str) -> tuple[sympy.Symbol, ...]:
    return tuple(symbol(n) for n in names)


def latex(expr: sympy.Basic) -> str:
    """LaTeX of an expression in the paper's letters."""
    import sympy

    names = {p.symbol: p.latex for p in PARAMETERS.values()}
    return sympy.latex(expr, symbol_names=names)


def numeric_array(value: object, name: str, where: str | None = None, finite: bool = True) -> np.ndarray:
    """``value`` as a float array: numbers only (no strings or booleans), within the range of 64-bit floats,
    and (``finite``) without ``nan`` or ``inf``. Anything else raises :class:`InvalidParameter` naming ``name``.

    >>> numeric_array([1, 2.5], "lr").tolist()
    [1.0, 2.5]
    >>> numeric_array(10**400, "lr")
    Traceback (most recent call last):
    ...
    quorumsgd.errors.InvalidParameter: parameter lr must be within the range of 64-bit floats (|x| <= 1.8e308) (got 1000...
    """
    wrong_type = "be a number or an array of numbers (not a string or a boolean)"
    if isinstance(value, str | bytes | bool | np.bool_):
        raise InvalidParameter(name, wrong_type, value, where)
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested lists
        raise InvalidParameter(name, "be a number or a rectangular array of numbers", value, where) from None
    if raw.dtype.kind in "bUSV" or (
        raw.dtype.kind == "O" and any(isinstance(v, str | bytes | bool | np.bool_) for v in raw.ravel())
    ):
        raise InvalidParameter(name, wrong_type, value, where)
    try:
        with np.errstate(over="raise"):
            arr = raw.astype(float)
    except (OverflowError, FloatingPointError):  # a Python int beyond 1.8e308
        raise InvalidParameter(name, "be within the range of 64-bit floats (|x| <= 1.8e308)", value, where) from None
    except (TypeError, ValueError):
        raise InvalidParameter(name, wrong_type, value, where) from None
    if finite and not np.all(np.isfinite(arr)):
        bad = float(arr[~np.isfinite(arr)].ravel()[0]) if arr.ndim else float(arr)
        raise InvalidParameter(name, "be finite (no nan or inf)", bad, where)
    return arr


def positive_number(value: object, name: str, where: str | None = None) -> float:
    """A finite scalar > 0 (a time step, a tolerance), else :class:`InvalidParameter`."""
    arr = numeric_array(value, name, where)
    if arr.ndim != 0 or not float(arr) > 0:
        raise InvalidParameter(name, "be a finite number > 0", value, where)
    return float(arr)


def validate_values(values: Mapping[str, object], where: str | None = None) -> dict[str, np.ndarray]:
    """Check every named value against its domain; return them as float arrays.

    Raises :class:`InvalidParameter` naming the parameter, its constraint and (for arrays) the first bad entry,
    or naming the parameters whose arrays do not broadcast together.
    """
    out: dict[str, np.ndarray] = {}
    for name, raw in values.items():
        if name not in PARAMETERS:
            raise InvalidParameter(name, "be a known parameter name", where=where)
        arr = numeric_array(raw, name, where, finite=False)  # the domain check below names non-finite values
        ok = PARAMETERS[name].ok(arr)
        if not np.all(ok):
            bad = arr[~ok].ravel()[0] if arr.ndim else float(arr)
            shown = float(bad) if arr.ndim == 0 else f"{float(bad)} at index {int(np.argmin(ok.ravel()))}"
            raise InvalidParameter(name, PARAMETERS[name].constraint, shown, where)
        out[name] = arr
    try:
        np.broadcast_shapes(*(a.shape for a in out.values()))
    except ValueError:
        arrays = {n: a.shape for n, a in out.items() if a.ndim}
        raise InvalidParameter(", ".join(arrays), "be arrays whose shapes broadcast together",
                               "; ".join(f"{n} {shape}" for n, shape in arrays.items()), where) from None
    return out
