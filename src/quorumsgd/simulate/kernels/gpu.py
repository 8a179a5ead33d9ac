r"""The fused Euler--Maruyama kernel on a GPU, in Triton (see :mod:`quorumsgd.simulate.kernels` for the choice).

One program owns ``BS`` simulations for a whole chunk of steps. Their agent coordinates are one register tile
:math:`\mathbf X` of shape ``(K, BS * P)`` (rows: agent coordinates of every agent field, padded to a power of
two >= 16; columns: (simulation, agent) pairs), so that the step is three small matrix products
(``tl.dot``, IEEE float32):

.. math:: \mathbf X'=\mathbf A_1\mathbf X+\big(\mathbf A_2\bar{\mathbf U}+\mathbf A_3\mathbf G+\mathbf a\big)
   \otimes\mathbf 1_P^{\mathsf T}+(\mathbf S\mathbf Z)\odot\boldsymbol\sigma,\qquad
   \mathbf G'=\mathbf G_1\bar{\mathbf U}+\mathbf G_2\mathbf G+\mathbf g_0,

with :math:`\bar{\mathbf U}` the agents' mean (a reduction of the tile), :math:`\mathbf S` the noise factor
:math:`\mathbf B` placed at the noisy field's rows, :math:`\boldsymbol\sigma` the per-agent scale
:math:`\sqrt{\eta_i dt/b}`, and :math:`\mathbf Z` drawn in the kernel by ``tl.philox`` + Triton's Box--Muller at
the counters of :mod:`quorumsgd.simulate.kernels.philox` (the CPU kernel's stream). The running sums of the
statistics are accumulated in float64 in global memory owned by the program; nothing else is written until
the chunk ends. The matrices are the CPU kernel's (:class:`~.coefficients.AgentSymmetricMap`, read off the
algorithm's drift).

Run on a GPU with ``run_ensemble(..., backend="torch", device="cuda", kernel="fused")``, and in the CPU
interpreter (``TRITON_INTERPRET=1``, torch CPU tensors) by the tests through :func:`run_triton`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from quorumsgd.simulate.engine import Run
    from quorumsgd.simulate.result import EnsembleResult
    from quorumsgd.simulate.schemes.fused import KernelPlan

try:  # the kernels are defined at import: TRITON_INTERPRET is read when triton.jit decorates
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton ships with torch's CUDA wheels
    triton = None


def _pow2(n: int, least: int = 16) -> int:
    return max(least, 1 << max(0, int(n) - 1).bit_length())


if triton is not None:

    @triton.jit
    def record(x, ubar, gt, xstar_rows, xstar_q, rows, rows_g, cols_ok, sims_idx, sims_ok, k, k_first, burn_in,
               time_batches, window, sums, shift, dsum, dsq, n_sims,
               P: tl.constexpr, PP: tl.constexpr, KP: tl.constexpr, BS: tl.constexpr, D: tl.constexpr,
               X_OFF: tl.constexpr, V_OFF: tl.constexpr, Q_OFF: tl.constexpr, HAS_V: tl.constexpr,
               HAS_Q: tl.constexpr):
        batch = (k - burn_in - 1) * time_batches // window
        xr = (rows >= X_OFF) & (rows < X_OFF + D)
        e = tl.where(xr[:, None], ubar - xstar_rows[:, None], 0.0)
        e2 = tl.sum(e * e, axis=0)  # [BS]
        dev = tl.reshape(x, (KP, BS, PP)) - ubar[:, :, None]
        dev = tl.where(xr[:, None, None] & tl.reshape(cols_ok, (BS, PP))[None, :, :], dev, 0.0)
        spread = tl.sum(tl.sum(dev * dev, axis=2), axis=0)
        q2 = tl.zeros_like(e2)
        if HAS_Q:
            qr = (rows_g >= Q_OFF) & (rows_g < Q_OFF + D)
            eq = tl.where(qr[:, None], gt - xstar_q[:, None], 0.0)
            q2 = tl.sum(eq * eq, axis=0)
        v2 = tl.zeros_like(e2)
        if HAS_V:
            vr = (rows >= V_OFF) & (rows < V_OFF + D)
            ev = tl.where(vr[:, None], ubar, 0.0)
            v2 = tl.sum(ev * ev, axis=0)
        for m in tl.static_range(6):
            if m == 0:
                val = tl.sqrt(e2)
            elif m == 1:
                val = e2
            elif m == 2:
                val = spread
            elif m == 3:
                val = tl.sqrt(q2)
            elif m == 4:
                val = tl.sqrt(q2 + e2)
            else:
                val = tl.sqrt(v2 + e2)
            v64 = val.to(tl.float64)
            off = m * n_sims + sims_idx
            sh = tl.load(shift + off, mask=sims_ok, other=0.0)
            sh = tl.where(k == k_first, v64, sh)
            tl.store(shift + off, sh, mask=sims_ok)
            d = v64 - sh
            tl.store(dsum + off, tl.load(dsum + off, mask=sims_ok, other=0.0) + d, mask=sims_ok)
            tl.store(dsq + off, tl.load(dsq + off, mask=sims_ok, other=0.0) + d * d, mask=sims_ok)
            soff = off * time_batches + batch
            tl.store(sums + soff, tl.load(sums + soff, mask=sims_ok, other=0.0) + v64, mask=sims_ok)

    @triton.jit
    def euler_chunk(x_ptr, g_ptr, a1_ptr, a2_ptr, a3_ptr, a0_ptr, g1_ptr, g2_ptr, g0_ptr, s_ptr, scale_ptr,
                    xstar_ptr, sums, shift, dsum, dsq, n_sims, seed, k_start, n_steps, burn_in, record_every,
                    window, time_batches, k_first,
                    P: tl.constexpr, PP: tl.constexpr, K: tl.constexpr, KP: tl.constexpr, G: tl.constexpr,
                    GP: tl.constexpr, D: tl.constexpr, QP: tl.constexpr, BS: tl.constexpr,
                    X_OFF: tl.constexpr, V_OFF: tl.constexpr, Q_OFF: tl.constexpr, HAS_V: tl.constexpr,
                    HAS_Q: tl.constexpr, NOISE: tl.constexpr):
        pid = tl.program_id(0)
        rows = tl.arange(0, KP)
        rows_g = tl.arange(0, GP)
        cols = tl.arange(0, BS * PP)
        agent = cols % PP
        sim = pid * BS + cols // PP
        cols_ok = (agent < P) & (sim < n_sims)
        sims_idx = pid * BS + tl.arange(0, BS)
        sims_ok = sims_idx < n_sims
        rk = rows < K
        x_off = sim[None, :] * (K * P) + rows[:, None] * P + agent[None, :]
        x_mask = rk[:, None] & cols_ok[None, :]
        x = tl.load(x_ptr + x_off, mask=x_mask, other=0.0)
        gmask = (rows_g < G)[:, None] & sims_ok[None, :]
        g_off = sims_idx[None, :] * G + rows_g[:, None]
        gt = tl.load(g_ptr + g_off, mask=gmask, other=0.0)
        sq = tl.arange(0, KP)
        a1 = tl.load(a1_ptr + rows[:, None] * KP + sq[None, :])
        a2 = tl.load(a2_ptr + rows[:, None] * KP + sq[None, :])
        a3 = tl.load(a3_ptr + rows[:, None] * GP + rows_g[None, :])
        a0 = tl.load(a0_ptr + rows)
        g1 = tl.load(g1_ptr + rows_g[:, None] * KP + sq[None, :])
        g2 = tl.load(g2_ptr + rows_g[:, None] * GP + rows_g[None, :])
        g0 = tl.load(g0_ptr + rows_g)
        zr = tl.arange(0, 4 * QP)
        smat = tl.load(s_ptr + rows[:, None] * (4 * QP) + zr[None, :])
        scale = tl.load(scale_ptr + agent, mask=agent < P, other=0.0)
        xstar_rows = tl.load(xstar_ptr + rows - X_OFF, mask=(rows >= X_OFF) & (rows < X_OFF + D), other=0.0)
        xstar_q = tl.load(xstar_ptr + rows_g - Q_OFF, mask=(rows_g >= Q_OFF) & (rows_g < Q_OFF + D), other=0.0)
        qg = tl.arange(0, QP)
        c0 = (qg[:, None] * P + agent[None, :]).to(tl.uint32)
        c2 = (tl.zeros((QP, BS * PP), dtype=tl.int32) + sim[None, :]).to(tl.uint32)
        c3 = tl.zeros((QP, BS * PP), dtype=tl.uint32)
        for j in range(0, n_steps):
            k = k_start + j
            ubar = tl.sum(tl.reshape(x, (KP, BS, PP)), axis=2) / P
            if j > 0:
                if (k > burn_in) & ((k - burn_in) % record_every == 0):
                    record(x, ubar, gt, xstar_rows, xstar_q, rows, rows_g, cols_ok, sims_idx, sims_ok, k, k_first,
                           burn_in, time_batches, window, sums, shift, dsum, dsq, n_sims, P, PP, KP, BS, D,
                           X_OFF, V_OFF, Q_OFF, HAS_V, HAS_Q)
            shared = tl.dot(a2, ubar, input_precision="ieee") + tl.dot(a3, gt, input_precision="ieee") + a0[:, None]
            gn = tl.dot(g1, ubar, input_precision="ieee") + tl.dot(g2, gt, input_precision="ieee") + g0[:, None]
            xn = tl.dot(a1, x, input_precision="ieee")
            xn = tl.reshape(tl.reshape(xn, (KP, BS, PP)) + shared[:, :, None], (KP, BS * PP))
            if NOISE:
                c1 = (tl.zeros((QP, BS * PP), dtype=tl.int32) + k).to(tl.uint32)
                w0, w1, w2, w3 = tl.philox(seed, c0, c1, c2, c3)
                n1, n2 = tl.random.pair_uniform_to_normal(tl.random.uint_to_uniform_float(w0),
                                                          tl.random.uint_to_uniform_float(w1))
                n3, n4 = tl.random.pair_uniform_to_normal(tl.random.uint_to_uniform_float(w2),
                                                          tl.random.uint_to_uniform_float(w3))
                z = tl.join(tl.join(n1, n3), tl.join(n2, n4))  # [QP, R, 2, 2]: lane = 2 m + t
                z = tl.reshape(tl.permute(z, (0, 2, 3, 1)), (4 * QP, BS * PP))
                xn = xn + tl.dot(smat, z, input_precision="ieee") * scale[None, :]
            x = tl.where(x_mask, xn, 0.0)
            gt = tl.where(gmask, gn, 0.0)
        k = k_start + n_steps
        ubar = tl.sum(tl.reshape(x, (KP, BS, PP)), axis=2) / P
        if (k > burn_in) & ((k - burn_in) % record_every == 0):
            record(x, ubar, gt, xstar_rows, xstar_q, rows, rows_g, cols_ok, sims_idx, sims_ok, k, k_first, burn_in,
                   time_batches, window, sums, shift, dsum, dsq, n_sims, P, PP, KP, BS, D, X_OFF, V_OFF, Q_OFF,
                   HAS_V, HAS_Q)
        tl.store(x_ptr + x_off, x, mask=x_mask)
        tl.store(g_ptr + g_off, gt, mask=gmask)



STAT_INDEX = {"center_error": 0, "center_error_sq": 1, "spread": 2, "quorum_error": 3, "center_quorum_error": 4,
              "center_velocity_error": 5}
"""Row of each statistic in the kernel's accumulators (it computes all six; the run keeps those asked for)."""


def integrate(run: Run, plan: KernelPlan, block_sims: int = 16, chunk_steps: int = 1024) -> None:
    """The Triton path of :class:`~quorumsgd.simulate.schemes.fused.FusedKernel` (torch tensors, float32)."""
    import torch

    from quorumsgd.simulate.control_variate import noise_factor_at
    from quorumsgd.simulate.noise_stream import child_seeds
    from quorumsgd.simulate.schemes.base import agent_scale

    if triton is None:  # pragma: no cover
        from quorumsgd.errors import InvalidParameter

        raise InvalidParameter("kernel", "'auto' or 'engine' (triton is not installed)", "fused", "run_ensemble")
    kernel = euler_chunk
    cfg, b = run.config, run.backend
    p, s, sv = cfg.problem, cfg.solver, cfg.saving
    sym, layout = plan.sym, plan.layout
    dev = torch.device(b.device)
    if s.increments != "gaussian" or s.noise_values is not None:
        from quorumsgd.errors import InvalidParameter

        raise InvalidParameter("kernel", "'auto' or 'engine' for Rademacher or injected noise on the Triton kernel",
                               "fused", "run_ensemble")
    d, n_agents, sims = p.dim, p.n_agents, p.sims
    kk, gs = sym.agent_size, sym.global_size
    kp, gp, pp = _pow2(kk), _pow2(gs), _pow2(n_agents, 1)
    groups = (d + 3) // 4
    qp = max(4, _pow2(groups, 1))
    a1, a2, a3, a0, g1, g2, g0 = sym.euler(s.dt)

    def pad(m: np.ndarray, shape: tuple[int, ...]) -> Any:
        out = np.zeros(shape, dtype=np.float32)
        out[tuple(slice(0, n) for n in m.shape)] = m
        return torch.as_tensor(out, device=dev)

    fields = sym.agent_fields
    x_off = fields.index("x") * d
    v_off = fields.index("v") * d if "v" in fields else 0
    q_off = sym.global_fields.index("quorum") * d if "quorum" in sym.global_fields else 0
    noisy_off = fields.index(p.algorithm.noisy_field) * d
    smat = np.zeros((kp, 4 * qp))
    noise = p.noise
    scale = np.zeros(n_agents)
    if noise is not None:
        bmat = noise_factor_at(noise, np.zeros(d))
        smat[noisy_off:noisy_off + d, :d] = bmat
        scale = np.broadcast_to(np.ravel(np.asarray(agent_scale(run), dtype=np.float64)), (n_agents,))
    flat = layout.flatten(run.state)
    flat_np = np.asarray(b.to_numpy(flat), dtype=np.float32)
    u_agents, g_block = sym.to_blocks(flat_np, layout)
    x = torch.as_tensor(np.ascontiguousarray(u_agents.transpose(0, 2, 1)), device=dev)
    g = torch.as_tensor(np.ascontiguousarray(g_block), device=dev) if gs else torch.zeros((sims, 1), device=dev)
    tb = sv.time_batches
    sums = torch.zeros((6, sims, tb), dtype=torch.float64, device=dev)
    shift, dsum, dsq = (torch.zeros((6, sims), dtype=torch.float64, device=dev) for _ in range(3))
    xstar = np.zeros(d) if not sv.measures else np.asarray(run.ctx.minimizer, dtype=np.float64).reshape(d)
    key = child_seeds(s.seed, 1)[0]
    window = s.steps - sv.burn_in
    k_first = sv.burn_in + sv.record_every
    live = torch.ones(sims, dtype=torch.bool, device=dev)
    diverged_at = np.full(sims, -1, dtype=np.int64)
    threshold = np.inf if sv.divergence_threshold is None else float(sv.divergence_threshold)
    args = [pad(a1, (kp, kp)), pad(a2, (kp, kp)), pad(a3, (kp, gp)), pad(a0, (kp,)), pad(g1, (gp, kp)),
            pad(g2, (gp, gp)), pad(g0, (gp,)), pad(smat, (kp, 4 * qp)), pad(scale, (pp,)),
            torch.as_tensor(np.asarray(xstar, dtype=np.float32), device=dev)]
    grid = ((sims + block_sims - 1) // block_sims,)
    for start in range(0, s.steps, chunk_steps):
        n = min(chunk_steps, s.steps - start)
        kernel[grid](x, g, *args, sums, shift, dsum, dsq, sims, key, start, n, sv.burn_in, sv.record_every, window,
                     tb, k_first, P=n_agents, PP=pp, K=kk, KP=kp, G=gs, GP=gp, D=d, QP=qp, BS=block_sims,
                     X_OFF=x_off, V_OFF=v_off, Q_OFF=q_off, HAS_V="v" in fields, HAS_Q="quorum" in sym.global_fields,
                     NOISE=noise is not None)
        ok = (x.abs() <= threshold).reshape(sims, -1).all(1) & (g.abs() <= threshold).reshape(sims, -1).all(1)
        newly = live & ~ok
        if bool(newly.any()):
            diverged_at[newly.cpu().numpy()] = start + n
            live &= ok
            x[newly] = 0.0
            g[newly] = 0.0
        if sv.progress is not None:
            sv.progress(start + n, s.steps)
    u_back = x.cpu().numpy().transpose(0, 2, 1)
    g_back = g.cpu().numpy() if gs else np.zeros((sims, 0), dtype=np.float32)
    run.flat = b.asarray(sym.from_blocks(np.ascontiguousarray(u_back), g_back, layout))
    run.live = b.asarray(live.cpu().numpy(), dtype="bool")
    run.diverged_at = diverged_at
    from quorumsgd.simulate.schemes.fused import _record_counts

    counts = _record_counts(sv.burn_in, s.steps, sv.record_every, tb)
    for name, _ in sv.measures:
        m = STAT_INDEX[name]
        acc = run.accum[name]
        acc.sums = b.asarray(sums[m], dtype="float64")
        acc.counts = counts.copy()
        acc.shift = b.asarray(shift[m], dtype="float64")
        acc.dev_sum = b.asarray(dsum[m], dtype="float64")
        acc.dev_sq = b.asarray(dsq[m], dtype="float64")


def run_triton(algorithm: Any, objective: Any, noise: Any, *, device: str = "cuda", **keywords: Any) -> EnsembleResult:
    """``run_ensemble`` forced onto the Triton kernel (``device="cpu"`` with ``TRITON_INTERPRET=1`` in the tests)."""
    from quorumsgd.simulate.config import RunConfig
    from quorumsgd.simulate.engine import Run
    from quorumsgd.simulate.schemes.fused import FusedKernel

    config = RunConfig.build(algorithm, objective, noise, backend="torch", device=device, dtype="float32",
                             kernel="fused", **keywords)
    return Run(config, scheme=FusedKernel(triton=True)).run()
