r"""What a Monte Carlo run integrates, how, and what it saves: three frozen, validated configurations.

In the spirit of diffrax (``diffeqsolve(terms, solver, saveat=...)``) a run is

* a :class:`Problem` -- *what* evolves: the algorithm, the objective, the noise, the ensemble, the initial
  positions and the SGD parameters :math:`\eta, b` that set the noise :math:`\sqrt{\eta/b}` of (2);
* a :class:`Solver` -- *how*: the scheme (a key of :data:`quorumsgd.simulate.schemes.SCHEMES`), the step,
  the number of steps, the increments, the backend, the kernel choice, the generator;
* a :class:`Saving` -- *what is kept*: the statistics, the stationary window (burn-in, thinning, time batches),
  traces, the confidence level, divergence checks.

:meth:`RunConfig.build` validates everything up front (one-line :class:`~quorumsgd.errors.InvalidParameter`
naming the parameter and the constraint, before any allocation), including the memory the run would need
(:func:`check_memory`). :func:`~quorumsgd.simulate.engine.run_ensemble` is a thin keyword front-end over it.

Example:
    >>> from quorumsgd.algorithms import QSGD
    >>> from quorumsgd.objectives import GaussianNoise, Quadratic
    >>> cfg = RunConfig.build(QSGD(coupling=1.0), Quadratic.isotropic(2), GaussianNoise.isotropic(2, 1.0),
    ...                       n_agents=4, sims=10, steps=100, dt=0.01, lr=0.1)
    >>> cfg.problem.dim, cfg.solver.scheme, [name for name, _ in cfg.saving.measures]
    (2, 'euler', ['center_error', 'spread'])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quorumsgd.algorithms.base import ContinuousAlgorithm, DiscreteAlgorithm
from quorumsgd.algorithms.discrete import QuorumIteration
from quorumsgd.algorithms.layout import StateLayout
from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.base import Objective
from quorumsgd.objectives.noise import NoiseModel
from quorumsgd.objectives.quadratic import Quadratic
from quorumsgd.parameters import numeric_array, positive_number
from quorumsgd.simulate.backend import Array, Backend
from quorumsgd.simulate.measures import MEASURES, REQUIRED_FIELDS, Measure
from quorumsgd.simulate.schedules import burn_in_steps

WHERE = "run_ensemble"

DEFAULT_STATS = ("center_error", "spread")

CV_SCHEMES = {"cv": "continuous", "euler_cv": "euler"}
"""Euler--Maruyama with the linearized system as control variate, and the law its expectations come from."""

CONTINUOUS_SCHEMES = ("euler", "exact", *CV_SCHEMES)

KERNELS = ("auto", "fused", "engine")
"""``kernel=``: ``"auto"`` runs the fused simulation kernel (:mod:`quorumsgd.simulate.kernels`) where it applies
and the array engine elsewhere; ``"fused"`` requires the kernel (one-line error where it does not apply);
``"engine"`` never uses it."""

Progress = Callable[[int, int], None]
"""``progress(steps_done, steps_total)``, called after every block of steps."""

GainsHook = Callable[[dict[str, Array], int, dict[str, Any]], Array]


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int >= minimum`` (bools refused), else a one-line error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidParameter(name, f"an integer >= {minimum}", value, WHERE)
    return int(value)


def agent_param(value: Any, n_agents: int, name: str) -> float | np.ndarray:
    """A positive scalar, or a per-agent array of shape ``(n_agents,)`` returned as ``(n_agents, 1)``."""
    arr = numeric_array(value, name, WHERE)
    if arr.ndim == 0:
        if not float(arr) > 0:
            raise InvalidParameter(name, "> 0", value, WHERE)
        return float(arr)
    if arr.shape != (n_agents,) or not np.all(arr > 0):
        raise InvalidParameter(name, f"> 0 with shape () or ({n_agents},)", arr.shape, WHERE)
    return arr[:, None]


@dataclass(frozen=True)
class Problem:
    """What is integrated: the algorithm on the objective with the noise, for ``sims`` ensembles of ``n_agents``.

    Attributes:
        algorithm: a continuous algorithm (SDE drift) or a discrete iteration of :mod:`quorumsgd.algorithms`.
        objective, noise: the loss and the single-sample gradient noise (``None``: the noise-free flow).
        n_agents, sims: ensemble size.
        x0: initial positions (broadcastable to ``(sims, agents, dim)``) or ``f(rng, shape)``.
        lr, batch_size: :math:`\\eta` and :math:`b`, floats or per-agent ``(n_agents, 1)`` arrays.
        minimizer: override of the objective's :math:`\\mathbf x^*` (``None``: the objective's).
        lr_at: discrete iterations' learning rate at a step (``None`` keeps the iteration's).
        gains: SD-QSGD hook of discrete iterations with ``pull="state_dependent"``.
    """

    algorithm: ContinuousAlgorithm | DiscreteAlgorithm
    objective: Objective
    noise: NoiseModel | None
    n_agents: int
    sims: int
    x0: Any = 0.0
    lr: float | np.ndarray | None = None
    batch_size: float | np.ndarray = 1.0
    minimizer: np.ndarray | None = None
    lr_at: Callable[[int], Any] | None = None
    gains: GainsHook | None = None

    @property
    def discrete(self) -> bool:
        return isinstance(self.algorithm, DiscreteAlgorithm)

    @property
    def dim(self) -> int:
        return int(self.objective.dim)

    @property
    def constant_noise(self) -> bool:
        return self.noise is not None and not self.noise.state_dependent

    def example_state(self) -> dict[str, np.ndarray]:
        """The algorithm's state for one simulation of zeros (its fields and shapes)."""
        return self.algorithm.init(np.zeros((1, self.n_agents, self.dim)), SIM_OPS)


@dataclass(frozen=True)
class Solver:
    """How it is integrated.

    Attributes:
        scheme: a key of :data:`quorumsgd.simulate.schemes.SCHEMES` (``"discrete"`` for discrete iterations).
        steps: number of steps (iterations). dt: the step of continuous schemes (``None`` for discrete ones).
        increments: ``"gaussian"`` or ``"rademacher"`` base variates.
        fused: the small-linear-system matrix step of ``"euler"`` (``None``: when small; ``False`` also turns the
            fused simulation kernel off, so that ``fused=False`` always means the algorithm's own array step).
        kernel: one of :data:`KERNELS`.
        backend: where the arrays live. seed: reproducibility.
        noise_values: injected base variates (tests), or ``None``.
        block_steps, streams, rng: the noise stream's block length, generator streams and generator family.
    """

    scheme: str
    steps: int
    dt: float | None
    backend: Backend
    increments: str = "gaussian"
    fused: bool | None = None
    kernel: str = "auto"
    seed: int = 0
    noise_values: Any = None
    block_steps: int | None = None
    streams: int = 4
    rng: str = "torch"


@dataclass(frozen=True)
class Saving:
    """What is kept: statistics over a stationary window, traces, confidence bounds, divergence checks."""

    measures: tuple[tuple[str, Measure], ...]
    burn_in: int = 0
    record_every: int = 1
    time_batches: int = 1
    trace_every: int | None = None
    time_average: bool = False
    confidence: float = 0.95
    check_every: int | None = None
    divergence_threshold: float | None = None
    progress: Progress | None = None


@dataclass(frozen=True)
class RunConfig:
    """A validated run: :class:`Problem`, :class:`Solver`, :class:`Saving`."""

    problem: Problem
    solver: Solver
    saving: Saving

    @classmethod
    def build(
        cls,
        algorithm: Any,
        objective: Any,
        noise: Any = None,
        *,
        n_agents: Any,
        sims: Any,
        steps: Any,
        dt: Any = None,
        lr: Any = None,
        batch_size: Any = 1.0,
        x0: Any = 0.0,
        burn_in: Any = 0,
        burn_in_rates: Sequence[float] | None = None,
        burn_in_tolerance: float = 1e-3,
        stats: Sequence[Any] = DEFAULT_STATS,
        record_every: Any = 1,
        time_batches: Any = 1,
        trace_every: Any = None,
        time_average: bool = False,
        confidence: float = 0.95,
        backend: str = "numpy",
        dtype: str = "float64",
        device: str | None = None,
        seed: Any = 0,
        noise_values: Any = None,
        scheme: str = "euler",
        increments: str = "gaussian",
        fused: bool | None = None,
        kernel: str = "auto",
        lr_schedule: Callable[[int], Any] | None = None,
        gains: GainsHook | None = None,
        minimizer: np.ndarray | None = None,
        block_steps: Any = None,
        streams: Any = 4,
        rng: str = "torch",
        check_every: Any = None,
        divergence_threshold: float | None = None,
        progress: Progress | None = None,
    ) -> RunConfig:
        """Validate the keywords of :func:`~quorumsgd.simulate.engine.run_ensemble` (same meaning, same errors)."""
        if not isinstance(algorithm, (ContinuousAlgorithm, DiscreteAlgorithm)):
            raise InvalidParameter("algorithm", "a ContinuousAlgorithm or DiscreteAlgorithm",
                                   type(algorithm).__name__, WHERE)
        if not isinstance(objective, Objective):
            raise InvalidParameter("objective", "an Objective", type(objective).__name__, WHERE)
        if noise is not None and not isinstance(noise, NoiseModel):
            raise InvalidParameter("noise", "a NoiseModel or None", type(noise).__name__, WHERE)
        if noise is not None and noise.dim != objective.dim:
            raise InvalidParameter("noise.dim", f"== objective.dim = {objective.dim}", noise.dim, WHERE)
        n_agents = positive_int(n_agents, "n_agents")
        sims = positive_int(sims, "sims")
        steps = positive_int(steps, "steps")
        burn_in = positive_int(burn_in, "burn_in", 0)
        discrete = isinstance(algorithm, DiscreteAlgorithm)
        if burn_in_rates is not None:
            if burn_in:
                raise InvalidParameter("burn_in", "0 when burn_in_rates is given", burn_in, WHERE)
            step_time = _step_time(algorithm, dt, lr, lr_schedule)
            burn_in = burn_in_steps(burn_in_rates, step_time, burn_in_tolerance)
        if burn_in >= steps:
            raise InvalidParameter("burn_in", f"< steps = {steps}", burn_in, WHERE)
        record_every = positive_int(record_every, "record_every")
        time_batches = positive_int(time_batches, "time_batches")
        if time_batches > steps - burn_in:
            raise InvalidParameter("time_batches", "<= steps - burn_in", time_batches, WHERE)
        trace_every, check_every, block_steps = (None if v is None else positive_int(v, name) for v, name in
                                                 ((trace_every, "trace_every"), (check_every, "check_every"),
                                                  (block_steps, "block_steps")))
        streams = positive_int(streams, "streams")
        if divergence_threshold is not None and not divergence_threshold > 0:
            raise InvalidParameter("divergence_threshold", "> 0 or None", divergence_threshold, WHERE)
        if not 0.5 <= confidence < 1:
            raise InvalidParameter("confidence", "0.5 <= confidence < 1", confidence, WHERE)
        seed = positive_int(seed, "seed", 0)
        back = Backend.make(backend, dtype, device)
        batch = agent_param(batch_size, n_agents, "batch_size")
        lr_at = None
        if discrete:
            if dt is not None:
                raise InvalidParameter("dt", "None for a discrete iteration (one step is one iteration)", dt, WHERE)
            if scheme not in ("euler", "discrete"):
                raise InvalidParameter("scheme", "'euler' (ignored) for a discrete iteration", scheme, WHERE)
            scheme = "discrete"
            lr_at = _lr_function(back, lr_schedule, lr, n_agents)
            needs_gains = isinstance(algorithm, QuorumIteration) and algorithm.pull == "state_dependent"
            if needs_gains and gains is None:
                raise InvalidParameter("gains", "given for pull='state_dependent' (SD-QSGD)", None, WHERE)
        else:
            if dt is None:
                raise InvalidParameter("dt", "be given (> 0) for a continuous algorithm", None, WHERE)
            dt = positive_number(dt, "dt", WHERE)
            if lr_schedule is not None or gains is not None:
                raise InvalidParameter("lr_schedule", "None for continuous algorithms (gains live in SDQSGD)",
                                       "given", WHERE)
            if noise is not None:
                if lr is None:
                    raise InvalidParameter("lr", "given (it sets the SDE noise sqrt(lr/batch_size))", None, WHERE)
                lr = agent_param(lr, n_agents, "lr")
            if scheme not in CONTINUOUS_SCHEMES:
                raise InvalidParameter("scheme", "'euler', 'exact', 'cv' or 'euler_cv'", scheme, WHERE)
            if scheme == "exact":
                if not isinstance(objective, Quadratic) or (noise is not None and noise.state_dependent):
                    raise InvalidParameter("scheme", "'euler' unless the objective is Quadratic and the noise "
                                           "constant", "exact", WHERE)
                if noise is None:
                    raise InvalidParameter("noise", "given for scheme='exact'", None, WHERE)
        example = algorithm.init(np.zeros((1, n_agents, objective.dim)), SIM_OPS)
        measures = tuple(_measures(stats, example))
        flat_size = StateLayout.of(example).size
        if noise_values is not None:
            shape = tuple(np.shape(noise_values))
            if scheme == "exact":
                want: tuple[int, ...] = (steps, sims, flat_size + (objective.dim if time_average else 0))
            else:
                want = (steps, sims, n_agents, objective.dim)
            if noise is None:
                raise InvalidParameter("noise_values", "used with a noise model", shape, WHERE)
            if shape != want:
                raise InvalidParameter("noise_values", f"shape {want}", shape, WHERE)
        if increments not in ("gaussian", "rademacher"):
            raise InvalidParameter("increments", "'gaussian' or 'rademacher'", increments, WHERE)
        if increments == "rademacher" and (discrete or scheme == "exact" or noise is None
                                           or noise.distribution != "normal"):
            raise InvalidParameter("increments", "'gaussian' unless a continuous algorithm with Gaussian noise "
                                   "runs an Euler scheme (weak increments replace Brownian increments only)",
                                   increments, WHERE)
        if rng not in ("torch", "numpy"):
            raise InvalidParameter("rng", "'torch' or 'numpy'", rng, WHERE)
        if kernel not in KERNELS:
            raise InvalidParameter("kernel", f"one of {KERNELS}", kernel, WHERE)
        check_memory(sims, flat_size + (objective.dim if time_average else 0), back,
                     n_stats=len(measures), time_batches=time_batches, control=scheme in CV_SCHEMES)
        problem = Problem(algorithm, objective, noise, n_agents, sims, x0, lr, batch, minimizer, lr_at, gains)
        solver = Solver(scheme, steps, dt, back, increments, fused, kernel, seed, noise_values, block_steps,
                        streams, rng)
        saving = Saving(measures, burn_in, record_every, time_batches, trace_every, bool(time_average), confidence,
                        check_every, divergence_threshold, progress)
        return cls(problem, solver, saving)


# --------------------------------------------------------------------------------------------- memory
STATE_COPIES = 8
"""Arrays of the state's size alive at once in an array step (state, drift terms, temporaries, final copy)."""


def available_memory(backend: Backend) -> int:
    """Bytes available to a new allocation: ``MemAvailable`` of ``/proc/meminfo`` (or ``os.sysconf``); on CUDA
    the device's free memory."""
    if backend.is_cuda:
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(backend.device))
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no way to ask: do not refuse
        return 1 << 62


def needed_memory(sims: int, flat_size: int, backend: Backend, n_stats: int = 2, time_batches: int = 1,
                  control: bool = False) -> int:
    """Bytes a run of ``sims`` simulations with a flat state of ``flat_size`` needs at least (state copies in
    the step's precision, a control variate's twin, float64 accumulators per statistic)."""
    item = np.dtype(backend.dtype).itemsize
    state = sims * flat_size * item * STATE_COPIES * (2 if control else 1)
    accum = sims * 8 * (time_batches + 3) * max(n_stats, 1) * (2 if control else 1)
    return int(state + accum)


def check_memory(sims: int, flat_size: int, backend: Backend, *, n_stats: int = 2, time_batches: int = 1,
                 control: bool = False) -> None:
    """Refuse up front (one line naming ``sims``) a run whose arrays cannot fit in the available memory.

    Example:
        >>> check_memory(10**12, 160, Backend.make())
        Traceback (most recent call last):
        ...
        quorumsgd.errors.InvalidParameter: run_ensemble: parameter sims must satisfy ...
    """
    need = needed_memory(sims, flat_size, backend, n_stats, time_batches, control)
    have = available_memory(backend)
    if need > have:
        where = "GPU" if backend.is_cuda else "RAM"
        raise InvalidParameter("sims", f"a run that fits in memory (needs {need / 2**30:.1f} GiB, "
                               f"{have / 2**30:.1f} GiB of {where} available)", sims, WHERE)


# ------------------------------------------------------------------------------------------- helpers
def _step_time(algorithm: Any, dt: Any, lr: Any, lr_schedule: Callable[[int], Any] | None) -> float:
    """Duration of one step in the SDE's time: ``dt``, or the learning rate of a discrete iteration (t = eta n)."""
    if isinstance(algorithm, ContinuousAlgorithm):
        if dt is None or not float(dt) > 0:
            raise InvalidParameter("dt", "> 0 for a continuous algorithm", dt, WHERE)
        return float(dt)
    rate = lr_schedule(0) if lr_schedule is not None else lr
    rate = getattr(algorithm, "lr", None) if rate is None else rate
    if rate is None:
        raise InvalidParameter("lr", "known to convert burn_in_rates into iterations", None, WHERE)
    return float(np.min(rate))


def _lr_function(backend: Backend, schedule: Callable[[int], Any] | None, lr: Any, n_agents: int
                 ) -> Callable[[int], Any]:
    if schedule is not None and lr is not None:
        raise InvalidParameter("lr", "None when lr_schedule is given", lr, WHERE)
    if schedule is not None:
        def at(step: int) -> Any:
            value = agent_param(schedule(step), n_agents, "lr_schedule(step)")
            return value if isinstance(value, float) else backend.asarray(value)

        return at
    if lr is None:
        return lambda step: None
    fixed = agent_param(lr, n_agents, "lr")
    fixed_b = fixed if isinstance(fixed, float) else backend.asarray(fixed)
    return lambda step: fixed_b


def _measures(stats: Sequence[Any], example: dict[str, np.ndarray]) -> list[tuple[str, Measure]]:
    out = []
    for item in stats:
        if isinstance(item, str):
            if item not in MEASURES:
                raise InvalidParameter("stats", f"names in {sorted(MEASURES)}", item, WHERE)
            need = REQUIRED_FIELDS.get(item)
            if need is not None and need not in example:
                raise InvalidParameter("stats", f"a statistic available for this algorithm ({item} needs the "
                                       f"state field {need!r})", item, WHERE)
            out.append((item, MEASURES[item]))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and callable(item[1]):
            out.append(item)
        else:
            raise InvalidParameter("stats", "a measure name or a (name, callable) pair", item, WHERE)
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise InvalidParameter("stats", "distinct names", names, WHERE)
    return out
