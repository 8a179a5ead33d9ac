r"""Euler--Maruyama beside its linearization at the minimizer, driven by the same variates (``"cv"``, ``"euler_cv"``).

The twin :math:`\mathbf Y` (:class:`~quorumsgd.simulate.control_variate.LinearizedControl`) has an exact Gaussian
stationary law; the engine records :math:`g(\mathbf X)-g(\mathbf Y)` and adds :math:`\mathbb E g(\mathbf Y)`.
The twin is linear by construction, so when it is small its step is one matrix product read off its drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.simulate.backend import Array
from quorumsgd.simulate.config import CV_SCHEMES
from quorumsgd.simulate.control_variate import AFFINE_MAX_SIZE, LinearizedControl
from quorumsgd.simulate.measures import MeasureContext
from quorumsgd.simulate.schemes.base import Scheme, scale_like
from quorumsgd.simulate.schemes.euler import euler_update, state_increment

if TYPE_CHECKING:
    from quorumsgd.simulate.engine import Run


class ControlVariate(Scheme):
    """X by the algorithm's Euler step, Y (linearized) by the same step or its matrix form, same increments."""

    name: ClassVar[str] = "cv"

    def init(self, run: Run) -> None:
        p, s, b = run.config.problem, run.config.solver, run.backend
        self.target = CV_SCHEMES[s.scheme]
        self.control = c = LinearizedControl.build(p.algorithm, p.objective, p.noise, p.n_agents, p.lr,
                                                   p.batch_size, s.dt, p.minimizer)
        flat = c.draw_start(p.sims, s.seed)
        self.ystate = {k: b.copy(b.asarray(v)) for k, v in c.layout.unflatten(flat).items()}
        self.affine = None
        if c.layout.size <= AFFINE_MAX_SIZE and s.fused is not False:
            step_t = b.asarray((np.eye(c.layout.size) + s.dt * c.sde.drift_matrix).T.copy())
            off = b.asarray(s.dt * c.sde.offset) if np.any(c.sde.offset) else None
            self.affine = (step_t, off, c.layout.slices[p.algorithm.noisy_field])
            self.yflat = b.copy(b.asarray(flat))
        self.yctx = MeasureContext(c.objective, c.x_star, SIM_OPS)

    def step(self, run: Run, k: int, z: Array | None) -> None:
        p = run.config.problem
        yinc = z
        if z is not None and not p.constant_noise:
            yinc = self.control.noise.apply(None, z) * scale_like(run.scale, z)  # B(x*) z
        euler_update(run, run.state, p.objective.grad, state_increment(run, z), k)
        if self.affine is None:
            euler_update(run, self.ystate, self.control.objective.grad, yinc, k)
            return
        step_t, off, noisy = self.affine
        yflat = self.yflat @ step_t
        if off is not None:
            yflat += off
        if yinc is not None:
            yflat[:, noisy] += yinc.reshape(run.sims, -1)
        self.yflat = yflat

    def twin(self, run: Run) -> tuple[dict[str, Array], MeasureContext]:
        if self.affine is not None:
            self.ystate = self.control.layout.unflatten(self.yflat)
        return self.ystate, self.yctx
