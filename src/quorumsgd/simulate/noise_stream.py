"""Blocks of base variates for many time steps at once: the engine's only source of randomness.

Drawing the Gaussian noise is the physical limit of a Monte Carlo run on a CPU, so the stream

* preallocates two block buffers of ``block_steps`` steps and refills one while the engine consumes the
  other (double buffering): the random numbers for the next block are drawn by worker threads, in parallel
  with the engine's arithmetic (torch's and numpy's generators release the GIL);
* splits every block into ``streams`` fixed pieces, piece ``j`` always drawn by generator ``j``: the numbers
  depend on ``(seed, streams, block_steps)`` only, never on thread timing or on the number of cores;
* applies a constant transform (the noise factor :math:`\\mathbf B` and the scale :math:`\\sqrt{\\eta\\,dt/b}`)
  inside the workers, so the engine's step adds a ready increment;
* replays injected variates instead, for tests (``injected``), through the same transform.

CPU generators are torch's (Box--Muller, vectorized: about 2.5x numpy's ziggurat per core) filling numpy
buffers in place, so the numpy and torch CPU backends see the same numbers for the same seed; ``rng="numpy"``
uses numpy's SFC64 instead. On CUDA the blocks are drawn on the device by a CUDA generator.

``distribution="rademacher"`` draws :math:`\\pm1` with probability 1/2 (weak Euler--Maruyama increments: the
same mean and covariance as a Gaussian, so the same weak order 1): one random *bit* per number, expanded from
random bytes through a 256 x 8 table that already holds the scale, about 3.5x cheaper than a normal per core.

Example:
    >>> import numpy as np
    >>> from quorumsgd.simulate.backend import Backend
    >>> s = NoiseStream(Backend.make(), step_shape=(2, 3, 1), steps=5, seed=1, block_steps=2)
    >>> [(start, block.shape) for start, block in s.blocks()]
    [(0, (2, 2, 3, 1)), (2, (2, 2, 3, 1)), (4, (1, 2, 3, 1))]
    >>> a = np.concatenate([b.copy() for _, b in s.blocks()])
    >>> b = np.concatenate([b.copy() for _, b in NoiseStream(Backend.make(), (2, 3, 1), 5, seed=1,
    ...                                                      block_steps=2).blocks()])
    >>> bool(np.array_equal(a, b))                       # same seed, same numbers
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.simulate.backend import Array, Backend

Transform = Callable[[Array], Array]
"""In-place (or returning) map applied to a piece of a block shaped ``(rows, *step_shape[1:])``."""

DEFAULT_BLOCK_NUMBERS = 1 << 21
"""Target size of one block (random numbers): 8 MiB in float32; two blocks fit the L3 cache, and long blocks
make the hand-off to the worker threads rare (measured: +10-20% on (1000, 16, 10) over one-step blocks)."""

THREAD_MIN_NUMBERS = 1 << 16
"""Below this block size a thread hand-off costs more than it saves: draw synchronously."""


DISTRIBUTIONS = ("normal", "uniform", "rademacher")

_BITS = ((np.arange(256)[:, None] >> np.arange(7, -1, -1)[None, :]) & 1).astype(np.float64) * 2.0 - 1.0
"""Row ``b``: the eight bits of byte ``b`` as +-1 (most significant first)."""


def child_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds derived from ``seed`` (numpy's SeedSequence: no overlapping streams)."""
    states = np.random.SeedSequence(seed).generate_state(n, dtype=np.uint64)
    return [int(s) & ((1 << 63) - 1) for s in states]


class NoiseStream:
    """Yields ``(start_step, block)`` with ``block`` shaped ``(steps_in_block, *step_shape)``.

    A yielded block is valid until the next one is requested (its buffer is then refilled).
    """

    def __init__(
        self,
        backend: Backend,
        step_shape: tuple[int, ...],
        steps: int,
        seed: int = 0,
        distribution: Literal["normal", "uniform", "rademacher"] = "normal",
        block_steps: int | None = None,
        streams: int = 4,
        transform: Transform | None = None,
        injected: Any | None = None,
        rng: Literal["torch", "numpy"] = "torch",
        threads: int | None = None,
        scale: float = 1.0,
    ) -> None:
        if distribution not in DISTRIBUTIONS:
            raise InvalidParameter("distribution", f"one of {DISTRIBUTIONS}", distribution, "NoiseStream")
        if rng not in ("torch", "numpy"):
            raise InvalidParameter("rng", "'torch' or 'numpy'", rng, "NoiseStream")
        if streams < 1:
            raise InvalidParameter("streams", ">= 1", streams, "NoiseStream")
        self.backend, self.step_shape, self.steps = backend, tuple(step_shape), int(steps)
        self.distribution, self.transform, self.rng = distribution, transform, rng
        self.scale = float(scale)  # drawn variates are scale * N(0,1) or scale * U(-1,1): no extra pass
        per_step = int(np.prod(self.step_shape))
        if block_steps is None:
            block_steps = max(1, DEFAULT_BLOCK_NUMBERS // max(per_step, 1))
        self.block_steps = int(max(1, min(block_steps, self.steps)))
        self.streams = int(streams)
        self.injected = None
        if injected is not None:
            shape = tuple(injected.shape)
            if shape != (self.steps, *self.step_shape):
                raise InvalidParameter("noise", f"shape {(self.steps, *self.step_shape)}", shape, "simulate")
            self.injected = injected
        self._seeds = child_seeds(seed, self.streams)
        block_numbers = self.block_steps * per_step
        cpu = os.cpu_count() or 1
        self.threads = min(self.streams, cpu) if threads is None else max(1, int(threads))
        self.use_pool = (not backend.is_cuda and self.injected is None and self.threads > 1
                         and block_numbers >= THREAD_MIN_NUMBERS)

    # ----------------------------------------------------------------------------------------- generators
    def _make_generators(self) -> list[Any]:
        if self.distribution == "rademacher" and not self.backend.is_cuda:
            # random bytes: numpy's SFC64 (torch has no cheap byte stream); one table per stream, scale included
            self._table = (_BITS * self.scale).astype(self.backend.np_dtype)
            return [np.random.Generator(np.random.SFC64(s)) for s in self._seeds]
        if self.backend.is_cuda:
            import torch

            g = torch.Generator(device=self.backend.device)
            g.manual_seed(self._seeds[0])
            return [g]
        if self.rng == "torch":
            import torch

            gens = []
            for s in self._seeds:
                g = torch.Generator()
                g.manual_seed(s)
                gens.append(g)
            return gens
        return [np.random.Generator(np.random.SFC64(s)) for s in self._seeds]

    def _fill(self, piece: np.ndarray | Any, gen: Any) -> None:
        """Draw base variates into ``piece`` in place."""
        if piece.shape[0] == 0:
            return
        if self.distribution == "rademacher":
            self._fill_rademacher(piece, gen)
            return
        if self.backend.is_cuda or self.rng == "torch":
            import torch

            t = piece if isinstance(piece, torch.Tensor) else torch.from_numpy(piece)
            if self.distribution == "normal":
                t.normal_(0.0, self.scale, generator=gen)
            else:
                t.uniform_(-self.scale, self.scale, generator=gen)
            return
        if self.distribution == "normal":
            gen.standard_normal(out=piece, dtype=piece.dtype)
            if self.scale != 1.0:
                piece *= self.scale
        else:
            gen.random(out=piece, dtype=piece.dtype)
            piece *= 2.0 * self.scale
            piece -= self.scale

    def _fill_rademacher(self, piece: Any, gen: Any) -> None:
        """+-scale with probability 1/2 each, in place."""
        if self.backend.is_cuda:
            piece.bernoulli_(0.5, generator=gen).mul_(2.0 * self.scale).sub_(self.scale)
            return
        flat = piece.reshape(-1)  # a contiguous piece of a C-contiguous block: a view
        n = flat.shape[0]
        raw = np.frombuffer(gen.bytes(-(-n // 8)), dtype=np.uint8)
        whole = n // 8
        if whole:
            np.take(self._table, raw[:whole], axis=0, out=flat[: whole * 8].reshape(whole, 8))
        if n % 8:
            flat[whole * 8:] = self._table[raw[whole], : n % 8]

    def _transform_piece(self, piece: Any) -> None:
        if self.transform is None or piece.shape[0] == 0:
            return
        out = self.transform(piece)
        if out is not piece:
            piece[...] = out

    def _pieces(self, block: Any) -> list[Any]:
        """Fixed split of a block along its flattened leading rows (steps x first step axis)."""
        # block is C-contiguous, so this reshape is a view and in-place transforms reach the block.
        rows = block.reshape((-1, *self.step_shape[1:]))
        bounds = np.linspace(0, rows.shape[0], self.streams + 1).astype(int)
        return [rows[bounds[j]:bounds[j + 1]] for j in range(self.streams)]

    # ------------------------------------------------------------------------------------------- blocks
    def _block_starts(self) -> list[int]:
        return list(range(0, self.steps, self.block_steps))

    def blocks(self) -> Iterator[tuple[int, Array]]:
        """Iterate over the blocks in time order."""
        if self.injected is not None:
            yield from self._injected_blocks()
        elif self.backend.is_cuda:
            yield from self._cuda_blocks()
        else:
            yield from self._cpu_blocks()

    def _injected_blocks(self) -> Iterator[tuple[int, Array]]:
        for start in self._block_starts():
            stop = min(start + self.block_steps, self.steps)
            block = self.backend.copy(self.backend.asarray(self.injected[start:stop]))
            if self.scale != 1.0:
                block *= self.scale
            for piece in self._pieces(block):
                self._transform_piece(piece)
            yield start, block

    def _cuda_blocks(self) -> Iterator[tuple[int, Array]]:
        (gen,) = self._make_generators()
        buf = self.backend.empty((self.block_steps, *self.step_shape))
        for start in self._block_starts():
            n = min(self.block_steps, self.steps - start)
            block = buf[:n]
            self._fill(block, gen)
            for piece in self._pieces(block):
                self._transform_piece(piece)
            yield start, block

    def _cpu_blocks(self) -> Iterator[tuple[int, Array]]:
        gens = self._make_generators()
        buffers = [np.empty((self.block_steps, *self.step_shape), dtype=self.backend.np_dtype)
                   for _ in range(2 if self.use_pool else 1)]
        starts = self._block_starts()

        def work(block: np.ndarray, which: list[int]) -> None:
            pieces = self._pieces(block)
            for j in which:
                self._fill(pieces[j], gens[j])
                self._transform_piece(pieces[j])

        def view(i: int) -> np.ndarray:
            return buffers[i % len(buffers)][: min(self.block_steps, self.steps - starts[i])]

        if not self.use_pool:
            for i, start in enumerate(starts):
                block = view(i)
                work(block, list(range(self.streams)))
                yield start, self.backend.from_numpy_shared(block)
            return

        # Worker w owns the pieces j = w, w + threads, ... of every block: each generator is used by one
        # thread only, in block order, so the numbers never depend on scheduling.
        owners = [list(range(w, self.streams, self.threads)) for w in range(self.threads)]
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="quorumsgd-noise") as pool:

            def submit(i: int) -> list[Future[None]]:
                block = view(i)
                return [pool.submit(work, block, own) for own in owners]

            pending = submit(0)
            for i, start in enumerate(starts):
                for f in pending:
                    f.result()
                # Refill the other buffer for block i + 1 while the engine consumes block i.
                pending = submit(i + 1) if i + 1 < len(starts) else []
                yield start, self.backend.from_numpy_shared(view(i))
            for f in pending:
                f.result()
