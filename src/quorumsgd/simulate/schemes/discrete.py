r"""Discrete iterations ((1), (3), (41)--(43), Sec. 6): :math:`\mathbf X_{t+1}=\Phi(\mathbf X_t,\mathbf g_t)`.

The stochastic gradient is :math:`\mathbf g=\nabla f(\text{gradient point})-\boldsymbol\zeta`,
:math:`\boldsymbol\zeta=\mathbf B\mathbf z/\sqrt b`, and :math:`\Phi` is the iteration's own ``apply``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.simulate.backend import Array
from quorumsgd.simulate.schemes.base import Scheme, scale_like

if TYPE_CHECKING:
    from quorumsgd.simulate.engine import Run


class Discrete(Scheme):
    """One iteration per step (learning-rate schedule and SD-QSGD gains hooks included)."""

    name: ClassVar[str] = "discrete"

    def init(self, run: Run) -> None:
        self.scratch: dict[str, object] = {}

    def step(self, run: Run, k: int, z: Array | None) -> None:
        p = run.config.problem
        state, alg = run.state, p.algorithm
        point = alg.gradient_point(state)
        g = p.objective.grad(point)
        if z is not None:
            zeta = z if p.constant_noise else p.noise.apply(point, z) * scale_like(run.scale, point)
            g = g - zeta
        lr = p.lr_at(k) if p.lr_at is not None else None
        if p.gains is not None:
            state["gains"] = run.backend.asarray(p.gains(state, k, self.scratch))
        run.state = alg.apply(state, g, SIM_OPS, lr)
