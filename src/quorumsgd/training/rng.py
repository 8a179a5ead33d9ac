r"""Counter-based random numbers keyed by (seed, stream, global agent index, counter).

Why not ``torch.Generator``: the multi-process engine must reproduce the single-process engine bit for bit in
its data order and dropout masks, whatever the split of agents over ranks. A stateful generator per agent
would need a Python loop over agents in the hot path and its state in every checkpoint. A *stateless*
function of ``(seed, stream, agent, counter, element)`` needs neither: agent :math:`i` draws the same numbers
on any rank, on any device, after any resume (the idea of Philox / JAX's threefry keys).

The mixer is Chris Wellons' ``lowbias32`` integer hash, evaluated on ``int64`` tensors that hold 32-bit
values; the 32-bit multiplication is split in 16-bit halves so that nothing overflows ``int64``. Two rounds
per element give uniform, decorrelated 32-bit words (ample for shuffling and dropout).

Example:
    >>> import torch
    >>> ids = torch.tensor([0, 1, 2])
    >>> a = uniform(seed=7, stream=STREAM_DROPOUT, agent_ids=ids, counter=3, n=5)
    >>> b = uniform(seed=7, stream=STREAM_DROPOUT, agent_ids=ids[1:], counter=3, n=5)
    >>> bool((a[1:] == b).all())                     # agent 1 draws the same numbers alone or in a group
    True
    >>> permutations(seed=7, agent_ids=ids, epoch=1, n=4).sort(dim=1).values[0].tolist()
    [0, 1, 2, 3]
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
STREAM_INIT = 0x1A2B3C4D
STREAM_SHUFFLE = 0x5E1F0A77
STREAM_DROPOUT = 0x0D409017


def _mul32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """``(x * constant) mod 2**32`` for ``0 <= x < 2**32`` held in int64, without int64 overflow."""
    low, high = constant & 0xFFFF, constant >> 16
    return (x * low + (((x * high) & 0xFFFF) << 16)) & MASK32


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The ``lowbias32`` bijection of 32-bit words (int64 tensors with values in ``[0, 2**32)``)."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def mix_int(value: int) -> int:
    """:func:`mix32` on a Python int (reduced to 32 bits); used to derive keys and seeds."""
    return int(mix32(torch.tensor(value & MASK32, dtype=torch.int64)))


def agent_keys(seed: int, stream: int, agent_ids: torch.Tensor, counter: int) -> torch.Tensor:
    """One 32-bit key per agent for draw number ``counter`` of ``stream`` (shape ``agent_ids.shape``)."""
    base = mix_int(mix_int(seed) ^ stream)
    keys = mix32((agent_ids.to(torch.int64) & MASK32) ^ base)
    keys = mix32(keys ^ (counter & MASK32))
    return mix32(keys ^ ((counter >> 32) & MASK32))


def random_bits(seed: int, stream: int, agent_ids: torch.Tensor, counter: int, n: int) -> torch.Tensor:
    """``n`` random 32-bit words per agent, shape ``(agents, n)``, int64, on ``agent_ids``' device.

    Within one row the words are distinct (each is a bijection of the element index), so sorting them gives
    a permutation without ties.
    """
    keys = agent_keys(seed, stream, agent_ids, counter)
    index = torch.arange(n, device=agent_ids.device, dtype=torch.int64)
    words = mix32(index.unsqueeze(0) ^ keys.unsqueeze(1))
    return mix32(words ^ mix32(keys ^ 0x9E3779B9).unsqueeze(1))


def uniform(seed: int, stream: int, agent_ids: torch.Tensor, counter: int, n: int) -> torch.Tensor:
    """Uniform float32 numbers in ``[0, 1)`` with 24 random bits, shape ``(agents, n)``."""
    bits = random_bits(seed, stream, agent_ids, counter, n)
    return (bits >> 8).to(torch.float32) * (1.0 / (1 << 24))


def permutations(seed: int, agent_ids: torch.Tensor, epoch: int, n: int) -> torch.Tensor:
    """One random permutation of ``range(n)`` per agent for ``epoch``: its data order, shape ``(agents, n)``."""
    bits = random_bits(seed, STREAM_SHUFFLE, agent_ids, epoch, n)
    return torch.argsort(bits, dim=1, stable=True)


def dropout_masks(
    seed: int, agent_ids: torch.Tensor, step: int, shape: tuple[int, ...], rate: float
) -> torch.Tensor | None:
    r"""Inverted-dropout masks :math:`\mathbb 1[u\ge p]/(1-p)`, shape ``(agents, *shape)``; ``None`` if p = 0."""
    if rate <= 0.0:
        return None
    n = 1
    for size in shape:
        n *= size
    keep = uniform(seed, STREAM_DROPOUT, agent_ids, step, n) >= rate
    return (keep.to(torch.float32) / (1.0 - rate)).reshape(len(agent_ids), *shape)


def agent_seed(seed: int, agent: int) -> int:
    """A 31-bit torch seed for initializing agent ``agent``'s network (distinct per agent, per seed)."""
    return mix_int(mix_int(mix_int(seed) ^ STREAM_INIT) ^ agent) & 0x7FFFFFFF
