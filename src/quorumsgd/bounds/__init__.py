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

from numpy.typing import ArrayLike

from quorumsgd.bounds.registry import NAMES, REGISTRY, documented
from quorumsgd.bounds.stability import StabilityTheorem, max_stable_coupling, stability
from quorumsgd.bounds.theorem import BoundResult, Hypothesis, HypothesisCheck, Theorem
from quorumsgd.errors import InvalidParameter


def __getattr__(name: str) -> Any:  # PEP 562: `bounds.catalog` without importing SymPy at `import bounds`
    if name == "catalog":
        return importlib.import_module("quorumsgd.bounds.catalog")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def theorem(name: str) -> Theorem | StabilityTheorem:
    """The derived theorem of a name (:data:`NAMES`): SymPy terms, hypotheses, derivation steps.

    ``stability`` is a :class:`~quorumsgd.bounds.stability.StabilityTheorem` (same interface, evaluated per mode).
    """
    if name not in REGISTRY:
        raise InvalidParameter("name", f"be one of {', '.join(NAMES)}", name)
    return REGISTRY[name].derive()


def evaluate(
    name: str, metric: str = "paper", method: str = "closed_form", discrete: bool = False, **params: Any
) -> BoundResult:
    """Evaluate a theorem by name; ``stability`` also takes ``algorithm="qsgd" | "easgd"``.

    ``metric="lmi"`` (Thm 5.2, Thm 5.3; needs ``smoothness``) uses LMI-certified metrics in the same
    composition instead of the paper's (:mod:`quorumsgd.bounds.lmi_metric`).

    ``method="sdp"`` (``sgd``, ``thm5.1``, ``thm5.2``, ``thm5.3``, ``lemma3.1``; needs ``smoothness``) certifies
    the stationary second moment over the whole class S(lambda, L) by an SDP (:mod:`quorumsgd.bounds.sdp`);
    ``discrete=True`` certifies the discrete iteration with step ``lr`` instead of the SDE.
    """
    if method not in ("closed_form", "sdp"):
        raise InvalidParameter("method", "be 'closed_form' or 'sdp'", method, name)
    if method == "sdp":
        if metric != "paper":
            raise InvalidParameter("metric", "not be given with method='sdp' (the SDP has no metric)", metric, name)
        from quorumsgd.bounds.sdp import evaluate_sdp

        return evaluate_sdp(name, discrete=discrete, **params)
    if discrete:
        raise InvalidParameter("discrete", "be used only with method='sdp'", discrete, name)
    if metric not in ("paper", "lmi"):
        raise InvalidParameter("metric", "be 'paper' or 'lmi'", metric, name)
    if metric == "lmi":
        from quorumsgd.bounds.lmi_metric import evaluate_lmi

        return evaluate_lmi(name, **params)
    return theorem(name).evaluate(**params)


# The public wrappers: typed keyword signatures; their docstrings are generated from the registry entry
# (statement, hypotheses, Args), followed by the example written here.


@documented("lemma2.1")
def lemma2_1(*, chi: ArrayLike, disturbance: ArrayLike, rate: ArrayLike) -> BoundResult:
    """
    >>> lemma2_1(chi=2.0, disturbance=0.3, rate=0.5).value
    1.2
    """
    return evaluate("lemma2.1", **locals())


@documented("thm2.1")
def thm2_1(
    *, noise_bound: ArrayLike, rate: ArrayLike, beta_min: ArrayLike, initial_gap2: ArrayLike, time: ArrayLike
) -> BoundResult:
    """
    >>> thm2_1(noise_bound=1.0, rate=2.0, beta_min=1.0, initial_gap2=0.0, time=1.0).value
    0.5
    """
    return evaluate("thm2.1", **locals())


@documented("cor2.1")
def cor2_1(
    *, noise_bound: ArrayLike, rate: ArrayLike, beta_min: ArrayLike, initial_gap2: ArrayLike, time: ArrayLike
) -> BoundResult:
    """
    >>> cor2_1(noise_bound=1.0, rate=2.0, beta_min=1.0, initial_gap2=0.0, time=1.0).value
    0.25
    """
    return evaluate("cor2.1", **locals())


@documented("thm3.1")
def thm3_1(*, coupling: ArrayLike, lambda_max: ArrayLike) -> BoundResult:
    """
    >>> thm3_1(coupling=3.0, lambda_max=1.0).value
    2.0
    """
    return evaluate("thm3.1", **locals())


@documented("lemma3.1")
def lemma3_1(
    *, n_agents: ArrayLike, lr: ArrayLike, batch_size: ArrayLike, sigma2: ArrayLike, coupling: ArrayLike,
    lambda_max: ArrayLike,
) -> BoundResult:
    """
    >>> round(lemma3_1(n_agents=4, lr=0.1, batch_size=1, sigma2=2.0, coupling=2.0, lambda_max=1.0).value, 12)
    0.3
    """
    return evaluate("lemma3.1", **locals())


@documented("thm3.2")
def thm3_2(
    *, n_agents: ArrayLike, lr: ArrayLike, batch_size: ArrayLike, sigma2: ArrayLike, dim: ArrayLike, q: ArrayLike,
    coupling: ArrayLike, lambda_max: ArrayLike,
) -> BoundResult:
    """
    >>> round(thm3_2(n_agents=2, lr=0.1, batch_size=1, sigma2=1.0, dim=4, q=1.0, coupling=1.0,
    ...              lambda_max=0.0).value, 6)
    0.025
    """
    return evaluate("thm3.2", **locals())


@documented("lemma3.2")
def lemma3_2(
    *, coupling: ArrayLike, damping: ArrayLike, strong_convexity: ArrayLike, smoothness: ArrayLike,
    velocity_coupling: ArrayLike = 0.0,
) -> BoundResult:
    """
    >>> round(lemma3_2(coupling=2.0, damping=2.0, strong_convexity=1.0, smoothness=3.0).value, 6)
    1.0
    """
    return evaluate("lemma3.2", **locals())


@documented("sgd")
def sgd(*, lr: ArrayLike, batch_size: ArrayLike, sigma2: ArrayLike, strong_convexity: ArrayLike) -> BoundResult:
    """
    >>> round(sgd(lr=0.5, batch_size=1, sigma2=1.0, strong_convexity=1.0).value, 12)
    0.5
    """
    return evaluate("sgd", **locals())


@documented("thm5.1")
def thm5_1(
    *, n_agents: ArrayLike, lr: ArrayLike, batch_size: ArrayLike, sigma2: ArrayLike, dim: ArrayLike, q: ArrayLike,
    strong_convexity: ArrayLike, coupling: ArrayLike,
) -> BoundResult:
    """
    >>> round(thm5_1(n_agents=4, lr=0.5, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,
    ...              coupling=1.0).value, 6)
    0.25
    """
    return evaluate("thm5.1", **locals())


@documented("lemma5.2")
def lemma5_2(*, strong_convexity: ArrayLike, coupling: ArrayLike, n_agents: ArrayLike) -> BoundResult:
    """
    >>> round(lemma5_2(strong_convexity=1.0, coupling=1.0, n_agents=4).value, 6)
    0.763932
    """
    return evaluate("lemma5.2", **locals())


@documented("thm5.2")
def thm5_2(
    *, n_agents: ArrayLike, lr: ArrayLike, batch_size: ArrayLike, sigma2: ArrayLike, dim: ArrayLike, q: ArrayLike,
    strong_convexity: ArrayLike, coupling: ArrayLike, metric: str = "paper", smoothness: ArrayLike | None = None,
) -> BoundResult:
    """
    >>> r = thm5_2(n_agents=4, lr=0.5, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,
    ...            coupling=1.0)
    >>> round(r.value, 6)
    0.572061
    """
    params = dict(locals())
    if smoothness is None:  # only metric="lmi" takes it
        del params["smoothness"]
    return evaluate("thm5.2", **params)


@documented("lemma5.3")
def lemma5_3(
    *, strong_convexity: ArrayLike, smoothness: ArrayLike, damping: ArrayLike, coupling: ArrayLike,
    metric_a: ArrayLike | None = None,
) -> BoundResult:
    """
    >>> round(lemma5_3(strong_convexity=1.0, smoothness=4.0, damping=3.0, coupling=5.0).value, 6)
    0.381966
    """
    return evaluate("lemma5.3", **locals())


@documented("thm5.3")
def thm5_3(
    *, n_agents: ArrayLike, lr: ArrayLike, batch_size: ArrayLike, sigma2: ArrayLike, dim: ArrayLike, q: ArrayLike,
    strong_convexity: ArrayLike, smoothness: ArrayLike, coupling: ArrayLike, damping: ArrayLike,
    metric_a: ArrayLike | None = None, metric: str = "paper",
) -> BoundResult:
    """
    >>> r = thm5_3(n_agents=4, lr=0.1, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,
    ...            smoothness=2.0, coupling=2.0, damping=2.0)
    >>> r.value > 0, sorted(r.transient_rates)
    (True, ['convergence', 'synchronization'])
    """
    params = dict(locals())
    if metric == "lmi":  # the certificate chooses the metric
        del params["metric_a"]
    return evaluate("thm5.3", **params)


@documented("lemma5.4")
def lemma5_4(*, coupling: ArrayLike, n_agents: ArrayLike, magnification: ArrayLike, lambda_max: ArrayLike) -> BoundResult:
    """
    >>> lemma5_4(coupling=2.0, n_agents=4, magnification=1.0, lambda_max=0.5).value
    0.5
    """
    return evaluate("lemma5.4", **locals())


@documented("lemma5.5")
def lemma5_5(
    *, n_agents: ArrayLike, lr: ArrayLike, batch_size: ArrayLike, sigma2: ArrayLike, dim: ArrayLike,
    curvature: ArrayLike, time: ArrayLike,
) -> BoundResult:
    """
    >>> lemma5_5(n_agents=2, lr=0.1, batch_size=1, sigma2=1.0, dim=3, curvature=1.0, time=10.0).value
    0.005
    """
    return evaluate("lemma5.5", **locals())


__all__ = [
    "NAMES",
    "BoundResult",
    "Hypothesis",
    "HypothesisCheck",
    "StabilityTheorem",
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
