r"""The fused Euler--Maruyama kernel on CPU cores: numba ``parallel=True``, one simulation per loop iteration.

Each simulation's state (``p`` agents x ``K`` agent coordinates, plus the agent-free fields) is copied into
thread-local buffers and advanced ``n_steps`` steps there (it stays in the L1/L2 cache); the increments are drawn
inside the step from Philox 4x32-10 keyed by the seed and counted by (agent/coordinate group, step,
simulation) (:mod:`quorumsgd.simulate.kernels.philox`), so no noise array exists and the numbers do not depend
on the number of threads. The statistics of the stationary window are accumulated in float64 in the kernel
(the running sums of :class:`~quorumsgd.simulate.statistics.TimeAverage`): only they, and the state at the
end of the chunk, are written back.

The step is :math:`\mathbf u_i'=\mathbf A_1\mathbf u_i+\mathbf A_2\bar{\mathbf u}+\mathbf A_3\mathbf g+\mathbf a
+\text{noise}`, :math:`\mathbf g'=\mathbf G_1\bar{\mathbf u}+\mathbf G_2\mathbf g+\mathbf g_0`, the Euler matrices
of :class:`~quorumsgd.simulate.kernels.coefficients.AgentSymmetricMap` (read off the algorithm's drift).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

NOISE_NONE, NOISE_NORMAL, NOISE_RADEMACHER, NOISE_INJECTED = 0, 1, 2, 3

# Statistic codes (the built-in measures the kernel computes; see quorumsgd.simulate.measures).
CENTER_ERROR, CENTER_ERROR_SQ, SPREAD, QUORUM_ERROR, CENTER_QUORUM_ERROR, CENTER_VELOCITY_ERROR = range(6)
CODES = {"center_error": CENTER_ERROR, "center_error_sq": CENTER_ERROR_SQ, "spread": SPREAD,
         "quorum_error": QUORUM_ERROR, "center_quorum_error": CENTER_QUORUM_ERROR,
         "center_velocity_error": CENTER_VELOCITY_ERROR}

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@njit(inline="always", cache=True)
def _philox(c0, c1, c2, c3, k0, k1):  # type: ignore[no-untyped-def]
    """Philox 4x32-10 on uint64 lanes holding 32-bit words (same rounds and constants as Triton's)."""
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p2 = np.uint64(0xCD9E8D57) * c2
        n0 = (p2 >> _S32) ^ c1 ^ k0
        n2 = (p0 >> _S32) ^ c3 ^ k1
        c1 = p2 & _M32
        c3 = p0 & _M32
        c0 = n0
        c2 = n2
        k0 = (k0 + np.uint64(0x9E3779B9)) & _M32
        k1 = (k1 + np.uint64(0xBB67AE85)) & _M32
    return c0, c1, c2, c3


_FM = {"reassoc", "contract", "arcp", "nsz", "afn"}
"""Fast-math flags without ``nnan``/``ninf``: the divergence check must still see nan and inf."""

_LN2 = np.float32(0.6931471805599453)
_SQRT2 = np.float32(1.4142135623730951)
_PI = np.float32(3.141592653589793)


@njit(inline="always", cache=True, fastmath=_FM, error_model="numpy")
def _uniform(w):  # type: ignore[no-untyped-def]
    """Triton's ``uint_to_uniform_float`` (branch-free, so the loop vectorizes)."""
    folded = _M32 - w if w >= np.uint64(2147483648) else w
    return np.float32(np.int64(folded)) * np.float32(4.6566127342e-10)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _box_muller(wa, wb, out_c, out_s, ng, u1, u2, expo, mant):  # type: ignore[no-untyped-def]
    """Triton's ``pair_uniform_to_normal`` of the uniforms of words ``wa``, ``wb``, as flat vectorizable loops:
    a float32 ``log`` from the exponent bits and an atanh series, ``sin``/``cos`` by Taylor series of a half
    angle (no libm calls in the hot loop). Agrees with ``log``/``cos``/``sin`` to float32 rounding."""
    for c in range(ng):
        u1[c] = max(np.float32(1.0e-7), _uniform(wa[c]))
        u2[c] = _uniform(wb[c])
    ib = u1[:ng].view(np.int32)
    for c in range(ng):  # u1 = 2^e m, m in [1, 2)
        v = ib[c]
        expo[c] = np.float32(((v >> 23) & 0xFF) - 127)
        mant[c] = (v & 0x7FFFFF) | 0x3F800000
    mf = mant[:ng].view(np.float32)
    for c in range(ng):
        m = mf[c]
        big = np.float32(1.0) if m > _SQRT2 else np.float32(0.0)
        m = m * (np.float32(1.0) - np.float32(0.5) * big)
        e = expo[c] + big
        y = (m - np.float32(1.0)) / (m + np.float32(1.0))
        y2 = y * y
        logm = np.float32(2.0) * y * (np.float32(1.0) + y2 * (np.float32(1.0 / 3) + y2 * (
            np.float32(0.2) + y2 * (np.float32(1.0 / 7) + y2 * np.float32(1.0 / 9)))))
        r = np.sqrt(np.float32(-2.0) * (e * _LN2 + logm))
        # theta = 2 pi u2 = 2 pi (y + 1/2): cos theta = 2 sin^2(phi) - 1, sin theta = -2 sin(phi) cos(phi),
        # phi = pi (u2 - 1/2) in [-pi/2, pi/2)
        phi = _PI * (u2[c] - np.float32(0.5))
        p2 = phi * phi
        sn = phi * (np.float32(1.0) - p2 * (np.float32(1 / 6) - p2 * (np.float32(1 / 120) - p2 * (
            np.float32(1 / 5040) - p2 * (np.float32(1 / 362880) - p2 * np.float32(1 / 39916800))))))
        cs_ = np.float32(1.0) - p2 * (np.float32(0.5) - p2 * (np.float32(1 / 24) - p2 * (np.float32(1 / 720) - p2 * (
            np.float32(1 / 40320) - p2 * (np.float32(1 / 3628800) - p2 * np.float32(1 / 479001600))))))
        out_c[c] = r * (np.float32(2.0) * sn * sn - np.float32(1.0))
        out_s[c] = r * (np.float32(-2.0) * sn * cs_)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _fill_normals(out, expo, mant, u1, u2, w0, w1, w2, w3, ng, k, s, k0, k1):  # type: ignore[no-untyped-def]
    """``4 ng`` normals of step ``k``, simulation ``s``: counter ``c0 = c`` (= group * agents + agent) gives
    lanes ``out[0..3, c]``; every loop is flat, so that LLVM vectorizes it."""
    ck, cs = np.uint64(k), np.uint64(s)
    for c in range(ng):
        a, b, cc, d = _philox(np.uint64(c), ck, cs, np.uint64(0), k0, k1)
        w0[c] = a
        w1[c] = b
        w2[c] = cc
        w3[c] = d
    _box_muller(w0, w1, out[0], out[1], ng, u1, u2, expo, mant)
    _box_muller(w2, w3, out[2], out[3], ng, u1, u2, expo, mant)


@njit(cache=True)
def _fill_signs(out, ng, k, s, k0, k1):  # type: ignore[no-untyped-def]
    """``128 ng`` Rademacher variates of step ``k``, simulation ``s`` (the sign bits of one call per 128
    coordinates; counter ``c0`` = group * agents + agent)."""
    ck, cs = np.uint64(k), np.uint64(s)
    for c in range(ng):
        w = _philox(np.uint64(c), ck, cs, np.uint64(1), k0, k1)
        for word in range(4):
            x = w[word]
            for bit in range(32):
                out[128 * c + 32 * word + bit] = 1.0 if (x >> np.uint64(bit)) & np.uint64(1) else -1.0


@njit(parallel=True, cache=True, fastmath=_FM, error_model="numpy")
def euler_chunk(u, g, a1, a2, a3, a0, g1, g2, g0, noisy_off, bmat, use_b, scale, mode, injected, inj_start,
                k0, k1, k_start, n_steps, burn_in, record_every, window, time_batches, codes, x_off, v_off, q_off,
                xstar, sums, shift, dev_sum, dev_sq, has_shift, live, diverged_at, threshold, check_every):
    # type: ignore[no-untyped-def]
    """Advance every live simulation by ``n_steps`` steps from step ``k_start``; accumulate the statistics.

    ``u`` (sims, K, p) -- agent coordinates major, agents minor, so that the step's inner loops run over the
    agents contiguously -- and ``g`` (sims, G) are updated in place; the matrices are in the state's dtype;
    ``sums`` (M, sims, batches), ``shift``, ``dev_sum``, ``dev_sq`` (M, sims) are the running sums (float64);
    ``live``/``diverged_at`` the divergence flags.
    """
    sims, kk, p = u.shape
    gg = g.shape[1]
    d = xstar.shape[0]
    n_codes = codes.shape[0]
    groups = (d + 3) // 4 if mode != NOISE_RADEMACHER else (d + 127) // 128
    width = 4 * groups if mode != NOISE_RADEMACHER else 128 * groups
    ng = p * groups
    zero = np.zeros(1, dtype=u.dtype)[0]
    for s in prange(sims):
        if not live[s]:
            continue
        us = u[s].copy()
        un = np.empty_like(us)
        gs = g[s].copy()
        gn = np.empty_like(gs)
        ubar = np.empty(kk, dtype=us.dtype)
        shared = np.empty(kk, dtype=us.dtype)
        zf = np.empty((4, ng), dtype=np.float32)
        zr = np.empty(p * width, dtype=np.float32)
        zi = np.empty((d, p), dtype=us.dtype)
        bits = np.empty(2 * ng, dtype=np.float32)
        mant = np.empty(2 * ng, dtype=np.int32)
        u1 = np.empty(2 * ng, dtype=np.float32)
        u2 = np.empty(2 * ng, dtype=np.float32)
        w0 = np.empty(ng, dtype=np.uint64)
        w1 = np.empty(ng, dtype=np.uint64)
        w2 = np.empty(ng, dtype=np.uint64)
        w3 = np.empty(ng, dtype=np.uint64)
        for j in range(n_steps + 1):
            k = k_start + j
            for q in range(kk):
                acc = zero
                for i in range(p):
                    acc += us[q, i]
                ubar[q] = acc / p
            if j > 0 and k > burn_in and (k - burn_in) % record_every == 0:
                batch = (k - burn_in - 1) * time_batches // window
                e2 = 0.0
                for jj in range(d):
                    e = np.float64(ubar[x_off + jj]) - xstar[jj]
                    e2 += e * e
                for m in range(n_codes):
                    c = codes[m]
                    if c == 0:
                        val = math.sqrt(e2)
                    elif c == 1:
                        val = e2
                    elif c == 2:
                        val = 0.0
                        for jj in range(d):
                            for i in range(p):
                                e = np.float64(us[x_off + jj, i]) - ubar[x_off + jj]
                                val += e * e
                    elif c == 3 or c == 4:
                        val = 0.0
                        for jj in range(d):
                            e = np.float64(gs[q_off + jj]) - xstar[jj]
                            val += e * e
                        val = math.sqrt(val) if c == 3 else math.sqrt(val + e2)
                    else:
                        val = e2
                        for jj in range(d):
                            val += np.float64(ubar[v_off + jj]) * ubar[v_off + jj]
                        val = math.sqrt(val)
                    sums[m, s, batch] += val
                    if not has_shift[m, s]:
                        shift[m, s] = val
                        has_shift[m, s] = True
                    dv = val - shift[m, s]
                    dev_sum[m, s] += dv
                    dev_sq[m, s] += dv * dv
            if j > 0 and (j == n_steps or (check_every > 0 and k % check_every == 0)):
                ok = True
                for q in range(kk):
                    for i in range(p):
                        if not abs(us[q, i]) <= threshold:
                            ok = False
                for q in range(gg):
                    if not abs(gs[q]) <= threshold:
                        ok = False
                if not ok:
                    live[s] = False
                    diverged_at[s] = k
                    us[:, :] = 0.0
                    gs[:] = 0.0
                    break
            if j == n_steps:
                break
            for q in range(kk):
                acc = a0[q]
                for r in range(kk):
                    acc += a2[q, r] * ubar[r]
                for r in range(gg):
                    acc += a3[q, r] * gs[r]
                shared[q] = acc
            for q in range(gg):
                acc = g0[q]
                for r in range(kk):
                    acc += g1[q, r] * ubar[r]
                for r in range(gg):
                    acc += g2[q, r] * gs[r]
                gn[q] = acc
            for q in range(kk):
                for i in range(p):
                    un[q, i] = shared[q]
                for r in range(kk):
                    a = a1[q, r]
                    for i in range(p):
                        un[q, i] += a * us[r, i]
            if mode != NOISE_NONE:
                # zi[jj, i]: coordinate jj of agent i (agents contiguous, like the state)
                if mode == NOISE_INJECTED:
                    for i in range(p):
                        for jj in range(d):
                            zi[jj, i] = injected[k - inj_start, s, i, jj]
                elif mode == NOISE_NORMAL:
                    _fill_normals(zf, bits, mant, u1, u2, w0, w1, w2, w3, ng, k, s, k0, k1)
                    for jj in range(d):
                        lane, base = jj % 4, (jj // 4) * p
                        for i in range(p):
                            zi[jj, i] = zf[lane, base + i]
                else:
                    _fill_signs(zr, ng, k, s, k0, k1)
                    for jj in range(d):
                        base = (jj // 128) * p
                        for i in range(p):
                            zi[jj, i] = zr[(base + i) * 128 + jj % 128]
                if use_b:
                    for jj in range(d):
                        for r in range(d):
                            bj = bmat[jj, r]
                            for i in range(p):
                                un[noisy_off + jj, i] += bj * scale[i] * zi[r, i]
                else:
                    for jj in range(d):
                        for i in range(p):
                            un[noisy_off + jj, i] += zi[jj, i] * scale[i]
            us, un = un, us
            gs, gn = gn, gs
        u[s] = us
        g[s] = gs
