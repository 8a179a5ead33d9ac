"""What a Monte Carlo run returns: summaries with confidence bounds, final states, divergence flags, traces.

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms import QSGD
    >>> from quorumsgd.objectives import GaussianNoise, Quadratic
    >>> from quorumsgd.simulate import run_ensemble
    >>> r = run_ensemble(QSGD(coupling=1.0), Quadratic.isotropic(2), GaussianNoise.isotropic(2, 1.0),
    ...                  n_agents=4, sims=8, steps=50, dt=0.05, lr=0.1, burn_in=10, seed=0)
    >>> sorted(r.stationary), r.final_state["x"].shape, int(r.diverged.sum())
    (['center_error', 'spread'], (8, 4, 2), 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quorumsgd.simulate.statistics import StatSummary, summarize


@dataclass(frozen=True)
class EnsembleResult:
    """Outcome of :func:`quorumsgd.simulate.run_ensemble`.

    Attributes:
        stationary: per statistic, the time average over the recorded steps after ``burn_in``, with standard
            error and one-sided bounds from independent batch means (one per simulation and time batch).
        final: per statistic, its value at the last step across the surviving simulations.
        final_state: the final state (numpy), ``nan`` rows for diverged simulations.
        diverged: ``(sims,)`` True where a simulation produced nan/inf and was stopped.
        diverged_at: ``(sims,)`` step at which the divergence was detected (-1 if none).
        trace_steps, trace: mean over surviving simulations of each statistic every ``trace_every`` steps.
        time_average: Lemma 5.5's :math:`\\hat{\\mathbf x}` per simulation, ``(sims, dim)``, when requested.
        params: the run's parameters (JSON friendly); elapsed_s: wall time of the run.
        stationary_plain: with a control variate (``scheme="cv"``), the plain time averages of the controlled
            statistics (their variance over ``stationary``'s is the variance reduction).
    """

    stationary: dict[str, StatSummary]
    final: dict[str, StatSummary]
    final_state: dict[str, np.ndarray]
    diverged: np.ndarray
    diverged_at: np.ndarray
    trace_steps: np.ndarray
    trace: dict[str, np.ndarray]
    time_average: np.ndarray | None
    params: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    stationary_plain: dict[str, StatSummary] = field(default_factory=dict)

    @property
    def n_live(self) -> int:
        """Number of simulations that did not diverge."""
        return int((~self.diverged).sum())

    def time_average_moments(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Mean and covariance across surviving simulations of :math:`\\hat{\\mathbf x}`, and their count."""
        if self.time_average is None:
            raise ValueError("run with time_average=True to get Lemma 5.5's time average")
        xs = self.time_average[~self.diverged]
        return xs.mean(axis=0), np.atleast_2d(np.cov(xs, rowvar=False)), int(xs.shape[0])

    def time_average_error(self, x_star: np.ndarray, confidence: float = 0.95) -> StatSummary:
        """Summary of :math:`\\|\\hat{\\mathbf x}-\\mathbf x^*\\|` across surviving simulations."""
        if self.time_average is None:
            raise ValueError("run with time_average=True to get Lemma 5.5's time average")
        err = np.linalg.norm(self.time_average[~self.diverged] - np.asarray(x_star), axis=-1)
        return summarize("time_average_error", err, confidence)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly numbers (no large arrays except the traces)."""
        return {
            "params": self.params,
            "elapsed_s": self.elapsed_s,
            "n_live": self.n_live,
            "n_diverged": int(self.diverged.sum()),
            "stationary": {k: v.to_dict() for k, v in self.stationary.items()},
            "final": {k: v.to_dict() for k, v in self.final.items()},
            "trace_steps": self.trace_steps.tolist(),
            "trace": {k: v.tolist() for k, v in self.trace.items()},
        }
