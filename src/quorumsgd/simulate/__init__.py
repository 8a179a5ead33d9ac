"""Vectorized Monte Carlo for every algorithm of the paper, exact oracles, and the model-problem experiments.

Main entry point: :func:`run_ensemble` (returns an :class:`EnsembleResult` with means, standard errors and
one-sided confidence bounds of the statistics the theorems bound). Exact laws on quadratics:
:func:`linearize`, :func:`linearize_iteration` (:mod:`quorumsgd.simulate.oracle`). Burn-in from transient
rates: :func:`burn_in_steps`. The figures: :mod:`quorumsgd.simulate.experiments`.
"""

from quorumsgd.simulate.backend import Backend
from quorumsgd.simulate.engine import DEFAULT_STATS, run_ensemble, uniform_box
from quorumsgd.simulate.measures import MEASURES, MeasureContext
from quorumsgd.simulate.noise_stream import NoiseStream
from quorumsgd.simulate.oracle import (
    AffineGaussianMap,
    GaussianLaw,
    LinearSDE,
    euler_time_average_law,
    expected_norm,
    linearize,
    linearize_iteration,
    time_average_law,
)
from quorumsgd.simulate.result import EnsembleResult
from quorumsgd.simulate.schedules import BestAgentGains, burn_in_steps, burn_in_time, halving_schedule
from quorumsgd.simulate.statistics import StatSummary, summarize

__all__ = [
    "DEFAULT_STATS",
    "MEASURES",
    "AffineGaussianMap",
    "Backend",
    "BestAgentGains",
    "EnsembleResult",
    "GaussianLaw",
    "LinearSDE",
    "MeasureContext",
    "NoiseStream",
    "StatSummary",
    "burn_in_steps",
    "burn_in_time",
    "euler_time_average_law",
    "expected_norm",
    "halving_schedule",
    "linearize",
    "linearize_iteration",
    "run_ensemble",
    "summarize",
    "time_average_law",
    "uniform_box",
]
