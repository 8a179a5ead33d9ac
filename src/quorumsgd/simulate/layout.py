"""The flat layout of an ensemble state; defined in :mod:`quorumsgd.algorithms.layout` (this name stays importable)."""

from quorumsgd.algorithms.layout import StateLayout

__all__ = ["StateLayout"]
