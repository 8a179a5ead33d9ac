"""The Monte Carlo engine: conventions, backends, reproducibility, divergence handling, input validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quorumsgd.algorithms import (
    EASGD,
    QSGD,
    SDQSGD,
    SGD,
    MomentumEASGD,
    MomentumQSGD,
    QuorumFilterSGD,
    easgd_iteration,
    momentum_qsgd_iteration,
    msgd_iteration,
    nesterov_qsgd_iteration,
    qsgd_iteration,
    sdqsgd_iteration,
    sgd_iteration,
)
from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives import (
    GaussianNoise,
    LogCosh,
    ModulatedGaussianNoise,
    NonconvexSurrogate1D,
    Quadratic,
    UniformNoise,
)
from quorumsgd.simulate import BestAgentGains, NoiseStream, run_ensemble, uniform_box
from quorumsgd.simulate.backend import Backend

SIMS, AGENTS, DIM, STEPS = 6, 4, 3, 40
OBJ = LogCosh(dim=DIM, strong_convexity=0.5, curvature=2.0, shift=np.array([1.0, -0.5, 0.2]))


def _sd_gains(state, t):
    x = state["x"]
    return 1.0 + 0.5 * x[..., :1] ** 2 + 0.0 * t  # state dependent, backend agnostic


CONTINUOUS = {
    "sgd": SGD(),
    "qsgd": QSGD(coupling=2.0),
    "easgd": EASGD(coupling=1.5),
    "momentum": MomentumQSGD(coupling=1.0, damping=2.0, velocity_coupling=0.5),
    "momentum_easgd": MomentumEASGD(coupling=1.0, damping=2.0),
    "sdqsgd": SDQSGD(gains=_sd_gains),
    "quorum_filter": QuorumFilterSGD(coupling=1.0, quorum_dynamics=lambda q, x, ops, t: 2.0 * (ops.mean(x) - q)
                                     - 0.1 * (ops.mean(x) - q) ** 3),
}
DISCRETE = {
    "sgd": sgd_iteration(lr=0.05),
    "qsgd_41": qsgd_iteration(lr=0.05, coupling=2.0),
    "momentum_42_43": momentum_qsgd_iteration(lr=0.05, coupling=2.0, momentum=0.8),
    "easgd_3": easgd_iteration(lr=0.05, coupling=1.0, n_agents=AGENTS),
    "eamsgd": easgd_iteration(lr=0.05, coupling=1.0, n_agents=AGENTS, momentum=0.7),
    "nesterov_qsgd": nesterov_qsgd_iteration(lr=0.05, coupling=2.0, momentum=0.7),
    "msgd": msgd_iteration(lr=0.05, momentum=0.7),
    "sdqsgd": sdqsgd_iteration(lr=0.05, momentum=0.7),
}


def _stats_for(alg):
    example = alg.init(np.zeros((1, AGENTS, DIM)), __import__("quorumsgd").algorithms.SIM_OPS)
    stats = ["center_error", "spread", "disturbance", "center_loss", "agent_loss"]
    if "quorum" in example:
        stats += ["quorum_error", "center_quorum_error"]
    if "v" in example and isinstance(alg, (MomentumQSGD, MomentumEASGD)):
        stats += ["center_velocity_error"]
    return stats


def _run(alg, backend, noise, z, **extra):
    kw = dict(n_agents=AGENTS, sims=SIMS, steps=STEPS, x0=uniform_box(-2, 2), seed=3, noise_values=z,
              stats=_stats_for(alg), burn_in=10, trace_every=10, backend=backend, dtype="float64")
    if isinstance(alg, (SGD, QSGD, EASGD, MomentumQSGD, MomentumEASGD, SDQSGD, QuorumFilterSGD)):
        kw.update(dt=0.05, lr=np.array([0.1, 0.2, 0.3, 0.4]), batch_size=2.0)
    if getattr(alg, "pull", None) == "state_dependent":
        kw["gains"] = BestAgentGains(coupling=2.0, tau=5.0, magnification=3.0, period=15, objective=OBJ)
    kw.update(extra)
    return run_ensemble(alg, OBJ, noise, **kw)


@pytest.mark.parametrize("name", sorted(CONTINUOUS) + [f"d:{n}" for n in sorted(DISCRETE)])
@pytest.mark.parametrize("noise_kind", ["constant", "state_dependent", "uniform"])
def test_every_algorithm_agrees_between_numpy_and_torch_with_injected_noise(name, noise_kind):
    alg = DISCRETE[name[2:]] if name.startswith("d:") else CONTINUOUS[name]
    noise = {"constant": GaussianNoise(DIM, cov=np.diag([1.0, 0.5, 2.0])),
             "state_dependent": ModulatedGaussianNoise(DIM, 2.0, modulation=0.6),
             "uniform": UniformNoise(DIM, width=1.5)}[noise_kind]
    rng = np.random.default_rng(11)
    z = rng.standard_normal((STEPS, SIMS, AGENTS, DIM)) if noise.distribution == "normal" else \
        rng.uniform(-1, 1, (STEPS, SIMS, AGENTS, DIM))
    a = _run(alg, "numpy", noise, z)
    b = _run(alg, "torch", noise, torch.from_numpy(z))
    for field in a.final_state:
        np.testing.assert_allclose(a.final_state[field], b.final_state[field], rtol=1e-10, atol=1e-12)
    for stat in a.stationary:
        assert a.stationary[stat].mean == pytest.approx(b.stationary[stat].mean, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(a.trace[stat], b.trace[stat], rtol=1e-9, atol=1e-12)
    assert np.isfinite(a.final_state["x"]).all() and not a.diverged.any()


def test_euler_maruyama_matches_a_hand_written_loop():
    """Conventions of (2)/(6): x += (-grad + k(xbar - x)) dt + sqrt(lr_i / b) B sqrt(dt) z."""
    lr, b, dt, k = np.array([0.1, 0.2, 0.3, 0.4]), 2.0, 0.05, 2.0
    cov = np.array([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 2.0]])
    noise = GaussianNoise(DIM, cov=cov)
    z = np.random.default_rng(0).standard_normal((STEPS, SIMS, AGENTS, DIM))
    x0 = np.random.default_rng(1).uniform(-1, 1, (SIMS, AGENTS, DIM))
    r = run_ensemble(QSGD(coupling=k), OBJ, noise, n_agents=AGENTS, sims=SIMS, steps=STEPS, dt=dt, lr=lr,
                     batch_size=b, x0=x0, noise_values=z, stats=())
    chol = np.linalg.cholesky(cov)
    x = x0.copy()
    for n in range(STEPS):
        drift = -OBJ.grad(x) + k * (x.mean(axis=1, keepdims=True) - x)
        x = x + drift * dt + np.sqrt(lr / b * dt)[None, :, None] * (z[n] @ chol.T)
    np.testing.assert_allclose(r.final_state["x"], x, rtol=1e-12, atol=1e-12)


def test_discrete_iteration_matches_eq_41_by_hand():
    """(41): x_{t+1} = x_t - eta f'(x_t) + eta k (xbar_t - x_t) + eta zeta_t, zeta ~ U(-w, w)."""
    f = NonconvexSurrogate1D()
    lr, k, w = 0.02, 3.0, 4.0
    z = np.random.default_rng(2).uniform(-1, 1, (STEPS, SIMS, AGENTS, 1))
    x0 = np.random.default_rng(3).uniform(-3, 3, (SIMS, AGENTS, 1))
    r = run_ensemble(qsgd_iteration(lr=lr, coupling=k), f, UniformNoise(1, width=w), n_agents=AGENTS,
                     sims=SIMS, steps=STEPS, x0=x0, noise_values=z, stats=())
    x = x0.copy()
    for n in range(STEPS):
        x = x - lr * f.grad(x) + lr * k * (x.mean(axis=1, keepdims=True) - x) + lr * w * z[n]
    np.testing.assert_allclose(r.final_state["x"], x, rtol=1e-12, atol=1e-12)


def test_same_seed_same_numbers_and_backends_share_cpu_noise():
    kw = dict(n_agents=5, sims=30, steps=50, dt=0.05, lr=0.1, seed=42, x0=uniform_box(-1, 1),
              stats=("spread",))
    alg, noise = QSGD(coupling=1.0), GaussianNoise.isotropic(DIM, 1.0)
    a = run_ensemble(alg, OBJ, noise, **kw)
    b = run_ensemble(alg, OBJ, noise, **kw)
    c = run_ensemble(alg, OBJ, noise, **{**kw, "seed": 43})
    t = run_ensemble(alg, OBJ, noise, backend="torch", **kw)
    np.testing.assert_array_equal(a.final_state["x"], b.final_state["x"])
    assert not np.allclose(a.final_state["x"], c.final_state["x"])
    np.testing.assert_allclose(a.final_state["x"], t.final_state["x"], rtol=1e-10)
    n1 = run_ensemble(alg, OBJ, noise, rng="numpy", **kw)
    n2 = run_ensemble(alg, OBJ, noise, rng="numpy", **kw)
    np.testing.assert_array_equal(n1.final_state["x"], n2.final_state["x"])


@pytest.mark.parametrize("rng", ["torch", "numpy"])
def test_noise_stream_does_not_depend_on_threads(rng):
    shape = (64, 32, 40)  # large enough for the worker pool
    blocks = {}
    for threads in (1, 2, 3):
        s = NoiseStream(Backend.make("numpy", "float32"), shape, steps=7, seed=9, block_steps=3, streams=4,
                        rng=rng, threads=threads)
        assert s.use_pool == (threads > 1)
        blocks[threads] = np.concatenate([b.copy() for _, b in s.blocks()])
    np.testing.assert_array_equal(blocks[1], blocks[2])
    np.testing.assert_array_equal(blocks[1], blocks[3])
    x = blocks[1].ravel().astype(np.float64)
    assert abs(x.mean()) < 5 / np.sqrt(x.size) and abs(x.var() - 1) < 5 * np.sqrt(2 / x.size)


def test_diverging_simulations_are_stopped_flagged_and_excluded():
    """Explicit Euler on a quartic blows up from far away: those simulations stop, the others go on."""
    f = NonconvexSurrogate1D()
    sims, steps = 8, 60
    x0 = np.zeros((sims, 3, 1))
    x0[[1, 5]] = 60.0  # lr * f'(60) * ... overflows within a few steps
    z = np.random.default_rng(0).uniform(-1, 1, (steps, sims, 3, 1))
    it = qsgd_iteration(lr=0.05, coupling=1.0)
    kw = dict(n_agents=3, steps=steps, stats=("spread", "center_loss"), burn_in=20, trace_every=10)
    r = run_ensemble(it, f, UniformNoise(1, 2.0), sims=sims, x0=x0, noise_values=z, **kw)
    assert r.diverged.tolist() == [i in (1, 5) for i in range(sims)]
    assert (r.diverged_at[[1, 5]] > 0).all() and (r.diverged_at[r.diverged_at >= 0] <= steps).all()
    assert np.isnan(r.final_state["x"][[1, 5]]).all() and np.isfinite(r.final_state["x"][~r.diverged]).all()
    keep = ~r.diverged
    ref = run_ensemble(it, f, UniformNoise(1, 2.0), sims=int(keep.sum()), x0=x0[keep], noise_values=z[:, keep],
                       **kw)
    for stat in ("spread", "center_loss"):
        assert r.stationary[stat].n == 6
        assert r.stationary[stat].mean == pytest.approx(ref.stationary[stat].mean, rel=1e-12)
        assert r.final[stat].mean == pytest.approx(ref.final[stat].mean, rel=1e-12)
        np.testing.assert_allclose(r.trace[stat][1:], ref.trace[stat][1:], rtol=1e-12)


def test_easgd_past_its_stability_region_diverges_but_qsgd_does_not():
    """The SI's 1-D analysis: discrete EASGD loses stability once beta = p alpha exceeds ~2; QSGD's condition is p-free."""
    f = Quadratic.isotropic(1, 1.0)
    lr, k = 0.1, 0.5  # a = 0.1, alpha = 0.05: EASGD unstable for p >= 39
    noise = GaussianNoise.isotropic(1, 1.0)
    for p, steps, threshold in ((38, 400, 1e6), (40, 400, 1e6), (60, 1200, None)):
        kw = dict(n_agents=p, sims=4, steps=steps, x0=uniform_box(-1, 1), stats=("spread",), seed=0,
                  divergence_threshold=threshold)
        easgd = run_ensemble(easgd_iteration(lr=lr, coupling=k, n_agents=p), f, noise, **kw)
        qsgd = run_ensemble(qsgd_iteration(lr=lr, coupling=k), f, noise, **kw)
        assert easgd.diverged.all() == (p >= 39) and easgd.diverged.any() == (p >= 39)
        assert not qsgd.diverged.any()
        if p >= 39:
            assert easgd.n_live == 0 and easgd.stationary["spread"].n == 0


BAD_CALLS = [
    dict(n_agents=0),
    dict(sims=-1),
    dict(steps=0),
    dict(burn_in=100),
    dict(dt=0.0),
    dict(dt=None),
    dict(lr=None),
    dict(lr=np.array([0.1, 0.2])),
    dict(lr=-0.1),
    dict(batch_size=0),
    dict(x0=np.zeros((5, 2))),
    dict(stats=("no_such_stat",)),
    dict(stats=("quorum_error",)),
    dict(backend="jax"),
    dict(dtype="float16"),
    dict(device="cuda:0", backend="numpy"),
    dict(noise_values=np.zeros((3, 2, 4, 3))),
    dict(scheme="rk4"),
    dict(scheme="exact", objective=OBJ),
    dict(confidence=1.5),
    dict(time_batches=1000),
]


@pytest.mark.parametrize("bad", BAD_CALLS, ids=lambda d: ",".join(d))
def test_invalid_inputs_rejected_up_front_with_one_line_errors(bad):
    kw = dict(n_agents=4, sims=3, steps=50, dt=0.1, lr=0.1)
    objective = bad.pop("objective", Quadratic.isotropic(DIM))
    kw.update(bad)
    with pytest.raises(InvalidParameter) as err:
        run_ensemble(QSGD(coupling=1.0), objective, GaussianNoise.isotropic(DIM, 1.0), **kw)
    assert "\n" not in str(err.value)


def test_discrete_specific_validation():
    f, noise = Quadratic.isotropic(2), GaussianNoise.isotropic(2, 1.0)
    with pytest.raises(InvalidParameter, match="dt"):
        run_ensemble(qsgd_iteration(0.1, 1.0), f, noise, n_agents=2, sims=2, steps=5, dt=0.1)
    with pytest.raises(InvalidParameter, match="gains"):
        run_ensemble(sdqsgd_iteration(0.1, 0.5), f, noise, n_agents=2, sims=2, steps=5)
    with pytest.raises(InvalidParameter, match=r"noise\.dim"):
        run_ensemble(qsgd_iteration(0.1, 1.0), f, GaussianNoise.isotropic(3, 1.0), n_agents=2, sims=2, steps=5)


@pytest.mark.gpu
def test_cuda_backend_matches_cpu_with_injected_noise():
    z = np.random.default_rng(0).standard_normal((STEPS, SIMS, AGENTS, DIM))
    for alg in (CONTINUOUS["qsgd"], CONTINUOUS["momentum"], DISCRETE["eamsgd"]):
        a = _run(alg, "numpy", GaussianNoise.isotropic(DIM, 1.0), z)
        b = _run(alg, "torch", GaussianNoise.isotropic(DIM, 1.0), torch.from_numpy(z), device="cuda")
        np.testing.assert_allclose(a.final_state["x"], b.final_state["x"], rtol=1e-9, atol=1e-12)
    r = run_ensemble(QSGD(coupling=1.0), OBJ, GaussianNoise.isotropic(DIM, 1.0), n_agents=8, sims=256,
                     steps=200, dt=0.05, lr=0.1, backend="torch", device="cuda", dtype="float32", burn_in=50)
    assert r.n_live == 256 and np.isfinite(r.stationary["spread"].mean)


def test_exact_scheme_agrees_between_backends_and_with_its_transition():
    from quorumsgd.simulate import linearize
    from quorumsgd.simulate.oracle import psd_factor

    f, noise = Quadratic.random(DIM, 0.5, 2.0, seed=2), GaussianNoise.isotropic(DIM, 1.0)
    alg = EASGD(coupling=1.0)
    sde = linearize(alg, f, AGENTS, noise, 0.1, 1.0)
    z = np.random.default_rng(0).standard_normal((5, SIMS, sde.size))
    kw = dict(n_agents=AGENTS, sims=SIMS, steps=5, dt=0.7, lr=0.1, scheme="exact", x0=1.0, stats=("spread",))
    a = run_ensemble(alg, f, noise, noise_values=z, **kw)
    b = run_ensemble(alg, f, noise, backend="torch", noise_values=torch.from_numpy(z), **kw)
    np.testing.assert_allclose(a.final_state["x"], b.final_state["x"], rtol=1e-10)
    tm = sde.transition(0.7)
    flat = sde.layout.flatten(alg.init(np.ones((SIMS, AGENTS, DIM)), __import__("quorumsgd").algorithms.SIM_OPS))
    chol = psd_factor(tm.cov)
    for n in range(5):
        flat = flat @ tm.matrix.T + tm.offset + z[n] @ chol.T
    np.testing.assert_allclose(a.final_state["x"], sde.layout.unflatten(flat)["x"], rtol=1e-10, atol=1e-12)


def test_burn_in_from_transient_rates():
    f, noise = Quadratic.isotropic(2, 0.5), GaussianNoise.isotropic(2, 1.0)
    kw = dict(n_agents=3, sims=4, steps=3000, stats=("center_error",))
    r = run_ensemble(QSGD(coupling=2.0), f, noise, dt=0.01, lr=0.1, burn_in_rates=[0.5, 2.5], **kw)
    assert r.params["burn_in"] == 1382  # ln(1000) / 0.5 / 0.01
    d = run_ensemble(qsgd_iteration(lr=0.05, coupling=2.0), f, noise, burn_in_rates=[0.5], **kw)
    assert d.params["burn_in"] == 277  # one iteration lasts lr = 0.05
    with pytest.raises(InvalidParameter, match="burn_in"):
        run_ensemble(QSGD(coupling=2.0), f, noise, dt=0.01, lr=0.1, burn_in=5, burn_in_rates=[1.0], **kw)
    with pytest.raises(InvalidParameter, match="rates"):
        run_ensemble(QSGD(coupling=2.0), f, noise, dt=0.01, lr=0.1, burn_in_rates=[0.0], **kw)
