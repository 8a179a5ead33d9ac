r"""Gossip SGD on a graph: the quorum replaced by a doubly stochastic mixing matrix (decentralized SGD).

QSGD pulls every agent towards the mean, :math:`k(\bar{\mathbf x}-\mathbf x^i)=k\big((\mathbf J-\mathbf I)\mathbf x\big)^i`
with :math:`\mathbf J=\frac1p\mathbf 1\mathbf 1^{\mathsf T}`; on a graph each agent only sees its neighbours, and
:math:`\mathbf J` becomes a symmetric doubly stochastic mixing matrix :math:`\mathbf W` supported on the edges:

.. math::
    \text{continuous: } d\mathbf x^i=\Big(-\nabla f(\mathbf x^i)+k\big((\mathbf W-\mathbf I)\mathbf x\big)^i\Big)dt
        +\sqrt{\tfrac\eta b}\,\mathbf B\,d\mathbf W^i,\qquad
    \text{discrete: } \mathbf x^i_{t+1}=\mathbf x^i_t-\eta\,\mathbf g^i_t+\gamma\big((\mathbf W-\mathbf I)\mathbf x_t\big)^i .

With :math:`\gamma=1` the iteration is D-PSGD, :math:`\mathbf x_{t+1}=\mathbf W\mathbf x_t-\eta\mathbf g_t`
(Lian et al. 2017; Koloskova et al. 2020, "A unified theory of decentralized SGD", their Algorithm 1 with the
gradient step and the gossip step applied to the same iterate). The disagreement contracts at the rate of the
spectral gap :math:`\delta=1-\max_{i\ge2}|\lambda_i(\mathbf W)|`: that is where the graph enters every bound.

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms.ops import SIM_OPS
    >>> w = ring_mixing(4)
    >>> w.sum(axis=0).tolist(), round(spectral_gap(w), 6)
    ([1.0, 1.0, 1.0, 1.0], 0.666667)
    >>> it = GossipIteration(lr=0.1, mixing=w)
    >>> x = np.array([[[1.0], [0.0], [0.0], [0.0]]])
    >>> it.apply({"x": x}, 0 * x, SIM_OPS)["x"][0, :, 0].round(6).tolist()   # W x: the neighbours get 1/3
    [0.333333, 0.333333, 0.0, 0.333333]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, final

import numpy as np

from quorumsgd.algorithms.base import ContinuousAlgorithm, DiscreteAlgorithm, GradFn, State
from quorumsgd.algorithms.ops import AgentOps, Array, is_torch
from quorumsgd.errors import InvalidParameter


def ring_mixing(n_agents: int, self_weight: float = 1.0 / 3.0) -> np.ndarray:
    r"""The ring: :math:`\mathbf W=w_0\mathbf I+\frac{1-w_0}2(\mathbf S+\mathbf S^{\mathsf T})` (:math:`\mathbf S` the cyclic shift).

    Uniform weights 1/3 by default (Koloskova et al. 2020, Sec. 6); its spectral gap is
    :math:`\frac23(1-\cos\frac{2\pi}p)\approx\frac{4\pi^2}{3p^2}`.
    """
    if n_agents < 1:
        raise InvalidParameter("n_agents", ">= 1", n_agents, "ring_mixing")
    if not 0.0 <= self_weight <= 1.0:
        raise InvalidParameter("self_weight", "0 <= self_weight <= 1", self_weight, "ring_mixing")
    if n_agents <= 2:
        return np.full((n_agents, n_agents), 1.0 / n_agents)
    shift = np.roll(np.eye(n_agents), 1, axis=1)
    return self_weight * np.eye(n_agents) + 0.5 * (1.0 - self_weight) * (shift + shift.T)


def random_regular_graph(n_agents: int, degree: int, seed: int = 0) -> np.ndarray:
    """Adjacency matrix of a uniformly drawn simple ``degree``-regular graph (pairing model with rejection)."""
    if degree < 1 or degree >= n_agents or (n_agents * degree) % 2:
        raise InvalidParameter(
            "degree",
            f"1 <= degree < n_agents with n_agents * degree even (n_agents={n_agents})",
            degree,
            "random_regular_graph",
        )
    rng = np.random.default_rng(seed)
    for _ in range(10_000):
        stubs = rng.permutation(np.repeat(np.arange(n_agents), degree)).reshape(-1, 2)
        a, b = stubs[:, 0], stubs[:, 1]
        adj = np.zeros((n_agents, n_agents))
        np.add.at(adj, (a, b), 1.0)
        np.add.at(adj, (b, a), 1.0)
        if np.all(a != b) and adj.max() <= 1.0 and _connected(adj):
            return adj
    raise InvalidParameter(
        "degree", "a value for which a connected simple regular graph was found", degree, "random_regular_graph"
    )


def _connected(adj: np.ndarray) -> bool:
    seen = np.zeros(adj.shape[0], dtype=bool)
    seen[0] = True
    for _ in range(adj.shape[0]):
        seen = seen | (adj[seen].sum(axis=0) > 0)
    return bool(seen.all())


def regular_mixing(adjacency: np.ndarray) -> np.ndarray:
    r"""Metropolis weights of a regular graph: :math:`\mathbf W=\mathbf I-\frac1{d+1}\mathbf L` (every weight 1/(d+1))."""
    degree = adjacency.sum(axis=1)
    if not np.allclose(degree, degree[0]):
        raise InvalidParameter("adjacency", "a regular graph (every degree equal)", degree.tolist(), "regular_mixing")
    return np.eye(adjacency.shape[0]) - (np.diag(degree) - adjacency) / (degree[0] + 1.0)


def random_regular_mixing(n_agents: int, degree: int = 3, seed: int = 0) -> np.ndarray:
    """:func:`regular_mixing` of :func:`random_regular_graph` (the expander-like topology of the comparisons)."""
    return regular_mixing(random_regular_graph(n_agents, degree, seed))


def spectral_gap(mixing: np.ndarray) -> float:
    r""":math:`\delta=1-\max_{i\ge2}|\lambda_i(\mathbf W)|` of a symmetric mixing matrix (Koloskova et al. 2020, Def. 1)."""
    eig = np.sort(np.abs(np.linalg.eigvalsh(0.5 * (mixing + mixing.T))))
    return float(1.0 - (eig[-2] if eig.size > 1 else 0.0))


def check_mixing(mixing: Any, where: str) -> np.ndarray:
    """A symmetric, doubly stochastic, nonnegative square matrix, or one clear error naming what fails."""
    w = np.asarray(mixing, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise InvalidParameter("mixing", "a square (agents, agents) matrix", w.shape, where)
    if not np.allclose(w, w.T, atol=1e-12):
        raise InvalidParameter("mixing", "symmetric", "an asymmetric matrix", where)
    if np.any(w < -1e-12) or not np.allclose(w.sum(axis=1), 1.0, atol=1e-12):
        raise InvalidParameter(
            "mixing",
            "doubly stochastic (nonnegative, rows and columns sum to 1)",
            w.sum(axis=1).round(6).tolist(),
            where,
        )
    return w


def mix(x: Array, mixing: np.ndarray, ops: AgentOps) -> Array:
    r""":math:`(\mathbf W\mathbf x)^i=\sum_jW_{ij}\mathbf x^j` along the agent axis (numpy, torch, SymPy object arrays)."""
    if ops.all_reduce_sum is not None:
        raise InvalidParameter(
            "ops", "a single-process layout (gossip needs every agent's state)", "distributed", "gossip"
        )
    p = x.shape[ops.axis]
    if mixing.shape != (p, p):
        raise InvalidParameter("mixing", f"shape ({p}, {p}) to match the {p} agents", mixing.shape, "gossip")
    if is_torch(x):
        import torch

        w = torch.as_tensor(mixing, dtype=x.dtype, device=x.device)
        return torch.movedim(torch.tensordot(w, x, dims=([1], [ops.axis])), 0, ops.axis)
    return np.moveaxis(np.tensordot(mixing, x, axes=([1], [ops.axis % x.ndim])), 0, ops.axis)


@final
@dataclass(frozen=True, eq=False)
class Gossip(ContinuousAlgorithm):
    r"""Continuous gossip SGD: :math:`d\mathbf x=(-\nabla f(\mathbf x)+k(\mathbf W-\mathbf I)\mathbf x)dt+\dots`.

    With :math:`\mathbf W=\mathbf J` (the complete graph with weights 1/p) it is QSGD (6).
    """

    mixing: np.ndarray = field(repr=False)
    coupling: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixing", check_mixing(self.mixing, "Gossip"))

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        x = state["x"]
        return {"x": -grad(x) + self.coupling * (mix(x, self.mixing, ops) - x)}


@final
@dataclass(frozen=True, eq=False)
class GossipIteration(DiscreteAlgorithm):
    r"""D-PSGD: :math:`\mathbf x_{t+1}=\mathbf x_t-\eta\mathbf g_t+\gamma(\mathbf W-\mathbf I)\mathbf x_t` (``gossip_step`` :math:`\gamma`)."""

    lr: float
    mixing: np.ndarray = field(repr=False)
    gossip_step: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixing", check_mixing(self.mixing, "GossipIteration"))

    def apply(self, state: State, grad: Array, ops: AgentOps, lr: Array | float | None = None) -> State:
        lr = self.lr if lr is None else lr
        x = state["x"]
        return {"x": x - lr * grad + self.gossip_step * (mix(x, self.mixing, ops) - x)}


__all__ = [
    "Gossip",
    "GossipIteration",
    "check_mixing",
    "mix",
    "random_regular_graph",
    "random_regular_mixing",
    "regular_mixing",
    "ring_mixing",
    "spectral_gap",
]
