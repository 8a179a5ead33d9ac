r"""The bound calculator: every bound, rate and condition of the paper, derived in SymPy, evaluated fast.

Each function below evaluates one derived theorem (see :mod:`quorumsgd.bounds.catalog` for how it is
composed) on scalars or numpy arrays and returns a :class:`BoundResult`. A violated hypothesis raises
:class:`quorumsgd.errors.HypothesisViolation`; a bad parameter raises :class:`quorumsgd.errors.InvalidParameter`.

Example:
    >>> r = thm5_1(n_agents=8, coupling=2.0, lr=0.1, batch_size=32, sigma2=4.0, dim=10, q=1.0,
    ...            strong_convexity=0.5)
    >>> sorted(r.terms), round(r.value, 6)
    (['disturbance', 'noise'], 0.046446)
    >>> evaluate("thm5.1", n_agents=1, coupling=2.0, lr=0.1, batch_size=32, sigma2=4.0, dim=10, q=1.0,
    ...          strong_convexity=0.5).value == sgd(lr=0.1, batch_size=32, sigma2=4.0, strong_convexity=0.5).value
    True
"""

from __future__ import annotations

import importlib
from typing import Any

from quorumsgd.bounds.stability import max_stable_coupling, stability
from quorumsgd.bounds.theorem import BoundResult, Hypothesis, HypothesisCheck, Theorem
from quorumsgd.errors import InvalidParameter

_FACTORIES: dict[str, str] = {
    "lemma2.1": "lemma2_1",
    "thm2.1": "thm2_1",
    "cor2.1": "cor2_1",
    "thm3.1": "thm3_1",
    "lemma3.1": "lemma3_1",
    "thm3.2": "thm3_2",
    "lemma3.2": "lemma3_2",
    "sgd": "sgd",
    "thm5.1": "thm5_1",
    "lemma5.2": "lemma5_2",
    "thm5.2": "thm5_2",
    "lemma5.3": "lemma5_3",
    "thm5.3": "thm5_3",
    "lemma5.4": "lemma5_4",
    "lemma5.5": "lemma5_5",
}
"""Theorem name -> its derivation in :mod:`quorumsgd.bounds.catalog` (imported on first use: it needs SymPy)."""

NAMES: tuple[str, ...] = (*_FACTORIES, "stability")
"""Every theorem name of the calculator (design.md), in the paper's order."""


def __getattr__(name: str) -> Any:  # PEP 562: `bounds.catalog` without importing SymPy at `import bounds`
    if name == "catalog":
        return importlib.import_module("quorumsgd.bounds.catalog")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def theorem(name: str) -> Theorem:
    """The derived :class:`Theorem` (SymPy terms, hypotheses, derivation steps) for a name."""
    if name not in _FACTORIES:
        raise InvalidParameter("name", f"be one of {', '.join(NAMES)}", name)
    catalog = importlib.import_module("quorumsgd.bounds.catalog")
    return getattr(catalog, _FACTORIES[name])()


def evaluate(name: str, metric: str = "paper", **params: Any) -> BoundResult:
    """Evaluate a theorem by name; ``stability`` also takes ``algorithm="qsgd" | "easgd"``.

    ``metric="lmi"`` (Thm 5.2, Thm 5.3; needs ``smoothness``) uses LMI-certified metrics in the same
    composition instead of the paper's (:mod:`quorumsgd.bounds.lmi_metric`).
    """
    if metric not in ("paper", "lmi"):
        raise InvalidParameter("metric", "be 'paper' or 'lmi'", metric, name)
    if metric == "lmi":
        from quorumsgd.bounds.lmi_metric import evaluate_lmi

        return evaluate_lmi(name, **params)
    if name == "stability":
        return stability(**params)
    return theorem(name).evaluate(**params)


def lemma2_1(*, chi: Any, disturbance: Any, rate: Any) -> BoundResult:
    r"""Lemma 2.1 (12): :math:`\|\mathbf x(t)-\mathbf y(t)\|\le\chi(\Theta)\bar d/\lambda` after transients.

    >>> lemma2_1(chi=2.0, disturbance=0.3, rate=0.5).value
    1.2
    """
    return evaluate("lemma2.1", chi=chi, disturbance=disturbance, rate=rate)


def thm2_1(*, noise_bound: Any, rate: Any, beta_min: Any, initial_gap2: Any, time: Any) -> BoundResult:
    r"""Thm 2.1: :math:`\mathbb E\|\mathbf a-\mathbf b\|^2\le\frac1{\beta_{\min}}(\frac C\lambda+(V_0-\frac C\lambda)^+e^{-2\lambda t})`.

    >>> thm2_1(noise_bound=1.0, rate=2.0, beta_min=1.0, initial_gap2=0.0, time=1.0).value
    0.5
    """
    return evaluate(
        "thm2.1", noise_bound=noise_bound, rate=rate, beta_min=beta_min, initial_gap2=initial_gap2, time=time
    )


def cor2_1(*, noise_bound: Any, rate: Any, beta_min: Any, initial_gap2: Any, time: Any) -> BoundResult:
    r"""Cor 2.1: as Thm 2.1 with one noise-free trajectory, :math:`C/(2\lambda)` in place of :math:`C/\lambda`.

    >>> cor2_1(noise_bound=1.0, rate=2.0, beta_min=1.0, initial_gap2=0.0, time=1.0).value
    0.25
    """
    return evaluate(
        "cor2.1", noise_bound=noise_bound, rate=rate, beta_min=beta_min, initial_gap2=initial_gap2, time=time
    )


def thm3_1(*, coupling: Any, lambda_max: Any) -> BoundResult:
    r"""Thm 3.1 (19)--(21): for :math:`k>\lambda_{\max}` agents with a common input synchronize at :math:`k-\lambda_{\max}`.

    >>> thm3_1(coupling=3.0, lambda_max=1.0).value
    2.0
    """
    return evaluate("thm3.1", coupling=coupling, lambda_max=lambda_max)


def lemma3_1(*, n_agents: Any, lr: Any, batch_size: Any, sigma2: Any, coupling: Any, lambda_max: Any) -> BoundResult:
    r"""Lemma 3.1 (22): :math:`\mathbb E\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2\le\frac{(p-1)\eta\sigma^2}{2b(k-\lambda_{\max})}`.

    For per-agent learning rates (Sec. 3.4) pass ``lr`` = their mean.

    >>> round(lemma3_1(n_agents=4, lr=0.1, batch_size=1, sigma2=2.0, coupling=2.0, lambda_max=1.0).value, 12)
    0.3
    """
    return evaluate(
        "lemma3.1",
        n_agents=n_agents,
        lr=lr,
        batch_size=batch_size,
        sigma2=sigma2,
        coupling=coupling,
        lambda_max=lambda_max,
    )


def thm3_2(
    *, n_agents: Any, lr: Any, batch_size: Any, sigma2: Any, dim: Any, q: Any, coupling: Any, lambda_max: Any
) -> BoundResult:
    r"""Thm 3.2 (31): :math:`\mathbb E\|\boldsymbol\epsilon\|\le\frac{(p-1)\eta Q\sigma^2\sqrt n}{4pb(k-\lambda_{\max})}`.

    >>> round(thm3_2(n_agents=2, lr=0.1, batch_size=1, sigma2=1.0, dim=4, q=1.0, coupling=1.0,
    ...              lambda_max=0.0).value, 6)
    0.025
    """
    return evaluate(
        "thm3.2",
        n_agents=n_agents,
        lr=lr,
        batch_size=batch_size,
        sigma2=sigma2,
        dim=dim,
        q=q,
        coupling=coupling,
        lambda_max=lambda_max,
    )


def lemma3_2(
    *, coupling: Any, damping: Any, strong_convexity: Any, smoothness: Any, velocity_coupling: Any = 0.0
) -> BoundResult:
    r"""Lemma 3.2 (35): :math:`\lambda_s\ge\frac{k_x+\gamma+k_v}2-\sqrt{(\frac{k_x-\gamma-k_v}2)^2+\frac{m^2}4}`.

    >>> round(lemma3_2(coupling=2.0, damping=2.0, strong_convexity=1.0, smoothness=3.0).value, 6)
    1.0
    """
    return evaluate(
        "lemma3.2",
        coupling=coupling,
        damping=damping,
        strong_convexity=strong_convexity,
        smoothness=smoothness,
        velocity_coupling=velocity_coupling,
    )


def sgd(*, lr: Any, batch_size: Any, sigma2: Any, strong_convexity: Any) -> BoundResult:
    r"""SGD comparison (48): :math:`\mathbb E\|\mathbf x-\mathbf x^*\|\le\sqrt{\eta\sigma^2/(2b\lambda)}`.

    >>> round(sgd(lr=0.5, batch_size=1, sigma2=1.0, strong_convexity=1.0).value, 12)
    0.5
    """
    return evaluate("sgd", lr=lr, batch_size=batch_size, sigma2=sigma2, strong_convexity=strong_convexity)


def thm5_1(
    *, n_agents: Any, lr: Any, batch_size: Any, sigma2: Any, dim: Any, q: Any, strong_convexity: Any, coupling: Any
) -> BoundResult:
    r"""Thm 5.1 (47), QSGD: :math:`\mathbb E\|\bar{\mathbf x}-\mathbf x^*\|\le\frac{(p-1)\eta Q\sigma^2\sqrt n}{4pb\lambda(k+\lambda)}+\sqrt{\frac{\eta\sigma^2}{2bp\lambda}}`.

    >>> round(thm5_1(n_agents=4, lr=0.5, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,
    ...              coupling=1.0).value, 6)
    0.25
    """
    return evaluate(
        "thm5.1",
        n_agents=n_agents,
        lr=lr,
        batch_size=batch_size,
        sigma2=sigma2,
        dim=dim,
        q=q,
        strong_convexity=strong_convexity,
        coupling=coupling,
    )


def lemma5_2(*, strong_convexity: Any, coupling: Any, n_agents: Any) -> BoundResult:
    r"""Lemma 5.2 (50): :math:`\lambda_E\ge\frac{\lambda+k+kp}2-\sqrt{(\frac{\lambda+k-kp}2)^2+k^2p}`.

    >>> round(lemma5_2(strong_convexity=1.0, coupling=1.0, n_agents=4).value, 6)
    0.763932
    """
    return evaluate("lemma5.2", strong_convexity=strong_convexity, coupling=coupling, n_agents=n_agents)


def thm5_2(
    *,
    n_agents: Any,
    lr: Any,
    batch_size: Any,
    sigma2: Any,
    dim: Any,
    q: Any,
    strong_convexity: Any,
    coupling: Any,
    metric: str = "paper",
    smoothness: Any = None,
) -> BoundResult:
    r"""Thm 5.2 (51), EASGD: :math:`\frac{\sqrt p(p-1)\eta Q\sigma^2\sqrt n}{4pb\lambda_E(k+\lambda)}+\sqrt{\frac{\eta\sigma^2}{2b\lambda_E}}`.

    >>> r = thm5_2(n_agents=4, lr=0.5, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,
    ...            coupling=1.0)
    >>> round(r.value, 6)
    0.572061

    ``metric="lmi"`` (with ``smoothness``) uses an LMI-certified metric in the same composition.
    """
    extra = {} if smoothness is None else {"smoothness": smoothness}
    return evaluate(
        "thm5.2",
        metric=metric,
        **extra,
        n_agents=n_agents,
        lr=lr,
        batch_size=batch_size,
        sigma2=sigma2,
        dim=dim,
        q=q,
        strong_convexity=strong_convexity,
        coupling=coupling,
    )


def lemma5_3(
    *, strong_convexity: Any, smoothness: Any, damping: Any, coupling: Any, metric_a: Any = None
) -> BoundResult:
    r"""Lemma 5.3 (52)--(53): :math:`\lambda_m\ge\frac\gamma2-\sqrt{\frac{(\gamma-2a)^2}4+\frac{(L-\lambda)^2}{16c^2}}` for :math:`\gamma>\sqrt L-\sqrt\lambda`.

    ``metric_a`` defaults to the rate-maximizing admissible :math:`a`.

    >>> round(lemma5_3(strong_convexity=1.0, smoothness=4.0, damping=3.0, coupling=5.0).value, 6)
    0.381966
    """
    return evaluate(
        "lemma5.3",
        strong_convexity=strong_convexity,
        smoothness=smoothness,
        damping=damping,
        coupling=coupling,
        metric_a=metric_a,
    )


def thm5_3(
    *,
    n_agents: Any,
    lr: Any,
    batch_size: Any,
    sigma2: Any,
    dim: Any,
    q: Any,
    strong_convexity: Any,
    smoothness: Any,
    coupling: Any,
    damping: Any,
    metric_a: Any = None,
    metric: str = "paper",
) -> BoundResult:
    r"""Thm 5.3 (54), QSGD with momentum: :math:`\frac{\chi(\Theta)(p-1)\eta Q\sigma^2\sqrt n}{4pb\lambda_m\lambda_s}+\sqrt{\frac{\eta\sigma^2}{2bp\beta_{\min}\lambda_m}}`.

    ``metric_a`` defaults to the admissible :math:`a` that minimizes the bound.

    >>> r = thm5_3(n_agents=4, lr=0.1, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,
    ...            smoothness=2.0, coupling=2.0, damping=2.0)
    >>> r.value > 0, sorted(r.transient_rates)
    (True, ['convergence', 'synchronization'])
    """
    return evaluate(
        "thm5.3",
        metric=metric,
        **({} if metric == "lmi" else {"metric_a": metric_a}),
        n_agents=n_agents,
        lr=lr,
        batch_size=batch_size,
        sigma2=sigma2,
        dim=dim,
        q=q,
        strong_convexity=strong_convexity,
        smoothness=smoothness,
        coupling=coupling,
        damping=damping,
    )


def lemma5_4(*, coupling: Any, n_agents: Any, magnification: Any, lambda_max: Any) -> BoundResult:
    r"""Lemma 5.4 (56) with the gains (60)--(61): :math:`\lambda_{sd}=\inf_t\frac1p\sum_jk_j(t)-\lambda_{\max}`.

    >>> lemma5_4(coupling=2.0, n_agents=4, magnification=1.0, lambda_max=0.5).value
    0.5
    """
    return evaluate(
        "lemma5.4", coupling=coupling, n_agents=n_agents, magnification=magnification, lambda_max=lambda_max
    )


def lemma5_5(
    *, n_agents: Any, lr: Any, batch_size: Any, sigma2: Any, dim: Any, curvature: Any, time: Any
) -> BoundResult:
    r"""Lemma 5.5 (59): :math:`\mathbb E\|\hat{\mathbf x}(t)\|^2\approx\frac{\operatorname{tr}(\mathbf A^{-1}\boldsymbol\Sigma\mathbf A^{-1})}{pt}=\frac{\eta\sigma^2}{bph^2t}`, independent of :math:`k`.

    >>> lemma5_5(n_agents=2, lr=0.1, batch_size=1, sigma2=1.0, dim=3, curvature=1.0, time=10.0).value
    0.005
    """
    return evaluate(
        "lemma5.5",
        n_agents=n_agents,
        lr=lr,
        batch_size=batch_size,
        sigma2=sigma2,
        dim=dim,
        curvature=curvature,
        time=time,
    )


__all__ = [
    "NAMES",
    "BoundResult",
    "Hypothesis",
    "HypothesisCheck",
    "Theorem",
    "cor2_1",
    "evaluate",
    "lemma2_1",
    "lemma3_1",
    "lemma3_2",
    "lemma5_2",
    "lemma5_3",
    "lemma5_4",
    "lemma5_5",
    "max_stable_coupling",
    "sgd",
    "stability",
    "theorem",
    "thm2_1",
    "thm3_1",
    "thm3_2",
    "thm5_1",
    "thm5_2",
    "thm5_3",
]
