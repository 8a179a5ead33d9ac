r"""The fused simulation kernel as a scheme: ``"euler"`` integrated by :mod:`quorumsgd.simulate.kernels`.

Same Euler--Maruyama step as :mod:`~.euler` (up to rounding: the matrices are read off the algorithm's drift),
but all steps of a chunk run inside one compiled kernel that draws its own Philox noise and accumulates the
statistics of the stationary window. Selected by the registry ahead of the array schemes when
:func:`kernel_plan` finds no reason against it (``kernel="auto"``); ``kernel="fused"`` makes a reason an error,
``kernel="engine"`` or ``fused=False`` / ``fused=True`` keep the array engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.simulate.control_variate import affine_drift, noise_factor_at
from quorumsgd.simulate.kernels.coefficients import AgentSymmetricMap
from quorumsgd.simulate.layout import StateLayout
from quorumsgd.simulate.measures import MEASURES
from quorumsgd.simulate.noise_stream import child_seeds
from quorumsgd.simulate.schemes.base import NoiseSpec, Scheme, agent_scale

if TYPE_CHECKING:
    from quorumsgd.simulate.config import RunConfig
    from quorumsgd.simulate.engine import Run

KERNEL_STATS = ("center_error", "center_error_sq", "spread", "quorum_error", "center_quorum_error",
                "center_velocity_error")
"""The statistics the kernels compute (the others need the array engine)."""

CUDA_BY_DEFAULT = False
"""Whether ``kernel="auto"`` picks the Triton kernel on CUDA (off until a device run has checked it)."""

AUTO_MIN_NUMBERS = 4096
"""``kernel="auto"`` uses the kernel from this many agent coordinates per step (sims x agents x dim) up: below it
the per-step overhead of the kernel's small loops loses to the engine's one matrix product per step (measured
at (10, 4, 2): 5 M against 27 M agent-dim-steps/s)."""

CHUNK_STEPS = 1024
"""Steps per kernel call: progress callbacks and divergence checks between calls."""


@dataclass(frozen=True)
class KernelPlan:
    """Everything the kernel needs that is fixed before the run."""

    layout: StateLayout
    sym: AgentSymmetricMap
    device: str  # "cpu" (numba) or "cuda" (Triton)


def _reason_against(config: RunConfig) -> str | None:
    p, s, sv = config.problem, config.solver, config.saving
    if s.scheme != "euler" or p.discrete:
        return "scheme='euler' on a continuous algorithm"
    if s.fused is not None and s.kernel != "fused":
        return "fused=None (fused=True/False select the matrix / array step of the engine)"
    if p.noise is not None and (p.noise.state_dependent or p.noise.distribution != "normal"):
        return "constant Gaussian noise"
    if sv.trace_every is not None or sv.time_average:
        return "no traces and no time averages"
    for name, fn in sv.measures:
        if name not in KERNEL_STATS or fn is not MEASURES[name]:
            return f"built-in statistics among {KERNEL_STATS}"
    if s.backend.is_cuda and not (CUDA_BY_DEFAULT or s.kernel == "fused"):
        return "kernel='fused' on CUDA (the Triton kernel is not yet the default there: no device measured it)"
    if s.backend.is_cuda and (s.backend.dtype != "float32" or s.increments != "gaussian"):
        return "float32 and Gaussian increments on CUDA (the Triton kernel)"
    if s.kernel != "fused" and p.sims * p.n_agents * p.dim < AUTO_MIN_NUMBERS:
        return f"an ensemble of >= {AUTO_MIN_NUMBERS} agent coordinates (or kernel='fused')"
    if s.noise_values is not None and s.kernel != "fused":
        return "drawn noise (injected noise_values go to the engine unless kernel='fused')"
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency
        return "numba installed"
    return None


def kernel_plan(config: RunConfig) -> KernelPlan | None:
    """The kernel's plan for ``config``, or ``None`` where it does not apply (``kernel="fused"``: an error)."""
    s = config.solver
    if s.kernel == "engine":
        return None
    reason = _reason_against(config)
    plan = None
    if reason is None:
        p = config.problem
        found = affine_drift(p.algorithm, p.objective, p.n_agents)
        if found is None:
            reason = "a drift affine and time independent in the state (a Quadratic objective)"
        else:
            layout, matrix, offset = found
            sym = AgentSymmetricMap.read(layout, matrix, offset, p.n_agents)
            if sym is None or "x" not in sym.agent_fields:
                reason = "agents coupled alike (an agent-symmetric drift)"
            else:
                plan = KernelPlan(layout, sym, "cuda" if s.backend.is_cuda else "cpu")
    if plan is None and s.kernel == "fused":
        raise InvalidParameter("kernel", f"'auto' or 'engine' here: the fused kernel needs {reason}", "fused",
                               "run_ensemble")
    return plan


class FusedKernel(Scheme):
    """Euler--Maruyama in the fused kernel (the ``"euler"`` key's first choice)."""

    name: ClassVar[str] = "euler"
    flat: ClassVar[bool] = True
    kernel_name = "fused-numba"

    def __init__(self, triton: bool | None = None) -> None:
        self.triton = triton

    @classmethod
    def applies(cls, config: RunConfig) -> bool:
        return kernel_plan(config) is not None

    def init(self, run: Run) -> None:
        plan = kernel_plan(run.config)
        assert plan is not None
        self.plan = plan
        run.layout = plan.layout
        if self.triton is None:
            self.triton = plan.device == "cuda"
        if self.triton:
            self.kernel_name = "fused-triton"

    def noise(self, run: Run) -> NoiseSpec | None:
        return None  # drawn inside the kernel

    def step(self, run: Run, k: int, z: object) -> None:  # pragma: no cover - integrate() runs every step
        raise AssertionError("the fused kernel integrates whole chunks")

    def integrate(self, run: Run) -> bool:
        from quorumsgd.simulate.kernels.cpu import (
            CODES,
            NOISE_INJECTED,
            NOISE_NONE,
            NOISE_NORMAL,
            NOISE_RADEMACHER,
            euler_chunk,
        )

        if self.triton:
            from quorumsgd.simulate.kernels import gpu

            gpu.integrate(run, self.plan)
            return True
        cfg, b, plan = run.config, run.backend, self.plan
        p, s, sv = cfg.problem, cfg.solver, cfg.saving
        sym, layout = plan.sym, plan.layout
        dtype = np.dtype(b.dtype)
        flat = np.asarray(b.to_numpy(layout.flatten(run.state)), dtype=dtype)
        u_agents, g = sym.to_blocks(flat, layout)
        u = np.ascontiguousarray(u_agents.transpose(0, 2, 1))  # (sims, K, p): agents contiguous in the kernel
        mats = [np.ascontiguousarray(m, dtype=dtype) for m in sym.euler(s.dt)]
        d = p.dim
        fields = sym.agent_fields
        x_off = fields.index("x") * d
        v_off = fields.index("v") * d if "v" in fields else 0
        q_off = sym.global_fields.index("quorum") * d if "quorum" in sym.global_fields else 0
        noisy_off = fields.index(p.algorithm.noisy_field) * d
        noise = p.noise
        if noise is None:
            mode, bmat, use_b, scale = NOISE_NONE, np.zeros((d, d), dtype=dtype), False, np.zeros(p.n_agents, dtype)
        else:
            mode = NOISE_RADEMACHER if s.increments == "rademacher" else NOISE_NORMAL
            if s.noise_values is not None:
                mode = NOISE_INJECTED
            sc = agent_scale(run)
            scale = np.ascontiguousarray(np.broadcast_to(np.ravel(np.asarray(sc, dtype=np.float64)),
                                                         (p.n_agents,)))
            if noise.scalar_factor is not None:
                bmat, use_b = np.zeros((d, d), dtype=dtype), False
                scale = scale * float(noise.scalar_factor)
            else:
                bmat, use_b = noise_factor_at(noise, np.zeros(d)).astype(dtype), True
            scale = scale.astype(dtype)
        injected = (np.ascontiguousarray(np.asarray(s.noise_values, dtype=dtype)) if mode == NOISE_INJECTED
                    else np.zeros((1, 1, 1, 1), dtype=dtype))
        key = child_seeds(s.seed, 1)[0]
        k0, k1 = np.uint64(key & 0xFFFFFFFF), np.uint64(key >> 32)
        names = [name for name, _ in sv.measures]
        codes = np.array([CODES[n] for n in names], dtype=np.int64)
        n_m, sims, tb = len(names), p.sims, sv.time_batches
        sums = np.zeros((n_m, sims, tb))
        shift, dev_sum, dev_sq = (np.zeros((n_m, sims)) for _ in range(3))
        has_shift = np.zeros((n_m, sims), dtype=np.bool_)
        live = np.ones(sims, dtype=np.bool_)
        diverged_at = np.full(sims, -1, dtype=np.int64)
        minimizer = run.ctx.minimizer if names else np.zeros(d)
        xstar = np.ascontiguousarray(np.asarray(minimizer, dtype=np.float64).reshape(d))
        threshold = np.inf if sv.divergence_threshold is None else float(sv.divergence_threshold)
        window = s.steps - sv.burn_in
        for start in range(0, s.steps, CHUNK_STEPS):
            n = min(CHUNK_STEPS, s.steps - start)
            euler_chunk(u, g, *mats, noisy_off, bmat, use_b, scale, mode, injected, 0, k0, k1, start, n,
                        sv.burn_in, sv.record_every, window, tb, codes, x_off, v_off, q_off, xstar, sums, shift,
                        dev_sum, dev_sq, has_shift, live, diverged_at, threshold, sv.check_every or 0)
            if sv.progress is not None:
                sv.progress(start + n, s.steps)
        run.flat = b.asarray(sym.from_blocks(np.ascontiguousarray(u.transpose(0, 2, 1)), g, layout))
        run.live = b.asarray(live, dtype="bool")
        run.diverged_at = diverged_at
        counts = _record_counts(sv.burn_in, s.steps, sv.record_every, tb)
        for m, name in enumerate(names):
            acc = run.accum[name]
            acc.sums = b.asarray(sums[m], dtype="float64")
            acc.counts = counts.copy()
            acc.shift = b.asarray(shift[m], dtype="float64")
            acc.dev_sum = b.asarray(dev_sum[m], dtype="float64")
            acc.dev_sq = b.asarray(dev_sq[m], dtype="float64")
        return True


def _record_counts(burn_in: int, steps: int, record_every: int, batches: int) -> np.ndarray:
    """How many recorded steps fall in each time batch (the same rule as the engine's loop)."""
    k = np.arange(burn_in + 1, steps + 1)
    k = k[(k - burn_in) % record_every == 0]
    return np.bincount((k - burn_in - 1) * batches // (steps - burn_in), minlength=batches).astype(np.int64)
