"""The toolkit's shared type aliases, defined once.

``Array`` is what the backend-generic code (algorithms, objectives, the simulator's measures) computes on: a
``numpy.ndarray``, a ``torch.Tensor``, or a numpy object array of SymPy expressions (the symbolic
derivations run the same algorithm definitions). No common static type covers all three without importing
torch, so it is ``Any`` to a type checker; the alias names the intent.
"""

from __future__ import annotations

from typing import Any, TypeAlias

Array: TypeAlias = Any
"""numpy.ndarray | torch.Tensor | numpy object array of SymPy expressions."""

__all__ = ["Array"]
