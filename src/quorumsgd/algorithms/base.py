"""Interfaces shared by every algorithm: continuous-time drifts and discrete iterations.

Design (after diffrax and optax): *what* evolves is an algorithm, a frozen dataclass holding its
hyper-parameters; *how* it is integrated (Euler--Maruyama, exact OU transitions, a training loop) lives in
:mod:`quorumsgd.simulate` or :mod:`quorumsgd.training`. A state is a plain ``dict`` of arrays: fields listed in
``agent_fields`` carry the agent axis, the others (EASGD's quorum :math:`\\tilde{\\mathbf x}`) do not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from quorumsgd.algorithms.ops import AgentOps, Array

State = dict[str, Array]
GradFn = Callable[[Array], Array]
"""Gradient of the loss applied to an agent-carrying array, e.g. ``lambda x: A @ x`` batched."""


class ContinuousAlgorithm(ABC):
    r"""A stochastic differential equation :math:`d\mathbf X = \mathbf F(\mathbf X,t)\,dt + \mathbf G\,d\mathbf W`.

    The SGD noise :math:`\sqrt{\eta/b}\,\mathbf B(\mathbf x^i)\,d\mathbf W^i` of (2) enters one agent field,
    ``noisy_field`` (positions for first-order methods, velocities for momentum); the integrator supplies it.
    """

    state_fields: ClassVar[tuple[str, ...]] = ("x",)
    agent_fields: ClassVar[tuple[str, ...]] = ("x",)
    noisy_field: ClassVar[str] = "x"

    def init(self, x0: Array, ops: AgentOps) -> State:
        """Initial state from the agents' positions ``x0`` (other fields start at zero / at the mean)."""
        return {"x": x0}

    @abstractmethod
    def drift(self, state: State, grad: GradFn, ops: AgentOps, t: Any = 0.0) -> State:
        """The deterministic part :math:`\\mathbf F(\\mathbf X, t)`, one entry per state field."""


class DiscreteAlgorithm(ABC):
    """An iteration :math:`\\mathbf X_{t+1} = \\Phi(\\mathbf X_t, \\mathbf g_t)` on stochastic gradients.

    Split in two so that a training loop can evaluate one batched network gradient between the phases:
    ``gradient_point`` says where the stochastic gradient is taken (Nesterov's look-ahead), ``apply`` uses it.
    """

    state_fields: ClassVar[tuple[str, ...]] = ("x",)
    agent_fields: ClassVar[tuple[str, ...]] = ("x",)

    def init(self, x0: Array, ops: AgentOps) -> State:
        return {"x": x0}

    def gradient_point(self, state: State) -> Array:
        """Where the stochastic gradient must be evaluated (default: the current positions)."""
        return state["x"]

    @abstractmethod
    def apply(self, state: State, grad: Array, ops: AgentOps, lr: Array | float | None = None) -> State:
        """One iteration given the stochastic gradient at ``gradient_point(state)``.

        ``lr`` overrides the algorithm's learning rate (schedules, per-agent rates broadcast over agents).
        """

    def update(self, state: State, stochastic_grad: GradFn, ops: AgentOps) -> State:
        """One full iteration: evaluate the stochastic gradient, then :meth:`apply` it."""
        return self.apply(state, stochastic_grad(self.gradient_point(state)), ops)


def zeros_like(x: Array) -> Array:
    """``x * 0`` keeps dtype, device and (for SymPy object arrays) the object dtype."""
    return x * 0
