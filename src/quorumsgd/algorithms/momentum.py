r"""QSGD with momentum in continuous time, eqs. (32)--(34): coupling on positions and velocities.

.. math::
    d\mathbf x^i=\big(\mathbf v^i+k_x(\bar{\mathbf x}-\mathbf x^i)\big)dt,\qquad
    d\mathbf v^i=\big(-\gamma\mathbf v^i-\nabla f(\mathbf x^i)+k_v(\bar{\mathbf v}-\mathbf v^i)\big)dt
        +\sqrt{\tfrac\eta b}\mathbf B(\mathbf x^i)d\mathbf W^i .

The coupling acts on the position equation, as in EAMSGD and in the discrete iteration (43).

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms.ops import SIM_OPS
    >>> alg = MomentumQSGD(coupling=1.0, damping=2.0)
    >>> s = alg.init(np.array([[[1.0], [3.0]]]), SIM_OPS)
    >>> d = alg.drift(s, lambda y: y, SIM_OPS)
    >>> d["x"][0, :, 0].tolist(), d["v"][0, :, 0].tolist()
    ([1.0, -1.0], [-1.0, -3.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, final

from quorumsgd.algorithms.base import ContinuousAlgorithm, GradFn, State, zeros_like
from quorumsgd.algorithms.coupling import common_input_pull, mean_pull, quorum_relaxation
from quorumsgd.algorithms.ops import AgentOps, Array


@final
@dataclass(frozen=True)
class MomentumQSGD(ContinuousAlgorithm):
    r"""QSGD with heavy-ball momentum (33)--(34); ``coupling`` is :math:`k_x`, ``velocity_coupling`` :math:`k_v`."""

    coupling: float = 1.0
    damping: float = 1.0
    velocity_coupling: float = 0.0

    state_fields: ClassVar[tuple[str, ...]] = ("x", "v")
    agent_fields: ClassVar[tuple[str, ...]] = ("x", "v")
    noisy_field: ClassVar[str] = "v"

    def init(self, x0: Array, ops: AgentOps) -> State:
        return {"x": x0, "v": zeros_like(x0)}

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        x, v = state["x"], state["v"]
        return {
            "x": v + mean_pull(x, ops, self.coupling),
            "v": -self.damping * v - grad(x) + mean_pull(v, ops, self.velocity_coupling),
        }


@final
@dataclass(frozen=True)
class MomentumEASGD(ContinuousAlgorithm):
    r"""EASGD with heavy-ball momentum (continuous EAMSGD): the elastic force acts on the position, as in (43).

    .. math::
        \dot{\mathbf x}^i=\mathbf v^i+k(\tilde{\mathbf x}-\mathbf x^i),\quad
        \dot{\mathbf v}^i=-\gamma\mathbf v^i-\nabla f(\mathbf x^i),\quad
        \dot{\tilde{\mathbf x}}=kp(\bar{\mathbf x}-\tilde{\mathbf x}).

    Assembled from the same coupling primitives as :class:`~quorumsgd.algorithms.EASGD` and
    :class:`MomentumQSGD`.
    """

    coupling: float = 1.0
    damping: float = 1.0
    filter_rate: float | None = None

    state_fields: ClassVar[tuple[str, ...]] = ("x", "v", "quorum")
    agent_fields: ClassVar[tuple[str, ...]] = ("x", "v")
    noisy_field: ClassVar[str] = "v"

    def init(self, x0: Array, ops: AgentOps) -> State:
        return {"x": x0, "v": zeros_like(x0), "quorum": ops.mean(x0)}

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        x, v, quorum = state["x"], state["v"], state["quorum"]
        rate = self.coupling * ops.n_agents(x) if self.filter_rate is None else self.filter_rate
        return {
            "x": v + common_input_pull(x, quorum, ops, self.coupling),
            "v": -self.damping * v - grad(x),
            "quorum": quorum_relaxation(quorum, x, ops, rate),
        }
