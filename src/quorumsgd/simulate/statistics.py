r"""Streaming statistics: per-simulation running sums, then means, standard errors and one-sided bounds.

Two kinds of estimate, both with a confidence bound whose width comes from the sample size:

* **final**: the value of a statistic at the last step, one i.i.d. sample per surviving simulation;
* **stationary**: the time average over :math:`[t_{\rm burn}, T]` within each simulation, then the mean over
  simulations. Successive values in one simulation are autocorrelated, so the standard error is *not*
  :math:`s/\sqrt{\#\text{samples}}`: the batch means are the per-simulation (optionally per time-batch) time
  averages, which are independent across simulations; their spread gives the standard error.

Upper (lower) one-sided bounds use Student's :math:`t_{1-\alpha,\,n-1}` quantile:
:math:`\hat\mu+t\,\hat s/\sqrt n`.

Example:
    >>> import numpy as np
    >>> s = summarize("spread", np.array([1.0, 2.0, 3.0, 4.0]), confidence=0.95)
    >>> round(s.mean, 3), round(s.stderr, 3), s.n, s.ucb > s.mean > s.lcb
    (2.5, 0.645, 4, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

from quorumsgd.simulate.backend import Array, Backend


@dataclass(frozen=True)
class StatSummary:
    """Mean of a statistic with its standard error and one-sided confidence bounds.

    Attributes:
        name: the statistic (e.g. ``"center_error"``).
        kind: ``"final"`` (last step) or ``"stationary"`` (time average after burn-in).
        mean, stderr: estimate and its standard error.
        ucb, lcb: one-sided upper / lower confidence bounds at level ``confidence``.
        n: number of independent samples (simulations, or simulations x time batches).
        std: standard deviation of the statistic itself (across simulations for ``final``; of the
            stationary distribution, pooled over time and simulations, for ``stationary``).
        samples: the independent samples (numpy), e.g. one time average per simulation.
    """

    name: str
    kind: str
    mean: float
    stderr: float
    ucb: float
    lcb: float
    n: int
    std: float
    confidence: float
    samples: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "kind", "mean", "stderr", "ucb", "lcb", "n", "std",
                                              "confidence")}


def t_quantile(confidence: float, n: int) -> float:
    """One-sided Student quantile :math:`t_{\\text{confidence},\\,n-1}` (``inf`` when ``n < 2``)."""
    return float(sps.t.ppf(confidence, n - 1)) if n >= 2 else float("inf")


def summarize(name: str, samples: np.ndarray, confidence: float = 0.95, kind: str = "final",
              std: float | None = None) -> StatSummary:
    """Mean, standard error and one-sided bounds from independent ``samples`` (non-finite ones dropped)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else float("nan")
    sd = float(x.std(ddof=1)) if n >= 2 else float("nan")
    stderr = float(sd / np.sqrt(n)) if n >= 2 else float("inf")
    q = t_quantile(confidence, n)
    return StatSummary(name, kind, mean, stderr, float(mean + q * stderr), float(mean - q * stderr), n,
                       float(sd if std is None else std), confidence, x)


def shift_summary(s: StatSummary, offset: float, std: float | None = None) -> StatSummary:
    """``s`` for the statistic plus a known constant (a control variate's exact expectation)."""
    return StatSummary(s.name, s.kind, s.mean + offset, s.stderr, s.ucb + offset, s.lcb + offset, s.n,
                       s.std if std is None else std, s.confidence, s.samples + offset)


class TimeAverage:
    """Per-simulation running sums of a statistic over the recorded steps, in float64 on the device.

    ``batches > 1`` splits the recording window into consecutive time batches (batch means within a
    simulation; valid when a batch is much longer than the autocorrelation time).
    """

    def __init__(self, backend: Backend, sims: int, batches: int = 1) -> None:
        self.backend, self.batches = backend, int(batches)
        self.sums = backend.zeros((sims, self.batches), dtype="float64")
        self.counts = np.zeros(self.batches, dtype=np.int64)
        # Shifted second moments (shift = first value) keep the pooled variance accurate in float64.
        self.shift: Array | None = None
        self.dev_sum = backend.zeros((sims,), dtype="float64")
        self.dev_sq = backend.zeros((sims,), dtype="float64")
        # Values are buffered and reduced a block of steps at a time: one copy per step instead of six
        # operations (small ensembles are bound by the per-step call count, not by arithmetic).
        self._buf = backend.zeros((max(1, min(256, (1 << 20) // max(sims, 1))), sims), dtype="float64")
        self._rows, self._batch = 0, 0

    def add(self, values: Array, batch: int) -> None:
        if self._rows and (self._rows == self._buf.shape[0] or batch != self._batch):
            self._flush()
        self._buf[self._rows] = values  # cast to float64 by the copy
        self._rows += 1
        self._batch = batch
        self.counts[batch] += 1

    def _flush(self) -> None:
        if not self._rows:
            return
        v = self._buf[: self._rows]
        if self.shift is None:
            self.shift = self.backend.copy(v[0])
        self.sums[:, self._batch] += v.sum(0)
        d = v - self.shift
        self.dev_sum += d.sum(0)
        self.dev_sq += (d * d).sum(0)
        self._rows = 0

    def summary(self, name: str, live: np.ndarray, confidence: float) -> StatSummary:
        self._flush()
        sums = self.backend.to_numpy(self.sums)[live]
        used = self.counts > 0
        means = sums[:, used] / self.counts[used]
        total = int(self.counts.sum())
        std = float("nan")
        if total > 0 and self.shift is not None and live.any():
            dev_sum = self.backend.to_numpy(self.dev_sum)[live]
            dev_sq = self.backend.to_numpy(self.dev_sq)[live]
            shift = self.backend.to_numpy(self.shift)[live]
            # Pooled variance around the grand mean from the shifted sums of each simulation.
            grand = float(np.mean(shift + dev_sum / total))
            second = np.mean(dev_sq / total + 2 * (shift - grand) * dev_sum / total + (shift - grand) ** 2)
            std = float(np.sqrt(max(second, 0.0)))
        return summarize(name, means, confidence, kind="stationary", std=std)
