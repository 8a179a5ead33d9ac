r"""Euler--Maruyama on an affine drift as one matrix product per step, read off the algorithm's drift.

On a quadratic objective every continuous algorithm's drift is :math:`\mathbf M\mathbf X+\mathbf m`
(:func:`~quorumsgd.simulate.control_variate.affine_drift`, i.e. :func:`~quorumsgd.algorithms.affine_map`), so

.. math:: \mathbf X_{n+1}=\mathbf X_n(\mathbf I+\mathbf M\,dt)^{\mathsf T}+\mathbf m\,dt+\Delta\mathbf W_n

is the same Euler step up to rounding. For small flat states (``N <=``
:data:`~quorumsgd.simulate.control_variate.AFFINE_MAX_SIZE`, ``fused=None``) one dense product costs less than
the dozen array calls of the drift; ``fused=True`` uses it whenever it applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from quorumsgd.simulate.backend import Array
from quorumsgd.simulate.control_variate import AFFINE_MAX_SIZE, affine_drift
from quorumsgd.simulate.layout import StateLayout
from quorumsgd.simulate.schemes.base import Scheme

if TYPE_CHECKING:
    from quorumsgd.simulate.config import RunConfig
    from quorumsgd.simulate.engine import Run


def matrix_step_applies(config: RunConfig) -> bool:
    """Euler with constant (or no) noise on an affine, time-independent drift, small enough (or forced)."""
    p, s = config.problem, config.solver
    if s.fused is False or s.scheme != "euler" or (p.noise is not None and p.noise.state_dependent):
        return False
    if s.fused is None and StateLayout.of(p.example_state()).size > AFFINE_MAX_SIZE:
        return False
    return affine_drift(p.algorithm, p.objective, p.n_agents) is not None


class AffineEuler(Scheme):
    """Euler--Maruyama as ``flat @ (I + M dt)^T + m dt`` plus the increment on the noisy field's columns."""

    name: ClassVar[str] = "euler"
    flat: ClassVar[bool] = True

    @classmethod
    def applies(cls, config: RunConfig) -> bool:
        return matrix_step_applies(config)

    def init(self, run: Run) -> None:
        p, b = run.config.problem, run.backend
        found = affine_drift(p.algorithm, p.objective, p.n_agents)
        assert found is not None  # applies() checked it
        layout, matrix, offset = found
        dt = run.config.solver.dt
        self.step_t = b.asarray((np.eye(layout.size) + dt * matrix).T.copy())
        self.offset = b.asarray(dt * offset) if np.any(offset) else None
        self.noisy = layout.slices[p.algorithm.noisy_field]
        run.layout = layout

    def step(self, run: Run, k: int, z: Array | None) -> None:
        flat = run.flat @ self.step_t
        if self.offset is not None:
            flat += self.offset
        if z is not None:
            flat[:, self.noisy] += z.reshape(run.sims, -1)
        run.flat = flat
