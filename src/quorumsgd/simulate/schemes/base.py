r"""The interface every integration scheme implements: ``init`` once, then ``step`` once per time step.

A scheme owns *how* the state advances (its matrices, its twin system, its noise transform); the engine
(:mod:`quorumsgd.simulate.engine`) owns everything else: the noise stream, statistics, divergence checks,
traces. The engine's :class:`~quorumsgd.simulate.engine.Run` carries the state (``run.state``, or the flat
``run.flat`` with ``run.layout`` when the scheme sets ``flat = True``).

Schemes that integrate many steps at once in a compiled kernel (:mod:`quorumsgd.simulate.schemes.fused`)
override :meth:`Scheme.integrate` instead of the per-step loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from quorumsgd.algorithms.qsgd import noise_scale
from quorumsgd.objectives.arrays import constant
from quorumsgd.simulate.backend import Array

if TYPE_CHECKING:  # the engine imports the schemes, not the other way round
    from quorumsgd.simulate.config import RunConfig
    from quorumsgd.simulate.engine import Run
    from quorumsgd.simulate.measures import MeasureContext

Transform = Any  # Callable[[Array], Array] | None


@dataclass(frozen=True)
class NoiseSpec:
    """What a scheme needs from the noise stream: the shape of one step's variates, the distribution of the base
    variates, the scale the generator applies and the transform applied to each block (``None``: none)."""

    step_shape: tuple[int, ...]
    distribution: str
    transform: Transform = None
    scale: float = 1.0


class Scheme(ABC):
    """A one-step integrator of a :class:`~quorumsgd.simulate.config.RunConfig`.

    Attributes:
        name: the registry key (:data:`quorumsgd.simulate.schemes.SCHEMES`).
        flat: the state is carried as one ``(sims, N)`` matrix ``run.flat`` (matrix schemes).
        carries_integral: the flat state carries Lemma 5.5's integral of the center (exact scheme).
    """

    name: ClassVar[str]
    flat: ClassVar[bool] = False
    carries_integral: bool = False

    @classmethod
    def applies(cls, config: RunConfig) -> bool:
        """Whether this scheme can integrate ``config`` (used by the registry's selection)."""
        return True

    def init(self, run: Run) -> None:
        """Set up from the run's validated configuration and initial state (once, before the first step)."""
        return None  # most schemes need no set-up: an optional hook

    def noise(self, run: Run) -> NoiseSpec | None:
        """The variates one step consumes (default: one per agent coordinate, SGD's noise (1)/(2))."""
        return agent_noise(run)

    @abstractmethod
    def step(self, run: Run, k: int, z: Array | None) -> None:
        """Advance ``run``'s state by step ``k`` with this step's variates ``z`` (``None`` without noise)."""

    def twin(self, run: Run) -> tuple[dict[str, Array], MeasureContext] | None:
        """A control variate's twin state and its measure context, or ``None`` (no control variate)."""
        return None

    def integrate(self, run: Run) -> bool:
        """Integrate the whole run at once (compiled kernels); ``False``: let the engine loop over :meth:`step`."""
        return False


def agent_scale(run: Run) -> float | np.ndarray:
    r"""The factor of the base variates per agent: :math:`\sqrt{\eta/b}\sqrt{dt}` of (2) for SDEs, :math:`1/\sqrt b`
    of :math:`\boldsymbol\zeta=\mathbf B\mathbf z/\sqrt b` (1) for discrete iterations."""
    p, s = run.config.problem, run.config.solver
    if p.discrete:
        scale: Any = 1.0 / np.sqrt(p.batch_size)
    else:
        scale = noise_scale(np.asarray(p.lr), np.asarray(p.batch_size)) * np.sqrt(s.dt)
    return float(scale) if np.ndim(scale) == 0 else np.asarray(scale, dtype=np.float64)


def scale_like(scale: float | np.ndarray, like: Array) -> Any:
    return scale if isinstance(scale, float) else constant(scale, like=like)


def agent_noise(run: Run) -> NoiseSpec | None:
    """Noise drawn per agent coordinate, scaled (and, for constant noise, multiplied by B) in the stream."""
    p, s = run.config.problem, run.config.solver
    noise = p.noise
    if noise is None:
        return None
    scale = run.scale = agent_scale(run)
    transform: Transform = None
    gen_scale = 1.0
    if p.constant_noise and noise.scalar_factor is not None and isinstance(scale, float):
        gen_scale = noise.scalar_factor * scale  # B = s I and a scalar scale: the generator draws increments
    elif p.constant_noise:
        def transform(z: Array) -> Array:
            z = noise.apply_inplace(z)
            if isinstance(scale, float):
                z *= scale
            else:
                z *= constant(scale, like=z)
            return z
    distribution = "rademacher" if s.increments == "rademacher" else noise.distribution
    return NoiseSpec((p.sims, p.n_agents, p.dim), distribution, transform, gen_scale)
