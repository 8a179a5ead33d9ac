"""Monte Carlo engine benchmark: QSGD on a quadratic, ratios measured side by side in one run.

Throughput in agent-dim-steps per second on the ensembles ``(sims, agents, dim) = (1000, 16, 10)`` and
``(10, 4, 2)``, float32, for

* the engine (``run_ensemble``, numpy backend, and torch CPU backend);
* (a) a plain single-threaded numpy Euler--Maruyama loop (BLAS pinned to one thread);
* (b) torchsde (``sdeint``, Euler, diagonal noise) integrating the same ensemble as one batch;
* (c) the RNG bound: drawing the same number of float32 standard normals alone, one generator per core, all
  cores; measured for numpy (SFC64 ziggurat) and torch (Box--Muller), the faster one is the bound.

Then time-to-accuracy for the stationary :math:`\\mathbb E\\|\\bar{\\mathbf x}-\\mathbf x^*\\|` (95% half-width
at most 1% of the exact value, which the Lyapunov oracle gives): a plain Euler--Maruyama baseline (small dt,
burn-in = half the run) against the engine's Euler scheme with the theory's burn-in and its exact-transition
scheme (large steps, no discretization bias). Each method sizes its ensemble from a pilot run.

The machine may be shared: every number is the best of ``--repeats`` interleaved rounds, and only ratios
taken in the same run are meaningful. Usage::

    python benchmarks/bench_simulate.py [--repeats 3] [--json out.json] [--skip-accuracy] [--quick]
    python benchmarks/bench_simulate.py --device cuda [--quick] --json out.json   # the GPU table (issue 19)

``engine_numpy`` is the default path (since the fused kernel, :mod:`quorumsgd.simulate.kernels`, it is the
kernel where it applies); ``engine_unfused`` the array engine (``kernel="engine"``) in the same run
(``cpu_fused_vs_engine``).
"""

# ruff: noqa: B023  (gpu_table calls its closures within the loop iteration that defines them)
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from quorumsgd.algorithms import QSGD
from quorumsgd.objectives import GaussianNoise, Quadratic
from quorumsgd.simulate import burn_in_steps, linearize, run_ensemble

COUPLING, LR, SIGMA2, DT = 2.0, 0.1, 1.0, 0.01


def _problem(dim: int) -> tuple[Quadratic, GaussianNoise]:
    return Quadratic.random(dim, 0.5, 2.0, seed=0), GaussianNoise.isotropic(dim, SIGMA2)


def engine_rate(shape: tuple[int, int, int], steps: int, backend: str = "numpy", device: str | None = None,
                scheme: str = "euler", increments: str = "gaussian", fused: bool | None = None,
                noise_free: bool = False, kernel: str = "auto") -> float:
    sims, agents, dim = shape
    f, noise = _problem(dim)
    r = run_ensemble(QSGD(coupling=COUPLING), f, None if noise_free else noise, n_agents=agents, sims=sims,
                     steps=steps, dt=DT, lr=LR, stats=(), dtype="float32", backend=backend, device=device, seed=1,
                     scheme=scheme, increments=increments, fused=fused, kernel=kernel)
    return sims * agents * dim * steps / r.elapsed_s


def plain_numpy_rate(shape: tuple[int, int, int], steps: int) -> float:
    """(a) The textbook loop: one RNG call and a few array operations per step, one thread."""
    sims, agents, dim = shape
    f, _ = _problem(dim)
    a = f.matrix.astype(np.float32)
    rng = np.random.default_rng(0)
    x = np.zeros(shape, dtype=np.float32)
    scale = np.float32(np.sqrt(LR * SIGMA2 / dim * DT))
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        for _ in range(steps):
            xbar = x.mean(axis=1, keepdims=True)
            x += (-(x @ a) + COUPLING * (xbar - x)) * np.float32(DT) + scale * rng.standard_normal(
                shape, dtype=np.float32)
        elapsed = time.perf_counter() - t0
    return sims * agents * dim * steps / elapsed


def torchsde_rate(shape: tuple[int, int, int], steps: int) -> float | None:
    """(b) torchsde on the same ensemble as one batch of ``sims`` states of size ``agents * dim``.

    ``None`` when torchsde is not installed (it is the ``bench`` extra, absent from the test install and the GPU
    machine): the peer is then not measured, and said so, rather than failing every other figure of the run.
    """
    try:
        import torchsde
    except ImportError:
        return None

    sims, agents, dim = shape
    f, _ = _problem(dim)
    a = torch.tensor(f.matrix, dtype=torch.float32)
    scale = float(np.sqrt(LR * SIGMA2 / dim))

    class Ensemble(torch.nn.Module):
        noise_type, sde_type = "diagonal", "ito"

        def f(self, t: Any, y: torch.Tensor) -> torch.Tensor:
            x = y.view(sims, agents, dim)
            return (-(x @ a) + COUPLING * (x.mean(1, keepdim=True) - x)).reshape(sims, agents * dim)

        def g(self, t: Any, y: torch.Tensor) -> torch.Tensor:
            return torch.full_like(y, scale)

    y0 = torch.zeros(sims, agents * dim)
    ts = torch.tensor([0.0, steps * DT])
    best = float("inf")
    previous = torch.get_num_threads()
    try:
        for threads in sorted({1, previous}):  # torchsde gets its better thread setting
            torch.set_num_threads(threads)
            with torch.no_grad():
                t0 = time.perf_counter()
                torchsde.sdeint(Ensemble(), y0, ts, method="euler", dt=DT)
                best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)
    return sims * agents * dim * steps / best


def rng_bound_rate(numbers: int, kind: str) -> float:
    """(c) Draw ``numbers`` float32 normals with one generator per core on all cores, in chunks."""
    workers = os.cpu_count() or 1
    chunk = 1 << 20
    per_worker = [numbers // workers + (i < numbers % workers) for i in range(workers)]
    if kind == "rademacher":  # the engine's weak increments: random bytes through a 256 x 8 table
        from quorumsgd.simulate.noise_stream import _BITS

        table = _BITS.astype(np.float32)
        gens = [np.random.Generator(np.random.SFC64(i)) for i in range(workers)]
        bufs = [np.empty(chunk, dtype=np.float32) for _ in range(workers)]
    elif kind == "numpy":
        gens: list[Any] = [np.random.Generator(np.random.SFC64(i)) for i in range(workers)]
        bufs: list[Any] = [np.empty(chunk, dtype=np.float32) for _ in range(workers)]
    else:
        gens = [torch.Generator().manual_seed(i) for i in range(workers)]
        bufs = [torch.empty(chunk) for _ in range(workers)]

    def work(i: int) -> None:
        left = per_worker[i]
        while left > 0:
            n = min(chunk, left)
            if kind == "rademacher":
                raw = np.frombuffer(gens[i].bytes(n // 8), dtype=np.uint8)
                np.take(table, raw, axis=0, out=bufs[i][: n // 8 * 8].reshape(-1, 8))
            elif kind == "numpy":
                gens[i].standard_normal(out=bufs[i][:n], dtype=np.float32)
            else:
                bufs[i][:n].normal_(generator=gens[i])
            left -= n

    prev = torch.get_num_threads()
    torch.set_num_threads(1)  # one generator per Python thread; no nested intra-op threads
    try:
        with ThreadPoolExecutor(workers) as pool:
            t0 = time.perf_counter()
            list(pool.map(work, range(workers)))
            elapsed = time.perf_counter() - t0
    finally:
        torch.set_num_threads(prev)
    return numbers / elapsed


def throughput(repeats: int) -> dict[str, Any]:
    plan = {
        "large": dict(shape=(1000, 16, 10), engine=400, plain=150, torchsde=60),
        "small": dict(shape=(10, 4, 2), engine=40000, plain=20000, torchsde=1500),
    }
    out: dict[str, Any] = {}
    for name, p in plan.items():
        shape = p["shape"]
        engine_rate(shape, 20)  # warm-up: imports, caches, thread pool
        best: dict[str, float] = {}
        for _ in range(repeats):  # interleaved rounds: slow phases of a shared machine hit every method
            rates = {
                "engine_numpy": engine_rate(shape, p["engine"]),  # the default path (the fused kernel)
                "engine_unfused": engine_rate(shape, p["engine"], kernel="engine"),  # the array engine
                "engine_torch_cpu": engine_rate(shape, p["engine"] // 4, backend="torch"),
                "engine_rademacher": engine_rate(shape, p["engine"], increments="rademacher"),
                "engine_array_step": engine_rate(shape, p["engine"], fused=False),
                "engine_noise_free": engine_rate(shape, p["engine"], noise_free=True),
                # exact Gaussian transitions of the linear SDE (quadratic objective only): same step count
                "engine_exact_scheme": engine_rate(shape, p["engine"] // 4 if name == "large" else p["engine"],
                                                   scheme="exact"),
                "plain_numpy": plain_numpy_rate(shape, p["plain"]),
                "torchsde": torchsde_rate(shape, p["torchsde"]),
                "rng_numpy_all_cores": rng_bound_rate(int(np.prod(shape)) * p["engine"], "numpy"),
                "rng_torch_all_cores": rng_bound_rate(int(np.prod(shape)) * p["engine"], "torch"),
                "rng_rademacher_all_cores": rng_bound_rate(int(np.prod(shape)) * p["engine"], "rademacher"),
            }
            for k, v in rates.items():
                if v is not None:
                    best[k] = max(best.get(k, 0.0), v)
        bound = max(best["rng_numpy_all_cores"], best["rng_torch_all_cores"])
        # With weak increments the limit is the arithmetic (one thread: the step) plus the bits (all cores):
        cores = os.cpu_count() or 1
        arith, bits = 1.0 / best["engine_noise_free"], cores / best["rng_rademacher_all_cores"]
        weak_limit = min(1.0 / arith, cores / (arith + bits))
        out[name] = {
            "shape": shape,
            "agent_dim_steps_per_s": best,
            "engine_vs_rng_bound": best["engine_numpy"] / bound,
            "fused_vs_unfused_engine": best["engine_numpy"] / best["engine_unfused"],
            "engine_rademacher_vs_gaussian_rng_bound": best["engine_rademacher"] / bound,
            "weak_increment_limit": weak_limit,
            "engine_rademacher_vs_weak_limit": best["engine_rademacher"] / weak_limit,
            "engine_vs_numpy_rng_bound": best["engine_numpy"] / best["rng_numpy_all_cores"],
            "engine_vs_plain_numpy": best["engine_numpy"] / best["plain_numpy"],
            "plain_numpy_vs_rng_bound": best["plain_numpy"] / bound,
        }
        if "torchsde" in best:
            out[name].update(engine_vs_torchsde=best["engine_numpy"] / best["torchsde"],
                             engine_exact_vs_torchsde=best["engine_exact_scheme"] / best["torchsde"],
                             torchsde_vs_rng_bound=best["torchsde"] / bound)
        else:
            out[name]["torchsde"] = "not measured: torchsde is not installed (pip install -e '.[bench]')"
    if torch.cuda.is_available():
        shape = (1000, 16, 10)
        engine_rate(shape, 20, backend="torch", device="cuda")
        rate = max(engine_rate(shape, 2000, backend="torch", device="cuda") for _ in range(repeats))
        numbers = int(np.prod(shape)) * 2000
        g = torch.Generator(device="cuda").manual_seed(0)
        buf = torch.empty(int(np.prod(shape)) * 100, device="cuda")
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(20):
            buf.normal_(generator=g)
        torch.cuda.synchronize()
        out["cuda_large"] = {"engine_torch_cuda": rate, "rng_cuda": buf.numel() * 20 / (time.perf_counter() - t0),
                             "numbers": numbers}
    return out


# ------------------------------------------------------------------------------------ time to accuracy
P, DIM, TARGET, Z95 = 16, 10, 0.01, 1.96


def _exact_value() -> float:
    f, noise = _problem(DIM)
    law = linearize(QSGD(coupling=COUPLING), f, P, noise, LR, 1.0).stationary()
    return law.expected_center_error(f.minimizer)


def plain_em_center_error(sims: int, steps: int, dt: float) -> tuple[float, float, float]:
    """Baseline: plain numpy EM from x* ... burn-in = first half, time averages per simulation."""
    f, _ = _problem(DIM)
    a = f.matrix
    rng = np.random.default_rng(3)
    x = np.zeros((sims, P, DIM))
    scale = np.sqrt(LR * SIGMA2 / DIM * dt)
    acc = np.zeros(sims)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        for n in range(steps):
            xbar = x.mean(axis=1, keepdims=True)
            x += (-(x @ a) + COUPLING * (xbar - x)) * dt + scale * rng.standard_normal(x.shape)
            if n >= steps // 2:
                acc += np.linalg.norm(x.mean(axis=1), axis=-1)
    per_sim = acc / (steps - steps // 2)
    return float(per_sim.mean()), float(per_sim.std(ddof=1) / np.sqrt(sims)), time.perf_counter() - t0


def engine_center_error(sims: int, window: int, dt: float, scheme: str) -> tuple[float, float, float]:
    f, noise = _problem(DIM)
    rates = [f.strong_convexity, COUPLING + f.strong_convexity]  # Thm 5.1's transients: lambda and k + lambda
    burn = burn_in_steps(rates, dt, tolerance=1e-3)
    r = run_ensemble(QSGD(coupling=COUPLING), f, noise, n_agents=P, sims=sims, steps=burn + window, dt=dt, lr=LR,
                     burn_in=burn, stats=("center_error",), scheme=scheme, seed=4)
    s = r.stationary["center_error"]
    return s.mean, s.stderr, r.elapsed_s


def time_to_accuracy() -> dict[str, Any]:
    exact = _exact_value()
    f, noise = _problem(DIM)
    sde = linearize(QSGD(coupling=COUPLING), f, P, noise, LR, 1.0)
    from quorumsgd.simulate import GaussianLaw

    em_dt = next(dt for dt in (0.04, 0.02, 0.01, 0.005, 0.0025, 0.00125)
                 if abs(GaussianLaw(*sde.euler(dt).stationary(), sde.layout).expected_center_error(f.minimizer)
                        / exact - 1) < TARGET / 2)  # the baseline is granted the dt whose bias is < 0.5%
    horizon = 40.0  # each simulation averages over 40 time units (20 relaxation times of the slowest mode)
    methods = {
        "plain_em_baseline": lambda sims: plain_em_center_error(sims, 2 * int(horizon / em_dt), em_dt),
        "engine_euler_theory_burn_in": lambda sims: engine_center_error(sims, int(horizon / em_dt), em_dt,
                                                                        "euler"),
        "engine_exact_transitions": lambda sims: engine_center_error(sims, int(horizon / 0.5), 0.5, "exact"),
    }
    out: dict[str, Any] = {"exact_value": exact, "euler_dt": em_dt, "target_relative_halfwidth": TARGET}
    for name, run in methods.items():
        # Size the ensemble from a pilot, then grow it until the 95% half-width is within the target; every
        # run's time counts (what a user would spend to get the number).
        sims, spent = 16, 0.0
        for _ in range(4):
            m, se, t_run = run(sims)
            spent += t_run
            halfwidth = Z95 * se / m
            if halfwidth <= TARGET:
                break
            sims = int(np.ceil(sims * (halfwidth / TARGET) ** 2 * 1.15))
        out[name] = {"sims": sims, "estimate": m, "relative_halfwidth": halfwidth,
                     "relative_error": m / exact - 1, "seconds": spent, "pilot_seconds": 0.0}
    base = out["plain_em_baseline"]["seconds"] + out["plain_em_baseline"]["pilot_seconds"]
    for name in methods:
        tot = out[name]["seconds"] + out[name]["pilot_seconds"]
        out[name]["speedup_vs_baseline"] = base / tot
    return out


# ------------------------------------------------------ time to accuracy on the default Thm 5.1 check (log-cosh)
def _logcosh_problem() -> Any:
    from quorumsgd.verify.checks import default_problem

    return default_problem("thm5.1")  # log-cosh objective, modulated (state-dependent) noise


def _logcosh_run(sims: int, dt: float, scheme: str, seed: int, window: float = 40.0) -> tuple[float, float, float]:
    p = _logcosh_problem()
    s = p.spec
    rates = [p.strong_convexity, s.coupling + p.strong_convexity]  # Thm 5.1's transients
    burn = burn_in_steps(rates, dt, tolerance=1e-3)
    r = run_ensemble(QSGD(coupling=s.coupling), p.objective, p.noise, n_agents=s.n_agents, sims=sims,
                     steps=burn + int(window / dt), dt=dt, lr=s.lr, burn_in=burn, stats=("center_error",),
                     scheme=scheme, seed=seed, time_batches=4)
    st = r.stationary["center_error"]
    return st.mean, st.stderr, r.elapsed_s


def plain_em_logcosh(sims: int, dt: float, window: float = 40.0) -> tuple[float, float, float]:
    """Baseline: the textbook numpy Euler--Maruyama loop, burn-in = first half of the run."""
    p = _logcosh_problem()
    s, f, noise = p.spec, p.objective, p.noise
    steps = 2 * int(window / dt)
    rng = np.random.default_rng(3)
    x = np.zeros((sims, s.n_agents, s.dim))
    x_star = f.minimizer
    scale = np.sqrt(s.lr * dt)
    acc = np.zeros(sims)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        for n in range(steps):
            xbar = x.mean(axis=1, keepdims=True)
            inc = noise.scales(x) * rng.standard_normal(x.shape) * scale
            x += (-f.grad(x) + s.coupling * (xbar - x)) * dt + inc
            if n >= steps // 2:
                acc += np.linalg.norm(x.mean(axis=1) - x_star, axis=-1)
    per_sim = acc / (steps - steps // 2)
    return float(per_sim.mean()), float(per_sim.std(ddof=1) / np.sqrt(sims)), time.perf_counter() - t0


def _to_accuracy(run: Any, reference: float) -> dict[str, Any]:
    """Grow the ensemble from a pilot until the 95% half-width is within the target; every run's time counts."""
    sims, spent = 16, 0.0
    for _ in range(5):
        m, se, t_run = run(sims)
        spent += t_run
        halfwidth = Z95 * se / m
        if halfwidth <= TARGET:
            break
        sims = int(np.ceil(sims * (halfwidth / TARGET) ** 2 * 1.15))
    return {"sims": sims, "estimate": m, "relative_halfwidth": halfwidth, "relative_error": m / reference - 1,
            "seconds": spent}


def time_to_accuracy_logcosh(rounds: int = 2) -> dict[str, Any]:
    """Time to 1% on E|xbar - x*| of the default Thm 5.1 check, each method at the largest step of bias < 0.5%.

    No closed form here: the reference is the control-variate estimate at a small step (its remainder's step
    bias is measured too), and each step's Euler bias is the ``euler_cv`` estimate (exactly unbiased for the
    Euler chain's expectation, with a tiny variance) minus the reference.
    """
    reference, ref_se, _ = _logcosh_run(400, 0.005, "cv", seed=11)
    coarse, _, _ = _logcosh_run(400, 0.2, "cv", seed=12)
    euler_bias = {}
    for dt in (0.04, 0.02, 0.01, 0.005):
        m, _, _ = _logcosh_run(200, dt, "euler_cv", seed=13)
        euler_bias[dt] = m / reference - 1
    em_dt = next((dt for dt, b in euler_bias.items() if abs(b) < TARGET / 2), 0.0025)
    cv_dt = 0.2 if abs(coarse / reference - 1) < TARGET / 2 else 0.05
    methods = {
        "plain_em_baseline": lambda sims: plain_em_logcosh(sims, em_dt),
        "engine_euler_theory_burn_in": lambda sims: _logcosh_run(sims, em_dt, "euler", seed=4),
        "engine_cv": lambda sims: _logcosh_run(sims, cv_dt, "cv", seed=4),
    }
    out: dict[str, Any] = {"reference": reference, "reference_stderr": ref_se, "cv_dt": cv_dt, "euler_dt": em_dt,
                           "euler_relative_bias": {str(k): v for k, v in euler_bias.items()},
                           "cv_relative_bias_at_cv_dt": coarse / reference - 1, "target_relative_halfwidth": TARGET}
    for _ in range(rounds):  # interleaved rounds; the best time of each method counts
        for name, run in methods.items():
            r = _to_accuracy(run, reference)
            if name not in out or r["seconds"] < out[name]["seconds"]:
                out[name] = r
    base = out["plain_em_baseline"]["seconds"]
    for name in methods:
        out[name]["speedup_vs_baseline"] = base / out[name]["seconds"]
    return out


def compiled_step(shape: tuple[int, int, int], steps: int = 200) -> dict[str, float]:
    """The lever not taken on CPU: the Euler step compiled by torch.compile (inductor) from the algorithm's own
    drift, with the noise drawn outside (a) or inside (b) the compiled graph, against the eager step."""
    sims, agents, dim = shape
    f, _ = _problem(dim)
    alg = QSGD(coupling=COUPLING)
    from quorumsgd.algorithms import SIM_OPS

    def step(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return x + alg.drift({"x": x}, f.grad, SIM_OPS, 0.0)["x"] * DT + z

    def step_rng(x: torch.Tensor) -> torch.Tensor:
        return x + alg.drift({"x": x}, f.grad, SIM_OPS, 0.0)["x"] * DT + torch.randn_like(x) * 0.01

    x, z = torch.zeros(shape), torch.randn(shape)
    out: dict[str, float] = {}
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, make, args in (("compiled", lambda: torch.compile(step, dynamic=False), (x, z)),
                                 ("compiled_rng_in_graph", lambda: torch.compile(step_rng, dynamic=False), (x,)),
                                 ("eager", lambda: step, (x, z))):
            t0 = time.perf_counter()
            fn = make()
            fn(*args)
            out[f"{name}_first_call_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(steps):
                fn(*args)
            out[name] = sims * agents * dim * steps / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)
    return out


def verify_times(repeats: int) -> dict[str, Any]:
    """``quorumsgd verify`` on defaults against ``--plain`` (the path without control variates), interleaved."""
    import subprocess
    import tempfile

    best = {"verify_default_s": float("inf"), "verify_default_s_before": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for key, extra in (("verify_default_s_before", ["--plain"]), ("verify_default_s", [])):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "quorumsgd.cli", "verify", "--out", f"{tmp}/r", *extra],
                               check=True, capture_output=True)
                best[key] = min(best[key], time.perf_counter() - t0)
    return best


def _cuda_rate(fn: Any, numbers: float, repeats: int = 3) -> float:
    """Best-of ``repeats`` rate of ``fn()`` on the GPU (synchronized)."""
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return numbers / best


def gpu_table(quick: bool = False) -> dict[str, Any]:
    """Issue 19's GPU table: agent-dim-steps/s for the engine, the fused Triton kernel, a plain eager torch loop,
    the same step torch.compile'd, the CUDA RNG alone, and the copy-bandwidth limit, side by side."""
    if not torch.cuda.is_available():
        raise SystemExit("bench_simulate --device cuda: CUDA is not available")
    from quorumsgd.algorithms import SIM_OPS

    out: dict[str, Any] = {"device": torch.cuda.get_device_name(0)}
    alg = QSGD(coupling=COUPLING)
    for label, shape, steps in (("large", (100000, 16, 10), 200 if quick else 1000),
                                ("mid", (1000, 16, 10), 2000 if quick else 10000),
                                ("small", (10, 4, 2), 2000 if quick else 10000)):
        sims, agents, dim = shape
        f, noise = _problem(dim)
        n = sims * agents * dim * steps
        row: dict[str, float] = {}

        def ens(kernel: str, steps: int = steps, sims: int = sims) -> Any:
            return run_ensemble(alg, f, noise, n_agents=agents, sims=sims, steps=steps, dt=DT, lr=LR, stats=(),
                                dtype="float32", backend="torch", device="cuda", seed=1, kernel=kernel)

        for key, kernel in (("engine", "engine"), ("fused", "fused")):
            ens(kernel, steps=10)  # compile / warm up
            row[key] = max(n / ens(kernel).elapsed_s for _ in range(1 if quick else 2))
        row["fused_with_stats"] = n / run_ensemble(
            alg, f, noise, n_agents=agents, sims=sims, steps=steps, dt=DT, lr=LR, dtype="float32", backend="torch",
            device="cuda", seed=1, kernel="fused", burn_in=steps // 2).elapsed_s
        x = torch.zeros(shape, device="cuda")
        scale = float(np.sqrt(LR * DT))

        def step(x: torch.Tensor) -> torch.Tensor:
            return x + alg.drift({"x": x}, f.grad, SIM_OPS, 0.0)["x"] * DT + torch.randn_like(x) * scale

        def loop(fn: Any, k: int) -> Any:
            def run() -> None:
                y = x
                for _ in range(k):
                    y = fn(y)
            return run

        k_plain = max(10, steps // 10)
        with torch.no_grad():
            row["plain_eager"] = _cuda_rate(loop(step, k_plain), sims * agents * dim * k_plain)
            if label != "small":
                t0 = time.perf_counter()
                compiled = torch.compile(step, dynamic=False)
                compiled(x)
                torch.cuda.synchronize()
                row["compile_s"] = time.perf_counter() - t0
                row["compiled_plain"] = _cuda_rate(loop(compiled, k_plain), sims * agents * dim * k_plain)
            buf = torch.empty(shape, device="cuda")
            row["rng_alone"] = _cuda_rate(loop(lambda y: buf.normal_(), k_plain), sims * agents * dim * k_plain)
            big = torch.empty(1 << 28, device="cuda")
            dst = torch.empty_like(big)
            bw = _cuda_rate(lambda: dst.copy_(big), 2 * big.numel() * 4)  # bytes read + written per second
            row["copy_bytes_per_s"] = bw
            row["memory_limit"] = bw / (2 * 4)  # state read and written once per step, float32
        out[label] = {"shape": shape, "agent_dim_steps_per_s": row}
    large = out["large"]["agent_dim_steps_per_s"]
    out["gpu_fused_large"] = large["fused"]
    out["gpu_engine_large"] = large["engine"]
    out["gpu_compiled_plain_large"] = large.get("compiled_plain")
    out["gpu_memory_limit"] = large["memory_limit"]
    out["gpu_fused_vs_compiled_large"] = large["fused"] / large["compiled_plain"]
    out["gpu_fused_mid"] = out["mid"]["agent_dim_steps_per_s"]["fused"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=str, default=None)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd steps (minutes)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: the GPU table of the fused kernel (engine, fused, eager, compiled, RNG, copy)")
    parser.add_argument("--quick", action="store_true", help="one round, no accuracy or verify timings")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.skip_accuracy, args.skip_verify = 1, True, True
    if args.device == "cuda":
        result_gpu = gpu_table(quick=args.quick)
        print(json.dumps(result_gpu, indent=1))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(result_gpu, fh, indent=1)
        return 0
    result: dict[str, Any] = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                              "load_average_start": os.getloadavg()}
    result["throughput"] = throughput(args.repeats)
    large, small = result["throughput"]["large"], result["throughput"]["small"]
    result["rng_bound_fraction"] = large["engine_vs_rng_bound"]
    result["cpu_fused_vs_engine"] = large["fused_vs_unfused_engine"]
    result["rng_bound_fraction_rademacher"] = large["engine_rademacher_vs_gaussian_rng_bound"]
    result["weak_increment_limit_fraction"] = large["engine_rademacher_vs_weak_limit"]
    result["torchsde_small_ratio"] = small.get("engine_vs_torchsde")  # None: torchsde not installed
    for name, r in result["throughput"].items():
        if name == "cuda_large":
            print(f"[cuda] engine {r['engine_torch_cuda'] / 1e6:.0f} M/s, RNG {r['rng_cuda'] / 1e6:.0f} M/s")
            continue
        rates = ", ".join(f"{k} {v / 1e6:.2f}" for k, v in r["agent_dim_steps_per_s"].items())
        print(f"[{name} {r['shape']}] M agent-dim-steps/s: {rates}")
        peer = (f"engine / torchsde {r['engine_vs_torchsde']:.1f} (exact scheme {r['engine_exact_vs_torchsde']:.1f}),"
                f" torchsde / bound {r['torchsde_vs_rng_bound']:.2f}" if "engine_vs_torchsde" in r else r["torchsde"])
        print(f"  engine / RNG bound {r['engine_vs_rng_bound']:.2f} (numpy-RNG bound "
              f"{r['engine_vs_numpy_rng_bound']:.2f}), engine / plain numpy {r['engine_vs_plain_numpy']:.2f}, "
              f"plain / bound {r['plain_numpy_vs_rng_bound']:.2f}, {peer}")
    if not args.skip_accuracy:
        result["time_to_accuracy"] = tta = time_to_accuracy()
        print(f"[time to 1% on E|xbar - x*| = {tta['exact_value']:.5f}] (Euler dt {tta['euler_dt']})")
        for name in ("plain_em_baseline", "engine_euler_theory_burn_in", "engine_exact_transitions"):
            r = tta[name]
            print(f"  {name}: {r['seconds'] + r['pilot_seconds']:.2f} s ({r['sims']} sims), half-width "
                  f"{r['relative_halfwidth']:.4f}, error vs exact {r['relative_error']:+.4f}, "
                  f"speedup {r['speedup_vs_baseline']:.1f}x")
        result["time_to_accuracy_logcosh"] = ttl = time_to_accuracy_logcosh()
        result["tta_speedup_logcosh"] = ttl["engine_cv"]["speedup_vs_baseline"]
        print(f"[time to 1% on the thm5.1 check's E|xbar - x*| = {ttl['reference']:.5f}] (Euler dt "
              f"{ttl['euler_dt']}, cv dt {ttl['cv_dt']})")
        for name in ("plain_em_baseline", "engine_euler_theory_burn_in", "engine_cv"):
            r = ttl[name]
            print(f"  {name}: {r['seconds']:.2f} s ({r['sims']} sims), half-width {r['relative_halfwidth']:.4f}, "
                  f"error vs reference {r['relative_error']:+.4f}, speedup {r['speedup_vs_baseline']:.1f}x")
    if args.compile:
        result["compiled_step_large"] = c = compiled_step((1000, 16, 10))
        print("[torch.compile (1000, 16, 10)] " + ", ".join(f"{k} {v:.3g}" for k, v in c.items()))
    if not args.skip_verify:
        result.update(verify_times(args.repeats))
        print(f"[quorumsgd verify] {result['verify_default_s']:.1f} s, plain path {result['verify_default_s_before']:.1f}"
              f" s (ratio {result['verify_default_s'] / result['verify_default_s_before']:.2f})")
    result["load_average_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
