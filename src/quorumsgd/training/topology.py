"""Which agents live in this process, and how partial sums over agents become global ones.

A single process holds every agent; under ``torch.distributed`` each rank holds a contiguous block of the
global agent indices (``numpy.array_split`` order) and the quorum is an ``all_reduce`` of rank-local sums,
plugged into :class:`quorumsgd.algorithms.AgentOps` through its ``all_reduce_sum`` hook.

Example:
    >>> Topology().local_agents(4), Topology(rank=1, world_size=3).local_agents(7)
    ([0, 1, 2, 3], [3, 4])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from quorumsgd.algorithms import AgentOps


@dataclass(frozen=True)
class Topology:
    """Rank, world size and the cross-process sum (``None`` in a single process)."""

    rank: int = 0
    world_size: int = 1
    all_reduce_sum: Callable[[torch.Tensor], torch.Tensor] | None = None
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.all_reduce_sum is not None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def local_agents(self, n_agents: int) -> list[int]:
        """Global indices of the agents this rank trains (contiguous blocks, sizes differ by at most one)."""
        return [int(i) for i in np.array_split(np.arange(n_agents), self.world_size)[self.rank]]

    def agent_ops(self, n_active: int) -> AgentOps:
        """Stacked-parameter layout ``(agents, ...)``; the mean runs over the ``n_active`` agents of all ranks."""
        if not self.distributed:
            return AgentOps(axis=0)
        return AgentOps(axis=0, all_reduce_sum=self.all_reduce_sum, n_agents_total=n_active)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Element-wise sum of ``tensor`` over ranks (identity in a single process)."""
        return tensor if self.all_reduce_sum is None else self.all_reduce_sum(tensor)


def torch_distributed_topology() -> Topology:
    """The topology of an initialized default ``torch.distributed`` process group."""
    import torch.distributed as dist

    def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
        # A fresh contiguous buffer: callers may pass views or tensors they still use.
        out = tensor.detach().clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    return Topology(dist.get_rank(), dist.get_world_size(), all_reduce_sum, dist.get_backend())
