r"""The paper's notation and its published closed forms, written once.

**Symbols.** The paper's letters, bound to the named parameters of :mod:`quorumsgd.parameters` (the same
SymPy objects, with their domains as assumptions): ``p`` is ``n_agents``, ``k`` is ``coupling``, ``lr`` is
:math:`\eta`, ``big_l`` is :math:`L`, ... Every module, test and proof notebook that writes a formula in the
paper's letters imports them from here.

**Published closed forms.** Each bound, rate and condition as the paper prints it, as SymPy expressions.
They never *compute* a bound: :mod:`quorumsgd.bounds.catalog` composes every bound from the proofs'
building blocks, and the tests and notebooks check that composition against these forms. Where the
derivation is sharper, :data:`PAIRS` says by how much (:data:`PAIRS_NOTE`); :func:`derived` applies it.

Example:
    >>> published("thm5.1")["noise"]
    sqrt(2)*sqrt(lr)*sqrt(sigma2)/(2*sqrt(batch_size)*sqrt(n_agents)*sqrt(strong_convexity))
    >>> sympy.simplify(derived("lemma3.1")["spread"] - (p - 1) * lr * sigma2 / (2 * b * (k - lam_max)))
    0
    >>> round(numeric("lemma5.2")(strong_convexity=1.0, coupling=1.0, n_agents=4), 6)
    0.763932
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sympy

from quorumsgd.parameters import symbol

# --- the paper's letters ------------------------------------------------------------------------------------

p, k, lr, b = symbol("n_agents"), symbol("coupling"), symbol("lr"), symbol("batch_size")
sigma2, n, q = symbol("sigma2"), symbol("dim"), symbol("q")
lam, big_l, lam_max = symbol("strong_convexity"), symbol("smoothness"), symbol("lambda_max")
gamma, k_v, a = symbol("damping"), symbol("velocity_coupling"), symbol("metric_a")
h, t, a_mag = symbol("curvature"), symbol("time"), symbol("magnification")
chi, dbar, rate = symbol("chi"), symbol("disturbance"), symbol("rate")
beta_min, C, v0 = symbol("beta_min"), symbol("noise_bound"), symbol("initial_gap2")

PAIRS = (p - 1) / p
"""The factor by which the derived (22), and every bound built on it, is below the printed one."""

PAIRS_NOTE = (
    "Derived (p-1) where the paper's printed closed form has p: the pair sum over i = j is identically zero, so "
    "summing Thm 2.1 over ordered pairs of distinct agents gives the sharper factor (p-1)/p."
)

# --- the closed forms, as printed ---------------------------------------------------------------------------


def robustness_12() -> sympy.Expr:
    r"""Lemma 2.1 (12): :math:`\chi\bar d/\lambda`."""
    return chi * dbar / rate


def stochastic_contraction_14(noisy_copies: int = 2) -> sympy.Expr:
    r"""Thm 2.1 (two noisy trajectories) or Cor 2.1 (one): :math:`\frac1{\beta_{\min}}\big(\frac{C}{c\lambda}+(V_0-\frac{C}{c\lambda})^+e^{-2\lambda t}\big)`, :math:`c=1` or 2."""
    steady = C / ((3 - noisy_copies) * rate)
    return (steady + sympy.Max(0, v0 - steady) * sympy.exp(-2 * rate * t)) / beta_min


def spread_22(sync_rate: sympy.Expr | None = None) -> sympy.Expr:
    r"""(22): :math:`\mathbb E\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2\le\frac{p\eta\sigma^2}{2b(k-\lambda_{\max})}`."""
    return p * lr * sigma2 / (2 * b * (k - lam_max if sync_rate is None else sync_rate))


def disturbance_31(sync_rate: sympy.Expr | None = None) -> sympy.Expr:
    r"""(31): :math:`\mathbb E\|\boldsymbol\epsilon\|\le\frac{\eta Q\sigma^2\sqrt n}{4b(k-\lambda_{\max})}` (any synchronization rate)."""
    return lr * q * sigma2 * sympy.sqrt(n) / (4 * b * (k - lam_max if sync_rate is None else sync_rate))


def m_35() -> sympy.Expr:
    r"""(35)'s :math:`m=\max(|1-\lambda|,|1-L|)`."""
    return sympy.Max(sympy.Abs(1 - lam), sympy.Abs(1 - big_l))


def rate_35(velocity_coupling: sympy.Expr = k_v) -> sympy.Expr:
    r"""(35): :math:`\lambda_s=\frac{k_x+\gamma+k_v}2-\sqrt{(\frac{k_x-\gamma-k_v}2)^2+\frac{m^2}4}`."""
    return (k + gamma + velocity_coupling) / 2 - sympy.sqrt(((k - gamma - velocity_coupling) / 2) ** 2 + m_35() ** 2 / 4)


def sgd_48() -> sympy.Expr:
    r"""(48): :math:`\sqrt{\eta\sigma^2/(2b\lambda)}`."""
    return sympy.sqrt(lr * sigma2 / (2 * b * lam))


def rate_50() -> sympy.Expr:
    r"""(50): :math:`\lambda_E=\frac{\lambda+k+kp}2-\sqrt{(\frac{\lambda+k-kp}2)^2+k^2p}`."""
    return (lam + k + k * p) / 2 - sympy.sqrt(((lam + k - k * p) / 2) ** 2 + k**2 * p)


def c_squared_53() -> sympy.Expr:
    r"""(53): :math:`c^2=\frac{\lambda+L}2-a(\gamma-a)`."""
    return (lam + big_l) / 2 - a * (gamma - a)


def rate_52() -> sympy.Expr:
    r"""(52): :math:`\lambda_m=\frac\gamma2-\sqrt{\frac{(\gamma-2a)^2}4+\frac{(L-\lambda)^2}{16c^2}}`."""
    return gamma / 2 - sympy.sqrt((gamma - 2 * a) ** 2 / 4 + (big_l - lam) ** 2 / (16 * c_squared_53()))


def metric_53_extremes() -> tuple[sympy.Expr, sympy.Expr]:
    r"""Smallest and largest eigenvalues of (53)'s :math:`\mathbf M=\begin{pmatrix}a^2+c^2&a\\a&1\end{pmatrix}`."""
    c2 = c_squared_53()
    trace = a**2 + c2 + 1
    root = sympy.sqrt(trace**2 - 4 * c2)
    return (trace - root) / 2, (trace + root) / 2


def rate_56() -> sympy.Expr:
    r"""(56) with the gains (60)--(61): :math:`\min(k, k(1+A_{\rm mag})/p)-\lambda_{\max}` (the mean gain's infimum)."""
    return sympy.Min(k, k * (1 + a_mag) / p) - lam_max


def stability_maps(algorithm: str) -> dict[str, sympy.Matrix]:
    r"""The per-mode maps of the noise-free iterations on :math:`f=\frac h2x^2` (:math:`a=\eta h`, :math:`\alpha=\eta k`)."""
    a_, alpha = lr * h, lr * k
    if algorithm == "qsgd":
        return {"mean": sympy.Matrix([[1 - a_]]), "difference": sympy.Matrix([[1 - a_ - alpha]])}
    return {"mean": sympy.Matrix([[1 - a_ - alpha, alpha], [p * alpha, 1 - p * alpha]]),
            "difference": sympy.Matrix([[1 - a_ - alpha]])}


@cache
def _published() -> dict[str, dict[str, sympy.Expr]]:
    beta_lo, beta_hi = metric_53_extremes()
    lam_e, lam_m, lam_s = rate_50(), rate_52(), rate_35(0)
    return {
        "lemma2.1": {"distance": robustness_12()},
        "thm2.1": {"value": stochastic_contraction_14(2)},
        "cor2.1": {"value": stochastic_contraction_14(1)},
        "thm3.1": {"rate": k - lam_max},
        "lemma3.1": {"spread": spread_22()},
        "thm3.2": {"disturbance": disturbance_31()},
        "lemma3.2": {"rate": rate_35()},
        "sgd": {"noise": sgd_48()},
        "thm5.1": {"disturbance": disturbance_31(k + lam) / lam, "noise": sympy.sqrt(lr * sigma2 / (2 * b * p * lam))},
        "lemma5.2": {"rate": lam_e},
        "thm5.2": {"disturbance": sympy.sqrt(p) * disturbance_31(k + lam) / lam_e,
                   "noise": sympy.sqrt(lr * (p * sigma2) / (2 * b * p * lam_e))},
        "lemma5.3": {"rate": lam_m},
        "thm5.3": {"disturbance": sympy.sqrt(beta_hi / beta_lo) * disturbance_31(lam_s) / lam_m,
                   "noise": sympy.sqrt(lr * sigma2 / (2 * b * p * beta_lo * lam_m))},
        "lemma5.4": {"rate": rate_56()},
        "lemma5.5": {"asymptotic": lr * sigma2 / (b * p * h**2 * t)},
    }


_SHARPENED: dict[str, tuple[str, ...]] = {
    "lemma3.1": ("spread",), "thm3.2": ("disturbance",), "thm5.1": ("disturbance",), "thm5.2": ("disturbance",),
    "thm5.3": ("disturbance",),
}
"""Terms built on (22), where the derivation carries :data:`PAIRS`."""


def published(name: str) -> dict[str, sympy.Expr]:
    """The printed closed form of a result, by term (``thm5.1``: ``disturbance`` and ``noise``)."""
    return dict(_published()[name])


def derived(name: str) -> dict[str, sympy.Expr]:
    """The printed closed form with the derivation's documented sharpening (:data:`PAIRS` on (22)'s terms)."""
    return {term: PAIRS * expr if term in _SHARPENED.get(name, ()) else expr
            for term, expr in published(name).items()}


@cache
def lambdified(expr: sympy.Expr) -> Callable[..., float]:
    """A closed form as a plain-Python function of keyword parameters (``math``, not numpy), compiled once.

    >>> lambdified(m_35())(strong_convexity=0.5, smoothness=3.0)
    2.0
    """
    names = sorted(s.name for s in expr.free_symbols)
    plain = expr.xreplace({s: sympy.Symbol(s.name) for s in expr.free_symbols})
    fn = sympy.lambdify([sympy.Symbol(x) for x in names], plain, modules="math")

    def evaluate(**params: Any) -> float:
        return float(fn(*(params[x] for x in names)))

    return evaluate


def numeric(name: str) -> Callable[..., float]:
    """:func:`derived`'s total as a plain-Python function of keyword parameters (:func:`lambdified`).

    An evaluation independent of the package's vectorized one, for tests and notebooks.
    """
    return lambdified(sympy.Add(*derived(name).values()))


__all__ = [
    "PAIRS", "PAIRS_NOTE", "C", "a", "a_mag", "b", "beta_min", "big_l", "c_squared_53", "chi", "dbar", "derived",
    "disturbance_31", "gamma", "h", "k", "k_v", "lam", "lam_max", "lambdified", "lr", "m_35", "metric_53_extremes", "n", "numeric",
    "p", "published", "q", "rate", "rate_35", "rate_50", "rate_52", "rate_56", "robustness_12", "sgd_48", "sigma2",
    "spread_22", "stability_maps", "stochastic_contraction_14", "t", "v0",
]
