"""Flattening an ensemble state ``{field: (sims, ...)}`` into one matrix ``(sims, N)`` and back.

The exact oracles and the exact-transition scheme treat the whole N-agent system as one vector
:math:`\\mathbf X\\in\\mathbb R^N` (agents' positions, velocities, the EASGD quorum), in a fixed field order.

Example:
    >>> import numpy as np
    >>> lay = StateLayout.of({"x": np.zeros((5, 3, 2)), "quorum": np.zeros((5, 2))})
    >>> lay.size, lay.slices["quorum"]
    (8, slice(6, 8, None))
    >>> s = lay.unflatten(np.arange(16.0).reshape(2, 8))
    >>> s["x"].shape, s["quorum"].tolist()
    ((2, 3, 2), [[6.0, 7.0], [14.0, 15.0]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quorumsgd.types import Array


@dataclass(frozen=True)
class StateLayout:
    """Field names, per-simulation shapes and their slices in the flat vector."""

    shapes: dict[str, tuple[int, ...]]
    slices: dict[str, slice]
    size: int

    @classmethod
    def of(cls, state: dict[str, Array]) -> StateLayout:
        """Layout of a state whose arrays carry a leading simulation axis."""
        shapes, slices, offset = {}, {}, 0
        for name, arr in state.items():
            shape = tuple(arr.shape[1:])
            n = int(np.prod(shape)) if shape else 1
            shapes[name], slices[name] = shape, slice(offset, offset + n)
            offset += n
        return cls(shapes, slices, offset)

    def flatten(self, state: dict[str, Array]) -> Array:
        """``(sims, N)`` from the fields, in layout order (numpy or torch)."""
        parts = [state[name].reshape(state[name].shape[0], -1) for name in self.shapes]
        if type(parts[0]).__module__.startswith("torch"):
            import torch

            return torch.cat(parts, dim=1)
        return np.concatenate(parts, axis=1)

    def unflatten(self, flat: Array) -> dict[str, Array]:
        """Views of ``flat`` (``(sims, N)``) shaped as the fields."""
        sims = flat.shape[0]
        return {name: flat[:, self.slices[name]].reshape((sims, *shape))
                for name, shape in self.shapes.items()}

    def index(self, name: str) -> np.ndarray:
        """Flat indices of a field, shaped like the field (e.g. ``(agents, dim)``)."""
        sl = self.slices[name]
        return np.arange(sl.start, sl.stop).reshape(self.shapes[name])
