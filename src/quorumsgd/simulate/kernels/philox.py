r"""Philox 4x32-10 and Box--Muller exactly as Triton's ``tl.philox`` / ``tl.randn4x`` compute them.

The fused kernels draw their noise from a counter-based generator (Salmon et al., SC'11): the variates of
simulation :math:`s`, step :math:`k`, agent :math:`i` and coordinates :math:`4q..4q+3` are

.. math:: (z_{4q},\dots,z_{4q+3})=\mathrm{BoxMuller}\big(\mathrm{Philox4x32\text{-}10}_{\rm key}
    (c_0=q\,p+i,\;c_1=k,\;c_2=s,\;c_3=0)\big),

(:math:`p` agents; coordinate group major, agent minor, so that a kernel reads the agents of one coordinate
contiguously), a pure function of the seed and the counters: the same numbers whatever the number of threads, the chunking
of the steps, or the device (the CPU kernel uses these functions, the GPU kernel Triton's own; they agree to the
rounding of ``log``/``cos``/``sin``). Rademacher increments take the sign bits of one call per 128 coordinates
(:math:`c_3=1`).

The uniform map and the Box--Muller pair are Triton's (``uint_to_uniform_float``, ``pair_uniform_to_normal``):
:math:`u=\tilde x\cdot 4.6566127342\times10^{-10}` with :math:`\tilde x` the int32 reading of the word folded
onto :math:`[0,2^{31})`, :math:`u_1\leftarrow\max(10^{-7},u_1)`,
:math:`(r\cos\theta, r\sin\theta)`, :math:`r=\sqrt{-2\log u_1}`, :math:`\theta=2\pi u_2`, in float32.

Example (the numpy reference, vectorized over counters):
    >>> import numpy as np
    >>> z = normals4(np.uint64(7), np.arange(4096, dtype=np.uint64), np.uint64(0), np.uint64(0))
    >>> z.shape, z.dtype, bool(abs(z.mean()) < 0.05), bool(abs(z.std() - 1) < 0.05)
    ((4096, 4), dtype('float32'), True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

KEY_A, KEY_B = 0x9E3779B9, 0xBB67AE85
ROUND_A, ROUND_B = 0xD2511F53, 0xCD9E8D57
ROUNDS = 10
UNIFORM_SCALE = np.float32(4.6566127342e-10)
TWO_PI = np.float32(6.283185307179586)
U_MIN = np.float32(1.0e-7)
MASK32 = 0xFFFFFFFF


def split_key(seed: int) -> tuple[int, int]:
    """A 64-bit seed as Philox's two 32-bit key words ``(lo, hi)`` (Triton's ``philox`` does the same split)."""
    seed = int(seed) & ((1 << 64) - 1)
    return seed & MASK32, seed >> 32


def philox4x32(c0: Any, c1: Any, c2: Any, c3: Any, k0: Any, k1: Any) -> tuple[Any, Any, Any, Any]:
    """Philox 4x32-10 on numpy ``uint64`` arrays holding 32-bit words (the reference implementation)."""
    m = np.uint64(MASK32)
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) & m for c in (c0, c1, c2, c3))
    k0, k1 = np.uint64(int(k0) & MASK32), np.uint64(int(k1) & MASK32)
    for _ in range(ROUNDS):
        p0 = np.uint64(ROUND_A) * c0
        p2 = np.uint64(ROUND_B) * c2
        c0, c1, c2, c3 = ((p2 >> np.uint64(32)) ^ c1 ^ k0, p2 & m, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & m)
        k0 = (k0 + np.uint64(KEY_A)) & m
        k1 = (k1 + np.uint64(KEY_B)) & m
    return c0, c1, c2, c3


def uniform(word: Any) -> np.ndarray:
    """Triton's ``uint_to_uniform_float`` for 32-bit words: float32 in [0, 1)."""
    w = np.asarray(word, dtype=np.uint64)
    folded = np.where(w >= np.uint64(1 << 31), np.uint64(MASK32) - w, w)
    return folded.astype(np.float32) * UNIFORM_SCALE


def box_muller(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triton's ``pair_uniform_to_normal`` in float32."""
    u1 = np.maximum(U_MIN, u1)
    th = TWO_PI * u2
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    return r * np.cos(th), r * np.sin(th)


def normals4(seed: Any, c0: Any, c1: Any, c2: Any, c3: Any = 0) -> np.ndarray:
    """Four standard normals per counter, shape ``(*counters, 4)`` float32 (reference for the kernels' tests)."""
    k0, k1 = split_key(int(seed))
    w = philox4x32(c0, c1, c2, c3, k0, k1)
    n1, n2 = box_muller(uniform(w[0]), uniform(w[1]))
    n3, n4 = box_muller(uniform(w[2]), uniform(w[3]))
    return np.stack(np.broadcast_arrays(n1, n2, n3, n4), axis=-1).astype(np.float32)


def reference_variates(seed: int, sims: int, steps: int, n_agents: int, dim: int, k_start: int = 0) -> np.ndarray:
    """The base variates the fused kernels draw, ``(steps, sims, agents, dim)``, from :func:`normals4`."""
    groups = (dim + 3) // 4
    k = np.arange(k_start, k_start + steps, dtype=np.uint64)[:, None, None, None]
    s = np.arange(sims, dtype=np.uint64)[None, :, None, None]
    c0 = (np.arange(groups, dtype=np.uint64)[None, :] * np.uint64(n_agents)
          + np.arange(n_agents, dtype=np.uint64)[:, None])[None, None]  # (agents, groups)
    z = normals4(seed, c0, k, s)  # (steps, sims, agents, groups, 4)
    return z.reshape(steps, sims, n_agents, groups * 4)[..., :dim]


def reference_signs(seed: int, sims: int, steps: int, n_agents: int, dim: int, k_start: int = 0) -> np.ndarray:
    """The Rademacher variates of the kernels, ``(steps, sims, agents, dim)``: bit ``b`` of word ``w`` of the call
    for coordinate group ``q`` (128 coordinates, counter ``c0 = q p + i``) is coordinate ``128 q + 32 w + b``; 1 -> +1, 0 -> -1."""
    groups = (dim + 127) // 128
    k = np.arange(k_start, k_start + steps, dtype=np.uint64)[:, None, None, None]
    s = np.arange(sims, dtype=np.uint64)[None, :, None, None]
    c0 = (np.arange(groups, dtype=np.uint64)[None, :] * np.uint64(n_agents)
          + np.arange(n_agents, dtype=np.uint64)[:, None])[None, None]  # (agents, groups)
    k0, k1 = split_key(int(seed))
    words = np.stack(np.broadcast_arrays(*philox4x32(c0, k, s, 1, k0, k1)), axis=-1)  # (..., groups, 4)
    bits = (words[..., None] >> np.arange(32, dtype=np.uint64)) & np.uint64(1)  # (..., groups, 4, 32)
    signs = bits.astype(np.float32) * 2 - 1
    return signs.reshape(steps, sims, n_agents, groups * 128)[..., :dim]
