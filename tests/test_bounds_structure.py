"""The structure the paper claims for its bounds (issue 2 item 4), as properties over generated parameters."""

from __future__ import annotations

import numpy as np
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumsgd import bounds
from quorumsgd.algorithms import QSGD
from quorumsgd.bounds import catalog
from quorumsgd.objectives import GaussianNoise, Quadratic
from quorumsgd.parameters import symbol
from quorumsgd.simulate import linearize, time_average_law

pos = st.floats(0.05, 20.0)
agents = st.integers(2, 64)


def thm51(**kw: float) -> bounds.BoundResult:
    base = dict(n_agents=8, lr=0.1, batch_size=16, sigma2=2.0, dim=10, q=1.0, strong_convexity=0.5, coupling=1.0)
    base.update(kw)
    return bounds.thm5_1(**base)


@given(k1=pos, k2=pos, lam=pos, p=agents)
def test_thm51_disturbance_falls_with_coupling(k1: float, k2: float, lam: float, p: int) -> None:
    lo, hi = sorted((k1, k2))
    d_lo = thm51(coupling=lo, strong_convexity=lam, n_agents=p).terms["disturbance"]
    d_hi = thm51(coupling=hi, strong_convexity=lam, n_agents=p).terms["disturbance"]
    assert d_hi <= d_lo
    if hi > lo * 1.01:
        assert d_hi < d_lo


@given(p=agents, lam=pos)
def test_thm51_noise_scales_as_inverse_sqrt_p(p: int, lam: float) -> None:
    one = thm51(n_agents=1, strong_convexity=lam).terms["noise"]
    many = thm51(n_agents=p, strong_convexity=lam).terms["noise"]
    assert np.isclose(many * np.sqrt(p), one, rtol=1e-12)


@given(k=pos, lam=pos, lr=st.floats(1e-3, 1.0), s2=pos)
def test_one_agent_reduces_thm51_to_sgd(k: float, lam: float, lr: float, s2: float) -> None:
    r = thm51(n_agents=1, coupling=k, strong_convexity=lam, lr=lr, sigma2=s2)
    s = bounds.sgd(lr=lr, batch_size=16, sigma2=s2, strong_convexity=lam)
    assert r.terms["disturbance"] == 0.0
    assert np.isclose(r.value, s.value, rtol=1e-12)


def test_thm52_first_term_grows_like_sqrt_p_second_tends_to_constant() -> None:
    p = np.array([4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0])
    r = bounds.thm5_2(n_agents=p, lr=0.1, batch_size=16, sigma2=2.0, dim=10, q=1.0, strong_convexity=0.5, coupling=1.0)
    first = r.terms["disturbance"] / np.sqrt(p)
    assert np.all(np.diff(r.terms["disturbance"]) > 0)
    assert abs(first[-1] / first[-2] - 1) < 0.01  # term 1 / sqrt(p) converges
    limit = np.sqrt(0.1 * 2.0 / (2 * 16 * 0.5))  # sqrt(eta sigma^2 / (2 b lambda)): lambda_E -> lambda
    assert abs(r.terms["noise"][-1] / limit - 1) < 1e-3
    assert abs(r.terms["noise"][-1] - r.terms["noise"][-2]) < abs(r.terms["noise"][1] - r.terms["noise"][0])


@given(lam=pos, k=pos, p=st.integers(1, 10_000))
def test_lambda_e_below_lambda(lam: float, k: float, p: int) -> None:
    lam_e = bounds.lemma5_2(strong_convexity=lam, coupling=k, n_agents=p).value
    assert 0 < lam_e < lam


def test_lambda_e_tends_to_lambda() -> None:
    p = np.array([1, 10, 100, 1000, 100000.0])
    lam_e = bounds.lemma5_2(strong_convexity=0.7, coupling=2.0, n_agents=p).value
    assert np.all(np.diff(lam_e) > 0)
    assert abs(lam_e[-1] - 0.7) < 1e-4


@settings(max_examples=20)
@given(k=pos)
def test_lemma55_does_not_depend_on_coupling(k: float) -> None:
    expr = bounds.theorem("lemma5.5").expression
    assert not any(s.name == "coupling" for s in expr.free_symbols)
    # The exact law of QSGD's time average at this coupling (a start at x*) is the coupling-free finite-time value.
    params = dict(n_agents=3, lr=0.1, batch_size=1, sigma2=2.0, dim=2, curvature=0.8, time=5.0)
    sde = linearize(QSGD(coupling=k), Quadratic.isotropic(params["dim"], params["curvature"]), params["n_agents"],
                    GaussianNoise.isotropic(params["dim"], params["sigma2"]), lr=params["lr"])
    mean, cov = time_average_law(sde, params["time"], np.zeros(sde.size))
    finite = catalog.lemma5_5_finite_time().subs({symbol(name): v for name, v in params.items()})
    assert np.isclose(float(np.trace(cov) + mean @ mean), float(finite), rtol=1e-8)
    assert sympy.Symbol("coupling") not in finite.free_symbols


def test_easgd_region_shrinks_with_p_while_qsgd_does_not() -> None:
    kmax = {
        alg: [
            bounds.max_stable_coupling(lr=0.1, curvature=1.0, n_agents=n, algorithm=alg, upper=60.0)
            for n in (1, 4, 16, 64)
        ]
        for alg in ("qsgd", "easgd")
    }
    assert len(set(kmax["qsgd"])) == 1
    assert all(x > y for x, y in zip(kmax["easgd"], kmax["easgd"][1:], strict=False))


def test_spec_example_easgd_unstable_from_39_agents() -> None:
    p = np.arange(30, 50)
    stable = bounds.stability(lr=0.1, curvature=1.0, coupling=0.5, n_agents=p, algorithm="easgd").terms["stable"]
    assert np.all(stable[p < 39] == 1) and np.all(stable[p >= 39] == 0)


def test_lemma53_metric_a_default_maximizes_rate() -> None:
    best = bounds.lemma5_3(strong_convexity=1.0, smoothness=4.0, damping=3.0, coupling=10.0)
    others = [
        bounds.lemma5_3(strong_convexity=1.0, smoothness=4.0, damping=3.0, coupling=10.0, metric_a=a).value
        for a in np.linspace(0.6, 1.4, 9)
    ]
    assert best.value >= max(others) - 1e-12


def test_thm53_metric_a_default_minimizes_bound() -> None:
    kw = dict(
        n_agents=4,
        lr=0.1,
        batch_size=4,
        sigma2=1.0,
        dim=2,
        q=0.5,
        strong_convexity=1.0,
        smoothness=3.0,
        coupling=3.0,
        damping=2.5,
    )
    best = bounds.thm5_3(**kw).value
    for a in np.linspace(0.3, 2.2, 40):
        try:
            other = bounds.thm5_3(**kw, metric_a=a).value
        except bounds.catalog.symbolic.HypothesisViolation:
            continue
        assert best <= other * (1 + 1e-6)
