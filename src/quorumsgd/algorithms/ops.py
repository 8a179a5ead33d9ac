"""Backend-agnostic array operations over an agent axis.

Every algorithm in :mod:`quorumsgd.algorithms` is written once, as arithmetic on arrays that carry an agent
axis. The same code then runs on

* numpy arrays shaped ``(sims, agents, dim)`` (Monte Carlo, agent axis ``-2``),
* torch tensors shaped ``(sims, agents, dim)`` on CPU or CUDA, or ``(agents, *param_shape)`` for stacked
  network parameters (agent axis ``0``),
* numpy *object* arrays of SymPy symbols, from which :mod:`quorumsgd.contraction` builds Jacobians,
* a rank-local slice of the agents in a ``torch.distributed`` job, where the quorum is an ``all_reduce``.

The only thing an algorithm needs to know about the ensemble is how to average over agents and how to
broadcast an agent-free quorum back against the agents: that is :class:`AgentOps`.

Example:
    >>> import numpy as np
    >>> ops = AgentOps(axis=-2)
    >>> x = np.arange(12.0).reshape(1, 3, 4)          # (sims, agents, dim)
    >>> ops.mean(x).shape                             # the quorum has no agent axis
    (1, 4)
    >>> (ops.expand(ops.mean(x)) - x).sum()           # deviations from the mean sum to zero
    np.float64(0.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from quorumsgd.types import Array


def is_torch(x: Array) -> bool:
    """True for torch tensors, without importing torch for numpy / SymPy users."""
    return type(x).__module__.startswith("torch")


def expand_dims(x: Array, axis: int) -> Array:
    """Insert a length-one axis (``np.expand_dims`` / ``Tensor.unsqueeze``)."""
    if is_torch(x):
        return x.unsqueeze(axis)
    if isinstance(x, np.ndarray):
        # A reshape is a view like np.expand_dims, at a fraction of its per-call cost (hot in the engine).
        pos = axis if axis >= 0 else x.ndim + 1 + axis
        if not 0 <= pos <= x.ndim:
            raise np.exceptions.AxisError(axis, x.ndim + 1)
        return x.reshape((*x.shape[:pos], 1, *x.shape[pos:]))
    return np.expand_dims(x, axis)


_MATMUL_SUM_MIN_SIZE = 4096
_ONES: dict[tuple[int, str], np.ndarray] = {}


def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    key = (n, dtype.str)
    hit = _ONES.get(key)
    if hit is None:
        hit = _ONES[key] = np.ones(n, dtype=dtype)
    return hit


_MEAN_WEIGHTS: dict[tuple[int, str], np.ndarray] = {}


def _mean_weights(n: int, dtype: np.dtype) -> np.ndarray:
    key = (n, dtype.str)
    hit = _MEAN_WEIGHTS.get(key)
    if hit is None:
        hit = _MEAN_WEIGHTS[key] = np.full(n, 1.0 / n, dtype=dtype)
    return hit


def sum_axis(x: Array, axis: int) -> Array:
    """Sum over one axis, dropping it (works on object arrays of SymPy expressions too)."""
    if is_torch(x):
        return x.sum(dim=axis)
    if (
        isinstance(x, np.ndarray)
        and x.dtype.kind == "f"
        and x.ndim >= 2
        and x.size >= _MATMUL_SUM_MIN_SIZE
        and axis % x.ndim in (0, x.ndim - 2)
    ):
        # numpy's strided reduction over a middle axis with a short inner axis (agents in (sims, agents,
        # dim)) is ~10x slower than a BLAS product with a ones vector; same sum, different rounding order.
        ones = _ones(x.shape[axis], x.dtype)
        if axis % x.ndim == x.ndim - 2:
            return ones @ x
        return (ones @ x.reshape(x.shape[0], -1)).reshape(x.shape[1:])
    if isinstance(x, np.ndarray):
        return np.add.reduce(x, axis=axis)  # skips np.sum's Python-level dispatch (small arrays, hot loop)
    return np.sum(x, axis=axis)


def sqrt(x: Array) -> Array:
    if is_torch(x):
        return x.sqrt()
    if isinstance(x, np.ndarray) and x.dtype == object:
        import sympy

        return np.vectorize(sympy.sqrt, otypes=[object])(x)
    return np.sqrt(x)


def exp(x: Array) -> Array:
    if is_torch(x):
        return x.exp()
    if isinstance(x, np.ndarray) and x.dtype == object:
        import sympy

        return np.vectorize(sympy.exp, otypes=[object])(x)
    return np.exp(x)


@dataclass(frozen=True)
class AgentOps:
    """How an ensemble of agents is laid out, and how its quorum (the agents' mean) is computed.

    Attributes:
        axis: index of the agent axis in agent-carrying arrays (``-2`` for ``(sims, agents, dim)``,
            ``0`` for stacked network parameters ``(agents, ...)``).
        all_reduce_sum: optional reduction that sums a rank-local partial sum over every process of a
            distributed job (``torch.distributed.all_reduce``); ``None`` for a single process.
        n_agents_total: number of agents over all processes when ``all_reduce_sum`` is set.
    """

    axis: int = -2
    all_reduce_sum: Callable[[Array], Array] | None = None
    n_agents_total: int | None = None

    def n_agents(self, x: Array) -> int:
        """Number of agents in the whole ensemble (all ranks)."""
        if self.all_reduce_sum is not None:
            if self.n_agents_total is None:
                raise ValueError("n_agents_total must be set when all_reduce_sum is given")
            return self.n_agents_total
        return int(x.shape[self.axis])

    def sum(self, x: Array) -> Array:
        """Sum over all agents (over every rank when distributed); the agent axis is dropped."""
        local = sum_axis(x, self.axis)
        return local if self.all_reduce_sum is None else self.all_reduce_sum(local)

    def mean(self, x: Array) -> Array:
        r"""The quorum of QSGD, :math:`\bar{\mathbf x} = \frac1p\sum_i \mathbf x^i`, without the agent axis."""
        if (type(x) is np.ndarray and self.all_reduce_sum is None and x.dtype.kind == "f" and x.ndim >= 2
                and self.axis % x.ndim == x.ndim - 2):
            # One BLAS product with a (1/p) vector: the sum and the division in one call, which matters in
            # the Monte Carlo engine's per-step budget for small ensembles and for large ones alike.
            return _mean_weights(x.shape[-2], x.dtype) @ x
        return self.sum(x) / self.n_agents(x)

    def expand(self, quorum: Array) -> Array:
        """Re-insert the agent axis into an agent-free array so that it broadcasts against the agents."""
        # numpy and torch both normalise a negative axis against the *output* rank, which is the agent
        # array's rank, so the agent axis index can be used as is.
        if self.axis == -2 and type(quorum) is np.ndarray and quorum.ndim >= 1:
            return quorum[..., None, :]  # basic indexing: a view, cheaper than a general expand_dims
        return expand_dims(quorum, self.axis)


@dataclass(frozen=True)
class ZeroMeanOps(AgentOps):
    """A layout whose quorum does not follow the state: the agents' mean reads as zero.

    Two analyses need it: the virtual system of Thm 2.2 / Thm 3.1, whose quorum is an external input that does
    not depend on the virtual state (so it drops out of the Jacobian), and the difference modes of a linear
    iteration, zero-mean perturbations whose quorum contribution vanishes. The drift stays linear in the state.
    """

    def mean(self, x: Array) -> Array:
        return sum_axis(x, self.axis) * 0


SIM_OPS = AgentOps(axis=-2)
"""Layout of the Monte Carlo engine: ``(sims, agents, dim)``."""

STACKED_OPS = AgentOps(axis=0)
"""Layout of stacked network parameters: ``(agents, *param_shape)``, and of symbolic ``(agents, dim)``."""

ZERO_MEAN_OPS = ZeroMeanOps(axis=-2)
""":class:`ZeroMeanOps` in the ``(sims, agents, dim)`` layout of :func:`quorumsgd.algorithms.linearize.affine_map`."""
