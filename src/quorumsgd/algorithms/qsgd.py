r"""SGD and quorum SGD (QSGD) in continuous time, eqs. (2) and (6), with multiple learning rates (Sec. 3.4).

.. math::
    d\mathbf x^i=\big(-\nabla f(\mathbf x^i)+k(\bar{\mathbf x}-\mathbf x^i)\big)dt
        +\sqrt{\tfrac{\eta_i}{b}}\,\mathbf B(\mathbf x^i)\,d\mathbf W^i ,\qquad i=1..p .

Per-agent learning rates only change the noise scale :math:`\sqrt{\eta_i/b}` (Sec. 3.4); pass an array of
``lr`` to :func:`noise_scale`.

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms.ops import SIM_OPS
    >>> x = np.array([[[1.0], [3.0]]])
    >>> QSGD(coupling=2.0).drift({"x": x}, lambda y: y, SIM_OPS)["x"][0, :, 0].tolist()
    [1.0, -5.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, final

from quorumsgd.algorithms.base import ContinuousAlgorithm, GradFn, State
from quorumsgd.algorithms.coupling import common_input_pull, mean_pull
from quorumsgd.algorithms.ops import AgentOps, Array, sqrt


def noise_scale(lr: Array | float, batch_size: Array | float) -> Array | float:
    r"""The SDE noise factor :math:`\sqrt{\eta/b}` of (2); an array ``lr`` gives per-agent rates (Sec. 3.4)."""
    ratio = lr / batch_size
    return sqrt(ratio) if hasattr(ratio, "shape") else float(ratio) ** 0.5


@final
@dataclass(frozen=True)
class SGD(ContinuousAlgorithm):
    r"""Plain SGD as the SDE (2): :math:`d\mathbf x=-\nabla f(\mathbf x)dt+\sqrt{\eta/b}\,\mathbf B\,d\mathbf W`.

    With several agents these are independent copies (QSGD with ``coupling=0``).
    """

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        return {"x": -grad(state["x"])}


@final
@dataclass(frozen=True)
class QSGD(ContinuousAlgorithm):
    r"""Quorum SGD, eq. (6): agents pulled towards their mean with gain ``coupling`` (k)."""

    coupling: float = 1.0

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        x = state["x"]
        return {"x": -grad(x) + mean_pull(x, ops, self.coupling)}


@final
@dataclass(frozen=True)
class CommonInputAgents(ContinuousAlgorithm):
    r"""Agents driven by an external common signal, eq. (19): :math:`-\nabla f(\mathbf x^i)+k(\mathbf u(t)-\mathbf x^i)`.

    ``common_input(t)`` returns the agent-free signal. Choosing the agents' mean gives QSGD, the EASGD
    quorum gives EASGD: this is the virtual system of Thm 3.1.
    """

    coupling: float
    common_input: Any  # Callable[[t], Array]

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        x = state["x"]
        return {"x": -grad(x) + common_input_pull(x, self.common_input(t), ops, self.coupling)}
