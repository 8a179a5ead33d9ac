r"""Problems that satisfy a theorem's hypotheses: an objective with known constants, noise with known
:math:`\sigma^2`, and the algorithm's parameters.

Example:
    >>> p = Problem.logcosh(dim=3, n_agents=4, coupling=1.0)
    >>> p.strong_convexity, p.smoothness, round(p.q, 4), p.sigma2
    (0.5, 1.5, 0.7698, 1.0)
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from quorumsgd.objectives import GaussianNoise, LogCosh, ModulatedGaussianNoise, Quadratic
from quorumsgd.objectives.base import Objective
from quorumsgd.objectives.noise import NoiseModel


@dataclass(frozen=True)
class ProblemSpec:
    """The serializable description of a problem (what a report prints to reproduce a run)."""

    objective: str
    dim: int
    strong_convexity: float
    smoothness: float
    objective_seed: int
    noise: str
    sigma2: float
    n_agents: int
    coupling: float
    lr: float | tuple[float, ...]
    batch_size: int
    damping: float | None = None
    logcosh_curvature: float | None = None
    modulation: float | None = None


_ALGORITHM_FIELDS = frozenset({"n_agents", "coupling", "lr", "batch_size", "damping"})
"""Spec fields that leave the objective and the noise unchanged."""


@dataclass(frozen=True)
class Problem:
    """A problem instance plus its spec; build with the class methods."""

    spec: ProblemSpec
    objective: Objective = field(repr=False)
    noise: NoiseModel = field(repr=False)

    # -- constructors ---------------------------------------------------------------------------------------

    @classmethod
    def build(cls, spec: ProblemSpec) -> Problem:
        if spec.objective == "quadratic":
            obj: Objective = Quadratic.random(spec.dim, spec.strong_convexity, spec.smoothness, seed=spec.objective_seed)
        elif spec.objective == "logcosh":
            curvature = spec.logcosh_curvature if spec.logcosh_curvature is not None else 1.0
            shift = np.linspace(-1.0, 1.0, spec.dim) if spec.dim > 1 else 1.0
            obj = LogCosh(spec.dim, strong_convexity=spec.strong_convexity, curvature=curvature, shift=shift)
        else:
            raise ValueError(f"unknown objective {spec.objective!r}")
        if spec.noise == "isotropic":
            noise: NoiseModel = GaussianNoise.isotropic(spec.dim, spec.sigma2)
        elif spec.noise == "modulated":
            noise = ModulatedGaussianNoise(
                spec.dim, spec.sigma2, modulation=spec.modulation or 0.5, center=obj.minimizer, length=1.0
            )
        else:
            raise ValueError(f"unknown noise {spec.noise!r}")
        return cls(spec, obj, noise)

    @classmethod
    def quadratic(cls, dim: int = 4, strong_convexity: float = 0.5, smoothness: float = 2.0, seed: int = 1,
                  sigma2: float = 1.0, n_agents: int = 8, coupling: float = 1.0, lr: float = 0.1,
                  batch_size: int = 1, damping: float | None = None) -> Problem:
        return cls.build(ProblemSpec("quadratic", dim, strong_convexity, smoothness, seed, "isotropic", sigma2,
                                     n_agents, coupling, lr, batch_size, damping))

    @classmethod
    def logcosh(cls, dim: int = 4, strong_convexity: float = 0.5, curvature: float = 1.0, sigma2: float = 1.0,
                n_agents: int = 8, coupling: float = 1.0, lr: float = 0.1, batch_size: int = 1,
                damping: float | None = None, noise: str = "isotropic", modulation: float | None = None) -> Problem:
        return cls.build(ProblemSpec("logcosh", dim, strong_convexity, strong_convexity + curvature, 0, noise, sigma2,
                                     n_agents, coupling, lr, batch_size, damping, curvature, modulation))

    def replace(self, **changes: Any) -> Problem:
        """A copy with some spec fields changed (e.g. ``n_agents`` or ``coupling`` for a sweep).

        Changing only the algorithm's parameters keeps the objective and the noise, so problems built around an
        arbitrary objective (``Problem(spec, objective, noise)``, e.g. the hunt's families) can be swept too.
        """
        spec = ProblemSpec(**{**asdict(self.spec), **changes})
        if set(changes) <= _ALGORITHM_FIELDS:
            return dataclasses.replace(self, spec=spec)
        return Problem.build(spec)

    # -- constants the theorems need --------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def strong_convexity(self) -> float:
        return float(self.objective.strong_convexity)

    @property
    def smoothness(self) -> float:
        return float(self.objective.smoothness)

    @property
    def q(self) -> float:
        return float(self.objective.q)

    @property
    def lambda_max(self) -> float:
        return float(self.objective.lambda_max)

    @property
    def sigma2(self) -> float:
        return float(self.noise.sigma2)

    @property
    def mean_lr(self) -> float:
        return float(np.mean(self.spec.lr))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self.spec)
        d["q"], d["lambda_max"] = self.q, self.lambda_max
        return d
