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
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from quorumsgd.algorithms.base import ContinuousAlgorithm, DiscreteAlgorithm
from quorumsgd.algorithms.discrete import QuorumIteration
from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.arrays import constant
from quorumsgd.objectives.base import Objective
from quorumsgd.objectives.noise import NoiseModel
from quorumsgd.objectives.quadratic import Quadratic
from quorumsgd.parameters import numeric_array, positive_number
from quorumsgd.simulate.backend import Array, Backend
from quorumsgd.simulate.control_variate import AFFINE_MAX_SIZE, LinearizedControl, affine_drift
from quorumsgd.simulate.layout import StateLayout
from quorumsgd.simulate.measures import MEASURES, REQUIRED_FIELDS, Measure, MeasureContext
from quorumsgd.simulate.noise_stream import NoiseStream
from quorumsgd.simulate.oracle import linearize, psd_factor
from quorumsgd.simulate.result import EnsembleResult
from quorumsgd.simulate.schedules import burn_in_steps
from quorumsgd.simulate.statistics import TimeAverage, shift_summary, summarize

DEFAULT_STATS = ("center_error", "spread")

CV_SCHEMES = {"cv": "continuous", "euler_cv": "euler"}
"""Euler--Maruyama with the linearized system as control variate, and the law its expectations come from."""

Progress = Callable[[int, int], None]
"""``progress(steps_done, steps_total)``, called after every block of steps."""


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidParameter(name, f"an integer >= {minimum}", value, "run_ensemble")
    return int(value)


def _agent_param(value: Any, n_agents: int, name: str) -> float | np.ndarray:
    """A positive scalar, or a per-agent array of shape ``(n_agents,)`` returned as ``(n_agents, 1)``."""
    arr = numeric_array(value, name, "run_ensemble")
    if arr.ndim == 0:
        if not float(arr) > 0:
            raise InvalidParameter(name, "> 0", value, "run_ensemble")
        return float(arr)
    if arr.shape != (n_agents,) or not np.all(arr > 0):
        raise InvalidParameter(name, f"> 0 with shape () or ({n_agents},)", arr.shape, "run_ensemble")
    return arr[:, None]


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


class _Run:
    """One ensemble run: validated inputs, the state on the backend, accumulators, and the step loop."""

    def __init__(self, algorithm: Any, objective: Objective, noise: NoiseModel | None, kw: dict[str, Any]):
        self.alg, self.objective, self.noise = algorithm, objective, noise
        self.kw = kw
        self.backend: Backend = kw["backend"]
        self.sims, self.n_agents, self.dim = kw["sims"], kw["n_agents"], objective.dim
        self.steps, self.burn_in = kw["steps"], kw["burn_in"]
        self.discrete = isinstance(algorithm, DiscreteAlgorithm)
        self.scheme = "discrete" if self.discrete else kw["scheme"]
        self.dt = kw["dt"]
        b = self.backend
        x0 = _initial_positions(kw["x0"], self.sims, self.n_agents, self.dim, kw["seed"])
        self.state = {k: b.copy(b.asarray(v)) for k, v in algorithm.init(b.asarray(x0), SIM_OPS).items()}
        self.grad = objective.grad
        self.affine = self._setup_affine(kw["fused"])
        self.flat_mode = self.scheme == "exact" or self.affine is not None
        self.control: LinearizedControl | None = None
        self.ystate: dict[str, Array] = {}
        if self.scheme in CV_SCHEMES:
            self._setup_control(x0)
        self._setup_noise()
        self.live = b.asarray(np.ones(self.sims, dtype=bool), dtype="bool")
        self.diverged_at = np.full(self.sims, -1, dtype=np.int64)
        self.ctx = MeasureContext(objective, kw["minimizer"], SIM_OPS)
        self.measures: list[tuple[str, Measure]] = kw["measures"]
        self.accum = {name: TimeAverage(b, self.sims, kw["time_batches"]) for name, _ in self.measures}
        # Controlled statistics also keep their plain time averages: the variance ratio is reported.
        self.accum_plain = {name: TimeAverage(b, self.sims, kw["time_batches"]) for name in self.cv_expect}
        self.trace_every = kw["trace_every"]
        self.trace_steps: list[int] = []
        self.trace_values: dict[str, list[Array]] = {name: [] for name, _ in self.measures}
        # The exact scheme carries the integral of the center in its state (exact, no Riemann sum).
        self.exact_integral = self.scheme == "exact" and kw["time_average"]
        self.ta_sum = (b.zeros((self.sims, self.dim), dtype="float64")
                       if kw["time_average"] and not self.exact_integral else None)
        self.scratch: dict[str, Any] = {}

    # ----------------------------------------------------------------------------------- fused affine step
    def _setup_affine(self, fused: bool | None) -> tuple[Array, Array | None, slice] | None:
        """Euler on an affine drift as one product per step: ``X (I + M dt)^T + m dt``, read off the drift.

        Used for ``scheme="euler"`` with constant (or no) noise when the drift is affine and time independent
        (:func:`~quorumsgd.simulate.control_variate.affine_drift`) and the flat state is small
        (``fused=None``), or always when it applies (``fused=True``); ``fused=False`` keeps the array step.
        """
        if fused is False or self.scheme != "euler" or (self.noise is not None and self.noise.state_dependent):
            return None
        layout = StateLayout.of(self.state)
        if fused is None and layout.size > AFFINE_MAX_SIZE:
            return None
        found = affine_drift(self.alg, self.objective, self.n_agents)
        if found is None:
            return None
        lay, matrix, offset = found
        b = self.backend
        step_t = b.asarray((np.eye(lay.size) + self.dt * matrix).T.copy())
        off = b.asarray(self.dt * offset) if np.any(offset) else None
        self.layout = lay
        return step_t, off, lay.slices[self.alg.noisy_field]

    def _affine_step(self, k: int, z: Array | None) -> None:
        step_t, off, noisy = self.affine
        flat = self.flat @ step_t
        if off is not None:
            flat += off
        if z is not None:
            flat[:, noisy] += z.reshape(self.sims, -1)
        self.flat = flat

    # ------------------------------------------------------------------------------- control variate
    def _setup_control(self, x0: np.ndarray) -> None:
        """The linearized system Y beside X (:mod:`quorumsgd.simulate.control_variate`)."""
        kw, b = self.kw, self.backend
        self.control = c = LinearizedControl.build(self.alg, self.objective, self.noise, self.n_agents, kw["lr"],
                                                   kw["batch_size"], self.dt, kw["minimizer"])
        flat = c.draw_start(self.sims, kw["seed"])
        self.ystate = {k: b.copy(b.asarray(v)) for k, v in c.layout.unflatten(flat).items()}
        self.ygrad = c.objective.grad
        self.y_affine = None
        if c.layout.size <= AFFINE_MAX_SIZE and kw["fused"] is not False:
            # Y is linear by construction: one product per step (read off the drift by linearize)
            step_t = b.asarray((np.eye(c.layout.size) + self.dt * c.sde.drift_matrix).T.copy())
            off = b.asarray(self.dt * c.sde.offset) if np.any(c.sde.offset) else None
            self.y_affine = (step_t, off, c.layout.slices[self.alg.noisy_field])
            self.yflat = b.copy(b.asarray(flat))
        self.yctx = MeasureContext(c.objective, c.x_star, SIM_OPS)

    @property
    def cv_expect(self) -> dict[str, float]:
        """Exact expectations of the controlled statistics (empty without a control variate)."""
        if self.control is None:
            return {}
        if not hasattr(self, "_cv_expect"):
            self._cv_expect = self.control.expectations([n for n, _ in self.kw["measures"]],
                                                        CV_SCHEMES[self.scheme])
        return self._cv_expect

    # ------------------------------------------------------------------------------------------ noise
    def _setup_noise(self) -> None:
        kw, b, noise = self.kw, self.backend, self.noise
        self.stream: NoiseStream | None = None
        self.constant_noise = noise is not None and not noise.state_dependent
        if noise is None:
            return
        if self.scheme == "exact":
            sde = linearize(self.alg, self.objective, self.n_agents, noise, kw["lr"], kw["batch_size"])
            self.layout = sde.layout
            if self.scheme == "exact" and kw["time_average"]:
                sde = sde.with_center_integral()  # Lemma 5.5's integral, transported exactly with the state
            tm = sde.transition(self.dt)
            self.exact_matrix_t = b.asarray(tm.matrix.T.copy())
            self.exact_offset = b.asarray(tm.offset)
            factor_t = np.ascontiguousarray(psd_factor(tm.cov).T)
            step_shape: tuple[int, ...] = (self.sims, sde.size)

            def transform(z: Array) -> Array:
                return z @ constant(factor_t, like=z)

            distribution, gen_scale = "normal", 1.0  # the exact transition is Gaussian whatever the base noise
        else:
            if self.discrete:
                scale = 1.0 / np.sqrt(kw["batch_size"])  # zeta = B z / sqrt(b), eq. (1)
            else:
                scale = np.sqrt(np.asarray(kw["lr"]) / np.asarray(kw["batch_size"]) * self.dt)  # eq. (2)
            scale = float(scale) if np.ndim(scale) == 0 else np.asarray(scale, dtype=np.float64)
            self.scale_np = scale
            step_shape = (self.sims, self.n_agents, self.dim)

            def scaled(z: Array) -> Array:
                if isinstance(scale, float):
                    z *= scale
                else:
                    z *= constant(scale, like=z)
                return z

            gen_scale = 1.0
            if self.constant_noise and noise.scalar_factor is not None and isinstance(scale, float):
                # B = s I and a scalar sqrt(lr dt / b): the generator draws the increments directly.
                gen_scale, transform = noise.scalar_factor * scale, None
            elif self.constant_noise:
                def transform(z: Array) -> Array:
                    return scaled(noise.apply_inplace(z))
            else:
                transform = None  # B(x) needs the state: applied in the step
            distribution = "rademacher" if kw["increments"] == "rademacher" else noise.distribution
        self.stream = NoiseStream(b, step_shape, self.steps, seed=kw["seed"], distribution=distribution,
                                  block_steps=kw["block_steps"], streams=kw["streams"], transform=transform,
                                  injected=kw["noise_values"], rng=kw["rng"], scale=gen_scale)

    def _blocks(self) -> Any:
        if self.stream is not None:
            yield from self.stream.blocks()
            return
        size = self.kw["block_steps"] or 1024
        for start in range(0, self.steps, size):
            yield start, None

    # ------------------------------------------------------------------------------------------ steps
    def _scale_like(self, like: Array) -> Any:
        s = self.scale_np
        return s if isinstance(s, float) else constant(s, like=like)

    def _euler_step(self, k: int, z: Array | None) -> None:
        state = self.state
        inc = z
        if z is not None and not self.constant_noise:
            x = state["x"]  # B is evaluated at the pre-step state (Ito / Euler--Maruyama)
            inc = self.noise.apply(x, z) * self._scale_like(x)
        self._euler_update(state, self.grad, inc, k)

    def _cv_step(self, k: int, z: Array | None) -> None:
        """X and its linearization Y, one Euler--Maruyama step each on the same base variates."""
        yinc = z
        if z is not None and not self.constant_noise:
            yinc = self.control.noise.apply(None, z) * self._scale_like(z)  # B(x*) z
        self._euler_step(k, z)
        if self.y_affine is None:
            self._euler_update(self.ystate, self.ygrad, yinc, k)
            return
        step_t, off, noisy = self.y_affine
        yflat = self.yflat @ step_t
        if off is not None:
            yflat += off
        if yinc is not None:
            yflat[:, noisy] += yinc.reshape(self.sims, -1)
        self.yflat = yflat

    def _euler_update(self, state: dict[str, Array], grad: Any, inc: Array | None, k: int) -> None:
        drift = self.alg.drift(state, grad, SIM_OPS, k * self.dt)
        dt = self.dt
        for name, d in drift.items():
            if d is state[name]:
                d = d * dt
            else:
                d *= dt
            state[name] += d
        if inc is not None:
            state[self.alg.noisy_field] += inc

    def _discrete_step(self, k: int, z: Array | None) -> None:
        state = self.state
        point = self.alg.gradient_point(state)
        g = self.grad(point)
        if z is not None:
            zeta = z if self.constant_noise else self.noise.apply(point, z) * self._scale_like(point)
            g = g - zeta
        lr = self.kw["lr_at"](k)
        if self.kw["gains"] is not None:
            state["gains"] = self.backend.asarray(self.kw["gains"](state, k, self.scratch))
        self.state = self.alg.apply(state, g, SIM_OPS, lr)

    def _exact_step(self, k: int, z: Array | None) -> None:
        flat = self.flat @ self.exact_matrix_t
        flat += self.exact_offset
        if z is not None:
            flat += z
        self.flat = flat

    # ----------------------------------------------------------------------------------- bookkeeping
    def _sync_state(self) -> None:
        if self.flat_mode:
            self.state = self.layout.unflatten(self.flat)

    def _record(self, k_done: int) -> None:
        """Statistics of the state after ``k_done`` steps (stationary window and traces)."""
        in_window = k_done > self.burn_in and (k_done - self.burn_in) % self.kw["record_every"] == 0
        in_trace = self.trace_every is not None and k_done % self.trace_every == 0
        if not (in_window or in_trace):
            return
        self._sync_state()
        window = self.steps - self.burn_in
        batch = (k_done - self.burn_in - 1) * self.kw["time_batches"] // window if in_window else 0
        for name, fn in self.measures:
            values = fn(self.state, self.ctx)
            if in_window:
                if name in self.cv_expect:
                    if self.y_affine is not None:
                        self.ystate = self.control.layout.unflatten(self.yflat)
                    self.accum_plain[name].add(values, batch)
                    self.accum[name].add(values - fn(self.ystate, self.yctx), batch)
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
                and not self.kw["check_every"])

    def _check_divergence(self, k_done: int) -> None:
        b = self.backend
        self._sync_state()
        finite = None
        threshold = self.kw["divergence_threshold"]
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
        kw, b = self.kw, self.backend
        start_time = time.perf_counter()
        if self.flat_mode:
            self.layout = StateLayout.of(self.state) if not hasattr(self, "layout") else self.layout
            self.flat = self.layout.flatten(self.state)
            if self.exact_integral:
                flat = b.zeros((self.sims, self.layout.size + self.dim))
                flat[:, : self.layout.size] = self.flat
                self.flat = flat
        step = {"euler": self._affine_step if self.affine is not None else self._euler_step, "discrete": self._discrete_step, "exact": self._exact_step,
                "cv": self._cv_step, "euler_cv": self._cv_step}[self.scheme]
        check_every = kw["check_every"]
        if self.trace_every is not None:
            self._record(0)
        blas = b.single_threaded_blas() if self.stream is not None and self.stream.use_pool else nullcontext()
        with b.no_grad(), b.errstate(), blas:
            for start, block in self._blocks():
                n = self.steps - start if block is None else block.shape[0]
                n = min(n, kw["block_steps"] or 1024) if block is None else n
                if self._bare_block(start + n):
                    # Nothing to record in this block: the tightest loop (per-step overhead decides the
                    # speed of small ensembles).
                    for j in range(n):
                        step(start + j, None if block is None else block[j])
                    n_done = start + n
                    self._check_divergence(n_done)
                    if kw["progress"] is not None:
                        kw["progress"](n_done, self.steps)
                    continue
                for j in range(n):
                    k = start + j
                    if self.ta_sum is not None:
                        self._sync_state()
                        self.ta_sum += b.float64(SIM_OPS.mean(self.state["x"]))
                    step(k, None if block is None else block[j])
                    self._record(k + 1)
                    if check_every and (k + 1) % check_every == 0:
                        self._check_divergence(k + 1)
                self._check_divergence(start + n)
                if kw["progress"] is not None:
                    kw["progress"](start + n, self.steps)
        return self._finish(time.perf_counter() - start_time)

    def _finish(self, elapsed: float) -> EnsembleResult:
        with np.errstate(all="ignore"):  # huge-but-finite statistics of unstable runs overflow when squared
            return self._summaries(elapsed)

    def _summaries(self, elapsed: float) -> EnsembleResult:
        b, conf = self.backend, self.kw["confidence"]
        self._sync_state()
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
            ta = np.array(b.to_numpy(b.float64(self.flat[:, self.layout.size:])), dtype=np.float64)
            ta /= self.steps * self.dt
            ta[~live] = np.nan
        if self.ta_sum is not None:
            ta = b.to_numpy(self.ta_sum) / self.steps
            ta[~live] = np.nan
        params = {k: self.kw[k] for k in ("sims", "n_agents", "steps", "dt", "burn_in", "record_every",
                                          "time_batches", "seed", "scheme", "confidence")}
        params.update(dim=self.dim, backend=b.name, dtype=b.dtype, device=b.device,
                      algorithm=repr(self.alg), objective=repr(self.objective), noise=repr(self.noise),
                      scheme=self.scheme)
        if self.control is not None:
            params["control_variate"] = {"target": CV_SCHEMES[self.scheme], "expectations": dict(self.cv_expect)}
        return EnsembleResult(stationary, final, final_state, ~live, self.diverged_at,
                              np.asarray(self.trace_steps, dtype=np.int64), trace, ta, params, elapsed,
                              stationary_plain=plain)


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
            ``None`` uses it for small flat states (``N <= 64``), ``True`` whenever it applies, ``False`` never.
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
    kw = _validate(algorithm, objective, noise, locals())
    return _Run(algorithm, objective, noise, kw).run()


def _validate(algorithm: Any, objective: Objective, noise: NoiseModel | None, given: dict[str, Any]
              ) -> dict[str, Any]:
    kw = dict(given)
    if not isinstance(algorithm, (ContinuousAlgorithm, DiscreteAlgorithm)):
        raise InvalidParameter("algorithm", "a ContinuousAlgorithm or DiscreteAlgorithm",
                               type(algorithm).__name__, "run_ensemble")
    if not isinstance(objective, Objective):
        raise InvalidParameter("objective", "an Objective", type(objective).__name__, "run_ensemble")
    if noise is not None and not isinstance(noise, NoiseModel):
        raise InvalidParameter("noise", "a NoiseModel or None", type(noise).__name__, "run_ensemble")
    if noise is not None and noise.dim != objective.dim:
        raise InvalidParameter("noise.dim", f"== objective.dim = {objective.dim}", noise.dim, "run_ensemble")
    n_agents = kw["n_agents"] = _positive_int(kw["n_agents"], "n_agents")
    kw["sims"] = _positive_int(kw["sims"], "sims")
    steps = kw["steps"] = _positive_int(kw["steps"], "steps")
    kw["burn_in"] = _positive_int(kw["burn_in"], "burn_in", 0)
    if kw["burn_in_rates"] is not None:
        if kw["burn_in"]:
            raise InvalidParameter("burn_in", "0 when burn_in_rates is given", kw["burn_in"], "run_ensemble")
        kw["burn_in"] = burn_in_steps(kw["burn_in_rates"], _step_time(algorithm, kw), kw["burn_in_tolerance"])
    if kw["burn_in"] >= steps:
        raise InvalidParameter("burn_in", f"< steps = {steps}", kw["burn_in"], "run_ensemble")
    kw["record_every"] = _positive_int(kw["record_every"], "record_every")
    kw["time_batches"] = _positive_int(kw["time_batches"], "time_batches")
    if kw["time_batches"] > steps - kw["burn_in"]:
        raise InvalidParameter("time_batches", "<= steps - burn_in", kw["time_batches"], "run_ensemble")
    for name in ("trace_every", "check_every", "block_steps"):
        if kw[name] is not None:
            kw[name] = _positive_int(kw[name], name)
    kw["streams"] = _positive_int(kw["streams"], "streams")
    if kw["divergence_threshold"] is not None and not kw["divergence_threshold"] > 0:
        raise InvalidParameter("divergence_threshold", "> 0 or None", kw["divergence_threshold"], "run_ensemble")
    if not 0.5 <= kw["confidence"] < 1:
        raise InvalidParameter("confidence", "0.5 <= confidence < 1", kw["confidence"], "run_ensemble")
    _positive_int(kw["seed"], "seed", 0)
    kw["backend"] = Backend.make(kw["backend"], kw["dtype"], kw["device"])
    kw["batch_size"] = _agent_param(kw["batch_size"], n_agents, "batch_size")
    discrete = isinstance(algorithm, DiscreteAlgorithm)
    if discrete:
        if kw["dt"] is not None:
            raise InvalidParameter("dt", "None for a discrete iteration (one step is one iteration)", kw["dt"],
                                   "run_ensemble")
        if kw["scheme"] not in ("euler", "discrete"):
            raise InvalidParameter("scheme", "'euler' (ignored) for a discrete iteration", kw["scheme"],
                                   "run_ensemble")
        kw["lr_at"] = _lr_function(kw, n_agents)
        needs_gains = isinstance(algorithm, QuorumIteration) and algorithm.pull == "state_dependent"
        if needs_gains and kw["gains"] is None:
            raise InvalidParameter("gains", "given for pull='state_dependent' (SD-QSGD)", None, "run_ensemble")
    else:
        if kw["dt"] is None:
            raise InvalidParameter("dt", "be given (> 0) for a continuous algorithm", None, "run_ensemble")
        kw["dt"] = positive_number(kw["dt"], "dt", "run_ensemble")
        if kw["lr_schedule"] is not None or kw["gains"] is not None:
            raise InvalidParameter("lr_schedule", "None for continuous algorithms (gains live in SDQSGD)",
                                   "given", "run_ensemble")
        if noise is not None:
            if kw["lr"] is None:
                raise InvalidParameter("lr", "given (it sets the SDE noise sqrt(lr/batch_size))", None,
                                       "run_ensemble")
            kw["lr"] = _agent_param(kw["lr"], n_agents, "lr")
        if kw["scheme"] not in ("euler", "exact", *CV_SCHEMES):
            raise InvalidParameter("scheme", "'euler', 'exact', 'cv' or 'euler_cv'", kw["scheme"], "run_ensemble")
        if kw["scheme"] == "exact":
            if not isinstance(objective, Quadratic) or (noise is not None and noise.state_dependent):
                raise InvalidParameter("scheme", "'euler' unless the objective is Quadratic and the noise "
                                       "constant", "exact", "run_ensemble")
            if noise is None:
                raise InvalidParameter("noise", "given for scheme='exact'", None, "run_ensemble")
    example = algorithm.init(np.zeros((1, n_agents, objective.dim)), SIM_OPS)
    kw["measures"] = _measures(kw["stats"], example)
    if kw["noise_values"] is not None:
        shape = tuple(np.shape(kw["noise_values"]))
        if kw["scheme"] == "exact":
            size = StateLayout.of(example).size + (objective.dim if kw["time_average"] else 0)
            want = (steps, kw["sims"], size)
        else:
            want = (steps, kw["sims"], n_agents, objective.dim)
        if noise is None:
            raise InvalidParameter("noise_values", "used with a noise model", shape, "run_ensemble")
        if shape != want:
            raise InvalidParameter("noise_values", f"shape {want}", shape, "run_ensemble")
    if kw["increments"] not in ("gaussian", "rademacher"):
        raise InvalidParameter("increments", "'gaussian' or 'rademacher'", kw["increments"], "run_ensemble")
    if kw["increments"] == "rademacher" and (discrete or kw["scheme"] == "exact" or noise is None
                                             or noise.distribution != "normal"):
        raise InvalidParameter("increments", "'gaussian' unless a continuous algorithm with Gaussian noise runs "
                               "an Euler scheme (weak increments replace Brownian increments only)",
                               kw["increments"], "run_ensemble")
    if kw["rng"] not in ("torch", "numpy"):
        raise InvalidParameter("rng", "'torch' or 'numpy'", kw["rng"], "run_ensemble")
    return kw


def _step_time(algorithm: Any, kw: dict[str, Any]) -> float:
    """Duration of one step in the SDE's time: ``dt``, or the learning rate of a discrete iteration (t = eta n)."""
    if isinstance(algorithm, ContinuousAlgorithm):
        if kw["dt"] is None or not float(kw["dt"]) > 0:
            raise InvalidParameter("dt", "> 0 for a continuous algorithm", kw["dt"], "run_ensemble")
        return float(kw["dt"])
    lr = kw["lr_schedule"](0) if kw["lr_schedule"] is not None else kw["lr"]
    lr = getattr(algorithm, "lr", None) if lr is None else lr
    if lr is None:
        raise InvalidParameter("lr", "known to convert burn_in_rates into iterations", None, "run_ensemble")
    return float(np.min(lr))


def _lr_function(kw: dict[str, Any], n_agents: int) -> Callable[[int], Any]:
    backend: Backend = kw["backend"]
    schedule, lr = kw["lr_schedule"], kw["lr"]
    if schedule is not None and lr is not None:
        raise InvalidParameter("lr", "None when lr_schedule is given", lr, "run_ensemble")
    if schedule is not None:
        def at(step: int) -> Any:
            value = _agent_param(schedule(step), n_agents, "lr_schedule(step)")
            return value if isinstance(value, float) else backend.asarray(value)

        return at
    if lr is None:
        return lambda step: None
    fixed = _agent_param(lr, n_agents, "lr")
    fixed = fixed if isinstance(fixed, float) else backend.asarray(fixed)
    return lambda step: fixed


def _measures(stats: Sequence[Any], example: dict[str, np.ndarray]) -> list[tuple[str, Measure]]:
    out = []
    for item in stats:
        if isinstance(item, str):
            if item not in MEASURES:
                raise InvalidParameter("stats", f"names in {sorted(MEASURES)}", item, "run_ensemble")
            need = REQUIRED_FIELDS.get(item)
            if need is not None and need not in example:
                raise InvalidParameter("stats", f"a statistic available for this algorithm ({item} needs the "
                                       f"state field {need!r})", item, "run_ensemble")
            out.append((item, MEASURES[item]))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and callable(item[1]):
            out.append(item)
        else:
            raise InvalidParameter("stats", "a measure name or a (name, callable) pair", item, "run_ensemble")
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise InvalidParameter("stats", "distinct names", names, "run_ensemble")
    return out
