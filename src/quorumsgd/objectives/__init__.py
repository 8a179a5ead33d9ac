"""Objectives with known constants and gradient-noise models (the hypotheses of the paper's theorems).

* :class:`Quadratic` — any SPD matrix, ``q = 0``; exact oracles exist (Sec. 5.5).
* :class:`LogCosh` — strongly convex, non-quadratic, bounded third derivatives (``q = 4c/(3 sqrt 3)``).
* :class:`NonconvexSurrogate1D`, :class:`CoupledDoubleWellSurrogate` — SURROGATES (not the paper's formulas)
  of the model losses (40) and (44).
* Noise: :class:`GaussianNoise` (constant covariance), :class:`ModulatedGaussianNoise` (state dependent),
  :class:`UniformNoise`, :class:`ShapedNoise` (anisotropic, state-dependent, normal or uniform).
* :class:`RotatedPieces` — the adversarial family: asymmetric softplus / switch pieces along rotated directions
  with exact constants lambda, L, Q and x* (:mod:`quorumsgd.objectives.families`).
"""

from quorumsgd.objectives.base import Objective
from quorumsgd.objectives.families import RotatedPieces
from quorumsgd.objectives.logcosh import LogCosh
from quorumsgd.objectives.noise import (
    GaussianNoise,
    ModulatedGaussianNoise,
    NoiseModel,
    ShapedNoise,
    UniformNoise,
)
from quorumsgd.objectives.quadratic import Quadratic
from quorumsgd.objectives.surrogates import CoupledDoubleWellSurrogate, NonconvexSurrogate1D

__all__ = [
    "CoupledDoubleWellSurrogate",
    "GaussianNoise",
    "LogCosh",
    "ModulatedGaussianNoise",
    "NoiseModel",
    "NonconvexSurrogate1D",
    "Objective",
    "Quadratic",
    "RotatedPieces",
    "ShapedNoise",
    "UniformNoise",
]
