r"""State-dependent QSGD (SD-QSGD), eqs. (55)/(57), with the "best agent leads" gains (60)--(61).

.. math::
    \dot{\mathbf x}^i=-\nabla f(\mathbf x^i)+\frac1p\sum_{j=1}^p k_j(\mathbf x^j,t)(\mathbf x^j-\mathbf x^i),
    \qquad k_{i^*}(t)=k\,(1+A_{\rm mag}e^{-t/\tau}),\quad k_{j\ne i^*}(t)=k\,(1-e^{-t/\tau}) .

Example:
    >>> import numpy as np
    >>> best_agent_gains(coupling=1.0, n_agents=3, winner=1, t=0.0, tau=10.0, magnification=4.0).tolist()
    [0.0, 5.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

import numpy as np

from quorumsgd.algorithms.base import ContinuousAlgorithm, GradFn, State
from quorumsgd.algorithms.coupling import state_dependent_pull
from quorumsgd.algorithms.ops import AgentOps, Array


def winner_gain(coupling: Any, magnification: Any, decay: Any) -> Any:
    r"""Gain of the best agent (60): :math:`k(1+A_{\rm mag}\,e^{-t/\tau})`, with ``decay`` :math:`=e^{-t/\tau}`."""
    return coupling * (1 + magnification * decay)


def follower_gain(coupling: Any, decay: Any) -> Any:
    r"""Gain of every other agent (61): :math:`k(1-e^{-t/\tau})`, with ``decay`` :math:`=e^{-t/\tau}`."""
    return coupling * (1 - decay)


def best_agent_gains(
    coupling: float, n_agents: int, winner: int | np.ndarray, t: float, tau: float, magnification: float
) -> np.ndarray:
    r"""Per-agent gains (60)--(61) at time ``t`` since the last winner choice (numpy, shape ``(n_agents,)``).

    At ``t=0`` the weighted quorum :math:`\mathbf x_w` is exactly the winner; the gains relax to QSGD's
    constant :math:`k` on the time scale ``tau``. ``winner`` may also be an integer array (e.g. one winner
    per simulation); the result then has shape ``winner.shape + (n_agents,)``.
    """
    decay = np.exp(-t / tau)
    winner = np.asarray(winner)
    gains = np.full((*winner.shape, n_agents), follower_gain(coupling, decay))
    np.put_along_axis(gains, winner[..., None].astype(np.intp), winner_gain(coupling, magnification, decay), -1)
    return gains


GainsFn = Callable[[State, Any], Array]
"""``gains(state, t)`` returning gains broadcastable against the agents (e.g. ``(sims, agents, 1)``)."""


@final
@dataclass(frozen=True)
class SDQSGD(ContinuousAlgorithm):
    r"""SD-QSGD (55): agents coupled with state- and time-dependent gains :math:`k_j(\mathbf x^j,t)`."""

    gains: GainsFn

    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        x = state["x"]
        return {"x": -grad(x) + state_dependent_pull(x, self.gains(state, t), ops)}
