r"""One check per measurable bound: simulate past the theorem's transients, measure, compare.

Each check builds (or takes) a :class:`~quorumsgd.verify.problems.Problem` satisfying the theorem's
hypotheses, runs :func:`quorumsgd.simulate.run_ensemble` past the exponential transients the theorem states
(burn-in from its ``transient_rates``), and compares the stationary mean of the statistic (one-sided
confidence bounds from independent batch means) with the bound from :mod:`quorumsgd.bounds`.

Quadratic problems use the exact Gaussian transitions (no time-step bias); non-quadratic ones use
Euler--Maruyama with a step small against the fastest rate and, where the statistic has a Gaussian closed form,
the linearized system at the minimizer as control variate (``scheme="cv"`` of
:func:`~quorumsgd.simulate.run_ensemble`): it removes the linear part's step bias, so the step is 4x larger, and
it divides the variance, so a pilot run sizes the ensemble to the precision the plain path reaches with
``settings.sims`` simulations. ``Settings(control_variate=False)`` gives the plain path.

Example:
    >>> r = run_check("lemma3.1", settings=Settings(sims=64, window=10.0))
    >>> r.verdict, r.measured < r.bound
    ('holds', True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from quorumsgd import bounds
from quorumsgd.algorithms import EASGD, QSGD, SDQSGD, SGD, MomentumQSGD, best_agent_gains
from quorumsgd.bounds.registry import CHECK_NAMES, REGISTRY, resolve
from quorumsgd.errors import InvalidParameter, QuorumSGDError
from quorumsgd.simulate import burn_in_steps, run_ensemble, summarize
from quorumsgd.simulate.control_variate import GAUSSIAN_FORMS, LinearizedControl
from quorumsgd.simulate.measures import SECOND_MOMENTS
from quorumsgd.simulate.result import EnsembleResult
from quorumsgd.verify.problems import Problem
from quorumsgd.verify.result import CheckResult


@dataclass(frozen=True)
class Settings:
    """How hard to measure.

    Attributes:
        sims: independent simulations (each one an ensemble of ``n_agents`` agents).
        confidence: level of the one-sided confidence bounds.
        window: length of the recording window, in units of the slowest transient time 1/rate.
        time_batches: batch means per simulation inside the window.
        steps_per_time: time steps per unit of the fastest time scale (Euler) — dt = 1/(steps_per_time r_max).
        tolerance: burn-in ends when the slowest transient has decayed to this fraction.
        seed, backend, dtype, device: simulation options (see :func:`quorumsgd.simulate.run_ensemble`).
        control_variate: use the linearized system as control variate where it applies (same confidence
            level, at least the precision of ``sims`` plain simulations); ``False`` for the plain path.
        moment: 1 measures the norm the paper bounds (E‖·‖); 2 its square E‖·‖², the quantity the SDP certificates
            over S(λ, L) bound (``hunt --against sdp`` compares it with them; the check's own ``bound`` stays the
            paper's first-moment bound and is not comparable then).
    """

    sims: int = 200
    confidence: float = 0.95
    window: float = 20.0
    time_batches: int = 4
    steps_per_time: float = 20.0
    tolerance: float = 1e-3
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float64"
    device: str | None = None
    control_variate: bool = True
    moment: int = 1


QUICK = Settings()
THOROUGH = Settings(sims=1000, window=40.0, steps_per_time=40.0)


CV_STEP_FACTOR = 4.0
"""With the control variate the step is this much larger than the plain Euler step: the linear part's step bias
is removed exactly, and the remainder's was measured far below the plain path's (benchmarks/bench_simulate.py)."""

CV_PILOT_FRACTION = 8
"""The pilot of a control-variate run has ``sims / CV_PILOT_FRACTION`` simulations (at least 16)."""

CV_RATIO_SAFETY = 1.5
"""The variance ratio of the pilot (about 100 batch means) is inflated by this factor before sizing the run."""


def _controllable(algorithm: Any, problem: Problem, stats: Sequence[str], dt: float, settings: Settings,
                  exact: bool, kw: dict[str, Any]) -> bool:
    """Can every statistic of this run use the linearized control variate?"""
    if exact or not settings.control_variate or "scheme" in kw or not all(s in GAUSSIAN_FORMS for s in stats):
        return False
    lr = problem.spec.lr
    try:
        LinearizedControl.build(algorithm, problem.objective, problem.noise, problem.spec.n_agents,
                                np.asarray(lr, dtype=float), problem.spec.batch_size, dt)
    except (InvalidParameter, np.linalg.LinAlgError):  # no Hessian, not affine, unstable: the plain path
        return False
    return True


def _simulate(
    algorithm: Any,
    problem: Problem,
    stats: Sequence[str],
    transient_rates: Sequence[float],
    fastest_rate: float,
    settings: Settings,
    *,
    exact: bool = False,
    **kw: Any,
) -> tuple[EnsembleResult, dict[str, Any]]:
    """Run past the transients and record a stationary window; returns the result and its settings."""
    stats = [_measured(s, settings) for s in stats]
    slowest = min(r for r in transient_rates if r > 0)
    dt = 1.0 / (settings.steps_per_time * fastest_rate)
    if exact:  # exact transitions: the step only sets the recording resolution
        dt = min(4 * dt, 0.25 / slowest)
    cv = _controllable(algorithm, problem, stats, min(CV_STEP_FACTOR * dt, 0.25 / slowest), settings, exact, kw)
    if cv:
        dt = min(CV_STEP_FACTOR * dt, 0.25 / slowest)
    burn_in = burn_in_steps(transient_rates, dt, settings.tolerance, gap=10.0)
    record = int(np.ceil(settings.window / slowest / dt))
    run = dict(
        n_agents=problem.spec.n_agents,
        sims=settings.sims,
        steps=burn_in + record,
        dt=dt,
        lr=np.asarray(problem.spec.lr, dtype=float) if isinstance(problem.spec.lr, tuple) else problem.spec.lr,
        batch_size=problem.spec.batch_size,
        burn_in=burn_in,
        stats=list(stats),
        time_batches=settings.time_batches,
        confidence=settings.confidence,
        backend=settings.backend,
        dtype=settings.dtype,
        device=settings.device,
        seed=settings.seed,
        scheme="exact" if exact else ("cv" if cv else "euler"),
    )
    run.update(kw)
    if cv:
        result = _sized_cv_run(algorithm, problem, run, stats, settings)
    else:
        result = run_ensemble(algorithm, problem.objective, problem.noise, **run)
    shown = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in run.items() if k not in ("stats",)}
    return result, shown


def _measured(stat: str, settings: Settings) -> str:
    """The statistic a check records: its norm, or with ``settings.moment == 2`` that norm's square."""
    if settings.moment == 1:
        return stat
    if settings.moment != 2:
        raise InvalidParameter("moment", "be 1 or 2", settings.moment, "verify")
    return SECOND_MOMENTS.get(stat, stat)


def _sized_cv_run(algorithm: Any, problem: Problem, run: dict[str, Any], stats: Sequence[str],
                  settings: Settings) -> EnsembleResult:
    """A pilot, then as many more simulations as the precision of ``settings.sims`` plain ones needs.

    The pilot measures both the controlled and the plain batch means of every statistic, so the variance
    ratio comes from the run itself; simulations are independent, so the two runs' batch means pool.
    """
    pilot_sims = max(16, -(-settings.sims // CV_PILOT_FRACTION))
    run["sims"] = pilot_sims
    pilot = run_ensemble(algorithm, problem.objective, problem.noise, **run)
    ratio = max(float(pilot.stationary[s].stderr ** 2 / pilot.stationary_plain[s].stderr ** 2)
                if pilot.stationary_plain[s].stderr > 0 else 1.0 for s in stats)
    need = int(np.ceil(settings.sims * min(1.0, CV_RATIO_SAFETY * ratio)))
    run["sims"] = pilot_sims
    run["variance_ratio"] = ratio
    if need <= pilot_sims:
        return pilot
    more_seed = int(np.random.SeedSequence([settings.seed, 1]).generate_state(1, np.uint32)[0])
    extra = run_ensemble(algorithm, problem.objective, problem.noise,
                         **{**{k: v for k, v in run.items() if k != "variance_ratio"}, "sims": need - pilot_sims,
                            "seed": more_seed})
    run["sims"], run["extra_seed"] = need, more_seed
    pooled = {s: summarize(s, np.concatenate([pilot.stationary[s].samples, extra.stationary[s].samples]),
                           settings.confidence, kind="stationary", std=pilot.stationary[s].std) for s in stats}
    return replace(pilot, stationary=pooled, diverged=np.concatenate([pilot.diverged, extra.diverged]),
                   elapsed_s=pilot.elapsed_s + extra.elapsed_s)


def _compare(
    name: str,
    statistic: str,
    result: EnsembleResult,
    stat: str,
    bound: bounds.BoundResult,
    problem: Problem,
    run: dict[str, Any],
    settings: Settings,
    **details: Any,
) -> CheckResult:
    if _measured(stat, settings) != stat:
        stat, statistic = _measured(stat, settings), statistic + "^2"
    summary = result.stationary[stat]
    return CheckResult.from_measurement(
        name,
        statistic,
        float(bound.value),
        summary.mean,
        summary.stderr,
        summary.ucb,
        summary.lcb,
        settings.confidence,
        summary.n,
        params={"problem": problem.to_json(), "simulation": run, "settings": asdict(settings)},
        terms={k: float(v) for k, v in bound.terms.items()},
        details={"diverged": int(result.diverged.sum()), "elapsed_s": result.elapsed_s, **details},
    )


# --- the checks ------------------------------------------------------------------------------------------------


def check_lemma3_1(problem: Problem, settings: Settings = QUICK) -> CheckResult:
    """Lemma 3.1 (22): stationary :math:`\\mathbb E\\sum_i\\|\\mathbf x^i-\\bar{\\mathbf x}\\|^2` of QSGD.

    Per-agent learning rates (a tuple ``lr`` in the problem spec) check the Sec. 3.4 variant, bound at the mean rate.
    """
    s = problem.spec
    bound = bounds.lemma3_1(n_agents=s.n_agents, lr=problem.mean_lr, batch_size=s.batch_size, sigma2=problem.sigma2,
                            coupling=s.coupling, lambda_max=problem.lambda_max)
    # Exact transitions for quadratics; per-agent rates go through Euler--Maruyama (the exact path of the
    # engine takes scalar rates only).
    exact = s.objective == "quadratic" and s.noise == "isotropic" and not isinstance(s.lr, tuple)
    result, run = _simulate(QSGD(coupling=s.coupling), problem, ["spread"], list(bound.transient_rates.values()),
                            problem.smoothness + s.coupling, settings, exact=exact)
    name = "lemma3.1:multi_lr" if isinstance(s.lr, tuple) else "lemma3.1"
    return _compare(name, "E sum_i |x_i - x_bar|^2", result, "spread", bound, problem, run, settings)


def check_thm3_2(problem: Problem, settings: Settings = QUICK) -> CheckResult:
    """Thm 3.2 (31): stationary :math:`\\mathbb E\\|\\boldsymbol\\epsilon\\|` of QSGD on a non-quadratic objective."""
    s = problem.spec
    bound = bounds.thm3_2(n_agents=s.n_agents, lr=problem.mean_lr, batch_size=s.batch_size, sigma2=problem.sigma2,
                          dim=s.dim, q=problem.q, coupling=s.coupling, lambda_max=problem.lambda_max)
    result, run = _simulate(QSGD(coupling=s.coupling), problem, ["disturbance"], list(bound.transient_rates.values()),
                            problem.smoothness + s.coupling, settings)
    return _compare("thm3.2", "E |eps|", result, "disturbance", bound, problem, run, settings)


def check_sgd(problem: Problem, settings: Settings = QUICK) -> CheckResult:
    """The SGD comparison bound (48): one agent, stationary :math:`\\mathbb E\\|\\mathbf x-\\mathbf x^*\\|`."""
    s = problem.spec
    problem = problem.replace(n_agents=1)
    bound = bounds.sgd(lr=problem.mean_lr, batch_size=s.batch_size, sigma2=problem.sigma2,
                       strong_convexity=problem.strong_convexity)
    exact = s.objective == "quadratic" and s.noise == "isotropic"
    result, run = _simulate(SGD(), problem, ["center_error"], list(bound.transient_rates.values()),
                            problem.smoothness, settings, exact=exact)
    return _compare("sgd", "E |x - x*|", result, "center_error", bound, problem, run, settings)


def check_thm5_1(problem: Problem, settings: Settings = QUICK) -> CheckResult:
    """Thm 5.1 (47): stationary :math:`\\mathbb E\\|\\bar{\\mathbf x}-\\mathbf x^*\\|` of QSGD."""
    s = problem.spec
    bound = bounds.thm5_1(n_agents=s.n_agents, lr=problem.mean_lr, batch_size=s.batch_size, sigma2=problem.sigma2,
                          dim=s.dim, q=problem.q, strong_convexity=problem.strong_convexity, coupling=s.coupling)
    exact = s.objective == "quadratic" and s.noise == "isotropic"
    result, run = _simulate(QSGD(coupling=s.coupling), problem, ["center_error"],
                            list(bound.transient_rates.values()), problem.smoothness + s.coupling, settings,
                            exact=exact)
    return _compare("thm5.1", "E |x_bar - x*|", result, "center_error", bound, problem, run, settings)


def _lmi_bound(name: str, **params: Any) -> float | None:
    """The bound with an LMI-certified metric (None when no metric is certified for these parameters)."""
    try:
        return float(bounds.evaluate(name, metric="lmi", **params).value)
    except QuorumSGDError:  # e.g. no certified contraction metric: only the paper's metric applies
        return None


def check_thm5_2(problem: Problem, settings: Settings = QUICK) -> CheckResult:
    """Thm 5.2 (51): stationary :math:`\\mathbb E\\|(\\bar{\\mathbf x},\\tilde{\\mathbf x})-(\\mathbf x^*,\\mathbf x^*)\\|` of EASGD."""
    s = problem.spec
    params = dict(n_agents=s.n_agents, lr=problem.mean_lr, batch_size=s.batch_size, sigma2=problem.sigma2, dim=s.dim,
                  q=problem.q, strong_convexity=problem.strong_convexity, coupling=s.coupling)
    bound = bounds.thm5_2(**params)
    fastest = problem.smoothness + s.coupling * (1 + s.n_agents)
    result, run = _simulate(EASGD(coupling=s.coupling), problem, ["center_quorum_error"],
                            list(bound.transient_rates.values()), fastest, settings)
    out = _compare("thm5.2", "E |(x_bar, x_tilde) - (x*, x*)|", result, "center_quorum_error", bound, problem, run,
                   settings)
    # The LMI certificate needs the Hessian-eigenvalue polytope [lambda, L]: pass the objective's smoothness.
    return replace(out, bound_lmi=_lmi_bound("thm5.2", **params, smoothness=problem.smoothness))


def check_thm5_3(problem: Problem, settings: Settings = QUICK) -> CheckResult:
    """Thm 5.3 (54): stationary :math:`\\mathbb E\\|(\\bar{\\mathbf x},\\bar{\\mathbf v})-(\\mathbf x^*,\\mathbf 0)\\|`."""
    s = problem.spec
    if s.damping is None:
        raise InvalidParameter("damping", "be set for thm5.3 (QSGD with momentum)", where="verify")
    params = dict(n_agents=s.n_agents, lr=problem.mean_lr, batch_size=s.batch_size, sigma2=problem.sigma2, dim=s.dim,
                  q=problem.q, strong_convexity=problem.strong_convexity, smoothness=problem.smoothness,
                  coupling=s.coupling, damping=s.damping)
    bound = bounds.thm5_3(**params)
    fastest = s.damping + s.coupling + problem.smoothness**0.5
    exact = s.objective == "quadratic" and s.noise == "isotropic"
    result, run = _simulate(MomentumQSGD(coupling=s.coupling, damping=s.damping), problem, ["center_velocity_error"],
                            list(bound.transient_rates.values()), fastest, settings, exact=exact)
    out = _compare("thm5.3", "E |(x_bar, v_bar) - (x*, 0)|", result, "center_velocity_error", bound, problem, run,
                   settings, metric_a=float(bound.parameters["metric_a"]))
    return replace(out, bound_lmi=_lmi_bound("thm5.3", **params))


def check_lemma5_4(problem: Problem, settings: Settings = QUICK, magnification: float = 3.0,
                   epoch: float = 2.0, tau: float = 0.2) -> CheckResult:
    r"""Lemma 5.4 (56): noise-free SD-QSGD with the gains (60)--(61) synchronizes at least at :math:`\lambda_{sd}`.

    The measured rate is the slowest decay of :math:`\sqrt{\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2}` over
    every recorded interval (a *lower* bound check: measured >= bound). Agent 0 wins every epoch of length
    ``epoch`` (time units); the gains relax with time constant ``tau``.
    """
    s = problem.spec
    bound = bounds.lemma5_4(coupling=s.coupling, n_agents=s.n_agents, magnification=magnification,
                            lambda_max=problem.lambda_max)

    def gains(state: dict[str, Any], t: Any) -> Any:
        g = best_agent_gains(s.coupling, s.n_agents, winner=0, t=float(t) % epoch, tau=tau,
                             magnification=magnification)
        return g[None, :, None]

    fastest = problem.smoothness + s.coupling * (1 + magnification)
    dt = 1.0 / (settings.steps_per_time * 10 * fastest)
    horizon = 3.0 * epoch
    steps = int(np.ceil(horizon / dt))
    every = max(1, steps // 300)
    result = run_ensemble(SDQSGD(gains=gains), problem.objective, None, n_agents=s.n_agents, sims=8, steps=steps,
                          dt=dt, x0=lambda rng, shape: rng.uniform(-3, 3, shape), stats=["spread"],
                          trace_every=every, seed=settings.seed)
    spread = np.asarray(result.trace["spread"], dtype=float)
    times = np.asarray(result.trace_steps, dtype=float) * dt
    keep = spread > 1e-12 * spread[0]  # stop before round-off dominates
    log_norm = 0.5 * np.log(spread[keep])
    rates = -np.diff(log_norm) / np.diff(times[keep])
    measured = float(rates.min())
    return CheckResult.from_measurement(
        "lemma5.4", "min_t -d/dt log sqrt(sum_i |x_i - x_bar|^2)", float(bound.value), measured, 0.0, measured,
        measured, 1.0, int(rates.size), direction="lower",
        params={"problem": problem.to_json(), "magnification": magnification, "epoch": epoch, "tau": tau, "dt": dt,
                "steps": steps, "seed": settings.seed},
        terms={k: float(v) for k, v in bound.terms.items()},
        details={"mean_rate": float(np.mean(rates))},
    )


def check_lemma5_5(problem: Problem, settings: Settings = QUICK, horizon: float = 30.0) -> CheckResult:
    r"""Lemma 5.5 (59): :math:`\mathbb E\|\hat{\mathbf x}(T)-\mathbf x^*\|^2` of QSGD started at the minimizer.

    From the minimizer the exact value is below the asymptotic (59) for every T and tends to it; the check
    compares with (59) (upper) and reports the exact finite-time value and the independence of the coupling.
    """
    s = problem.spec
    if s.objective != "quadratic" or problem.smoothness != problem.strong_convexity:
        problem = Problem.quadratic(dim=s.dim, strong_convexity=problem.strong_convexity,
                                    smoothness=problem.strong_convexity, sigma2=problem.sigma2, n_agents=s.n_agents,
                                    coupling=s.coupling, lr=problem.mean_lr, batch_size=s.batch_size)
    h = problem.strong_convexity
    t_end = horizon / h
    # Exact transitions carry the time integral exactly (run_ensemble's time_average with scheme="exact"): the
    # step only sets how often the (unused) final-state statistics are recorded.
    dt = t_end / 10
    steps = int(np.ceil(t_end / dt))
    t_end = steps * dt
    bound = bounds.lemma5_5(n_agents=s.n_agents, lr=problem.mean_lr, batch_size=s.batch_size, sigma2=problem.sigma2,
                            dim=s.dim, curvature=h, time=t_end)
    result = run_ensemble(QSGD(coupling=s.coupling), problem.objective, problem.noise, n_agents=s.n_agents,
                          sims=max(settings.sims, 2000), steps=steps, dt=dt, lr=problem.mean_lr,
                          batch_size=s.batch_size, x0=problem.objective.minimizer, time_average=True,
                          stats=["center_error"], scheme="exact", seed=settings.seed, backend=settings.backend)
    from quorumsgd.bounds.catalog import lemma5_5_finite_time

    finite = lemma5_5_finite_time()
    values = dict(n_agents=s.n_agents, lr=problem.mean_lr, batch_size=s.batch_size, sigma2=problem.sigma2, dim=s.dim,
                  curvature=h, time=t_end)
    exact_value = float(finite.subs({sym: values[sym.name] for sym in finite.free_symbols}))
    err2 = np.sum((result.time_average[~result.diverged] - problem.objective.minimizer) ** 2, axis=-1)
    from quorumsgd.simulate import summarize

    summary = summarize("time_average_sq", err2, settings.confidence)
    return CheckResult.from_measurement(
        "lemma5.5", "E |x_hat(T) - x*|^2", float(bound.value), summary.mean, summary.stderr, summary.ucb,
        summary.lcb, settings.confidence, summary.n,
        params={"problem": problem.to_json(), "T": t_end, "dt": dt, "steps": steps, "seed": settings.seed},
        terms={k: float(v) for k, v in bound.terms.items()},
        details={"exact_finite_time": exact_value, "measured_over_exact": summary.mean / exact_value},
    )


# --- registry ---------------------------------------------------------------------------------------------------

Check = Callable[[Problem, Settings], CheckResult]


def default_problem(name: str) -> Problem:
    """The default problem of each check: hypotheses satisfied, bound informative, fast to simulate."""
    if name == "lemma5.5":
        return Problem.quadratic(dim=4, strong_convexity=1.0, smoothness=1.0, n_agents=4, coupling=1.0, lr=0.1)
    if name in ("lemma3.1", "sgd"):
        return Problem.quadratic(dim=4, strong_convexity=0.5, smoothness=2.0, n_agents=8, coupling=1.0, lr=0.1)
    if name == "lemma3.1:multi_lr":
        return Problem.quadratic(dim=4, strong_convexity=0.5, smoothness=2.0, n_agents=4, coupling=1.0).replace(
            lr=(0.05, 0.1, 0.2, 0.4)
        )
    if name == "lemma5.4":
        return Problem.quadratic(dim=3, strong_convexity=0.5, smoothness=1.0, n_agents=6, coupling=1.0)
    if name == "thm5.3":
        return Problem.logcosh(dim=3, strong_convexity=0.5, curvature=1.0, n_agents=8, coupling=2.0, lr=0.1,
                               damping=2.0)
    if name == "thm5.2":
        return Problem.logcosh(dim=3, strong_convexity=0.5, curvature=1.0, n_agents=4, coupling=0.5, lr=0.1)
    return Problem.logcosh(dim=4, strong_convexity=0.5, curvature=2.0, n_agents=8, coupling=1.0, lr=0.2,
                           noise="modulated", modulation=0.5)


CHECKS: dict[str, Check] = {
    name: resolve(REGISTRY[name.split(":")[0]].check.function)  # type: ignore[union-attr]
    for name in CHECK_NAMES
}
"""Every check by name, from the registry's entries (``CheckSpec.function``) and their variants."""


def run_check(name: str, problem: Problem | None = None, settings: Settings = QUICK) -> CheckResult:
    """Run one check by name on its default problem (or ``problem``)."""
    if name not in CHECKS:
        raise InvalidParameter("--only", f"be one of {', '.join(CHECKS)}", name, "verify")
    return CHECKS[name](problem if problem is not None else default_problem(name), settings)
