"""The fused simulation kernels: generator, coefficients read off the drift, agreement with the array engine,
unbiasedness against the exact oracles, divergence, thread independence, and the Triton kernel in its CPU
interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from quorumsgd.algorithms import EASGD, QSGD, SGD, SIM_OPS, MomentumEASGD, MomentumQSGD, affine_map
from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives import GaussianNoise, LogCosh, Quadratic
from quorumsgd.simulate import linearize, run_ensemble
from quorumsgd.simulate.kernels import AgentSymmetricMap
from quorumsgd.simulate.kernels.philox import normals4, philox4x32, reference_signs, reference_variates
from quorumsgd.simulate.noise_stream import child_seeds

Z = 4.0  # deterministic (seeded) statistical checks: |mean - exact| <= Z stderr, false alarm ~6e-5 per check

F = Quadratic.random(3, 0.5, 2.0, seed=7)
NOISE = GaussianNoise(3, cov=np.array([[1.0, 0.2, 0.0], [0.2, 0.6, 0.1], [0.0, 0.1, 1.4]]))
ISO = GaussianNoise.isotropic(3, 0.8)
ALGORITHMS = [QSGD(coupling=1.5), SGD(), EASGD(coupling=0.7), MomentumQSGD(coupling=1.0, damping=1.5),
              MomentumEASGD(coupling=0.8, damping=1.2)]
STATS = {"QSGD": ("center_error", "center_error_sq", "spread"), "SGD": ("center_error", "spread"),
         "EASGD": ("center_error", "spread", "quorum_error", "center_quorum_error"),
         "MomentumQSGD": ("center_error", "spread", "center_velocity_error"),
         "MomentumEASGD": ("center_error", "spread", "quorum_error")}


def test_philox_known_answers():
    """Random123's known-answer vectors for Philox 4x32-10 (kat_vectors)."""
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for ctr, key, want in cases:
        got = tuple(int(w) for w in philox4x32(*ctr, *key))
        assert got == want


def test_reference_normals_are_standard():
    z = normals4(3, np.arange(1 << 16, dtype=np.uint64), 0, 0).ravel().astype(np.float64)
    n = z.size
    assert abs(z.mean()) < Z / np.sqrt(n)
    assert abs(z.var() - 1) < Z * np.sqrt(2 / n)
    assert abs(np.mean(z**4) - 3) < Z * np.sqrt(96 / n)


@pytest.mark.parametrize("alg", ALGORITHMS, ids=lambda a: type(a).__name__)
def test_coefficients_rebuild_the_drift(alg):
    p = 4
    m = affine_map(lambda s: alg.drift(s, F.grad, SIM_OPS, 0.0), alg.init(np.zeros((1, p, 3)), SIM_OPS))
    sym = AgentSymmetricMap.read(m.layout, m.matrix, m.offset, p)
    assert sym is not None
    rebuilt, off = sym.rebuild(m.layout)
    np.testing.assert_allclose(rebuilt, m.matrix, atol=1e-12)
    np.testing.assert_allclose(off, m.offset, atol=1e-12)


def test_coefficients_refuse_a_drift_that_treats_agents_differently():
    alg = QSGD(coupling=1.0)
    m = affine_map(lambda s: alg.drift(s, F.grad, SIM_OPS, 0.0), alg.init(np.zeros((1, 3, 3)), SIM_OPS))
    skewed = m.matrix.copy()
    skewed[0, 0] += 0.5  # agent 0 alone gets a stronger restoring force
    assert AgentSymmetricMap.read(m.layout, skewed, m.offset, 3) is None


def _kw(**extra):
    kw = dict(n_agents=4, sims=64, steps=300, dt=0.02, lr=0.3, burn_in=100, seed=5, x0=0.4, time_batches=2)
    kw.update(extra)
    return kw


@pytest.mark.parametrize("alg", ALGORITHMS, ids=lambda a: type(a).__name__)
@pytest.mark.parametrize("noise", [NOISE, ISO], ids=["anisotropic", "isotropic"])
def test_kernel_matches_the_array_engine_with_injected_noise(alg, noise):
    stats = STATS[type(alg).__name__]
    kw = _kw(stats=stats, lr=np.array([0.1, 0.2, 0.3, 0.4]))
    z = np.random.default_rng(0).standard_normal((kw["steps"], kw["sims"], kw["n_agents"], 3))
    fused = run_ensemble(alg, F, noise, kernel="fused", noise_values=z, **kw)
    array = run_ensemble(alg, F, noise, kernel="engine", fused=False, noise_values=z, **kw)
    assert fused.params["kernel"] == "fused-numba" and array.params["kernel"] == "engine"
    for name in array.final_state:
        np.testing.assert_allclose(fused.final_state[name], array.final_state[name], rtol=1e-9, atol=1e-11)
    for name in stats:
        a, b = fused.stationary[name], array.stationary[name]
        assert a.mean == pytest.approx(b.mean, rel=1e-9)
        assert a.stderr == pytest.approx(b.stderr, rel=1e-6)
        assert a.std == pytest.approx(b.std, rel=1e-6)
        np.testing.assert_allclose(a.samples, b.samples, rtol=1e-9)


@pytest.mark.parametrize("increments", ["gaussian", "rademacher"])
def test_kernel_draws_the_reference_stream(increments):
    """The kernel's own variates are Philox's at counters (group * agents + agent, step, simulation)."""
    kw = _kw(stats=("center_error", "spread"), sims=8, steps=50, burn_in=10, n_agents=3, time_batches=1)
    fused = run_ensemble(QSGD(coupling=1.0), F, NOISE, increments=increments, kernel="fused", **kw)
    assert fused.params["kernel"] == "fused-numba"
    key = child_seeds(kw["seed"], 1)[0]
    ref = reference_variates if increments == "gaussian" else reference_signs
    z = ref(key, kw["sims"], kw["steps"], kw["n_agents"], 3).astype(np.float64)
    array = run_ensemble(QSGD(coupling=1.0), F, NOISE, kernel="engine", fused=False, noise_values=z, **kw)
    # float32 polynomial log/sin/cos inside the kernel against numpy's: agreement to float32 rounding
    np.testing.assert_allclose(fused.final_state["x"], array.final_state["x"], rtol=2e-5, atol=2e-6)


def test_kernel_is_the_default_where_it_applies_and_only_there():
    r = run_ensemble(QSGD(), F, NOISE, **_kw(sims=400))
    assert r.params["kernel"] == "fused-numba"
    assert run_ensemble(QSGD(), F, NOISE, **_kw(sims=8)).params["kernel"] == "engine"  # too small to pay off
    for other in (dict(kernel="engine"), dict(fused=False), dict(fused=True), dict(trace_every=10),
                  dict(scheme="cv"), dict(stats=("disturbance",))):
        assert run_ensemble(QSGD(), F, NOISE, **_kw(sims=400, **other)).params["kernel"] == "engine", other
    f_log = LogCosh(3, strong_convexity=0.5, curvature=1.0, shift=0.3)
    assert run_ensemble(QSGD(), f_log, NOISE, **_kw(sims=400)).params["kernel"] == "engine"


def test_kernel_fused_refuses_where_it_does_not_apply():
    f_log = LogCosh(3, strong_convexity=0.5, curvature=1.0, shift=0.3)
    with pytest.raises(InvalidParameter, match=r"parameter kernel .*affine"):
        run_ensemble(QSGD(), f_log, NOISE, kernel="fused", **_kw())
    with pytest.raises(InvalidParameter, match="parameter kernel must satisfy one of"):
        run_ensemble(QSGD(), F, NOISE, kernel="gpu", **_kw())


@pytest.mark.parametrize("alg", [QSGD(coupling=1.5), EASGD(coupling=0.7), MomentumQSGD(coupling=1.0, damping=1.5)],
                         ids=lambda a: type(a).__name__)
def test_kernel_is_unbiased_for_the_euler_chains_stationary_law(alg):
    """Own generator, stationary time averages against the exact stationary law of the Euler chain (Lyapunov)."""
    p, dt, lr = 4, 0.05, 0.4
    sde = linearize(alg, F, p, NOISE, lr, 1.0)
    from quorumsgd.simulate.oracle import GaussianLaw

    law = GaussianLaw(*sde.euler(dt).stationary(), sde.layout)
    r = run_ensemble(alg, F, NOISE, n_agents=p, sims=300, steps=1500, dt=dt, lr=lr, seed=11, burn_in=500,
                     stats=("center_error_sq", "spread"), kernel="fused")
    for name, exact in (("center_error_sq", law.expected_center_error_sq(F.minimizer)),
                        ("spread", law.expected_spread())):
        s = r.stationary[name]
        assert abs(s.mean - exact) <= Z * s.stderr, (name, s, exact)


def test_kernel_transition_law_matches_the_euler_chain():
    """Final states after n steps from a fixed start: mean and variance of the center against the exact law."""
    alg, p, dt, lr, n = QSGD(coupling=2.0), 3, 0.05, 0.5, 40
    sde = linearize(alg, F, p, NOISE, lr, 1.0)
    x0 = np.tile(np.array([1.0, -0.5, 0.3]), (p, 1))
    mean, cov = sde.euler(dt).power(n).push(x0.ravel(), np.zeros((sde.size, sde.size)))
    r = run_ensemble(alg, F, NOISE, n_agents=p, sims=4000, steps=n, dt=dt, lr=lr, seed=2, x0=x0, kernel="fused",
                     stats=("center_error",))
    xs = r.final_state["x"].reshape(4000, -1)
    sims = xs.shape[0]
    emp_mean = xs.mean(0)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(emp_mean - mean) <= Z * sd / np.sqrt(sims))
    emp_var = xs.var(0, ddof=1)
    assert np.all(np.abs(emp_var / np.diag(cov) - 1) <= Z * np.sqrt(2 / (sims - 1)))


def test_rademacher_increments_in_the_kernel_keep_the_stationary_moments():
    """On a linear system weak +-1 increments have exactly the Gaussian chain's first and second moments."""
    alg, p, dt, lr = QSGD(coupling=1.5), 4, 0.05, 0.4
    sde = linearize(alg, F, p, NOISE, lr, 1.0)
    from quorumsgd.simulate.oracle import GaussianLaw

    law = GaussianLaw(*sde.euler(dt).stationary(), sde.layout)
    r = run_ensemble(alg, F, NOISE, n_agents=p, sims=300, steps=1500, dt=dt, lr=lr, seed=4, burn_in=500,
                     stats=("center_error_sq", "spread"), increments="rademacher", kernel="fused")
    for name, exact in (("center_error_sq", law.expected_center_error_sq(F.minimizer)),
                        ("spread", law.expected_spread())):
        s = r.stationary[name]
        assert abs(s.mean - exact) <= Z * s.stderr, (name, s, exact)


def test_kernel_flags_diverging_simulations():
    r = run_ensemble(QSGD(coupling=1.0), F, NOISE, n_agents=3, sims=6, steps=3000, dt=2.5, lr=0.1, kernel="fused")
    assert r.diverged.all() and np.all(r.diverged_at > 0)
    assert np.isnan(r.final_state["x"]).all()
    thr = run_ensemble(QSGD(coupling=1.0), F, NOISE, n_agents=3, sims=6, steps=50, dt=0.01, lr=0.1, x0=5.0,
                       kernel="fused", divergence_threshold=1.0)
    assert thr.diverged.all()


def test_kernel_numbers_do_not_depend_on_the_thread_count():
    import numba

    kw = _kw(stats=("center_error", "spread"))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_ensemble(QSGD(), F, NOISE, kernel="fused", **kw)
        numba.set_num_threads(max(2, before))
        two = run_ensemble(QSGD(), F, NOISE, kernel="fused", **kw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.final_state["x"], two.final_state["x"])
    assert one.stationary["spread"].mean == two.stationary["spread"].mean


def test_float32_kernel_matches_float64_statistics():
    kw = _kw(stats=("center_error", "spread"), sims=200)
    r32 = run_ensemble(QSGD(), F, NOISE, dtype="float32", kernel="fused", **kw)
    r64 = run_ensemble(QSGD(), F, NOISE, dtype="float64", kernel="fused", **kw)
    assert r32.stationary["spread"].mean == pytest.approx(r64.stationary["spread"].mean, rel=1e-4)


def test_memory_is_refused_up_front():
    with pytest.raises(InvalidParameter, match=r"parameter sims must satisfy a run that fits in memory \(needs "
                                               r"[0-9.]+ GiB, [0-9.]+ GiB of RAM available\)"):
        run_ensemble(QSGD(), Quadratic.isotropic(10), GaussianNoise.isotropic(10, 1.0), n_agents=16,
                     sims=10**9, steps=10, dt=0.01, lr=0.1)


TRITON_SCRIPT = textwrap.dedent("""
    import numpy as np
    from quorumsgd.algorithms import EASGD, QSGD, MomentumQSGD
    from quorumsgd.objectives import GaussianNoise, Quadratic
    from quorumsgd.simulate import run_ensemble
    from quorumsgd.simulate.kernels import gpu
    from quorumsgd.simulate.kernels.philox import reference_variates
    from quorumsgd.simulate.noise_stream import child_seeds

    f = Quadratic.random(3, 0.5, 2.0, seed=7)
    noise = GaussianNoise(3, cov=np.array([[1.0, 0.2, 0.0], [0.2, 0.6, 0.1], [0.0, 0.1, 1.4]]))
    kw = dict(n_agents=4, sims=6, steps=30, dt=0.02, lr=0.3, burn_in=10, seed=5, x0=0.4)
    for alg, stats in ((QSGD(coupling=1.5), ("center_error", "spread")),
                       (EASGD(coupling=0.7), ("center_error", "quorum_error")),
                       (MomentumQSGD(coupling=1.0), ("center_error", "center_velocity_error"))):
        key = child_seeds(kw["seed"], 1)[0]
        z = reference_variates(key, kw["sims"], kw["steps"], kw["n_agents"], 3).astype(np.float64)
        eager = run_ensemble(alg, f, noise, kernel="engine", fused=False, noise_values=z, stats=stats, **kw)
        tri = gpu.run_triton(alg, f, noise, stats=stats, device="cpu", **kw)
        assert tri.params["kernel"] == "fused-triton"
        np.testing.assert_allclose(tri.final_state["x"], eager.final_state["x"], rtol=1e-4, atol=1e-5)
        for name in stats:
            np.testing.assert_allclose(tri.stationary[name].samples, eager.stationary[name].samples, rtol=1e-4,
                                       atol=1e-6)
    print("TRITON-INTERPRETER-OK")
""")


def test_triton_kernel_in_the_cpu_interpreter():
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="1")
    out = subprocess.run([sys.executable, "-c", TRITON_SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert "TRITON-INTERPRETER-OK" in out.stdout, out.stderr[-3000:]
