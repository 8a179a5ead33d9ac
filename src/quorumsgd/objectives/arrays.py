"""Tiny array-namespace helpers so that one objective definition runs on numpy and torch alike.

Example:
    >>> import numpy as np
    >>> namespace(np.zeros(2)) is np
    True
    >>> constant(np.eye(2), like=np.zeros(3, dtype=np.float32)).dtype
    dtype('float32')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quorumsgd.algorithms.ops import is_torch
from quorumsgd.types import Array


def namespace(x: Array) -> Any:
    """The module whose elementwise functions apply to ``x`` (``torch`` or ``numpy``)."""
    if is_torch(x):
        import torch

        return torch
    return np


_CONSTANTS: dict[tuple[Any, ...], tuple[np.ndarray, Any]] = {}


def constant(value: np.ndarray | float, like: Array) -> Array:
    """``value`` as an array of ``like``'s backend, dtype and device (cached: objectives call it per step).

    The cache is keyed on the identity of ``value`` and holds a reference to it, so an id can never be reused
    by another array while its entry exists (constants are small; the cache only grows with objectives).
    """
    if type(like) is np.ndarray and type(value) is np.ndarray:  # the numpy engine's hot path
        if like.dtype == value.dtype or like.dtype == object:
            return value
        key = (id(value), like.dtype)
        hit = _CONSTANTS.get(key)
        if hit is None:
            hit = (value, value.astype(like.dtype))
            _CONSTANTS[key] = hit
        return hit[1]
    if not isinstance(value, np.ndarray):
        return value
    if is_torch(like):
        import torch

        key = (id(value), like.dtype, like.device)
        hit = _CONSTANTS.get(key)
        if hit is None:
            hit = (value, torch.as_tensor(value, dtype=like.dtype, device=like.device))
            _CONSTANTS[key] = hit
        return hit[1]
    if value.dtype == like.dtype or like.dtype == object:
        return value
    key = (id(value), like.dtype)
    hit = _CONSTANTS.get(key)
    if hit is None:
        hit = (value, value.astype(like.dtype))
        _CONSTANTS[key] = hit
    return hit[1]


def sum_last(x: Array) -> Array:
    """Sum over the last axis (the parameter dimension)."""
    return x.sum(dim=-1) if is_torch(x) else np.sum(x, axis=-1)


def norm_last(x: Array) -> Array:
    """Euclidean norm over the last axis."""
    return namespace(x).sqrt(sum_last(x * x))
