"""Record every tensor the training engine hands to a convolution, BatchNorm or matrix-multiply kernel, and
flag those that do not start on a 16-byte boundary (cuDNN / cuBLAS crash on them: ``misaligned address``).

A :class:`~torch.utils._python_dispatch.TorchDispatchMode` sees the ATen operators *below* autograd and
``torch.func.vmap``, so it sees what the kernels really receive -- forward and backward, in every batching
mode -- on any device. Used by the CPU tests (a regression is caught without a GPU) and by
``benchmarks/gpu_check.py`` on a GPU.

Example:
    >>> import torch
    >>> flat = torch.zeros(2, 64)
    >>> with KernelAlignmentCheck() as check:
    ...     _ = torch.mm(flat[:, 1:5].T.contiguous(), flat[:, 0:4])  # the second operand is a view at offset 0
    ...     _ = torch.mm(flat[:, 1:5].T.contiguous(), flat[:, 1:5])  # at offset 1 float: 4 bytes off
    >>> check.calls, len(check.misaligned), check.misaligned[0][0]
    (2, 1, 'mm')
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

KERNELS = frozenset(
    {
        "convolution",
        "convolution_backward",
        "_convolution",
        "cudnn_convolution",
        "mkldnn_convolution",
        "native_batch_norm",
        "native_batch_norm_backward",
        "_native_batch_norm_legit",
        "_native_batch_norm_legit_no_training",
        "_native_batch_norm_legit_functional",
        "cudnn_batch_norm",
        "cudnn_batch_norm_backward",
        "batch_norm_backward",
        "miopen_batch_norm",
        "addmm",
        "mm",
        "bmm",
        "baddbmm",
        "addbmm",
        "linear",
        "matmul",
        "_addmm_activation",
    }
)
"""ATen operators whose tensor operands must be aligned (convolutions, BatchNorm, GEMMs; forward and backward)."""


class KernelAlignmentCheck(TorchDispatchMode):
    """Context manager: ``calls`` kernel calls seen; ``misaligned`` = ``[(op, shape, address mod 16)]``."""

    def __init__(self, alignment: int = 16):
        super().__init__()
        self.alignment = alignment
        self.calls = 0
        self.misaligned: list[tuple[str, tuple[int, ...], int]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        if name in KERNELS:
            self.calls += 1
            for value in tree_flatten((args, kwargs))[0]:
                if isinstance(value, torch.Tensor) and value.numel() and value.data_ptr() % self.alignment:
                    self.misaligned.append((name, tuple(value.shape), value.data_ptr() % self.alignment))
        return func(*args, **kwargs)
