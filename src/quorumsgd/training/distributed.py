"""The multi-process / multi-machine engine: the same :class:`~quorumsgd.training.engine.Trainer` over torch.distributed.

Launch with ``torchrun`` (one process per GPU, or a few per CPU machine); the agents are spread over the
ranks in contiguous blocks and every quorum (QSGD's mean, EASGD's :math:`\\bar{\\mathbf x}`, the measurements)
is an ``all_reduce`` (gloo on CPU, NCCL on GPU). Because each agent's initial point, data order and dropout
masks depend only on ``(seed, global agent index)``, a distributed run reproduces the single-process run with
the same seed up to floating-point summation order.

Example (shell)::

    torchrun --standalone --nproc-per-node 2 -m quorumsgd.training.cli --algorithm qsgd --n-agents 4 \\
        --epochs 2 --out runs/qsgd-2proc
    # several machines: torchrun --nnodes 2 --node-rank R --rdzv-endpoint HOST:PORT --nproc-per-node 8 ...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from quorumsgd.errors import InvalidParameter
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.engine import Trainer
from quorumsgd.training.topology import Topology, torch_distributed_topology


def launched_by_torchrun() -> bool:
    """True inside a multi-process ``torchrun`` launch (``WORLD_SIZE`` > 1 in the environment)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_process_group(device: str) -> tuple[Topology, str]:
    """Join the ``env://`` process group torchrun describes; returns the topology and this rank's device.

    gloo for CPU training, NCCL for CUDA (each process takes GPU ``LOCAL_RANK``).
    """
    import torch.distributed as dist

    cuda = device.startswith("cuda")
    if cuda:
        if not torch.cuda.is_available():
            raise InvalidParameter("device", "an available CUDA device (none found; use --device cpu)", device)
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return torch_distributed_topology(), device


def train_distributed(config: TrainConfig, out_dir: str | Path | None, resume: bool = False) -> dict[str, Any]:
    """Run ``config`` as this rank of a torchrun job; rank 0 writes ``results.json``, each rank its checkpoint."""
    import torch.distributed as dist

    topology, device = init_process_group(config.device)
    try:
        return Trainer(config.replace(device=device), out_dir, topology).run(resume=resume)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
