r"""Local SGD: every agent takes plain SGD steps and the agents average every ``period`` steps (H).

.. math::
    \mathbf x^i_{t+\frac12}=\mathbf x^i_t-\eta\,\mathbf g^i_t,\qquad
    \mathbf x^i_{t+1}=\begin{cases}\frac1p\sum_j\mathbf x^j_{t+\frac12} & (t+1)\equiv0 \pmod H\\
    \mathbf x^i_{t+\frac12} & \text{otherwise}\end{cases}

(Stich 2019, "Local SGD converges fast and communicates little"; Woodworth et al. 2020, "Is local SGD better
than minibatch SGD?"). The iteration is *time-varying* with period :math:`H`: the position in the period is the
agent-free state field ``clock`` (:math:`0..H-1`), a schedule and not a dynamic variable. The certificates of
:func:`quorumsgd.bounds.own_algorithm` read this convention (``period`` and ``clock_field``) and certify the
:math:`H`-step map with one Lyapunov matrix per phase; everything else (the simulator, the training loop) just
runs :meth:`LocalSGD.apply`.

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms.ops import SIM_OPS
    >>> it = LocalSGD(lr=0.5, period=2)
    >>> s = it.init(np.array([[[1.0], [3.0]]]), SIM_OPS)
    >>> s = it.apply(s, s["x"], SIM_OPS); s["x"][0, :, 0].tolist(), s["clock"].tolist()   # local step
    ([0.5, 1.5], [[1.0]])
    >>> s = it.apply(s, s["x"], SIM_OPS); s["x"][0, :, 0].tolist(), s["clock"].tolist()   # local step, average
    ([0.5, 0.5], [[0.0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, final

from quorumsgd.algorithms.base import DiscreteAlgorithm, State, zeros_like
from quorumsgd.algorithms.coupling import mean_pull
from quorumsgd.algorithms.ops import AgentOps, Array
from quorumsgd.errors import InvalidParameter


@final
@dataclass(frozen=True)
class LocalSGD(DiscreteAlgorithm):
    """Local SGD with periodic averaging (see the module docstring); ``period=1`` is mini-batch-like QSGD with k = 1/lr."""

    lr: float
    period: int = 4

    state_fields: ClassVar[tuple[str, ...]] = ("x", "clock")
    agent_fields: ClassVar[tuple[str, ...]] = ("x",)
    clock_field: ClassVar[str] = "clock"

    def __post_init__(self) -> None:
        if int(self.period) != self.period or self.period < 1:
            raise InvalidParameter("period", "an integer >= 1", self.period, "LocalSGD")

    def init(self, x0: Array, ops: AgentOps) -> State:
        # the clock has the shape of an agent-free field of one coordinate: (sims, 1)
        return {"x": x0, "clock": zeros_like(ops.sum(x0))[..., :1]}

    def apply(self, state: State, grad: Array, ops: AgentOps, lr: Array | float | None = None) -> State:
        lr = self.lr if lr is None else lr
        clock = state["clock"]
        ticked = (clock + 1) % self.period
        due = 1.0 * (ticked < 0.5)  # 1 at the averaging steps; a float of the state's backend (numpy or torch)
        x = state["x"] - lr * grad
        return {"x": x + ops.expand(due) * mean_pull(x, ops, 1.0), "clock": ticked}


__all__ = ["LocalSGD"]
