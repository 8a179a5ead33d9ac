r"""All agents' parameters in one flat ``(agents, n_params)`` buffer, with named views for the network.

Why flat: the algorithms of :mod:`quorumsgd.algorithms` are arithmetic on arrays with an agent axis, so one
:meth:`~quorumsgd.algorithms.QuorumIteration.apply` on the ``(agents, n_params)`` buffer updates every
parameter tensor of every agent in a handful of fused kernels (the multi-tensor idea of ``torch.optim``'s
``_foreach`` path, taken one step further), and a distributed quorum is *one* ``all_reduce`` per step.

Example:
    >>> import torch
    >>> from torch import nn
    >>> models = [nn.Linear(2, 3) for _ in range(4)]
    >>> layout = ParamLayout.from_module(models[0])
    >>> flat = layout.stack(models)
    >>> flat.shape, layout.unflatten(flat)["weight"].shape
    (torch.Size([4, 9]), torch.Size([4, 3, 2]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import stack_module_state


@dataclass(frozen=True)
class ParamLayout:
    """Names, shapes and offsets of a module's parameters inside a flat vector."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    size: int

    @classmethod
    def from_module(cls, module: nn.Module) -> ParamLayout:
        if any(True for _ in module.buffers()):
            # Buffers (e.g. BatchNorm running statistics) would be per-agent state outside the flat buffer.
            raise ValueError("ParamLayout needs a module without buffers (use track_running_stats=False)")
        names, shapes, offsets, offset = [], [], [], 0
        for name, param in module.named_parameters():
            names.append(name)
            shapes.append(tuple(param.shape))
            offsets.append(offset)
            offset += param.numel()
        return cls(tuple(names), tuple(shapes), tuple(offsets), offset)

    def stack(self, modules: Sequence[nn.Module]) -> torch.Tensor:
        """Stack the parameters of independent copies (``torch.func.stack_module_state``) into ``(n, size)``."""
        params, _ = stack_module_state(list(modules))
        return self.flatten({name: p.detach() for name, p in params.items()})

    def flatten(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """``{name: (agents, *shape)}`` to ``(agents, size)``."""
        first = params[self.names[0]]
        lead = first.shape[: first.dim() - len(self.shapes[0])]
        return torch.cat([params[n].reshape(*lead, -1) for n in self.names], dim=-1).contiguous()

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views ``{name: (*lead, *shape)}`` into ``flat`` of shape ``(*lead, size)`` (no copy)."""
        lead = flat.shape[:-1]
        views = {}
        for name, shape, offset in zip(self.names, self.shapes, self.offsets, strict=True):
            n = math.prod(shape)
            views[name] = flat[..., offset : offset + n].view(*lead, *shape)
        return views
