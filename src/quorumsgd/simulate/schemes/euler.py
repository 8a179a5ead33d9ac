r"""Euler--Maruyama on the algorithm's own drift (SDEs (2), (4)--(6), (33)--(34), (55), (65)).

.. math:: \mathbf X_{n+1}=\mathbf X_n+\mathbf F(\mathbf X_n,t_n)\,dt
   +\sqrt{\tfrac{\eta_i}{b}}\,\mathbf B(\mathbf x^i_n)\sqrt{dt}\,\mathbf z^i_n\quad\text{on the noisy field.}

:math:`\mathbf B` is evaluated at the pre-step state (Ito). The array operations are the algorithm's drift,
unchanged: no second copy of the dynamics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.simulate.backend import Array
from quorumsgd.simulate.schemes.base import Scheme, scale_like

if TYPE_CHECKING:
    from quorumsgd.simulate.engine import Run


def euler_update(run: Run, state: dict[str, Array], grad: Any, inc: Array | None, k: int) -> None:
    """``state += F(state, t_k) dt + inc`` in place (``inc`` lands on the algorithm's noisy field)."""
    alg, dt = run.config.problem.algorithm, run.config.solver.dt
    drift = alg.drift(state, grad, SIM_OPS, k * dt)
    for name, d in drift.items():
        if d is state[name]:
            d = d * dt
        else:
            d *= dt
        state[name] += d
    if inc is not None:
        state[alg.noisy_field] += inc


def state_increment(run: Run, z: Array | None) -> Array | None:
    """The noise increment of a step: ready in the stream for constant noise, :math:`\\mathbf B(\\mathbf x)z`
    times the scale otherwise."""
    p = run.config.problem
    if z is None or p.constant_noise:
        return z
    x = run.state["x"]
    return p.noise.apply(x, z) * scale_like(run.scale, x)


class Euler(Scheme):
    """Euler--Maruyama with the algorithm's array operations."""

    name: ClassVar[str] = "euler"

    def step(self, run: Run, k: int, z: Array | None) -> None:
        euler_update(run, run.state, run.config.problem.objective.grad, state_increment(run, z), k)
