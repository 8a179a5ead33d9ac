r"""The vectorized Monte Carlo engine: every algorithm of :mod:`quorumsgd.algorithms`, many simulations at once.

The state of ``sims`` independent simulations of ``n_agents`` agents in dimension ``dim`` is one array
``(sims, agents, dim)`` per field; a step is a handful of array operations (no Python loop over simulations or
agents), and the noise for many steps is drawn at once, in parallel with the arithmetic
(:mod:`quorumsgd.simulate.noise_stream`). The schemes:

* ``"euler"`` (continuous algorithms, SDEs (2), (4)--(6), (33)--(34), (55), (65)): Euler--Maruyama,

  .. math:: \mathbf X_{n+1}=\mathbf X_n+\mathbf F(\mathbf X_n,t_n)\,dt
     +\sqrt{\tfrac{\eta_i}{b}}\,\mathbf B(\mathbf x^i_n)\sqrt{dt}\,\mathbf z^i_n\quad\text{on the noisy field;}

* discrete iterations ((1), (3), (41)--(43), Sec. 6): :math:`\mathbf X_{t+1}=\Phi(\mathbf X_t,\mathbf g_t)` with
  the stochastic gradient :math:`\mathbf g=\nabla f-\boldsymbol\zeta`, :math:`\boldsymbol\zeta=\mathbf B\mathbf z/\sqrt b`;
* ``"exact"`` (continuous algorithms on a :class:`~quorumsgd.objectives.Quadratic` with constant noise): the
  exact Gaussian transition of the linear SDE (:mod:`quorumsgd.simulate.oracle`), free of discretization
  bias at any ``dt``;
* ``"cv"`` / ``"euler_cv"`` (continuous algorithms whose objective has a Hessian at its minimizer):
  Euler--Maruyama beside the linearized system driven by the same variates, a control variate with an exact
  Gaussian law (:mod:`quorumsgd.simulate.control_variate`).

On a small linear system the Euler step is one matrix product read off the drift (``fused``), and
``increments="rademacher"`` draws weak +-1 increments instead of Gaussian ones.

The run is a validated :class:`~quorumsgd.simulate.config.RunConfig` (what / how / what to save); the schemes
live one per module in :mod:`quorumsgd.simulate.schemes`, chosen by its registry; this module holds the loop and
the bookkeeping (noise stream, statistics, traces, divergence). The fused simulation kernel
(:mod:`quorumsgd.simulate.kernels`) is the default where it applies (``kernel="auto"``).

The drift and the update are the algorithms' own (one definition reused by the symbolic, simulation and
training layers). Statistics stream (:mod:`quorumsgd.simulate.statistics`); a simulation that produces nan/inf
is stopped and flagged while the others go on.

Example:
    >>> from quorumsgd.algorithms import QSGD
    >>> from quorumsgd.objectives import GaussianNoise, Quadratic
    >>> r = run_ensemble(QSGD(coupling=4.0), Quadratic.isotropic(1), GaussianNoise.isotropic(1, 1.0),
    ...                  n_agents=5, sims=200, steps=2000, dt=0.01, lr=0.2, burn_in=500, seed=1)
    >>> exact = 4 * 0.2 / (2 * 1 * (4.0 + 1.0))          # (p-1) eta tr(Sigma) / (2 b (k + h))
    >>> abs(r.stationary["spread"].mean / exact - 1) < 0.05       # Euler bias O(dt) + sampling error
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from quorumsgd.algorithms.base import ContinuousAlgorithm, DiscreteAlgorithm
from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.base import Objective
from quorumsgd.objectives.noise import NoiseModel
from quorumsgd.parameters import numeric_array
from quorumsgd.simulate.backend import Array, Backend
from quorumsgd.simulate.config import CV_SCHEMES, DEFAULT_STATS, Progress, RunConfig
from quorumsgd.simulate.layout import StateLayout
from quorumsgd.simulate.measures import Measure, MeasureContext
from quorumsgd.simulate.noise_stream import NoiseStream
from quorumsgd.simulate.result import EnsembleResult
from quorumsgd.simulate.schemes import Scheme, select
from quorumsgd.simulate.statistics import TimeAverage, shift_summary, summarize

__all__ = ["CV_SCHEMES", "DEFAULT_STATS", "Progress", "Run", "integrate", "run_ensemble", "uniform_box"]


def _initial_positions(x0: Any, sims: int, n_agents: int, dim: int, seed: int) -> np.ndarray:
    if callable(x0):
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
        x0 = x0(rng, (sims, n_agents, dim))
    arr = numeric_array(x0, "x0", "run_ensemble")  # nan in x0 would read as "every simulation diverged"
    try:
        return np.array(np.broadcast_to(arr, (sims, n_agents, dim)))
    except ValueError:
        raise InvalidParameter("x0", f"broadcastable to (sims, agents, dim) = {(sims, n_agents, dim)}",
                               arr.shape, "run_ensemble") from None


def uniform_box(low: float, high: float) -> Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]:
    """Initial positions i.i.d. uniform on ``[low, high]`` per coordinate (the model problems' init)."""
    if not high > low:
        raise InvalidParameter("x0", "high > low", (low, high), "uniform_box")

    def draw(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(low, high, size=shape)

    return draw


class Run:
    """One ensemble run: the state on the backend, the scheme, the noise stream, accumulators and the loop.

    Attributes read by the schemes: ``config``, ``backend``, ``sims``, ``state`` (or ``flat`` and ``layout`` for
    flat schemes), ``scale`` (the per-agent noise factor), ``x0``.
    """

    def __init__(self, config: RunConfig, scheme: Scheme | None = None) -> None:
        p, s, sv = config.problem, config.solver, config.saving
        self.config = config
        self.backend: Backend = s.backend
        b = self.backend
        self.sims, self.n_agents, self.dim = p.sims, p.n_agents, p.dim
        self.steps, self.burn_in = s.steps, sv.burn_in
        self.x0 = _initial_positions(p.x0, self.sims, self.n_agents, self.dim, s.seed)
        self.state: dict[str, Array] = {k: b.copy(b.asarray(v))
                                        for k, v in p.algorithm.init(b.asarray(self.x0), SIM_OPS).items()}
        self.layout: StateLayout | None = None
        self.flat: Array = None
        self.scale: float | np.ndarray = 1.0
        self.scheme = select(config) if scheme is None else scheme
        self.scheme.init(self)
        self.flat_mode = self.scheme.flat
        spec = self.scheme.noise(self)
        self.stream: NoiseStream | None = None
        if spec is not None:
            self.stream = NoiseStream(b, spec.step_shape, self.steps, seed=s.seed, distribution=spec.distribution,
                                      block_steps=s.block_steps, streams=s.streams, transform=spec.transform,
                                      injected=s.noise_values, rng=s.rng, scale=spec.scale)
        self.live = b.asarray(np.ones(self.sims, dtype=bool), dtype="bool")
        self.diverged_at = np.full(self.sims, -1, dtype=np.int64)
        self.ctx = MeasureContext(p.objective, p.minimizer, SIM_OPS)
        self.measures: list[tuple[str, Measure]] = list(sv.measures)
        self.accum = {name: TimeAverage(b, self.sims, sv.time_batches) for name, _ in self.measures}
        control = getattr(self.scheme, "control", None)
        self.cv_expect: dict[str, float] = ({} if control is None else
                                            control.expectations([n for n, _ in self.measures],
                                                                 CV_SCHEMES[s.scheme]))
        # Controlled statistics also keep their plain time averages: the variance ratio is reported.
        self.accum_plain = {name: TimeAverage(b, self.sims, sv.time_batches) for name in self.cv_expect}
        self.trace_every = sv.trace_every
        self.trace_steps: list[int] = []
        self.trace_values: dict[str, list[Array]] = {name: [] for name, _ in self.measures}
        # The exact scheme carries the integral of the center in its state (exact, no Riemann sum).
        self.exact_integral = self.scheme.carries_integral
        self.ta_sum = (b.zeros((self.sims, self.dim), dtype="float64")
                       if sv.time_average and not self.exact_integral else None)

    # ----------------------------------------------------------------------------------- bookkeeping
    def _blocks(self) -> Iterator[tuple[int, Array | None]]:
        if self.stream is not None:
            yield from self.stream.blocks()
            return
        size = self.config.solver.block_steps or 1024
        for start in range(0, self.steps, size):
            yield start, None

    def sync_state(self) -> None:
        if self.flat_mode:
            assert self.layout is not None
            self.state = self.layout.unflatten(self.flat)

    def _record(self, k_done: int) -> None:
        """Statistics of the state after ``k_done`` steps (stationary window and traces)."""
        sv = self.config.saving
        in_window = k_done > self.burn_in and (k_done - self.burn_in) % sv.record_every == 0
        in_trace = self.trace_every is not None and k_done % self.trace_every == 0
        if not (in_window or in_trace):
            return
        self.sync_state()
        window = self.steps - self.burn_in
        batch = (k_done - self.burn_in - 1) * sv.time_batches // window if in_window else 0
        for name, fn in self.measures:
            values = fn(self.state, self.ctx)
            if in_window:
                if name in self.cv_expect:
                    twin = self.scheme.twin(self)
                    assert twin is not None
                    self.accum_plain[name].add(values, batch)
                    self.accum[name].add(values - fn(*twin), batch)
                else:
                    self.accum[name].add(values, batch)
            if in_trace:
                self.trace_values[name].append(self._live_mean(values))
        if in_trace:
            self.trace_steps.append(k_done)

    def _live_mean(self, values: Array) -> Array:
        b = self.backend
        v = b.float64(values)
        if b.is_torch:
            import torch

            ok = torch.isfinite(v) & self.live
            return torch.where(ok, v, torch.zeros_like(v)).sum() / ok.sum().clamp(min=1)
        ok = np.isfinite(v) & self.live
        return np.where(ok, v, 0.0).sum() / max(int(ok.sum()), 1)

    def _bare_block(self, end: int) -> bool:
        """True when no step up to ``end`` needs statistics, traces, time averages or divergence checks."""
        no_stats = not self.measures or end <= self.burn_in
        return (no_stats and self.trace_every is None and self.ta_sum is None
                and not self.config.saving.check_every)

    def check_divergence(self, k_done: int) -> None:
        b = self.backend
        self.sync_state()
        finite = None
        threshold = self.config.saving.divergence_threshold
        for arr in self.state.values():
            rows = b.finite_rows(arr) if threshold is None else b.bounded_rows(arr, threshold)
            finite = rows if finite is None else finite & rows
        newly = self.live & ~finite
        if not bool(newly.any()):
            return
        self.live = self.live & finite
        newly_np = b.bool_to_numpy(newly)
        self.diverged_at[newly_np] = k_done
        # Stop the simulation: zero its state so it no longer overflows; its statistics are masked out.
        if self.flat_mode:
            self.flat[newly] = 0.0
        else:
            for arr in self.state.values():
                arr[newly] = 0.0

    def run(self) -> EnsembleResult:
        """Integrate all steps (the scheme's own kernel, or the loop over its ``step``) and summarize."""
        start_time = time.perf_counter()
        if not self.scheme.integrate(self):
            self._loop()
        return self._finish(time.perf_counter() - start_time)

    def _loop(self) -> None:
        sv, b = self.config.saving, self.backend
        if self.flat_mode:
            assert self.layout is not None
            self.flat = self.layout.flatten(self.state)
            if self.exact_integral:
                flat = b.zeros((self.sims, self.layout.size + self.dim))
                flat[:, : self.layout.size] = self.flat
                self.flat = flat
        scheme = self.scheme
        check_every, block_steps = sv.check_every, self.config.solver.block_steps
        if self.trace_every is not None:
            self._record(0)
        blas = b.single_threaded_blas() if self.stream is not None and self.stream.use_pool else nullcontext()
        with b.no_grad(), b.errstate(), blas:
            for start, block in self._blocks():
                n = self.steps - start if block is None else block.shape[0]
                n = min(n, block_steps or 1024) if block is None else n
                if self._bare_block(start + n):
                    # Nothing to record in this block: the tightest loop (per-step overhead decides the
                    # speed of small ensembles).
                    for j in range(n):
                        scheme.step(self, start + j, None if block is None else block[j])
                    n_done = start + n
                    self.check_divergence(n_done)
                    if sv.progress is not None:
                        sv.progress(n_done, self.steps)
                    continue
                for j in range(n):
                    k = start + j
                    if self.ta_sum is not None:
                        self.sync_state()
                        self.ta_sum += b.float64(SIM_OPS.mean(self.state["x"]))
                    scheme.step(self, k, None if block is None else block[j])
                    self._record(k + 1)
                    if check_every and (k + 1) % check_every == 0:
                        self.check_divergence(k + 1)
                self.check_divergence(start + n)
                if sv.progress is not None:
                    sv.progress(start + n, self.steps)

    def _finish(self, elapsed: float) -> EnsembleResult:
        with np.errstate(all="ignore"):  # huge-but-finite statistics of unstable runs overflow when squared
            return self._summaries(elapsed)

    def _summaries(self, elapsed: float) -> EnsembleResult:
        cfg = self.config
        b, conf = self.backend, cfg.saving.confidence
        self.sync_state()
        live = b.bool_to_numpy(self.live)
        stationary, plain = {}, {}
        if self.steps > self.burn_in:
            stationary = {name: acc.summary(name, live, conf) for name, acc in self.accum.items()
                          if acc.counts.sum() > 0}
            for name, expectation in self.cv_expect.items():
                if name in stationary:  # mean(g(X) - g(Y)) + E g(Y): shift the estimate, keep its error
                    plain[name] = self.accum_plain[name].summary(name, live, conf)
                    stationary[name] = shift_summary(stationary[name], expectation, plain[name].std)
        final = {name: summarize(name, b.to_numpy(b.float64(fn(self.state, self.ctx)))[live], conf)
                 for name, fn in self.measures}
        final_state = {}
        for name, arr in self.state.items():
            a = np.array(b.to_numpy(arr), dtype=np.float64)
            a[~live] = np.nan
            final_state[name] = a
        trace = {name: np.array([float(v) for v in vals]) for name, vals in self.trace_values.items()}
        ta = None
        if self.exact_integral:
            assert self.layout is not None
            ta = np.array(b.to_numpy(b.float64(self.flat[:, self.layout.size:])), dtype=np.float64)
            ta /= self.steps * cfg.solver.dt
            ta[~live] = np.nan
        if self.ta_sum is not None:
            ta = b.to_numpy(self.ta_sum) / self.steps
            ta[~live] = np.nan
        p, s, sv = cfg.problem, cfg.solver, cfg.saving
        params: dict[str, Any] = dict(sims=p.sims, n_agents=p.n_agents, steps=s.steps, dt=s.dt, burn_in=sv.burn_in,
                                      record_every=sv.record_every, time_batches=sv.time_batches, seed=s.seed,
                                      scheme=s.scheme, confidence=sv.confidence)
        params.update(dim=self.dim, backend=b.name, dtype=b.dtype, device=b.device,
                      algorithm=repr(p.algorithm), objective=repr(p.objective), noise=repr(p.noise),
                      scheme=s.scheme, kernel=getattr(self.scheme, "kernel_name", "engine"))
        control = getattr(self.scheme, "control", None)
        if control is not None:
            params["control_variate"] = {"target": CV_SCHEMES[s.scheme], "expectations": dict(self.cv_expect)}
        return EnsembleResult(stationary, final, final_state, ~live, self.diverged_at,
                              np.asarray(self.trace_steps, dtype=np.int64), trace, ta, params, elapsed,
                              stationary_plain=plain)


def integrate(config: RunConfig) -> EnsembleResult:
    """Run a validated configuration (the typed entry point; :func:`run_ensemble` builds the configuration).

    Example:
        >>> from quorumsgd.algorithms import QSGD
        >>> from quorumsgd.objectives import GaussianNoise, Quadratic
        >>> cfg = RunConfig.build(QSGD(coupling=1.0), Quadratic.isotropic(1), GaussianNoise.isotropic(1, 1.0),
        ...                       n_agents=3, sims=50, steps=200, dt=0.05, lr=0.1, burn_in=100)
        >>> integrate(cfg).stationary["spread"].n
        50
    """
    return Run(config).run()


def run_ensemble(
    algorithm: ContinuousAlgorithm | DiscreteAlgorithm,
    objective: Objective,
    noise: NoiseModel | None = None,
    *,
    n_agents: int,
    sims: int,
    steps: int,
    dt: float | None = None,
    lr: float | Sequence[float] | np.ndarray | None = None,
    batch_size: float | Sequence[float] | np.ndarray = 1.0,
    x0: Any = 0.0,
    burn_in: int = 0,
    burn_in_rates: Sequence[float] | None = None,
    burn_in_tolerance: float = 1e-3,
    stats: Sequence[str | tuple[str, Measure]] = DEFAULT_STATS,
    record_every: int = 1,
    time_batches: int = 1,
    trace_every: int | None = None,
    time_average: bool = False,
    confidence: float = 0.95,
    backend: str = "numpy",
    dtype: str = "float64",
    device: str | None = None,
    seed: int = 0,
    noise_values: Any = None,
    scheme: str = "euler",
    increments: str = "gaussian",
    fused: bool | None = None,
    kernel: str = "auto",
    lr_schedule: Callable[[int], Any] | None = None,
    gains: Callable[[dict[str, Array], int, dict[str, Any]], Array] | None = None,
    minimizer: np.ndarray | None = None,
    block_steps: int | None = None,
    streams: int = 4,
    rng: str = "torch",
    check_every: int | None = None,
    divergence_threshold: float | None = None,
    progress: Progress | None = None,
) -> EnsembleResult:
    r"""Simulate ``sims`` independent ensembles of ``n_agents`` agents and summarize the paper's statistics.

    Args:
        algorithm: a continuous algorithm (SDE drift: ``SGD``, ``QSGD``, ``EASGD``, ``MomentumQSGD``,
            ``SDQSGD``, ``QuorumFilterSGD``) or a discrete iteration (``QuorumIteration`` and its constructors).
        objective: the loss; noise: the single-sample gradient noise (``None`` for the noise-free flow).
        n_agents, sims, steps: ensemble size and number of steps (iterations for discrete algorithms).
        dt: Euler--Maruyama / exact step (continuous only). lr, batch_size: :math:`\eta`, :math:`b` (scalars or
            per-agent arrays, Sec. 3.4); for continuous algorithms they set the noise :math:`\sqrt{\eta/b}`,
            for discrete ones ``lr`` overrides the iteration's learning rate.
        x0: initial positions, broadcastable to ``(sims, agents, dim)``, or ``f(rng, shape)`` (see
            :func:`uniform_box`).
        burn_in: steps discarded before the stationary time averages.
        burn_in_rates, burn_in_tolerance: instead of ``burn_in``, a theorem's transient rates (e.g. a bound's
            ``transient_rates``): the burn-in is the time after which the slowest transient
            :math:`e^{-r_{\min}t}` is below ``burn_in_tolerance`` (:func:`~quorumsgd.simulate.schedules.burn_in_steps`;
            one iteration of a discrete algorithm lasts :math:`\eta`).
        stats: names from :data:`quorumsgd.simulate.measures.MEASURES` or ``(name, fn)`` pairs.
        record_every, time_batches: thinning of the stationary window; time batches per simulation.
        trace_every: record the mean of each statistic every this many steps (loss-vs-iteration curves).
        time_average: accumulate Lemma 5.5's :math:`\hat{\mathbf x}=\frac1T\int_0^T\bar{\mathbf x}\,dt` per simulation
            (the left Riemann sum over the steps; with ``scheme="exact"`` the exact integral, carried in the
            state by the exact transition of the augmented linear SDE, so any ``dt`` will do).
        backend, dtype, device: ``"numpy"`` or ``"torch"``; ``"float32"``/``"float64"``; torch device.
        seed: reproducibility (same seed and settings, same numbers on CPU, for numpy and torch alike).
        noise_values: inject the base variates instead of drawing them, shape ``(steps, sims, agents, dim)``
            (``(steps, sims, N)`` for ``scheme="exact"``).
        scheme: ``"euler"`` (plain Euler--Maruyama), ``"exact"`` (quadratic objective and constant noise only),
            ``"cv"`` or ``"euler_cv"`` (Euler--Maruyama with the linearized system at the minimizer as control
            variate, :mod:`quorumsgd.simulate.control_variate`: the stationary statistics with a Gaussian closed
            form get the variance of :math:`g(\mathbf X)-g(\mathbf Y)`; ``"cv"`` also removes the linear part's
            step bias, ``"euler_cv"`` is exactly unbiased for ``"euler"``'s expectation). Plain time averages
            of controlled statistics are in ``EnsembleResult.stationary_plain``.
        increments: ``"gaussian"`` or ``"rademacher"`` (continuous schemes ``"euler"``, ``"cv"``, ``"euler_cv"``
            with Gaussian noise): the base variates :math:`\mathbf z` of the Brownian increments are :math:`\pm1`
            with probability 1/2, the same mean and covariance as a Gaussian, hence the same weak order 1 for
            expectations (exactly the same stationary first and second moments on a linear system) at a third
            of the generator's cost.
        fused: ``scheme="euler"`` on an affine, time-independent drift (quadratic objective) with constant noise:
            one ``(N, N)`` product per step read off the algorithm's drift (same numbers up to rounding);
            ``None`` uses it for small flat states (``N <= 64``), ``True`` whenever it applies, ``False`` never
            (and ``False`` also keeps the fused kernel off: the algorithm's own array step).
        kernel: ``"auto"`` (default) runs the fused simulation kernel (:mod:`quorumsgd.simulate.kernels`: noise
            from a counter-based generator inside the kernel, statistics accumulated there) where it applies
            (``scheme="euler"``, affine time-independent drift, constant noise, the built-in statistics) and
            the array engine elsewhere; ``"fused"`` requires it; ``"engine"`` never uses it.
        lr_schedule: ``step -> lr`` for discrete iterations (e.g. :func:`~quorumsgd.simulate.schedules.halving_schedule`).
        gains: SD-QSGD hook ``(state, step, scratch) -> gains (sims, agents, 1)`` for discrete iterations
            with ``pull="state_dependent"`` (e.g. :class:`~quorumsgd.simulate.schedules.BestAgentGains`).
        minimizer: override the objective's :math:`\mathbf x^*`.
        block_steps, streams, rng: noise block length, independent generator streams, ``"torch"``/``"numpy"``.
        check_every: divergence check period in steps (default: every noise block).
        divergence_threshold: also stop a simulation once some ``|state| >`` this (default: nan/inf only).
        progress: callback ``(done, total)`` after each block.

    Returns:
        :class:`~quorumsgd.simulate.result.EnsembleResult`.

    Raises:
        InvalidParameter: on shape mismatches and invalid parameters, before any work is done.
    """
    config = RunConfig.build(
        algorithm, objective, noise, n_agents=n_agents, sims=sims, steps=steps, dt=dt, lr=lr, batch_size=batch_size,
        x0=x0, burn_in=burn_in, burn_in_rates=burn_in_rates, burn_in_tolerance=burn_in_tolerance, stats=stats,
        record_every=record_every, time_batches=time_batches, trace_every=trace_every, time_average=time_average,
        confidence=confidence, backend=backend, dtype=dtype, device=device, seed=seed, noise_values=noise_values,
        scheme=scheme, increments=increments, fused=fused, kernel=kernel, lr_schedule=lr_schedule, gains=gains,
        minimizer=minimizer, block_steps=block_steps, streams=streams, rng=rng, check_every=check_every,
        divergence_threshold=divergence_threshold, progress=progress)
    return integrate(config)
