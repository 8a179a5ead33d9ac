r"""Claims C13--C18 (the CNN half of the paper, Figs 7--12 and Table 1) as verdicts from a study's runs.

Each claim is decided from the runs of :mod:`quorumsgd.training.study` with 95 % Student-t confidence
intervals over seeds of *paired* differences (the runs of one seed share their initial points across
methods, Sec. 6.1, so pairing removes the initialization's share of the scatter):

* ``supported``: every difference the claim predicts has its interval on the predicted side of zero;
* ``not supported``: a difference has its interval entirely on the *opposite* side;
* ``inconclusive``: otherwise (too few seeds, or an effect smaller than the run-to-run scatter);
* ``not run``: the study has not produced the runs the claim needs.

Per-run numbers: the quorum's minimum-over-epochs test error and test loss (Table 1's statistics), the mean
over epochs of its training loss (how fast it is driven down) and of :math:`\log_{10}\sum_i|\mathbf x^i-\bar
{\mathbf x}|^2` (synchronization). A run whose every agent diverged counts at chance level (error 0.9, loss
:math:`\ln 10`), as the paper's Table 1 reports it. The verdict names the data set: on the offline digits
regime a verdict is about that regime, not about CIFAR-10.

Example:
    >>> iv = interval([0.02, 0.03, 0.025])
    >>> round(iv["mean"], 3), iv["low"] > 0, side(iv)
    (0.025, True, 1)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from quorumsgd.training.plan import StudyChoices, build_plan, run_key

VERDICTS = ("supported", "not supported", "inconclusive", "not run")
CHANCE_ERROR, CHANCE_LOSS = 0.9, math.log(10.0)
CONVERGED_GAP = 0.02  # quorum error at most 2 points above its agents' mean: the quorum is a meaningful average
HARMLESS_MARGIN = 0.01  # per-agent rates are "harmless" unless they cost significantly more than 1 point

STATEMENTS = {
    "C13": "CNN: the lowest fixed k that still makes the quorum converge gives the best test accuracy and the "
           "best scaling with p (Fig. 7)",
    "C14": "CNN: accuracy improves with p for QSGD and SD-QSGD; SD-QSGD is mildly better at some p (Fig. 8)",
    "C15": "CNN: QSGD lowers the training loss faster; EASGD generalizes better (lower test loss and error) "
           "and stays less synchronized (Fig. 9)",
    "C16": "Single-agent EASGD beats MSGD, and EASGD-WM often beats EASGD, across lr and momentum "
           "(Fig. 10, Table 1)",
    "C17": "With k rescaled to match synchronization, EASGD still fails at large p and is at times more "
           "synchronized than QSGD (Fig. 11)",
    "C18": "Distinct initial points beat a common one, more so as p grows; per-agent learning rates are "
           "harmless (Fig. 12)",
}


# -------------------------------------------------------------------------------------- statistics
def interval(values: Any, level: float = 0.95) -> dict[str, float]:
    """Mean and two-sided Student-t confidence interval of the finite ``values`` (NaN bounds if n < 2)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "n": n}
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def side(iv: dict[str, float], margin: float = 0.0) -> int:
    """+1 if the interval lies above ``margin``, -1 if below ``-margin``, 0 otherwise (or undefined)."""
    if not (math.isfinite(iv["low"]) and math.isfinite(iv["high"])):
        return 0
    if iv["low"] > margin:
        return 1
    if iv["high"] < -margin:
        return -1
    return 0


def _fmt(iv: dict[str, float], digits: int = 3) -> str:
    if not math.isfinite(iv["mean"]):
        return "n/a"
    if not math.isfinite(iv["low"]):
        return f"{iv['mean']:+.{digits}f} (n={iv['n']})"
    return f"{iv['mean']:+.{digits}f} [{iv['low']:+.{digits}f}, {iv['high']:+.{digits}f}]"


# ---------------------------------------------------------------------------------- run statistics
def diverged(r: dict[str, Any]) -> bool:
    return r.get("status") == "diverged"


def run_metric(r: dict[str, Any] | None, metric: str) -> float:
    """One number per run (see the module docstring); NaN for a missing or unfinished run."""
    if r is None or r.get("status") not in ("completed", "diverged"):
        return math.nan
    s = r["summary"]
    if metric == "error":
        return CHANCE_ERROR if diverged(r) else _num(s["quorum_min_test_error"])
    if metric == "loss":
        return CHANCE_LOSS if diverged(r) else _num(s["quorum_min_test_loss"])
    if diverged(r):
        return math.nan
    trained = [h for h in r["history"] if h["epoch"] > 0]
    if metric == "train_loss":
        return float(np.nanmean([_num(h["quorum"]["train_loss"]) for h in trained]))
    if metric == "log_sync":
        return float(np.nanmean([math.log10(max(_num(h["sync"]), 1e-12)) for h in trained]))
    if metric == "quorum_gap":  # quorum's best test error minus its agents' mean best test error
        agents = np.array([[_num(v) for v in h["agents"]["test_error"]] for h in trained])
        with np.errstate(all="ignore"):
            agent_best = np.nanmean(np.nanmin(agents, axis=0))
        return _num(s["quorum_min_test_error"]) - float(agent_best)
    raise ValueError(f"unknown metric {metric!r}")


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


# -------------------------------------------------------------------------------------- the study
class StudyRuns:
    """The runs of a study directory, looked up by variant tags; per-seed metric arrays."""

    def __init__(self, study_dir: Path):
        self.dir = study_dir
        meta = json.loads((study_dir / "study.json").read_text())
        raw = dict(meta["choices"])
        self.choices = StudyChoices(**raw)
        self.dataset = self.choices.dataset
        self.plan = build_plan(self.choices)
        self.run_key = run_key
        self._cache: dict[Path, dict[str, Any] | None] = {}

    def describe(self) -> str:
        c = self.choices
        regime = f", {c.max_train} training samples" if c.max_train else ""
        regime += f", {c.label_noise:.0%} label noise" if c.label_noise else ""
        return f"{c.dataset}{regime}, {c.epochs} epochs, {c.n_seeds} seeds"

    def _load(self, path: Path) -> dict[str, Any] | None:
        if path not in self._cache:
            self._cache[path] = json.loads(path.read_text()) if path.exists() else None
        return self._cache[path]

    def variant(self, experiment: str, **tags: Any) -> list[dict[str, Any] | None]:
        """The runs (by seed) of the variant of ``experiment`` whose tags match; [] if the plan has none."""
        for v in self.plan[experiment].variants:
            if all(v.tags.get(k) == val for k, val in tags.items()):
                return [self._load(self.dir / "runs" / self.run_key(cfg) / "results.json") for cfg in v.configs]
        return []

    def table1_run(self, algo: str, lr: float, momentum: float, seed: int) -> dict[str, Any] | None:
        """A single-agent run of Table 1 / Fig. 10 (they share their runs)."""
        cfg = self.choices.base_config().replace(algo=algo, n_agents=1, lr=lr, momentum=momentum, seed=seed)
        return self._load(self.dir / "runs" / self.run_key(cfg) / "results.json")

    def values(self, runs: list[dict[str, Any] | None], metric: str) -> np.ndarray:
        return np.array([run_metric(r, metric) for r in runs], dtype=np.float64)

    @staticmethod
    def complete(*groups: list[dict[str, Any] | None]) -> bool:
        return all(g and all(r is not None and r.get("status") in ("completed", "diverged") for r in g)
                   for g in groups)


def _result(claim: str, verdict: str, runs: StudyRuns | None, evidence: str,
            numbers: dict[str, Any] | None = None) -> dict[str, Any]:
    dataset = runs.dataset if runs is not None else None
    where = f" [{runs.describe()}]" if runs is not None else ""
    return {"claim": claim, "statement": STATEMENTS[claim], "verdict": verdict, "dataset": dataset,
            "evidence": evidence + where, "numbers": numbers or {}}


def _not_run(claim: str, runs: StudyRuns | None, what: str) -> dict[str, Any]:
    return _result(claim, "not run", runs, f"no finished runs for {what}; run `quorumsgd train study "
                   f"--only {what} --out DIR`")


def _decide(sides: list[int], against: list[int]) -> str:
    """Supported if every predicted difference is significant; not supported if any is significantly
    reversed (``against``: the sides that can refute the claim)."""
    if any(s == -1 for s in against):
        return "not supported"
    if sides and all(s == 1 for s in sides):
        return "supported"
    return "inconclusive"


# -------------------------------------------------------------------------------------------- claims
def claim_c13(runs: StudyRuns) -> dict[str, Any]:
    c = runs.choices
    ks, ps = sorted(c.couplings), sorted(c.n_agents)
    grid = {(p, k): runs.variant("fig7", algo="qsgd", n_agents=p, coupling=k) for p in ps for k in ks}
    if not runs.complete(*grid.values()):
        return _not_run("C13", runs, "fig7")
    err = {key: runs.values(g, "error") for key, g in grid.items()}
    gap = {key: float(np.nanmean(runs.values(g, "quorum_gap"))) for key, g in grid.items()}
    sides, against, numbers = [], [], {"coupling": ks, "n_agents": ps, "per_p": {}}
    k_star_all = []
    for p in ps:
        converged = [k for k in ks if gap[(p, k)] <= CONVERGED_GAP]
        k_star = converged[0] if converged else None
        k_star_all.append(k_star)
        row = {"quorum_gap": [gap[(p, k)] for k in ks], "error": [float(np.nanmean(err[(p, k)])) for k in ks],
               "lowest_converged_k": k_star, "larger_k_minus_k_star": {}}
        if k_star is not None:
            for k in (k for k in ks if k > k_star):
                iv = interval(err[(p, k)] - err[(p, k_star)])
                row["larger_k_minus_k_star"][f"{k:g}"] = iv
                sides.append(side(iv))
                against.append(side(iv))
        numbers["per_p"][str(p)] = row
    if any(k is None for k in k_star_all):
        return _result("C13", "inconclusive", runs, "no coupling made the quorum converge at some p "
                       f"(quorum-minus-agents error gaps {numbers['per_p']})", numbers)
    gains = {f"{k:g}": interval(err[(ps[0], k)] - err[(ps[-1], k)]) for k in ks}
    numbers["gain_from_more_agents"] = gains
    k_star = k_star_all[-1]
    best_scaling = max(gains, key=lambda key: gains[key]["mean"])
    if f"{k_star:g}" != best_scaling and not sides:
        sides.append(0)
    verdict = _decide(sides, against)
    if verdict == "supported" and f"{k_star:g}" != best_scaling:
        verdict = "inconclusive"
    parts = [f"p={p}: lowest converged k={numbers['per_p'][str(p)]['lowest_converged_k']:g}, error by k "
             f"{np.round(numbers['per_p'][str(p)]['error'], 3).tolist()}, err(k)-err(k*) "
             + ", ".join(f"k={k}: {_fmt(iv)}" for k, iv in numbers["per_p"][str(p)]["larger_k_minus_k_star"].items())
             for p in ps]
    parts.append(f"gain p={ps[0]}->{ps[-1]} by k: " + ", ".join(f"k={k}: {_fmt(iv)}" for k, iv in gains.items()))
    return _result("C13", verdict, runs, "; ".join(parts), numbers)


def claim_c14(runs: StudyRuns) -> dict[str, Any]:
    ps = sorted(runs.choices.n_agents)
    q = {p: runs.variant("fig8", algo="qsgd", n_agents=p) for p in ps}
    sd = {p: runs.variant("fig8", algo="sdqsgd", n_agents=p) for p in ps}
    if not runs.complete(*q.values(), *sd.values()):
        return _not_run("C14", runs, "fig8")
    eq = {p: runs.values(q[p], "error") for p in ps}
    es = {p: runs.values(sd[p], "error") for p in ps}
    gain_q, gain_sd = interval(eq[ps[0]] - eq[ps[-1]]), interval(es[ps[0]] - es[ps[-1]])
    sd_better = {str(p): interval(eq[p] - es[p]) for p in ps}
    numbers = {"n_agents": ps, "qsgd_gain": gain_q, "sdqsgd_gain": gain_sd, "qsgd_minus_sdqsgd": sd_better,
               "sdqsgd_diverged": {str(p): sum(diverged(r) for r in sd[p] if r) for p in ps}}
    verdict = _decide([side(gain_q), side(gain_sd)], [side(gain_q), side(gain_sd)])
    mild = max(iv["mean"] for iv in sd_better.values()) > 0
    evidence = (f"error gain p={ps[0]}->{ps[-1]}: QSGD {_fmt(gain_q)}, SD-QSGD {_fmt(gain_sd)}; "
                f"QSGD-SD-QSGD error by p: " + ", ".join(f"p={p}: {_fmt(iv)}" for p, iv in sd_better.items())
                + f"; SD-QSGD better at some p: {'yes' if mild else 'no'} (point estimate); "
                f"SD-QSGD diverged runs by p: {numbers['sdqsgd_diverged']}")
    return _result("C14", verdict, runs, evidence, numbers)


def claim_c15(runs: StudyRuns) -> dict[str, Any]:
    ps = sorted(runs.choices.n_agents)
    q = {p: runs.variant("fig9", algo="qsgd", n_agents=p) for p in ps}
    e = {p: runs.variant("fig9", algo="easgd", n_agents=p) for p in ps}
    if not runs.complete(*q.values(), *e.values()):
        return _not_run("C15", runs, "fig9")
    numbers: dict[str, Any] = {"n_agents": ps, "per_p": {}}
    sides, against, parts = [], [], []
    for p in ps:
        if any(diverged(r) for r in e[p] if r):
            numbers["per_p"][str(p)] = {"easgd_diverged": True}
            parts.append(f"p={p}: EASGD diverged (excluded, as in the paper)")
            continue
        d = {
            "train_loss_easgd_minus_qsgd": interval(runs.values(e[p], "train_loss") - runs.values(q[p], "train_loss")),
            "test_error_qsgd_minus_easgd": interval(runs.values(q[p], "error") - runs.values(e[p], "error")),
            "test_loss_qsgd_minus_easgd": interval(runs.values(q[p], "loss") - runs.values(e[p], "loss")),
            "log_sync_easgd_minus_qsgd": interval(runs.values(e[p], "log_sync") - runs.values(q[p], "log_sync")),
        }
        numbers["per_p"][str(p)] = d
        sides += [side(iv) for iv in d.values()]
        against += [side(d["test_error_qsgd_minus_easgd"]), side(d["test_loss_qsgd_minus_easgd"])]
        parts.append(f"p={p}: " + ", ".join(f"{name} {_fmt(iv, 4)}" for name, iv in d.items()))
    return _result("C15", _decide(sides, against), runs, "; ".join(parts), numbers)


def claim_c16(runs: StudyRuns) -> dict[str, Any]:
    c = runs.choices
    seeds = range(c.n_seeds)
    cells: list[tuple[float, float]] = [(lr, m) for m in c.table1_momenta for lr in c.table1_lrs]
    lookup = runs.table1_run
    source = "table1"
    if any(lookup("msgd", lr, m, 0) is None for lr, m in cells):  # no Table 1: Fig. 10's single momentum
        cells = [(lr, c.momentum) for lr in c.table1_lrs]
        source = "fig10"
    err = {algo: np.array([[run_metric(lookup(algo, lr, 0.0 if algo == "easgd-wm" else m, s), "error")
                            for lr, m in cells] for s in seeds]) for algo in ("easgd-wm", "easgd", "msgd")}
    if not all(np.isfinite(v).all() for v in err.values()):
        return _not_run("C16", runs, "table1")
    easgd_vs_msgd = interval((err["msgd"] - err["easgd"]).mean(axis=1))
    wm_vs_easgd = interval((err["easgd"] - err["easgd-wm"]).mean(axis=1))
    mean = {k: v.mean(axis=0) for k, v in err.items()}
    wm_wins = int(sum(mean["easgd-wm"][j] <= min(mean["easgd"][j], mean["msgd"][j]) for j in range(len(cells))))
    easgd_wins = int(sum(mean["easgd"][j] < mean["msgd"][j] for j in range(len(cells))))
    numbers = {"source": source, "cells": cells, "msgd_minus_easgd": easgd_vs_msgd, "easgd_minus_easgd_wm": wm_vs_easgd,
               "easgd_wm_best_cells": wm_wins, "easgd_beats_msgd_cells": easgd_wins, "n_cells": len(cells),
               "mean_error": {k: v.tolist() for k, v in mean.items()}}
    often = side(wm_vs_easgd) == 1 or wm_wins * 2 >= len(cells)
    # Either half reversed with confidence refutes the claim (EASGD-WM only if it is not even "often" best).
    verdict = _decide([side(easgd_vs_msgd), 1 if often else 0],
                      [side(easgd_vs_msgd), *([] if often else [side(wm_vs_easgd)])])
    evidence = (f"{source}: min test error MSGD-EASGD averaged over {len(cells)} (lr, momentum) cells "
                f"{_fmt(easgd_vs_msgd)}; EASGD-EASGD-WM {_fmt(wm_vs_easgd)}; EASGD-WM best in {wm_wins}/{len(cells)} "
                f"cells, EASGD beats MSGD in {easgd_wins}/{len(cells)} (paper: all but one of 24)")
    return _result("C16", verdict, runs, evidence, numbers)


def claim_c17(runs: StudyRuns) -> dict[str, Any]:
    c = runs.choices
    ps = sorted(c.n_agents)
    big, k_resc = c.large_agents, c.coupling * c.easgd_rescale
    all_p = [*ps, big]
    q = {p: runs.variant("fig11", algo="qsgd", n_agents=p) for p in all_p}
    e = {p: runs.variant("fig11", algo="easgd", n_agents=p, coupling=k_resc) for p in all_p}
    if not runs.complete(*q.values(), *e.values()):
        return _not_run("C17", runs, "fig11")
    n_div = sum(diverged(r) for r in e[big] if r)
    # "Fails at large p": some seed diverges, or EASGD loses to QSGD at that p (the paper: ~55 % accuracy there,
    # and "EASGD with p agents ~ QSGD with a larger p"); EASGD significantly *better* than QSGD refutes it.
    versus_qsgd = interval(runs.values(e[big], "error") - runs.values(q[big], "error"))
    worse = interval(runs.values(e[big], "error") - runs.values(e[ps[-1]], "error"))
    # "more synchronized at times": the least per-epoch log-sync difference, EASGD - QSGD, per seed.
    more_sync = {}
    for p in all_p:
        diffs = []
        for re_, rq in zip(e[p], q[p], strict=True):
            if re_ is None or rq is None or diverged(re_) or diverged(rq):
                continue
            se = np.array([_num(h["sync"]) for h in re_["history"] if h["epoch"] > 0])
            sq = np.array([_num(h["sync"]) for h in rq["history"] if h["epoch"] > 0])
            n = min(len(se), len(sq))
            with np.errstate(all="ignore"):
                diffs.append(float(np.nanmin(np.log10(se[:n] / sq[:n]))))
        more_sync[str(p)] = interval(diffs)
    at_times = any(side(iv) == -1 for iv in more_sync.values())
    error_by_p = {"easgd": {str(p): interval(runs.values(e[p], "error")) for p in all_p},
                  "qsgd": {str(p): interval(runs.values(q[p], "error")) for p in all_p}}
    numbers = {"n_agents": all_p, "coupling_easgd": k_resc, "easgd_diverged_at_large_p": n_div,
               "easgd_minus_qsgd_error_at_large_p": versus_qsgd, "easgd_error_large_minus_mid": worse,
               "min_log_sync_easgd_minus_qsgd": more_sync, "error": error_by_p}
    fails = n_div > 0 or side(versus_qsgd) == 1
    refuted = n_div == 0 and side(versus_qsgd) == -1
    verdict = "not supported" if refuted else ("supported" if fails and at_times else "inconclusive")
    evidence = (f"EASGD k={k_resc:g}: diverged in {n_div}/{len(e[big])} seeds at p={big}; error EASGD minus QSGD "
                f"at p={big} {_fmt(versus_qsgd)}; EASGD error p={big} minus p={ps[-1]} {_fmt(worse)}; min over epochs of log10(sync EASGD/QSGD) by p: "
                + ", ".join(f"p={p}: {_fmt(iv, 2)}" for p, iv in more_sync.items())
                + "; error EASGD/QSGD by p: " + ", ".join(
                    f"p={p}: {error_by_p['easgd'][str(p)]['mean']:.3f}/{error_by_p['qsgd'][str(p)]['mean']:.3f}"
                    for p in all_p))
    return _result("C17", verdict, runs, evidence, numbers)


def claim_c18(runs: StudyRuns) -> dict[str, Any]:
    ps = sorted(runs.choices.n_agents)
    dist = {p: runs.variant("fig12", algo="qsgd", n_agents=p, init="distinct", agent_lrs="same") for p in ps}
    comm = {p: runs.variant("fig12", algo="qsgd", n_agents=p, init="common") for p in ps}
    spread = runs.variant("fig12", algo="qsgd", n_agents=ps[-1], agent_lrs="spread")
    if not runs.complete(*dist.values(), *comm.values(), spread):
        return _not_run("C18", runs, "fig12")
    d_init = {str(p): interval(runs.values(comm[p], "error") - runs.values(dist[p], "error")) for p in ps}
    d_lrs = interval(runs.values(spread, "error") - runs.values(dist[ps[-1]], "error"))
    grows = d_init[str(ps[-1])]["mean"] >= d_init[str(ps[0])]["mean"]
    harmless = not (math.isfinite(d_lrs["low"]) and d_lrs["low"] > HARMLESS_MARGIN)
    numbers = {"n_agents": ps, "common_minus_distinct": d_init, "per_agent_lrs_minus_same": d_lrs,
               "grows_with_p": grows, "harmless": harmless}
    top = side(d_init[str(ps[-1])])
    verdict = _decide([top, 1 if harmless else -1], [top, 1 if harmless else -1])
    if verdict == "supported" and not grows:
        verdict = "inconclusive"
    evidence = ("min test error common-minus-distinct init by p: "
                + ", ".join(f"p={p}: {_fmt(iv)}" for p, iv in d_init.items())
                + f" (grows with p: {'yes' if grows else 'no'}); per-agent lrs minus one lr at p={ps[-1]}: "
                f"{_fmt(d_lrs)} ({'harmless' if harmless else 'harmful'}: margin {HARMLESS_MARGIN})")
    return _result("C18", verdict, runs, evidence, numbers)


CNN_CLAIMS: dict[str, Callable[[StudyRuns], dict[str, Any]]] = {
    "C13": claim_c13, "C14": claim_c14, "C15": claim_c15, "C16": claim_c16, "C17": claim_c17, "C18": claim_c18,
}


def evaluate_claim(name: str, study_dir: str | Path | None) -> dict[str, Any]:
    """Verdict of one claim from the study in ``study_dir`` (``not run`` without one)."""
    path = None if study_dir is None else Path(study_dir)
    if path is None or not (path / "study.json").exists():
        hint = "no study" if path is None else f"no study in {path}"
        return _result(name, "not run", None, f"{hint}: run `quorumsgd train study --out DIR` (CIFAR-10: "
                       "--dataset cifar10 --data-root DIR) and pass the directory")
    return CNN_CLAIMS[name](StudyRuns(path))


def evaluate_claims(study_dir: str | Path | None) -> list[dict[str, Any]]:
    """Verdicts of C13--C18 from the study in ``study_dir``."""
    return [evaluate_claim(name, study_dir) for name in CNN_CLAIMS]


def format_claims(claims: list[dict[str, Any]]) -> str:
    """Markdown: one section per claim with its verdict, data set and evidence."""
    lines = ["# Claims C13-C18 (CNN, Sec. 6)", ""]
    for c in claims:
        lines += [f"## {c['claim']}: {c['verdict']} ({c['dataset'] or 'no data set'})", "", c["statement"], "",
                  c["evidence"], ""]
    return "\n".join(lines).rstrip()
