r"""The quantities the paper's theorems bound, as functions of an ensemble state (one value per simulation).

=========================  =====================================================================  ============
name                       value per simulation                                                   paper
=========================  =====================================================================  ============
``center_error``           :math:`\|\bar{\mathbf x}-\mathbf x^*\|`                                 (47), (48)
``center_error_sq``        :math:`\|\bar{\mathbf x}-\mathbf x^*\|^2`                               C1, (59)
``spread``                 :math:`\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2`                         (22)
``disturbance``            :math:`\|\boldsymbol\epsilon\|`, :math:`\boldsymbol\epsilon=\frac1p\sum_i\nabla f(\mathbf x^i)-\nabla f(\bar{\mathbf x})`  (27), (31)
``quorum_error``           :math:`\|\tilde{\mathbf x}-\mathbf x^*\|` (EASGD's quorum)              Thm 5.2
``center_quorum_error``    :math:`\|(\bar{\mathbf x},\tilde{\mathbf x})-(\mathbf x^*,\mathbf x^*)\|`  (51)
``center_velocity_error``  :math:`\|(\bar{\mathbf x},\bar{\mathbf v})-(\mathbf x^*,\mathbf 0)\|`    (54)
``*_sq`` of the two above  their squares: the second moments the SDP certificates bound            Sec. 5
``center_loss``            :math:`f(\bar{\mathbf x})` (the quorum loss of Fig. 4(c))              Figs 1--6
``agent_loss``             :math:`\frac1p\sum_i f(\mathbf x^i)`                                    Figs 1--6
=========================  =====================================================================  ============

A custom measure is any callable ``(state, context) -> array of shape (sims,)``.

Example:
    >>> import numpy as np
    >>> from quorumsgd.objectives import Quadratic
    >>> ctx = MeasureContext.build(Quadratic.isotropic(1), np.zeros(1))
    >>> x = np.array([[[0.0], [2.0]]])                 # one simulation, two agents
    >>> MEASURES["spread"]({"x": x}, ctx).tolist(), MEASURES["center_error"]({"x": x}, ctx).tolist()
    ([2.0], [1.0])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from quorumsgd.algorithms.ops import SIM_OPS, AgentOps
from quorumsgd.objectives.arrays import constant, norm_last, sum_last
from quorumsgd.objectives.base import Objective
from quorumsgd.types import Array

State = dict[str, Array]


class MeasureContext:
    """What a measure may need besides the state: the objective, its minimizer, the agent layout.

    The minimizer is computed on first use only (a surrogate's is a numerical search).
    """

    def __init__(self, objective: Objective, minimizer: np.ndarray | None = None, ops: AgentOps = SIM_OPS):
        self.objective, self.ops = objective, ops
        self._minimizer = None if minimizer is None else np.asarray(minimizer, dtype=np.float64)

    @classmethod
    def build(cls, objective: Objective, minimizer: np.ndarray | None = None, ops: AgentOps = SIM_OPS
              ) -> MeasureContext:
        return cls(objective, minimizer, ops)

    @property
    def minimizer(self) -> np.ndarray:
        if self._minimizer is None:
            self._minimizer = np.asarray(self.objective.minimizer, dtype=np.float64)
        return self._minimizer

    def x_star(self, like: Array) -> Array:
        return constant(self.minimizer, like=like)


Measure = Callable[[State, MeasureContext], Array]


def center_error(state: State, ctx: MeasureContext) -> Array:
    c = ctx.ops.mean(state["x"])
    return norm_last(c - ctx.x_star(c))


def center_error_sq(state: State, ctx: MeasureContext) -> Array:
    c = ctx.ops.mean(state["x"])
    d = c - ctx.x_star(c)
    return sum_last(d * d)


def spread(state: State, ctx: MeasureContext) -> Array:
    x = state["x"]
    d = x - ctx.ops.expand(ctx.ops.mean(x))
    return sum_last(ctx.ops.sum(d * d))


def disturbance(state: State, ctx: MeasureContext) -> Array:
    x = state["x"]
    eps = ctx.ops.mean(ctx.objective.grad(x)) - ctx.objective.grad(ctx.ops.mean(x))
    return norm_last(eps)


def quorum_error(state: State, ctx: MeasureContext) -> Array:
    q = state["quorum"]
    return norm_last(q - ctx.x_star(q))


def center_quorum_error_sq(state: State, ctx: MeasureContext) -> Array:
    q = state["quorum"]
    return center_error_sq(state, ctx) + sum_last((q - ctx.x_star(q)) ** 2)


def center_quorum_error(state: State, ctx: MeasureContext) -> Array:
    return center_quorum_error_sq(state, ctx) ** 0.5


def center_velocity_error_sq(state: State, ctx: MeasureContext) -> Array:
    v = ctx.ops.mean(state["v"])
    return center_error_sq(state, ctx) + sum_last(v * v)


def center_velocity_error(state: State, ctx: MeasureContext) -> Array:
    return center_velocity_error_sq(state, ctx) ** 0.5


def center_loss(state: State, ctx: MeasureContext) -> Array:
    return ctx.objective.value(ctx.ops.mean(state["x"]))


def agent_loss(state: State, ctx: MeasureContext) -> Array:
    values = ctx.objective.value(state["x"])  # (sims, agents): the agent axis is now the last one
    return values.mean(-1) if hasattr(values, "dim") and callable(values.dim) else np.mean(values, axis=-1)


MEASURES: dict[str, Measure] = {
    "center_error": center_error,
    "center_error_sq": center_error_sq,
    "spread": spread,
    "disturbance": disturbance,
    "quorum_error": quorum_error,
    "center_quorum_error": center_quorum_error,
    "center_velocity_error": center_velocity_error,
    "center_quorum_error_sq": center_quorum_error_sq,
    "center_velocity_error_sq": center_velocity_error_sq,
    "center_loss": center_loss,
    "agent_loss": agent_loss,
}

REQUIRED_FIELDS: dict[str, str] = {
    "quorum_error": "quorum",
    "center_quorum_error": "quorum",
    "center_velocity_error": "v",
    "center_quorum_error_sq": "quorum",
    "center_velocity_error_sq": "v",
}
"""State fields a measure needs beyond the positions."""

SECOND_MOMENTS: dict[str, str] = {
    "center_error": "center_error_sq",
    "center_quorum_error": "center_quorum_error_sq",
    "center_velocity_error": "center_velocity_error_sq",
    "spread": "spread",  # already a second moment
}
"""The squared statistic of each norm a theorem bounds: the quantity the SDP certificates bound."""
