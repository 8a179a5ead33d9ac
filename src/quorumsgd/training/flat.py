r"""All agents' parameters in one flat ``(agents, size)`` buffer, with named, aligned views for the network.

Why flat: the algorithms of :mod:`quorumsgd.algorithms` are arithmetic on arrays with an agent axis, so one
:meth:`~quorumsgd.algorithms.QuorumIteration.apply` on the ``(agents, size)`` buffer updates every
parameter tensor of every agent in a handful of fused kernels (the multi-tensor idea of ``torch.optim``'s
``_foreach`` path, taken one step further), and a distributed quorum is *one* ``all_reduce`` per step.

Why aligned: the network's kernels receive *views* of this buffer (a conv weight, a BatchNorm scale, one
agent's row). cuDNN and cuBLAS need their operands on at least a 16-byte boundary -- a view at an odd float
offset crashed the GPU run with ``misaligned address`` -- and vectorized kernels run best on 128 bytes. So
each parameter block starts at a multiple of :data:`ALIGN_ELEMENTS` elements and each row is a multiple of
it long: with the allocators' own alignment (64 bytes on CPU, 512 on CUDA) every view starts on a 128-byte
boundary (fp32). The padding is zero and stays zero: no loss depends on it, so its gradient is zero, and
every update rule of the library is linear in (position, velocity, gradient). ``n_params`` counts the real
parameters; ``size`` is the padded row length.

Example:
    >>> import torch
    >>> from torch import nn
    >>> models = [nn.Linear(2, 3) for _ in range(4)]
    >>> layout = ParamLayout.from_module(models[0])
    >>> flat = layout.stack(models)
    >>> flat.shape, layout.n_params, layout.offsets, layout.unflatten(flat)["weight"].shape
    (torch.Size([4, 64]), 9, (0, 32), torch.Size([4, 3, 2]))
    >>> rows = torch.stack([torch.cat([m.weight.detach().flatten(), m.bias.detach()]) for m in models])
    >>> torch.equal(layout.compact(flat), rows), torch.equal(layout.expand(rows), flat)
    (True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import stack_module_state

ALIGN_BYTES = 128
"""The boundary every tensor handed to a kernel starts on (cuDNN / cuBLAS need 16; 128 is a cache line pair)."""
ALIGN_ELEMENTS = ALIGN_BYTES // 4
"""Offsets and row lengths of the flat buffer are multiples of this many elements (128 bytes of fp32)."""
REQUIRED_BYTES = 16
"""The boundary cuDNN / cuBLAS operands must start on; :func:`aligned` copies a view that misses it."""


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def is_aligned(tensor: torch.Tensor, alignment: int = REQUIRED_BYTES) -> bool:
    """Whether ``tensor``'s first element sits on an ``alignment``-byte boundary (empty tensors are)."""
    return tensor.numel() == 0 or tensor.data_ptr() % alignment == 0


def aligned(tensor: torch.Tensor, alignment: int = REQUIRED_BYTES) -> torch.Tensor:
    """``tensor`` itself if it starts on an ``alignment``-byte boundary, else an aligned copy.

    Reads only the tensor's address (host metadata): no device synchronization. New allocations are aligned
    (64 bytes on CPU, 512 on CUDA), so the copy is (for ``alignment`` up to 64).
    """
    if is_aligned(tensor, alignment):
        return tensor
    return tensor.clone(memory_format=torch.contiguous_format)


@dataclass(frozen=True)
class ParamLayout:
    """Names, shapes and (aligned) offsets of a module's parameters inside a flat, padded vector."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    size: int
    n_params: int

    @classmethod
    def from_module(cls, module: nn.Module, align: int = ALIGN_ELEMENTS) -> ParamLayout:
        """The layout of ``module``'s parameters, each block starting at a multiple of ``align`` elements."""
        if any(True for _ in module.buffers()):
            # Buffers (e.g. BatchNorm running statistics) would be per-agent state outside the flat buffer.
            raise ValueError("ParamLayout needs a module without buffers (use track_running_stats=False)")
        names, shapes, offsets, offset, count = [], [], [], 0, 0
        for name, param in module.named_parameters():
            names.append(name)
            shapes.append(tuple(param.shape))
            offsets.append(offset)
            offset = _round_up(offset + param.numel(), align)
            count += param.numel()
        return cls(tuple(names), tuple(shapes), tuple(offsets), max(offset, align), count)

    def stack(self, modules: Sequence[nn.Module]) -> torch.Tensor:
        """Stack the parameters of independent copies (``torch.func.stack_module_state``) into ``(n, size)``."""
        params, _ = stack_module_state(list(modules))
        return self.flatten({name: p.detach() for name, p in params.items()})

    def flatten(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """``{name: (*lead, *shape)}`` to ``(*lead, size)``, zero in the padding."""
        first = params[self.names[0]]
        lead = first.shape[: first.dim() - len(self.shapes[0])]
        flat = first.new_zeros(*lead, self.size)
        for name, shape, offset in zip(self.names, self.shapes, self.offsets, strict=True):
            flat[..., offset : offset + math.prod(shape)] = params[name].reshape(*lead, -1)
        return flat

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views ``{name: (*lead, *shape)}`` into ``flat`` of shape ``(*lead, size)`` (no copy)."""
        lead = flat.shape[:-1]
        views = {}
        for name, shape, offset in zip(self.names, self.shapes, self.offsets, strict=True):
            n = math.prod(shape)
            views[name] = flat[..., offset : offset + n].view(*lead, *shape)
        return views

    def compact(self, flat: torch.Tensor) -> torch.Tensor:
        """The real parameters only, ``(*lead, n_params)``, in the module's order (padding dropped)."""
        return torch.cat([v.reshape(*flat.shape[:-1], -1) for v in self.unflatten(flat).values()], dim=-1)

    def expand(self, compact: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`compact`: ``(*lead, n_params)`` to the padded ``(*lead, size)``."""
        if compact.shape[-1] != self.n_params:
            raise ValueError(f"expected {self.n_params} parameters per row, got {compact.shape[-1]}")
        lead = compact.shape[:-1]
        parts = torch.split(compact, [math.prod(s) for s in self.shapes], dim=-1)
        return self.flatten({n: p.reshape(*lead, *s) for n, p, s in zip(self.names, parts, self.shapes, strict=True)})
