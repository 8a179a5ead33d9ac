"""The engine against exact oracles: linear SDEs on quadratics (Lyapunov, Van Loan, exact EM-chain laws)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from quorumsgd.algorithms import (
    EASGD,
    QSGD,
    SGD,
    MomentumEASGD,
    MomentumQSGD,
    easgd_iteration,
    qsgd_iteration,
)
from quorumsgd.objectives import GaussianNoise, LogCosh, Quadratic, UniformNoise
from quorumsgd.simulate import (
    GaussianLaw,
    burn_in_steps,
    euler_time_average_law,
    expected_norm,
    linearize,
    linearize_iteration,
    run_ensemble,
    time_average_law,
)

Z = 4.0  # two-sided z for the deterministic (fixed-seed) statistical checks: false alarm ~6e-5 per check

A = Quadratic.random(3, 0.5, 2.0, seed=7)
NOISE = GaussianNoise(3, cov=np.array([[1.0, 0.2, 0.0], [0.2, 0.6, 0.1], [0.0, 0.1, 1.4]]))


def _within(summary, exact, z=Z):
    """|mean - exact| <= z * stderr, the stderr coming from the number of independent samples."""
    assert abs(summary.mean - exact) <= z * summary.stderr, (summary, exact)


def test_oracle_matches_closed_forms_of_the_spec():
    """Lemma 3.1 quadratic value (p-1) eta tr(Sigma) / (2 b (k+h)) and C1 / (59) for the center of mass."""
    p, k, h, lr, b, s2 = 5, 3.0, 0.7, 0.2, 4.0, 1.5
    sde = linearize(QSGD(coupling=k), Quadratic.isotropic(2, h), p, GaussianNoise.isotropic(2, s2), lr, b)
    law = sde.stationary()
    assert law.expected_spread() == pytest.approx((p - 1) * lr * s2 / (2 * b * (k + h)), rel=1e-10)
    _, cov = law.center()
    np.testing.assert_allclose(cov, lr * s2 / 2 / (2 * b * p * h) * np.eye(2), rtol=1e-10, atol=1e-15)
    # (59): t * Cov(x_hat(t)) -> A^{-1} Sigma A^{-1} / p, for any coupling.
    for coupling in (0.0, 1.0, 10.0):
        sde_k = linearize(QSGD(coupling=coupling), A, p, NOISE, lr, b)
        _, cov_t = time_average_law(sde_k, 2000.0, np.zeros(sde_k.size))
        a_inv = np.linalg.inv(A.matrix)
        target = a_inv @ (lr / b * NOISE.covariance()) @ a_inv / p
        assert np.linalg.norm(2000.0 * cov_t - target) <= 5e-3 * np.linalg.norm(target)  # O(1/t) remainder


def test_exact_transition_composes_and_converges_to_the_lyapunov_solution():
    sde = linearize(EASGD(coupling=1.0), A, 3, NOISE, 0.1, 1.0)
    one = sde.transition(0.3)
    two = sde.transition(0.15).power(2)
    np.testing.assert_allclose(one.matrix, two.matrix, atol=1e-12)
    np.testing.assert_allclose(one.cov, two.cov, atol=1e-12)
    mean, cov = one.stationary()
    law = sde.stationary()
    np.testing.assert_allclose(cov, law.cov, atol=1e-10)
    np.testing.assert_allclose(mean, law.mean, atol=1e-12)


def test_expected_norm_quadrature():
    rng = np.random.default_rng(0)
    mean, l = rng.standard_normal(3), rng.standard_normal((3, 3))
    cov = l @ l.T
    y = rng.multivariate_normal(mean, cov, size=400_000)
    norms = np.linalg.norm(y, axis=1)
    assert abs(expected_norm(mean, cov) - norms.mean()) < 5 * norms.std() / np.sqrt(norms.size)
    assert expected_norm(np.zeros(1), np.eye(1) * 4.0) == pytest.approx(2 * np.sqrt(2 / np.pi), rel=1e-10)


def test_weak_order_one_of_euler_maruyama_exactly():
    """The EM chain's stationary moments differ from the SDE's by c * dt + O(dt^2) (weak order 1)."""
    for alg in (QSGD(coupling=2.0), MomentumQSGD(coupling=1.0, damping=2.0), EASGD(coupling=0.5)):
        sde = linearize(alg, A, 4, NOISE, 0.1, 1.0)
        exact = sde.stationary()
        errs = []
        for dt in (0.04, 0.02, 0.01, 0.005):
            mean, cov = sde.euler(dt).stationary()
            errs.append(abs(GaussianLaw(mean, cov, sde.layout).expected_spread() - exact.expected_spread()))
        ratios = np.array(errs[:-1]) / np.array(errs[1:])
        assert np.all(np.abs(ratios - 2.0) < 0.1), (alg, ratios)


@pytest.mark.parametrize("alg", [QSGD(coupling=2.0), SGD(), EASGD(coupling=1.0),
                                 MomentumQSGD(coupling=1.0, damping=2.0, velocity_coupling=0.5),
                                 MomentumEASGD(coupling=1.0, damping=2.0)],
                         ids=lambda a: type(a).__name__)
def test_engine_stationary_spread_and_center_match_the_exact_em_chain(alg):
    """No discretization bias in the comparison: the oracle is the exact law of the simulated chain."""
    p, dt, lr = 4, 0.05, np.array([0.1, 0.2, 0.1, 0.3])  # per-agent learning rates (Sec. 3.4)
    sde = linearize(alg, A, p, NOISE, lr, 1.0)
    mean, cov = sde.euler(dt).stationary()
    law = GaussianLaw(mean, cov, sde.layout)
    rate = min(0.5, -np.max(np.linalg.eigvals(sde.drift_matrix).real))  # slowest transient of the system
    burn = burn_in_steps([rate], dt, tolerance=1e-4, gap=3.0)
    r = run_ensemble(alg, A, NOISE, n_agents=p, sims=300, steps=burn + 800, dt=dt, lr=lr, burn_in=burn,
                     stats=("spread", "center_error_sq"), seed=5, x0=1.0)
    _within(r.stationary["spread"], law.expected_spread())
    _within(r.stationary["center_error_sq"], law.expected_center_error_sq(A.minimizer))


def test_center_of_mass_covariance_matches_the_lyapunov_solution():
    """Final-iterate samples of the center of mass: every covariance entry within its sampling error."""
    p, k, lr, dt, sims = 6, 2.0, 0.2, 0.5, 4000
    sde = linearize(QSGD(coupling=k), A, p, NOISE, lr, 1.0)
    _, cov = sde.stationary().center()
    r = run_ensemble(QSGD(coupling=k), A, NOISE, n_agents=p, sims=sims, steps=60, dt=dt, lr=lr, scheme="exact",
                     stats=(), seed=1, x0=2.0)
    xbar = r.final_state["x"].mean(axis=1)
    emp = np.cov(xbar, rowvar=False)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / sims)
    assert np.all(np.abs(emp - cov) <= Z * se), (emp, cov)
    assert np.all(np.abs(xbar.mean(axis=0)) <= Z * np.sqrt(np.diag(cov) / sims))


def test_exact_scheme_is_unbiased_at_large_steps():
    """scheme='exact' samples the SDE's own transition: the stationary spread is the Lyapunov value at dt = 1."""
    alg = MomentumQSGD(coupling=2.0, damping=1.5)
    sde = linearize(alg, A, 4, NOISE, 0.2, 2.0)
    law = sde.stationary()
    r = run_ensemble(alg, A, NOISE, n_agents=4, sims=400, steps=140, dt=1.0, lr=0.2, batch_size=2.0,
                     scheme="exact", burn_in=40, stats=("spread", "center_velocity_error"), seed=2)
    _within(r.stationary["spread"], law.expected_spread())
    euler_law = GaussianLaw(*sde.euler(0.2).stationary(), sde.layout)
    assert abs(euler_law.expected_spread() / law.expected_spread() - 1) > 0.05  # EM at dt=0.2 would be biased


def test_lemma_5_5_time_average_covariance_matches_oracle_and_is_k_independent():
    p, lr, dt, steps, sims = 4, 0.2, 0.05, 1200, 600
    covs = {}
    for k in (0.0, 5.0):
        sde = linearize(QSGD(coupling=k), A, p, NOISE, lr, 1.0)
        r = run_ensemble(QSGD(coupling=k), A, NOISE, n_agents=p, sims=sims, steps=steps, dt=dt, lr=lr,
                         time_average=True, stats=(), seed=3)
        _, emp, n = r.time_average_moments()
        _, exact = euler_time_average_law(sde, dt, steps, np.zeros(sde.size))
        se = np.sqrt((np.outer(np.diag(exact), np.diag(exact)) + exact**2) / n)
        assert np.all(np.abs(emp - exact) <= Z * se)
        covs[k] = exact
        # continuous-time law for comparison: the EM chain's is close at this dt
        _, cont = time_average_law(sde, steps * dt, np.zeros(sde.size))
        np.testing.assert_allclose(exact, cont, rtol=0.1)
    np.testing.assert_allclose(covs[0.0], covs[5.0], rtol=0.05)  # (59) does not depend on k


@pytest.mark.parametrize("make", [lambda p: qsgd_iteration(lr=0.1, coupling=3.0),
                                  lambda p: easgd_iteration(lr=0.1, coupling=1.0, n_agents=p),
                                  lambda p: easgd_iteration(lr=0.1, coupling=1.0, n_agents=p, momentum=0.5)],
                         ids=["qsgd_41", "easgd_3", "eamsgd"])
def test_discrete_iterations_match_their_exact_affine_gaussian_law(make):
    """Uniform noise as in the model problems: the first two moments are still exact."""
    p = 4
    it = make(p)
    noise = UniformNoise(3, width=1.2)
    step, layout = linearize_iteration(it, A, p, noise, batch_size=1.0)
    mean, cov = step.stationary()
    law = GaussianLaw(mean, cov, layout)
    r = run_ensemble(it, A, noise, n_agents=p, sims=300, steps=900, burn_in=300, stats=("spread",
                     "center_error_sq"), seed=4, x0=0.5)
    _within(r.stationary["spread"], law.expected_spread())
    _within(r.stationary["center_error_sq"], law.expected_center_error_sq(A.minimizer))


def test_weak_order_one_on_a_nonquadratic_objective_with_coupled_noise():
    """LogCosh (no exact law): with Brownian increments shared across dt, dt/2, dt/4, the weak bias halves.

    E[xbar_dt(T)] - E[xbar_{dt/2}(T)] over E[xbar_{dt/2}(T)] - E[xbar_{dt/4}(T)] tends to 2 for a weak order 1
    scheme; coupling the paths makes the ratio's own standard error small, so the check is not vacuous.
    """
    f = LogCosh(dim=1, strong_convexity=0.5, curvature=2.0, shift=1.0)
    noise = GaussianNoise.isotropic(1, 1.0)
    sims, p, horizon, fine_steps = 2000, 2, 1.0, 32
    z_fine = np.random.default_rng(8).standard_normal((fine_steps, sims, p, 1))
    estimates = []
    for level in (0, 1, 2):  # dt = horizon / 8, / 16, / 32
        m = 2 ** (2 - level)
        steps = fine_steps // m
        z = z_fine.reshape(steps, m, sims, p, 1).sum(axis=1) / np.sqrt(m)  # the same Brownian path
        r = run_ensemble(QSGD(coupling=1.0), f, noise, n_agents=p, sims=sims, steps=steps, dt=horizon / steps,
                         lr=0.2, x0=np.array([[4.0], [2.5]]), noise_values=z, stats=())
        estimates.append(r.final_state["x"].mean(axis=1)[:, 0])
    e = np.stack(estimates)
    d1, d2 = e[0] - e[1], e[1] - e[2]
    ratio = d1.mean() / d2.mean()
    se = np.sqrt(d1.var() / sims + ratio**2 * d2.var() / sims) / abs(d2.mean())
    assert se < 0.05
    assert abs(ratio - 2.0) < 0.1 + Z * se, (ratio, se)
    assert sps.pearsonr(e[0], e[2]).statistic > 0.99
