r"""Discrete iterations: the model-problem updates (41)--(43), EASGD (3), and the CNN algorithms of Sec. 6.

All of them are one scheme, a (possibly Nesterov) momentum step followed by a pull towards a quorum:

.. math::
    \mathbf v^i_{t+1}=\delta\,\mathbf v^i_t-\eta\,\mathbf g^i(\mathbf x^i_t+\nu\,\delta\,\mathbf v^i_t),\qquad
    \mathbf x^i_{t+1}=\mathbf x^i_t+\mathbf v^i_{t+1}+\text{pull}^i_t ,

with :math:`\nu=1` (Nesterov, Sec. 6) or :math:`\nu=0` (heavy ball, (42)--(43)) and the pull

* ``"mean"``: :math:`\eta k(\bar{\mathbf x}_t-\mathbf x^i_t)`, QSGD (41), (43);
* ``"elastic"``: :math:`\alpha(\tilde{\mathbf x}_t-\mathbf x^i_t)` with
  :math:`\tilde{\mathbf x}_{t+1}=\tilde{\mathbf x}_t+\beta(\bar{\mathbf x}_t-\tilde{\mathbf x}_t)`, EASGD (3) / EAMSGD;
* ``"state_dependent"``: :math:`\frac{\eta}{p}\sum_j k_j(t)(\mathbf x^j_t-\mathbf x^i_t)`, SD-QSGD;
* ``"none"``: plain (momentum) SGD.

With :math:`\delta=0` the momentum step is the SGD step :math:`-\eta\mathbf g`, so (41) and (3) are special
cases. The stochastic gradient is :math:`\mathbf g=\nabla f-\boldsymbol\zeta`, which reproduces the additive
noise :math:`+\eta\boldsymbol\zeta` of (1).

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms.ops import SIM_OPS
    >>> it = qsgd_iteration(lr=0.1, coupling=1.0)
    >>> s = it.init(np.array([[[1.0], [3.0]]]), SIM_OPS)
    >>> it.update(s, lambda x: x, SIM_OPS)["x"][0, :, 0].round(6).tolist()   # x - lr*x + lr*k*(2 - x)
    [1.0, 2.6]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, final

from quorumsgd.algorithms.base import DiscreteAlgorithm, State, zeros_like
from quorumsgd.algorithms.coupling import common_input_pull, mean_pull, state_dependent_pull
from quorumsgd.algorithms.ops import AgentOps, Array

Pull = Literal["none", "mean", "elastic", "state_dependent"]


@final
@dataclass(frozen=True)
class QuorumIteration(DiscreteAlgorithm):
    """A momentum step plus a quorum pull; see the module docstring for the equations.

    Attributes:
        lr: learning rate :math:`\\eta` (scalar, or an array broadcast over agents for per-agent rates).
        momentum: :math:`\\delta` (Sec. 6) or :math:`\\mu` ((42)); 0 gives plain SGD steps.
        nesterov: evaluate the gradient at the look-ahead :math:`\\mathbf x+\\delta\\mathbf v`.
        pull: which quorum the agents are pulled towards.
        coupling: :math:`k` for ``"mean"`` (the pull is :math:`\\eta k`).
        alpha, beta: EASGD moving rates for ``"elastic"`` (:math:`\\alpha=\\eta k`, :math:`\\beta=p\\alpha`).
    """

    lr: float
    momentum: float = 0.0
    nesterov: bool = False
    pull: Pull = "mean"
    coupling: float = 0.0
    alpha: float = 0.0
    beta: float = 0.0

    state_fields: ClassVar[tuple[str, ...]] = ("x", "v", "quorum", "gains")
    agent_fields: ClassVar[tuple[str, ...]] = ("x", "v", "gains")

    def init(self, x0: Array, ops: AgentOps) -> State:
        state: State = {"x": x0, "v": zeros_like(x0)}
        if self.pull == "elastic":
            state["quorum"] = ops.mean(x0)
        return state

    def gradient_point(self, state: State) -> Array:
        if self.nesterov and self.momentum:
            return state["x"] + self.momentum * state["v"]
        return state["x"]

    def pull_force(self, state: State, ops: AgentOps, lr: Array | float) -> Array:
        """The quorum pull added to the positions, evaluated at time t (before the update)."""
        x = state["x"]
        if self.pull == "mean":
            return mean_pull(x, ops, lr * self.coupling)
        if self.pull == "elastic":
            return common_input_pull(x, state["quorum"], ops, self.alpha)
        if self.pull == "state_dependent":
            # state["gains"] holds k_j(t); the engine refreshes it (e.g. best_agent_gains) every step.
            return lr * state_dependent_pull(x, state["gains"], ops)
        return zeros_like(x)

    def apply(self, state: State, grad: Array, ops: AgentOps, lr: Array | float | None = None) -> State:
        lr = self.lr if lr is None else lr
        velocity = self.momentum * state["v"] - lr * grad
        new = dict(state)
        new["x"] = state["x"] + velocity + self.pull_force(state, ops, lr)
        new["v"] = velocity
        if self.pull == "elastic":
            new["quorum"] = state["quorum"] + self.beta * (ops.mean(state["x"]) - state["quorum"])
        return new


def sgd_iteration(lr: float) -> QuorumIteration:
    r"""Plain SGD (1): :math:`\mathbf x_{t+1}=\mathbf x_t-\eta\mathbf g_t` (independent agents)."""
    return QuorumIteration(lr=lr, pull="none")


def qsgd_iteration(lr: float, coupling: float) -> QuorumIteration:
    r"""QSGD forward Euler (41): :math:`x^i_{t+1}=x^i_t-\eta g^i_t+\eta k(\bar x_t-x^i_t)`."""
    return QuorumIteration(lr=lr, pull="mean", coupling=coupling)


def momentum_qsgd_iteration(lr: float, coupling: float, momentum: float) -> QuorumIteration:
    r"""QSGD with heavy-ball momentum (42)--(43): :math:`v'=\mu v-\eta g(x)`, :math:`x'=x+v'+\eta k(\bar x-x)`."""
    return QuorumIteration(lr=lr, momentum=momentum, pull="mean", coupling=coupling)


def easgd_iteration(
    lr: float, coupling: float, n_agents: int, momentum: float = 0.0, nesterov: bool = True
) -> QuorumIteration:
    r"""EASGD (3) with :math:`\alpha=\eta k`, :math:`\beta=p\alpha`; ``momentum>0`` gives Nesterov EAMSGD.

    ``momentum=0`` is EASGD-WM, the paper's "EASGD without momentum".
    """
    alpha = lr * coupling
    return QuorumIteration(
        lr=lr, momentum=momentum, nesterov=nesterov, pull="elastic", alpha=alpha, beta=n_agents * alpha
    )


def nesterov_qsgd_iteration(lr: float, coupling: float, momentum: float) -> QuorumIteration:
    """QSGD with Nesterov momentum, coupled through positions only (Sec. 6)."""
    return QuorumIteration(lr=lr, momentum=momentum, nesterov=True, pull="mean", coupling=coupling)


def msgd_iteration(lr: float, momentum: float) -> QuorumIteration:
    """MSGD: Nesterov momentum SGD without coupling (the single-agent baseline of Table 1)."""
    return QuorumIteration(lr=lr, momentum=momentum, nesterov=True, pull="none")


def sdqsgd_iteration(lr: float, momentum: float, nesterov: bool = True) -> QuorumIteration:
    r"""SD-QSGD: :math:`x'=x+v'+\frac{\eta}{p}\sum_j k_j(t)(x^j-x^i)`; the gains live in ``state["gains"]``."""
    return QuorumIteration(lr=lr, momentum=momentum, nesterov=nesterov, pull="state_dependent")
