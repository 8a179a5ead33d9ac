r"""EASGD with a stale quorum: the agents are pulled towards the centre variable of the *previous* step.

In an asynchronous deployment the agents read the centre variable :math:`\tilde{\mathbf x}` once it has been
broadcast, one step late (the one-step-delay model of Zhang, Choromanska & LeCun 2015, Sec. 3, whose
asynchronous EASGD lets each worker use an out-of-date centre). With :math:`\alpha=\eta k`, :math:`\beta=p\alpha`:

.. math::
    \mathbf x^i_{t+1}=\mathbf x^i_t-\eta\,\mathbf g^i_t+\alpha(\tilde{\mathbf x}_{t-1}-\mathbf x^i_t),\qquad
    \tilde{\mathbf x}_{t+1}=\tilde{\mathbf x}_t+\beta(\bar{\mathbf x}_t-\tilde{\mathbf x}_t),

which is EASGD (3) (:func:`quorumsgd.algorithms.easgd_iteration`) with :math:`\tilde{\mathbf x}_t` replaced by the
delayed copy ``stale`` (:math:`\tilde{\mathbf x}_{t-1}`, one more agent-free field). ``delay=0`` is EASGD (3).

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms.ops import SIM_OPS
    >>> it = StaleEASGD(lr=0.1, coupling=1.0, n_agents=2)
    >>> s = it.init(np.array([[[1.0], [3.0]]]), SIM_OPS)
    >>> s = it.apply(s, 0 * s["x"], SIM_OPS)
    >>> s["x"][0, :, 0].round(6).tolist(), s["quorum"].tolist(), s["stale"].tolist()
    ([1.1, 2.9], [[2.0]], [[2.0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, final

from quorumsgd.algorithms.base import DiscreteAlgorithm, State
from quorumsgd.algorithms.coupling import common_input_pull
from quorumsgd.algorithms.ops import AgentOps, Array
from quorumsgd.errors import InvalidParameter


@final
@dataclass(frozen=True)
class StaleEASGD(DiscreteAlgorithm):
    r"""EASGD (3) whose agents see the centre variable ``delay`` steps late (``delay`` in {0, 1})."""

    lr: float
    coupling: float
    n_agents: int
    delay: int = 1

    state_fields: ClassVar[tuple[str, ...]] = ("x", "quorum", "stale")
    agent_fields: ClassVar[tuple[str, ...]] = ("x",)

    def __post_init__(self) -> None:
        if self.delay not in (0, 1):
            raise InvalidParameter("delay", "0 or 1 (steps of staleness)", self.delay, "StaleEASGD")

    @property
    def alpha(self) -> float:
        return self.lr * self.coupling

    @property
    def beta(self) -> float:
        return self.n_agents * self.alpha

    def init(self, x0: Array, ops: AgentOps) -> State:
        quorum = ops.mean(x0)
        return {"x": x0, "quorum": quorum, "stale": quorum}

    def apply(self, state: State, grad: Array, ops: AgentOps, lr: Array | float | None = None) -> State:
        lr = self.lr if lr is None else lr
        x, quorum = state["x"], state["quorum"]
        seen = state["stale"] if self.delay else quorum
        return {
            "x": x - lr * grad + common_input_pull(x, seen, ops, self.alpha),
            "quorum": quorum + self.beta * (ops.mean(x) - quorum),
            "stale": quorum,
        }


__all__ = ["StaleEASGD"]
