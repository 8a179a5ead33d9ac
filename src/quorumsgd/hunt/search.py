r"""The adversarial search: maximize tightness = measured / bound over families, noise and parameters.

The optimizer is optuna's TPE sampler (multivariate, seeded, constant liar for batches of parallel
candidates). Why TPE, and why optuna rather than nevergrad: the space is *mixed* (categorical family and
noise, integer agents and dimension, continuous shapes) and partly conditional; TPE models it natively,
whereas CMA-ES is continuous-only (optuna falls back to independent sampling for categoricals; its ``cmaes``
dependency is not even installed here). optuna's ask/tell interface lets one batch of candidates run in
parallel on the distributed engine, and its seeded sampler asks the same candidates again when the same
results are told back, which is what makes an interrupted hunt resumable from its store. nevergrad's
portfolio optimizers would do too, but handle mixed spaces less directly and are not installed.

The loop: ask a batch, evaluate it on rung 0 (:mod:`quorumsgd.hunt.racing`), tell the tightness, promote the
best to higher rungs; repeat until ``budget`` candidates are drawn. Every evaluation is a row of the store.

Example:
    >>> space = search_space("thm5.1", fixed={"n_agents": 4})
    >>> "n_agents" in space, space["family"]
    (False, ('cat', ('softplus', 'logcosh', 'quadratic')))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quorumsgd.engine import Engine, Job, RunStats, run_cases
from quorumsgd.errors import InvalidParameter
from quorumsgd.hunt import racing
from quorumsgd.hunt.cases import DEFAULTS, Fidelity, case_key, euler_allowance, evaluate_case
from quorumsgd.hunt.names import AGAINST, FAMILIES, NOISES, SDP_THEOREMS, THEOREMS, split

Dim = tuple[Any, ...]

_OBJECTIVE: dict[str, Dim] = {
    "dim": ("int", 1, 8),
    "curvature": ("log", 0.05, 5.0),
    "width": ("log", 0.05, 2.0),
    "shift": ("float", -4.0, 4.0),
    "pieces": ("float", 0.01, 1.0),
    "angle": ("float", 0.0, math.pi / 2),
}
_NOISE: dict[str, Dim] = {
    "noise": ("cat", NOISES),
    "sigma2": ("log", 0.05, 20.0),
    "anisotropy": ("float", 0.0, 3.0),
    "modulation": ("float", 0.0, 1.0),
    "noise_length": ("log", 0.1, 3.0),
}
_ALGORITHM: dict[str, dict[str, Dim]] = {
    "lemma3.1": {"family": ("cat", FAMILIES), "n_agents": ("int", 2, 16), "coupling": ("float", 0.0, 10.0)},
    "thm3.2": {"family": ("cat", ("softplus", "logcosh")), "n_agents": ("int", 2, 16),
               "coupling": ("float", 0.0, 30.0)},  # cheap: every transient of (31) is at least 2 (k + lambda)
    "sgd": {"family": ("cat", FAMILIES)},
    "thm5.1": {"family": ("cat", ("softplus", "logcosh", "quadratic")), "n_agents": ("int", 1, 16),
               "coupling": ("float", 0.0, 10.0)},
    "thm5.2": {"family": ("cat", ("softplus", "logcosh", "quadratic")), "n_agents": ("int", 1, 8),
               "coupling": ("log", 0.1, 2.0)},
    "thm5.3": {"family": ("cat", ("softplus", "logcosh", "quadratic")), "n_agents": ("int", 1, 16),
               "damping_margin": ("log", 0.2, 3.0), "coupling_margin": ("log", 0.1, 5.0)},
    "lemma5.5": {"dim": ("int", 1, 4), "strong_convexity": ("log", 0.5, 2.0), "n_agents": ("int", 1, 8),
                 "coupling": ("float", 0.0, 2.0), "sigma2": ("log", 0.05, 20.0), "horizon": ("log", 5.0, 30.0)},
}


STARTUP_TRIALS = 16
"""Random candidates before TPE models the results; independent of the budget, so that a rerun with a larger
``--budget`` asks the same first candidates and extends the stored hunt instead of starting another."""


def search_space(theorem: str, fixed: dict[str, Any] | None = None) -> dict[str, Dim]:
    r"""The searched dimensions of a target (inside its hypotheses), minus the ``fixed`` ones.

    Against the SDP certificate (``NAME@sdp``) every family of :math:`S(\lambda,L)` is searched, the ``switch``
    profile (curvature jumping between :math:`\lambda` and :math:`L`, :math:`Q=\infty`) included: the certificate
    needs no :math:`Q`.
    """
    name, against = split(theorem)
    if name not in THEOREMS:
        raise InvalidParameter("NAME", f"be one of {', '.join(THEOREMS)}", name, "hunt")
    if against not in AGAINST or (against == "sdp" and name not in SDP_THEOREMS):
        raise InvalidParameter("--against", f"be paper for {name} (SDP certificates: {', '.join(SDP_THEOREMS)})",
                               against, "hunt")
    fixed = fixed or {}
    if name == "lemma5.5":  # (59) is about quadratics: Lemma 5.5's check measures an isotropic one
        space = dict(_ALGORITHM[name])
    else:
        space = {**_ALGORITHM[name], **_OBJECTIVE, **_NOISE}
        if against == "sdp":
            space["family"] = ("cat", FAMILIES)
            if "smoothness" in fixed:  # the fixed class S(lambda, L): every objective's curvature inside it
                lam = float(fixed.get("strong_convexity", DEFAULTS["strong_convexity"]))
                space["curvature"] = ("float", 0.0, float(fixed["smoothness"]) - lam)
    if "damping" in fixed:
        space.pop("damping_margin", None)
    if "coupling" in fixed:
        space.pop("coupling_margin", None)
    return {k: v for k, v in space.items() if k not in fixed}


def _suggest(trial: Any, name: str, dim: Dim) -> Any:
    kind = dim[0]
    if kind == "cat":
        return trial.suggest_categorical(name, list(dim[1]))
    if kind == "int":
        return trial.suggest_int(name, dim[1], dim[2])
    return trial.suggest_float(name, dim[1], dim[2], log=kind == "log")


def complete_case(theorem: str, values: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """A full case from searched ``values`` and ``fixed`` ones, with the theorem's hypotheses enforced.

    Thm 5.3 draws margins above Lemma 5.3's damping threshold :math:`\\sqrt L-\\sqrt\\lambda` and Lemma 3.2's
    coupling threshold :math:`m^2/(4\\gamma)`, so every drawn case satisfies its hypotheses.
    """
    case = {**DEFAULTS, **values, **fixed}
    theorem = split(theorem)[0]
    if theorem == "sgd":
        case.update(n_agents=1, coupling=0.0)
    if theorem == "lemma5.5":
        case.update(family="quadratic", noise="isotropic", curvature=0.0)
    if theorem == "thm5.3":
        lam = float(case["strong_convexity"])
        # the hypotheses of Lemma 5.3 / 3.2 at the class's L (a fixed class) or the objective's own
        big_l = float(case.get("smoothness") or lam + float(case["curvature"]))
        if "damping" not in fixed:
            case["damping"] = big_l**0.5 - lam**0.5 + float(values.get("damping_margin", 1.0))
        if "coupling" not in fixed:
            m = max(abs(1 - lam), abs(1 - big_l))
            case["coupling"] = 1.01 * m * m / (4 * float(case["damping"])) + float(values.get("coupling_margin", 1.0))
    case.pop("damping_margin", None)
    case.pop("coupling_margin", None)
    return case


@dataclass
class HuntState:
    """Everything a hunt found: candidates, their results per rung, and the running best."""

    theorem: str
    seed: int
    cases: dict[int, dict[str, Any]] = field(default_factory=dict)
    results: list[dict[int, dict[str, Any]]] = field(default_factory=list)
    history: list[tuple[int, int, float | None]] = field(default_factory=list)
    """``(trial, rung, tightness)`` in evaluation order (the tightness-vs-evaluations plot)."""
    stats: RunStats = field(default_factory=RunStats)
    confirmations: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Independent re-measurements (fresh seed, twice finer step) of the winner and of top-rung violations."""
    confirmation_fidelity: Fidelity | None = None

    def scores(self) -> list[dict[int, tuple[float, bool]]]:
        """Per rung, ``trial -> (tightness, violated)``; a failed case scores -inf (never promoted, never rerun)."""
        return [{t: ((r["tightness"], r.get("verdict") == "violated") if r.get("status") == "ok" else (-math.inf, False))
                 for t, r in rung.items()} for rung in self.results]

    def best(self) -> tuple[int, int, dict[str, Any]] | None:
        """The worst case found: the highest-tightness candidate on the highest rung reached by anyone."""
        for rung in range(len(self.results) - 1, -1, -1):
            ok = {t: r for t, r in self.results[rung].items() if r.get("status") == "ok"}
            if ok:
                trial = max(ok, key=lambda t: (ok[t]["tightness"], -t))
                return trial, rung, ok[trial]
        return None

    def violations(self) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, dict[str, Any]]]]:
        """Violations of the confirmation runs: ``(confirmed, within the Euler allowance)``.

        The race selects its winner on noisy measurements (the winner's curse) and all candidates of a rung share
        one seed, so a violation counts only on an *independent* re-measurement (fresh seed, twice finer step):
        confirmed when its lower confidence bound exceeds the bound by more than the discretization bias the
        measurement may carry (:func:`~quorumsgd.hunt.cases.euler_allowance`).
        """
        confirmed, allowed = [], []
        spt = self.confirmation_fidelity.steps_per_time if self.confirmation_fidelity else 0.0
        for t, r in sorted(self.confirmations.items()):
            if r.get("status") == "ok" and r.get("verdict") == "violated":
                slack = euler_allowance(self.theorem, self.cases[t], spt)
                (confirmed if r["lower_confidence"] > r["bound"] * (1.0 + slack) else allowed).append((t, r))
        return confirmed, allowed


class HuntInterrupted(KeyboardInterrupt):
    """Ctrl-C (or ``SIGTERM``) during a hunt: ``state`` holds what finished (every case is also in the store)."""

    def __init__(self, state: HuntState) -> None:
        super().__init__("interrupted")
        self.state = state


def hunt(theorem: str, budget: int, seed: int = 0, fixed: dict[str, Any] | None = None,
         engine: Engine | None = None, store: Any = None, batch: int = 8,
         rungs: tuple[racing.Rung, ...] = racing.RUNGS,
         progress: Callable[[HuntState], None] | None = None) -> HuntState:
    """Search for the worst case of ``theorem`` with ``budget`` candidates; every evaluation goes to ``store``.

    The candidates asked depend only on ``(theorem, seed, fixed, batch, budget)`` and the results told back,
    never on the engine, so a rerun with the same arguments replays the stored cases and evaluates only
    what is missing (resume), and any number of workers gives the same hunt. An interrupt raises
    :class:`HuntInterrupted` carrying the partial state.
    """
    import optuna

    if not (isinstance(budget, int) and budget >= 1):
        raise InvalidParameter("--budget", "be an integer >= 1", budget, "hunt")
    if not (isinstance(batch, int) and batch >= 1):
        raise InvalidParameter("--batch", "be an integer >= 1", batch, "hunt")
    fixed = dict(fixed or {})
    space = search_space(theorem, fixed)
    engine = engine or Engine(workers=0)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                         n_startup_trials=STARTUP_TRIALS)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    state = HuntState(theorem, seed, results=[{} for _ in rungs])
    fids = [racing.fidelity(r, seed, rungs) for r in range(len(rungs))]

    def job(trial: int, rung: int) -> Job:
        case, fid = state.cases[trial], fids[rung]
        return Job(case_key(theorem, case, fid), theorem, case, fid.to_json(), evaluate_case, (theorem, case, fid),
                   rung=rung, trial=trial)

    def record(job_: Job, result: dict[str, Any]) -> None:
        _record(state, job_, result)

    try:
        drawn = 0
        while drawn < budget:
            trials = [study.ask() for _ in range(min(batch, budget - drawn))]
            for t in trials:
                values = {name: _suggest(t, name, dim) for name, dim in space.items()}
                state.cases[t.number] = complete_case(theorem, values, fixed)
            jobs = [job(t.number, 0) for t in trials]
            run_cases(engine, store, seed, jobs, state.stats, on_result=record)
            for t in trials:
                r = state.results[0][t.number]
                if r.get("status") == "ok":
                    study.tell(t, float(r["tightness"]))
                else:
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
            drawn += len(trials)
            _race(state, job, engine, store, final=drawn >= budget)
            if progress:
                progress(state)
        _confirm(state, rungs, engine, store)
    except KeyboardInterrupt:
        raise HuntInterrupted(state) from None
    return state


def _confirm(state: HuntState, rungs: tuple[racing.Rung, ...], engine: Engine, store: Any) -> None:
    """Re-measure the winner and every top-rung violation on independent noise with a twice finer step."""
    top = rungs[-1]
    fid = Fidelity(sims=top.sims, window=top.window, steps_per_time=2 * top.steps_per_time,
                   seed=state.seed * 1000 + 999)
    state.confirmation_fidelity = fid
    best = state.best()
    trials = {t for t, r in state.results[-1].items() if r.get("status") == "ok" and r.get("verdict") == "violated"}
    if best is not None:
        trials.add(best[0])
    jobs = [Job(case_key(state.theorem, state.cases[t], fid), state.theorem, state.cases[t], fid.to_json(),
                evaluate_case, (state.theorem, state.cases[t], fid), rung=len(rungs), trial=t) for t in sorted(trials)]
    results = run_cases(engine, store, state.seed, jobs, state.stats)
    state.confirmations = {j.trial: results[j.key] for j in jobs}  # type: ignore[misc]


def _race(state: HuntState, job: Callable[[int, int], Job], engine: Engine, store: Any, final: bool) -> None:
    """Promote until no rung has a candidate to climb; at the end, the best candidate climbs to the top."""
    while True:
        promos = racing.promotions(state.scores())
        if final:
            best = state.best()
            if (best is not None and best[1] < len(state.results) - 1 and best[0] not in state.results[best[1] + 1]
                    and (best[0], best[1] + 1) not in promos):
                promos.append((best[0], best[1] + 1))
        if not promos:
            return
        run_cases(engine, store, state.seed, [job(t, r) for t, r in promos], state.stats,
                  on_result=lambda j, res: _record(state, j, res))


def _record(state: HuntState, job_: Job, result: dict[str, Any]) -> None:
    state.results[job_.rung][job_.trial] = result  # type: ignore[index]
    state.history.append((job_.trial, job_.rung, result["tightness"] if result.get("status") == "ok" else None))  # type: ignore[arg-type]
