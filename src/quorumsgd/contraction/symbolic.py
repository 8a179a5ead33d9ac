r"""Symbolic contraction analysis of the paper's virtual systems, built from the algorithm definitions.

For each system the Jacobian is *computed* (SymPy) by applying the algorithm's drift from
:mod:`quorumsgd.algorithms` to symbolic states, with the loss reduced to one Hessian eigenvalue ``h``
(:math:`\nabla f(\mathbf x)=h\,\mathbf x` along an eigenvector; for an n-dimensional block the same scalar
block appears once per eigenvalue of :math:`\nabla^2 f`). Then, for the paper's metric :math:`\Theta`:

* the generalized Jacobian :math:`\mathbf F=\Theta\mathbf J\Theta^{-1}` (8) and its symmetric part;
* the **rate lower bound** the paper uses: Slotine's bound for a block matrix
  :math:`\begin{pmatrix}-A&S\\S&-D\end{pmatrix}`, i.e.
  :math:`\frac{A+D}2-\sqrt{(\frac{A-D}2)^2+S^2}` with the worst :math:`A, D, |S|` over :math:`h`
  (Slotine 2003, Ex. 3.8) — this reproduces (35), (50) and (52);
* the **exact worst-case rate over h** in that metric: :math:`\min_h -\lambda_{\max}(\mathbf F_s(h))`,
  attained at an end of the interval because :math:`\lambda_{\max}` of an affine symmetric family is convex;
* the **contraction condition** :math:`\mathbf F_s(h)\prec0` for all :math:`h`, i.e. at both ends.

Systems (the toolkit's names): ``thm3.1`` an agent with a common input (19)--(21); ``lemma3.2`` momentum
agents coupled in position and velocity (36)--(37); ``lemma5.2`` synchronized EASGD; ``lemma5.3``
synchronized QSGD with momentum.

Example:
    >>> reduced_jacobian("lemma5.2").tolist()
    [[-coupling - h, coupling], [coupling*n_agents, -coupling*n_agents]]
    >>> round(paper_rate("lemma5.2", {"strong_convexity": 1.0, "coupling": 1.0, "n_agents": 4}), 6)
    0.763932
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sympy

from quorumsgd.algorithms import EASGD, SGD, CommonInputAgents, ContinuousAlgorithm, MomentumQSGD
from quorumsgd.algorithms.linearize import affine_map
from quorumsgd.algorithms.ops import SIM_OPS, ZERO_MEAN_OPS
from quorumsgd.bounds.registry import CONTRACTING
from quorumsgd.errors import HypothesisViolation, InvalidParameter
from quorumsgd.paper import a, big_l, gamma, k, k_v, lam, lam_max, p

SYSTEMS: tuple[str, ...] = CONTRACTING
"""The virtual systems the paper certifies (names of ``quorumsgd contraction certify`` and ``compare``): the
registry's entries with ``contraction=True``."""

AUXILIARY_SYSTEMS: tuple[str, ...] = ("gradient_flow",)
"""Also derived: the noise-free gradient flow (25), contracting at rate lambda (Remark 5.2)."""

h = sympy.Symbol("h", real=True)
"""A Hessian eigenvalue: the scalar reduction of :math:`\\nabla^2 f`."""

gap = sympy.Symbol("smoothness_gap", positive=True)
r"""Internal :math:`L-\lambda>0`, so that SymPy knows :math:`L\ge\lambda` (substituted back at the end)."""

metric_c = sympy.Symbol("metric_c", positive=True)
"""Lemma 5.3's metric parameter c (the paper's choice makes it a function of a, lambda, L and gamma)."""

metric_c2 = sympy.Symbol("metric_c2", positive=True)
"""c squared, kept as a positive symbol during the derivation so that SymPy needs no sign case analysis."""


def _linear_gradient(y: np.ndarray) -> np.ndarray:
    return h * y


@cache
def reduced_jacobian(system: str) -> sympy.Matrix:
    r"""The scalar-reduced Jacobian of a system, computed from the algorithm's drift.

    * ``thm3.1``: :math:`-h-k` for :math:`\dot y=-\nabla f(y)+k(u-y)` (21);
    * ``lemma3.2``: :math:`\begin{pmatrix}-k_x&1\\-h&-(\gamma+k_v)\end{pmatrix}` for (36)--(37);
    * ``lemma5.2``: :math:`\begin{pmatrix}-h-k&k\\kp&-kp\end{pmatrix}`;
    * ``lemma5.3``: :math:`\begin{pmatrix}0&1\\-h&-\gamma\end{pmatrix}`.
    """
    alg: ContinuousAlgorithm
    if system == "thm3.1":  # the virtual system's quorum is an external input: ZERO_MEAN_OPS
        alg, ops = CommonInputAgents(k, common_input=lambda t: np.array([0], dtype=object)), ZERO_MEAN_OPS
    elif system == "lemma3.2":
        alg = MomentumQSGD(coupling=k, damping=gamma, velocity_coupling=k_v)
        ops = ZERO_MEAN_OPS
    elif system == "lemma5.2":
        # Synchronized agents: a single agent is the mean; the filter rate is k p for p agents (5).
        alg, ops = EASGD(coupling=k, filter_rate=k * p), SIM_OPS
    elif system == "lemma5.3":
        alg, ops = MomentumQSGD(coupling=k, damping=gamma), SIM_OPS
    elif system == "gradient_flow":
        alg, ops = SGD(), SIM_OPS
    else:
        raise InvalidParameter("system", f"be one of {', '.join(SYSTEMS + AUXILIARY_SYSTEMS)}", system)
    one_agent = alg.init(np.zeros((1, 1, 1), dtype=object), ops)
    drift = affine_map(lambda s: alg.drift(s, _linear_gradient, ops), one_agent, symbolic=True, where=system)
    return sympy.Matrix(drift.matrix).applyfunc(lambda e: sympy.simplify(sympy.expand(e)))


@cache
def lemma53_c_squared() -> sympy.Expr:
    r"""Lemma 5.3's choice of :math:`c^2` that equalizes the two arguments of the max: derived, not typed.

    The symmetric part's off-diagonal block is :math:`S(h)=\frac{c^2+a(\gamma-a)-h}{2c}`; requiring
    :math:`S(\lambda)=-S(L)` gives :math:`c^2=\frac{\lambda+L}2-a(\gamma-a)`.
    """
    off = symmetric_part("lemma5.3")[0, 1]
    solutions = sympy.solve(sympy.Eq(off.subs(h, lam), -off.subs(h, big_l)), metric_c2)
    return sympy.simplify(solutions[0])


def paper_theta(system: str) -> sympy.Matrix:
    r"""The paper's metric transformation :math:`\Theta` (:math:`\mathbf M=\Theta^{\mathsf T}\Theta`).

    ``thm3.1`` and ``lemma3.2``: identity; ``lemma5.2``: :math:`\mathrm{diag}(\sqrt p,1)`;
    ``lemma5.3``: :math:`\begin{pmatrix}c&0\\a&1\end{pmatrix}` (53).
    """
    if system in ("thm3.1", "gradient_flow"):
        return sympy.eye(1)
    if system == "lemma3.2":
        return sympy.eye(2)
    if system == "lemma5.2":
        return sympy.diag(sympy.sqrt(p), 1)
    if system == "lemma5.3":
        return sympy.Matrix([[metric_c, 0], [a, 1]])
    raise InvalidParameter("system", f"be one of {', '.join(SYSTEMS)}", system)


@cache
def generalized_jacobian(system: str) -> sympy.Matrix:
    r""":math:`\mathbf F=\Theta\mathbf J\Theta^{-1}`, eq. (8), simplified."""
    theta = paper_theta(system)
    return (theta * reduced_jacobian(system) * theta.inv()).applyfunc(sympy.simplify)


@cache
def _symmetric_part_raw(system: str) -> sympy.Matrix:
    f = generalized_jacobian(system)
    return ((f + f.T) / 2).applyfunc(sympy.simplify)


@cache
def symmetric_part(system: str) -> sympy.Matrix:
    r""":math:`\mathbf F_s=\frac12(\mathbf F+\mathbf F^{\mathsf T})`; for ``lemma5.3`` with the paper's :math:`c`."""
    fs = _symmetric_part_raw(system)
    if system == "lemma5.3":
        fs = fs.subs(metric_c, sympy.sqrt(metric_c2)).applyfunc(sympy.simplify)
    return fs


def _substitute_c(system: str, expr: sympy.Basic) -> sympy.Basic:
    """Put the paper's equalizing c^2 back into a Lemma 5.3 expression."""
    return expr.subs(metric_c2, lemma53_c_squared()) if system == "lemma5.3" else expr


def h_interval(system: str) -> tuple[sympy.Expr, sympy.Expr]:
    """The range of Hessian eigenvalues: ``[-lambda_max, oo)`` for Thm 3.1, else ``[lambda, L]``."""
    if system == "thm3.1":
        return -lam_max, sympy.oo
    return lam, big_l


def _with_gap(expr: sympy.Expr) -> sympy.Expr:
    return expr.subs(big_l, lam + gap)


def _without_gap(expr: sympy.Expr) -> sympy.Expr:
    return expr.subs(gap, big_l - lam)


def _worst(expr: sympy.Expr, lo: sympy.Expr, hi: sympy.Expr, smallest: bool) -> sympy.Expr:
    """Extreme of an expression affine in h over [lo, hi] (at an end, chosen by the slope's sign)."""
    slope = sympy.simplify(sympy.diff(expr, h))
    at_lo, at_hi = expr.subs(h, lo), expr.subs(h, hi) if hi is not sympy.oo else None
    if slope == 0:
        return sympy.simplify(at_lo)
    if (slope.is_positive and smallest) or (slope.is_negative and not smallest) or at_hi is None:
        return sympy.simplify(at_lo)
    if (slope.is_negative and smallest) or (slope.is_positive and not smallest):
        return sympy.simplify(at_hi)
    return (sympy.Min if smallest else sympy.Max)(at_lo, at_hi)


def block_rate(a: sympy.Expr, d: sympy.Expr, s: sympy.Expr) -> sympy.Expr:
    r"""Slotine's bound: :math:`-\lambda_{\max}\begin{pmatrix}-a&s\\s&-d\end{pmatrix}=\frac{a+d}2-\sqrt{(\frac{a-d}2)^2+s^2}`.

    It is positive iff :math:`a+d>0` and :math:`ad>s^2` (Wang--Slotine / Horn--Johnson).
    """
    return (a + d) / 2 - sympy.sqrt(((a - d) / 2) ** 2 + s**2)


@dataclass(frozen=True)
class RateDerivation:
    """What the contraction analysis derives for one system (all SymPy)."""

    system: str
    jacobian: sympy.Matrix
    theta: sympy.Matrix
    symmetric_part: sympy.Matrix
    rate_bound: sympy.Expr
    exact_rate: sympy.Expr
    condition: sympy.Basic

    @property
    def metric(self) -> sympy.Matrix:
        return (self.theta.T * self.theta).applyfunc(sympy.simplify)


@cache
def _derive_in_c2(system: str) -> tuple[sympy.Expr, sympy.Expr, sympy.Basic]:
    """Rate bound, exact rate and condition; for ``lemma5.3`` still in terms of the symbol ``metric_c2``."""
    fs = symmetric_part(system)
    lo, hi = h_interval(system)
    if fs.shape == (1, 1):
        rate = sympy.simplify(-_worst(fs[0, 0], lo, hi, smallest=False))
        return rate, rate, rate > 0
    fs_gap = fs.applyfunc(_with_gap)
    lo_gap, hi_gap = _with_gap(lo), _with_gap(hi)
    a_min = _worst(-fs_gap[0, 0], lo_gap, hi_gap, smallest=True)
    d_min = _worst(-fs_gap[1, 1], lo_gap, hi_gap, smallest=True)
    off = fs_gap[0, 1]
    if system == "lemma5.3":
        # The paper's step: choose c^2 so that S(lambda) = -S(L). Only the numerator of
        # S = (c^2 + a(gamma-a) - h) / (2c) changes; c itself stays a positive symbol.
        numerator = sympy.simplify(off * 2 * sympy.sqrt(metric_c2))
        numerator = _with_gap(sympy.expand(numerator.subs(metric_c2, lemma53_c_squared())))
        off = numerator / (2 * sympy.sqrt(metric_c2))
    s_max = sympy.simplify(sympy.Max(sympy.Abs(off.subs(h, lo_gap)), sympy.Abs(off.subs(h, hi_gap))))
    bound = _without_gap(sympy.simplify(block_rate(a_min, d_min, s_max)))
    ends = [
        block_rate(-fs_gap[0, 0].subs(h, end), -fs_gap[1, 1].subs(h, end), off.subs(h, end)) for end in (lo_gap, hi_gap)
    ]
    exact = _without_gap(sympy.simplify(sympy.Min(*ends)))
    condition = sympy.And(a_min + d_min > 0, _without_gap(sympy.expand(a_min * d_min - s_max**2)) > 0)
    return bound, exact, condition


@cache
def derive(system: str) -> RateDerivation:
    """Derive the rate lower bound, the exact worst-case rate over h and the contraction condition."""
    bound, exact, condition = (_substitute_c(system, e) for e in _derive_in_c2(system))
    return RateDerivation(
        system, reduced_jacobian(system), paper_theta(system), symmetric_part(system), bound, exact, condition
    )


# --- Lemma 5.3: the metric parameter a -------------------------------------------------------------------


@cache
def lemma53_rate_of_u() -> tuple[sympy.Symbol, sympy.Expr]:
    r"""(52) written through :math:`u=a(\gamma-a)`: :math:`\lambda_m(u)=\frac\gamma2-\sqrt{\frac{\gamma^2}4-u+\frac{(L-\lambda)^2}{16(\frac{\lambda+L}2-u)}}`."""
    u = sympy.Symbol("u", positive=True)
    rate = _derive_in_c2("lemma5.3")[0]
    # a = (gamma - r)/2 with r = sqrt(gamma^2 - 4u): then a(gamma - a) = u and (gamma - 2a)^2 = gamma^2 - 4u.
    r = sympy.Symbol("r", positive=True)

    def in_u(expr: sympy.Expr) -> sympy.Expr:
        return sympy.expand(expr.subs(a, (gamma - r) / 2)).subs(r**2, gamma**2 - 4 * u)

    radicand = (gamma / 2 - rate) ** 2
    radicand_u = sympy.simplify(in_u(sympy.expand(radicand).subs(metric_c2, lemma53_c_squared())))
    if radicand_u.has(r):
        raise AssertionError(f"Lemma 5.3 rate does not reduce to a function of u: {radicand_u}")
    return u, gamma / 2 - sympy.sqrt(radicand_u)


@cache
def lemma53_rate_optimal_u() -> sympy.Expr:
    r"""The :math:`u=a(\gamma-a)` that maximizes (52), derived by solving :math:`d\lambda_m/du=0`.

    The unconstrained stationary point is :math:`u^*=\frac{\lambda+L}2-\frac{L-\lambda}4`; since
    :math:`u\le\gamma^2/4`, the maximizer is :math:`\min(u^*,\gamma^2/4)` (the radicand is convex in u).
    """
    u, rate_u = lemma53_rate_of_u()
    radicand = _with_gap((rate_u - gamma / 2) ** 2)
    stationary = sympy.solve(sympy.diff(radicand, u), u)
    half_sum = _with_gap((lam + big_l) / 2)
    inside = [s for s in stationary if sympy.simplify(half_sum - s).is_positive]
    u_star = _without_gap(sympy.simplify(inside[0]))
    return sympy.Min(u_star, gamma**2 / 4)


def lemma53_admissible_u() -> tuple[sympy.Expr, sympy.Expr]:
    r"""Open interval of :math:`u=a(\gamma-a)` where (53) certifies contraction (derived from the condition).

    Equalized condition :math:`\frac{(L-\lambda)^2}{16}<u(\frac{\lambda+L}2-u)`; its roots are
    :math:`\frac{(\sqrt L\mp\sqrt\lambda)^2}4`.
    """
    u = sympy.Symbol("u", positive=True)
    roots = sympy.solve(sympy.Eq((big_l - lam) ** 2 / 16, u * ((lam + big_l) / 2 - u)), u)
    lo, hi = sorted(roots, key=lambda r: float(r.subs({lam: 1, big_l: 4})))
    return sympy.simplify(lo), sympy.simplify(hi)


def lemma53_metric_a(strong_convexity: Any, smoothness: Any, damping: Any) -> np.ndarray:
    r"""The rate-maximizing admissible :math:`a` of Lemma 5.3 (numeric, vectorized), smaller root of :math:`a(\gamma-a)=u`."""
    u_opt = _lambdified("lemma53_u_opt", lemma53_rate_optimal_u())
    lam, big_l, gamma = (np.asarray(v, dtype=float) for v in (strong_convexity, smoothness, damping))
    u = np.asarray(u_opt(strong_convexity=lam, smoothness=big_l, damping=gamma), dtype=float)
    return (gamma - np.sqrt(np.maximum(gamma**2 - 4 * u, 0.0))) / 2


@cache
def lemma53_metric_constants() -> dict[str, sympy.Expr]:
    r"""Metric (53): :math:`\mathbf M=\begin{pmatrix}a^2+c^2&a\\a&1\end{pmatrix}`, its :math:`\beta_{\min}`, :math:`\chi`."""
    theta = paper_theta("lemma5.3")
    m = (theta.T * theta).applyfunc(sympy.expand)
    eig = list(m.eigenvals())
    trace, det = m.trace(), m.det()
    small = (trace - sympy.sqrt(trace**2 - 4 * det)) / 2
    large = (trace + sympy.sqrt(trace**2 - 4 * det)) / 2
    assert sympy.simplify(small + large - sum(eig)) == 0
    subs = {metric_c: sympy.sqrt(metric_c2)}
    return {
        "c_squared": lemma53_c_squared(),
        "beta_min": _substitute_c("lemma5.3", sympy.simplify(small.subs(subs))),
        "beta_max": _substitute_c("lemma5.3", sympy.simplify(large.subs(subs))),
        "chi": _substitute_c("lemma5.3", sympy.sqrt(large / small).subs(subs)),
    }


# --- numeric helpers used by quorumsgd.bounds and the LMI layer --------------------------------------------

_LAMBDIFIED: dict[str, Any] = {}


def _lambdified(key: str, expr: sympy.Expr) -> Any:
    """Compile ``expr`` once; the result takes keyword arguments named after its free symbols."""
    if key not in _LAMBDIFIED:
        names = sorted(s.name for s in expr.free_symbols)
        fn = sympy.lambdify([sympy.Symbol(n) for n in names], _plain(expr), modules="numpy", cse=True)

        def call(**kw: Any) -> Any:
            return fn(*(kw[n] for n in names))

        call.names = names  # type: ignore[attr-defined]
        _LAMBDIFIED[key] = call
    return _LAMBDIFIED[key]


def _plain(expr: sympy.Expr) -> sympy.Expr:
    """Replace assumption-carrying symbols by plain ones of the same name (lambdify argument matching)."""
    return expr.xreplace({s: sympy.Symbol(s.name) for s in expr.free_symbols})


def _params_for(system: str, params: Mapping[str, Any]) -> dict[str, Any]:
    need = {
        "thm3.1": ("coupling", "lambda_max"),
        "lemma3.2": ("coupling", "damping", "strong_convexity", "smoothness"),
        "lemma5.2": ("coupling", "n_agents", "strong_convexity"),
        "lemma5.3": ("damping", "strong_convexity", "smoothness"),
    }[system]
    missing = [n for n in need if n not in params]
    if missing:
        raise InvalidParameter(missing[0], f"be given for system {system}")
    out = {n: params[n] for n in need}
    for extra in ("smoothness", "strong_convexity"):  # exact rates may need the other end of [lambda, L]
        if extra in params and extra not in out:
            out[extra] = params[extra]
    if system == "lemma3.2":
        out["velocity_coupling"] = params.get("velocity_coupling", 0.0)
    if system == "lemma5.3":
        a = params.get("metric_a")
        out["metric_a"] = (
            lemma53_metric_a(out["strong_convexity"], out["smoothness"], out["damping"]) if a is None else a
        )
    return out


def paper_rate(system: str, params: Mapping[str, Any]) -> Any:
    """The paper's analytic rate lower bound, numeric: (21) k - lambda_max, (35), (50), (52)."""
    values = _params_for(system, params)
    fn = _lambdified(f"{system}:rate_bound", derive(system).rate_bound)
    return _number(fn(**{n: values[n] for n in fn.names}))


def paper_condition(system: str, params: Mapping[str, Any]) -> bool:
    """Does the paper's contraction condition hold (its hypothesis for (21), (35), (50), (52))?

    Where it fails the paper's rate formula is no bound (it may even be negative): callers show no paper rate.
    """
    values = {**params, **_params_for(system, params)}
    fn = _lambdified(f"{system}:condition", derive(system).condition)
    with np.errstate(all="ignore"):
        return bool(np.all(fn(**{n: values.get(n, 0.0) for n in fn.names})))


def exact_rate(system: str, params: Mapping[str, Any]) -> Any:
    """Exact worst-case rate over h in the paper's metric, numeric."""
    values = _params_for(system, params)
    fn = _lambdified(f"{system}:exact_rate", derive(system).exact_rate)
    return _number(fn(**{n: values[n] for n in fn.names}))


def _number(x: Any) -> Any:
    """A float for scalar inputs, a float array otherwise."""
    return float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=float)


def paper_metric(system: str, params: Mapping[str, Any]) -> np.ndarray:
    """The paper's metric M = Theta^T Theta as a numeric matrix (Lemma 5.3: rate-maximizing a)."""
    values = dict(_params_for(system, params))
    m = derive(system).metric
    if system == "lemma5.3":
        c2 = _lambdified("lemma53:c2", lemma53_c_squared())
        c2_value = float(c2(**{n: values[n] for n in c2.names}))
        if c2_value <= 0:
            raise HypothesisViolation(
                "lemma5.3", "c^2 = (lambda + L)/2 - a(gamma - a) > 0", "(53)", f"c^2={c2_value:.3g}"
            )
        values["metric_c"] = c2_value**0.5
    subs = {s: values[s.name] for s in m.free_symbols}
    return np.array(m.subs(subs).evalf(), dtype=float)


def jacobian_family(system: str, params: Mapping[str, Any], dim: int = 1) -> list[np.ndarray]:
    """Numeric vertex Jacobians over the Hessian-eigenvalue interval, expanded to ``dim`` by kron with I.

    ``thm3.1`` has one vertex, ``h = -lambda_max``; the others ``h in {strong_convexity, smoothness}``.
    """
    if dim < 1:
        raise InvalidParameter("dim", "dim integer >= 1", dim)
    jac = reduced_jacobian(system)
    values = {s.name: v for s, v in ((s, params.get(s.name)) for s in jac.free_symbols) if v is not None}
    if system == "thm3.1":
        vertices = [-float(params["lambda_max"])]
    else:
        vertices = [float(params["strong_convexity"]), float(params["smoothness"])]
    if system == "lemma3.2":
        values.setdefault("velocity_coupling", 0.0)
    out = []
    for vertex in vertices:
        subs = {s: (vertex if s is h else values[s.name]) for s in jac.free_symbols}
        block = np.array(jac.subs(subs).evalf(), dtype=float)
        out.append(np.kron(block, np.eye(dim)))
    return out
