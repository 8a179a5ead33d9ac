"""Numerical precision of a training run: ``strict`` (reproducible, for verification and claims) or ``fast``.

=========  =====================================================================================================
strict     fp32 everywhere; TF32 off for cuBLAS and cuDNN (``float32_matmul_precision="highest"``); cuDNN's
           deterministic algorithms and no autotuning (``cudnn.deterministic``, ``cudnn.benchmark=False``), and
           ``torch.use_deterministic_algorithms`` (warn-only: an op without a deterministic kernel warns, it
           does not stop a run). CPU and GPU then agree to float rounding (1e-3 after an epoch, a GPU test).
fast       TF32 tensor cores for fp32 convolutions and matrix products, cuDNN autotuning; with ``bf16``, the
           forward and backward passes under ``torch.autocast(dtype=bfloat16)`` while the parameters, the
           gradients handed to the update and the update itself stay fp32 ("master" parameters). For studies.
=========  =====================================================================================================

On a CPU the two modes compute the same numbers unless ``bf16`` is set (TF32 and cuDNN are GPU features).
:func:`precision_mode` applies a mode and restores the previous global settings on exit (they are
process-wide torch flags, so a library must not leave them changed); :func:`describe` is what every results
JSON records.

Example:
    >>> import torch
    >>> before = torch.backends.cudnn.allow_tf32
    >>> with precision_mode("strict"):
    ...     torch.backends.cudnn.allow_tf32, torch.backends.cudnn.deterministic
    (False, True)
    >>> torch.backends.cudnn.allow_tf32 == before
    True
    >>> describe("fast", bf16=True)["autocast"]
    'bfloat16'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

PRECISIONS = ("strict", "fast")


def _flags() -> dict[str, Any]:
    return {
        "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_tf32": torch.backends.cudnn.allow_tf32,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "fill_uninitialized_memory": torch.utils.deterministic.fill_uninitialized_memory,
    }


def _set(flags: dict[str, Any]) -> None:
    torch.backends.cuda.matmul.allow_tf32 = flags["matmul_tf32"]
    torch.backends.cudnn.allow_tf32 = flags["cudnn_tf32"]
    torch.backends.cudnn.deterministic = flags["cudnn_deterministic"]
    torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]
    torch.use_deterministic_algorithms(flags["deterministic"], warn_only=flags["deterministic_warn_only"])
    torch.set_float32_matmul_precision(flags["float32_matmul_precision"])
    torch.utils.deterministic.fill_uninitialized_memory = flags["fill_uninitialized_memory"]


def settings(mode: str) -> dict[str, Any]:
    """The torch flags of ``mode`` (see the module docstring)."""
    if mode == "strict":
        return {
            "matmul_tf32": False,
            "cudnn_tf32": False,
            "cudnn_deterministic": True,
            "cudnn_benchmark": False,
            "deterministic": True,
            "deterministic_warn_only": True,
            "float32_matmul_precision": "highest",
            # NaN-filling of torch.empty is a debugging aid of deterministic mode that costs a memset per
            # allocation; the engine never reads uninitialized memory.
            "fill_uninitialized_memory": False,
        }
    if mode == "fast":
        return {
            "matmul_tf32": True,
            "cudnn_tf32": True,
            "cudnn_deterministic": False,
            "cudnn_benchmark": True,
            "deterministic": False,
            "deterministic_warn_only": False,
            "float32_matmul_precision": "high",
            "fill_uninitialized_memory": False,
        }
    raise ValueError(f"unknown precision {mode!r} (one of {', '.join(PRECISIONS)})")


@contextmanager
def precision_mode(mode: str) -> Iterator[None]:
    """Apply ``mode``'s process-wide torch flags inside the block; restore the previous ones after it."""
    wanted = settings(mode)
    if mode == "strict":
        # cuBLAS is deterministic only with a fixed workspace; read when cuBLAS starts, so set it early.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    saved = _flags()
    _set(wanted)
    try:
        yield
    finally:
        _set(saved)


def autocast(device: torch.device | str, mode: str, bf16: bool) -> torch.autocast:
    """The forward/backward context: bf16 autocast in ``fast`` mode with ``bf16``, a no-op otherwise."""
    device_type = torch.device(device).type
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=bool(bf16) and mode == "fast")


def describe(mode: str, bf16: bool = False) -> dict[str, Any]:
    """What a results JSON records about a run's arithmetic."""
    flags = settings(mode)
    return {
        "mode": mode,
        "tf32": bool(flags["matmul_tf32"]),
        "deterministic": bool(flags["deterministic"]),
        "cudnn_benchmark": bool(flags["cudnn_benchmark"]),
        "autocast": "bfloat16" if bf16 and mode == "fast" else None,
        "parameters": "float32",
    }
