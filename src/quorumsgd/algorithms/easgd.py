r"""Elastic-averaging SGD in continuous time, eqs. (4)--(5), and general quorum filters (Sec. 6.2, App. A).

.. math::
    d\mathbf x^i=\big(-\nabla f(\mathbf x^i)+k(\tilde{\mathbf x}-\mathbf x^i)\big)dt
        +\sqrt{\tfrac{\eta}{b}}\mathbf B(\mathbf x^i)d\mathbf W^i ,\qquad
    \dot{\tilde{\mathbf x}}=k\,p\,(\bar{\mathbf x}-\tilde{\mathbf x}) .

The discrete form (3) is :func:`quorumsgd.algorithms.discrete.easgd_iteration`.

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms.ops import SIM_OPS
    >>> alg = EASGD(coupling=1.0)
    >>> s = alg.init(np.array([[[1.0], [3.0]]]), SIM_OPS)     # quorum starts at the agents' mean
    >>> s["quorum"].tolist(), alg.drift(s, lambda y: 0 * y, SIM_OPS)["quorum"].tolist()
    ([[2.0]], [[0.0]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, final

from quorumsgd.algorithms.base import ContinuousAlgorithm, GradFn, State
from quorumsgd.algorithms.coupling import common_input_pull, quorum_relaxation
from quorumsgd.algorithms.ops import AgentOps, Array


@final
@dataclass(frozen=True)
class EASGD(ContinuousAlgorithm):
    r"""EASGD (4)--(5). ``filter_rate`` defaults to :math:`kp` (Zhang et al.'s :math:`\beta=p\alpha`)."""

    coupling: float = 1.0
    filter_rate: float | None = None

    state_fields: ClassVar[tuple[str, ...]] = ("x", "quorum")

    def init(self, x0: Array, ops: AgentOps) -> State:
        return {"x": x0, "quorum": ops.mean(x0)}

    def rate(self, n_agents: int) -> float:
        """The low-pass filter's rate :math:`kp` (or ``filter_rate``)."""
        return self.coupling * n_agents if self.filter_rate is None else self.filter_rate

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        x, quorum = state["x"], state["quorum"]
        return {
            "x": -grad(x) + common_input_pull(x, quorum, ops, self.coupling),
            "quorum": quorum_relaxation(quorum, x, ops, self.rate(ops.n_agents(x))),
        }


QuorumDynamics = Callable[[Array, Array, AgentOps, Any], Array]
"""``g(quorum, x, ops, t)``: the quorum's drift as a function of the quorum and the agents (eq. (65))."""


@final
@dataclass(frozen=True)
class QuorumFilterSGD(ContinuousAlgorithm):
    r"""Agents coupled to an arbitrary quorum filter, App. A (65): :math:`\dot{\tilde{\mathbf x}}=\mathbf g(\tilde{\mathbf x},\mathbf x^1..\mathbf x^p,t)`.

    With ``quorum_dynamics = lambda q, x, ops, t: k * p * (ops.mean(x) - q)`` this is EASGD; with one agent
    it is the single-agent "SGD in feedback with a filter of its own output" of Sec. 6.2.
    """

    coupling: float
    quorum_dynamics: QuorumDynamics

    state_fields: ClassVar[tuple[str, ...]] = ("x", "quorum")

    def init(self, x0: Array, ops: AgentOps) -> State:
        return {"x": x0, "quorum": ops.mean(x0)}

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        x, quorum = state["x"], state["quorum"]
        return {
            "x": -grad(x) + common_input_pull(x, quorum, ops, self.coupling),
            "quorum": self.quorum_dynamics(quorum, x, ops, t),
        }
