r"""Exact Gaussian transitions of the linear SDE (quadratic objective, constant noise): no step bias at any ``dt``.

.. math:: \mathbf X_{n+1}=e^{\mathbf M dt}\mathbf X_n+\mathbf a_{dt}+\mathbf L_{dt}\mathbf z_n,\qquad
   \mathbf L_{dt}\mathbf L_{dt}^{\mathsf T}=\int_0^{dt}e^{\mathbf Ms}\mathbf G\mathbf G^{\mathsf T}e^{\mathbf M^{\mathsf T}s}ds

(Van Loan, :mod:`quorumsgd.simulate.oracle`). With ``time_average=True`` the state is augmented by Lemma 5.5's
integral of the center, transported exactly with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from quorumsgd.objectives.arrays import constant
from quorumsgd.simulate.backend import Array
from quorumsgd.simulate.oracle import linearize, psd_factor
from quorumsgd.simulate.schemes.base import NoiseSpec, Scheme

if TYPE_CHECKING:
    from quorumsgd.simulate.engine import Run


class Exact(Scheme):
    """One ``(N, N)`` product with the exact transition matrix per step, plus the exact Gaussian increment."""

    name: ClassVar[str] = "exact"
    flat: ClassVar[bool] = True

    def init(self, run: Run) -> None:
        p, s, b = run.config.problem, run.config.solver, run.backend
        sde = linearize(p.algorithm, p.objective, p.n_agents, p.noise, p.lr, p.batch_size)
        run.layout = sde.layout
        self.carries_integral = run.config.saving.time_average
        if self.carries_integral:
            sde = sde.with_center_integral()  # Lemma 5.5's integral, transported exactly with the state
        tm = sde.transition(s.dt)
        self.matrix_t = b.asarray(tm.matrix.T.copy())
        self.offset = b.asarray(tm.offset)
        self.factor_t = np.ascontiguousarray(psd_factor(tm.cov).T)
        self.size = sde.size

    def noise(self, run: Run) -> NoiseSpec:
        factor_t = self.factor_t

        def transform(z: Array) -> Array:
            return z @ constant(factor_t, like=z)

        # the exact transition is Gaussian whatever the base noise
        return NoiseSpec((run.sims, self.size), "normal", transform, 1.0)

    def step(self, run: Run, k: int, z: Array | None) -> None:
        flat = run.flat @ self.matrix_t
        flat += self.offset
        if z is not None:
            flat += z
        run.flat = flat
