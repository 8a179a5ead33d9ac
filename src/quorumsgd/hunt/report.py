r"""The hunt report: the worst case found, the *sandwich*, plots, and a one-line reproduction.

The sandwich (:mod:`quorumsgd.verify.sandwich`) brackets the true worst case of a theorem at the hunted
parameters:

* **found** — the measured statistic of the worst case found (a *lower* bound on the worst case over the
  class, up to its confidence interval);
* **SDP** — the certificate over the whole class :math:`S(\lambda,L)` (an *upper* bound), from
  ``quorumsgd.bounds.evaluate(name, method="sdp", smoothness=L, ...)`` when the calculator provides it;
* **paper** — the paper's bound at the same parameters;
* **exact quadratic** — the exact stationary value on the isotropic quadratic of curvature :math:`\lambda` (the
  case's strong convexity) with isotropic Gaussian noise (Lyapunov equation, :mod:`quorumsgd.simulate.oracle`);

and the ratio certified / found says how well the worst case is pinned down (1 = exactly).

Example:
    >>> from quorumsgd.hunt.cases import DEFAULTS
    >>> s = sandwich("lemma3.1", {**DEFAULTS, "family": "quadratic", "curvature": 0.0, "n_agents": 4}, measured=0.1)
    >>> round(s["exact_quadratic"] / s["paper"], 6)   # (22) with the factor (p - 1) is attained by the quadratic
    1.0
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from quorumsgd.clikit import atomic_path, finite_or_null
from quorumsgd.hunt.cases import build_objective, build_problem, canonical, euler_allowance
from quorumsgd.hunt.names import split
from quorumsgd.verify.sandwich import sandwich as verify_sandwich


def sandwich(theorem: str, case: dict[str, Any], measured: float, lower_confidence: float | None = None,
             details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sandwich (:mod:`quorumsgd.verify.sandwich`) of a hunt case: found / SDP / paper / exact quadratic."""
    theorem = split(theorem)[0]
    problem = build_problem(theorem, case)
    time = None
    if theorem == "lemma5.5":
        time = float((details or {}).get("T", canonical(case)["horizon"] / problem.strong_convexity))
    exact = (details or {}).get("exact_finite_time") if theorem == "lemma5.5" else None
    return verify_sandwich(theorem, problem, measured, lower_confidence, exact=exact, time=time)


def reproduce_command(theorem: str, case: dict[str, Any], fidelity: dict[str, Any]) -> str:
    """One shell line that evaluates exactly this case at exactly this fidelity (same seed, same numbers)."""
    payload = json.dumps({"case": canonical(case), "fidelity": fidelity}, sort_keys=True, separators=(",", ":"))
    name, against = split(theorem)
    flag = "" if against == "paper" else f" --against {against}"
    return f"quorumsgd hunt {name}{flag} --replay {shlex.quote(payload)}"


# --- plots ---------------------------------------------------------------------------------------------------


def plot_objective(case: dict[str, Any], path: Path) -> None:
    """The worst objective along its first piece direction through :math:`\\mathbf x^*`: value, curvature, third derivative."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = build_objective(case)
    u = getattr(f, "rotation", np.eye(f.dim))[0]
    c = canonical(case)
    scale = float(c["width"]) if c["family"] == "softplus" else 1.0  # where the shift is measured in
    reach = 1.5 * max(scale * (abs(float(c["shift"])) + 3.0), float(c["sigma2"]) ** 0.5, 1.0)
    t = np.linspace(-reach, reach, 801)
    x = f.minimizer + t[:, None] * u
    value = f.value(x) - f.minimum
    curv = np.einsum("na,nab,b->n", np.ones((t.size, 1)) * u, f.hessian(x), u)
    third = np.gradient(curv, t)
    fig, axes = plt.subplots(3, 1, figsize=(5.5, 6.4), sharex=True)
    axes[0].plot(t, value)
    axes[0].set_ylabel("f - f*")
    axes[1].plot(t, curv)
    axes[1].axhline(f.strong_convexity, ls=":", c="k", label="lambda")
    axes[1].axhline(f.smoothness, ls="--", c="k", label="L")
    axes[1].set_ylabel("u' H u")
    axes[1].legend(fontsize=7)
    axes[2].plot(t, third)
    if np.isfinite(f.q):
        axes[2].axhline(f.q, ls="--", c="k", label="Q")
        axes[2].axhline(-f.q, ls="--", c="k")
        axes[2].legend(fontsize=7)
    axes[2].set_ylabel("d/dt (u' H u)")
    axes[2].set_xlabel("t  (x = x* + t u)")
    for ax in axes:
        ax.axvline(0.0, c="gray", lw=0.6)
    axes[0].set_title(f"worst objective: {c['family']}, dim {c['dim']}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def plot_tightness(history: list[tuple[int, int, float | None]], theorem: str, path: Path,
                   confirmed: float | None = None) -> None:
    """Tightness of every evaluation in order (colored by rung), the best rung-0 value so far, the confirmation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    idx = np.arange(len(history))
    rungs = np.array([r for _, r, _ in history])
    vals = np.array([np.nan if v is None else v for _, _, v in history], dtype=float)
    for r in sorted(set(rungs.tolist())):
        m = rungs == r
        ax.plot(idx[m], vals[m], "o", ms=3 + 2 * r, alpha=0.7, label=f"rung {r}")
    best = np.fmax.accumulate(np.where(rungs == 0, vals, np.nan))
    ax.plot(idx, best, "-", c="k", lw=1, label="best rung 0 so far")
    if confirmed is not None:
        ax.plot([len(history)], [confirmed], "*", ms=12, c="k", label="winner, independent confirmation")
    ax.axhline(1.0, c="r", ls="--", lw=0.8, label="bound")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("tightness = measured / bound")
    ax.set_title(f"hunt {theorem}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


# --- the report ------------------------------------------------------------------------------------------------


def build_report(state: Any, out: Path, engine: str, elapsed_s: float, store_path: Path,
                 interrupted: bool = False) -> dict[str, Any]:
    """Write ``hunt.json``, ``hunt.md`` and the PNG plots into ``out``; return the JSON object.

    Every file is written under a temporary name and renamed into place (:func:`quorumsgd.clikit.atomic_path`):
    a kill while the report is rewritten leaves the previous file whole, never a truncated one.
    ``interrupted`` marks the report of a hunt stopped before its budget (no confirmation runs).
    """
    from quorumsgd.hunt import racing

    out.mkdir(parents=True, exist_ok=True)
    theorem = state.theorem
    best = state.best()
    counts = {s: sum(r.get("status") == s for rung in state.results for r in rung.values())
              for s in ("ok", "invalid", "too_stiff", "diverged", "error")}
    payload: dict[str, Any] = {
        "name": theorem, "seed": state.seed, "candidates": len(state.cases),
        "evaluations": sum(len(r) for r in state.results) + len(state.confirmations), "evaluated_now": state.stats.evaluated,
        "from_store": state.stats.reused, "status_counts": counts, "engine": engine, "elapsed_s": elapsed_s,
        "store": str(store_path), "rungs": [racing.fidelity(r, state.seed).to_json() for r in range(len(state.results))],
        "worst": None, "sandwich": None, "violations": [], "within_euler_allowance": [], "screening_flags": [],
        "plots": {}, "confirmation_fidelity": None, "interrupted": interrupted,
    }
    conf_fid = state.confirmation_fidelity.to_json() if state.confirmation_fidelity else None
    payload["confirmation_fidelity"] = conf_fid
    if best is not None:
        trial, rung, raced = best
        case = state.cases[trial]
        # The reported worst case is the independent confirmation run (no winner's curse), when it succeeded.
        confirmation = state.confirmations.get(trial, {})
        result, fid = (confirmation, conf_fid) if confirmation.get("status") == "ok" else (raced, racing.fidelity(
            rung, state.seed).to_json())
        payload["worst"] = {
            "trial": trial, "rung": rung, "measured": result["measured"], "lower_confidence": result["lower_confidence"],
            "upper_confidence": result["upper_confidence"], "bound": result["bound"], "tightness": result["tightness"],
            "verdict": result["verdict"], "terms": result.get("terms", {}), "case": canonical(case), "fidelity": fid,
            "raced_tightness": raced["tightness"], "confirmation": result is confirmation,
            "reproduce": reproduce_command(theorem, case, fid),
        }
        # NAME@sdp measures a second moment (``moment: 2``); the sandwich is in the units of the norm, so it gets
        # the root mean square (compared with the certificate's square root, the ordering is the same)
        root = (lambda v: v) if result.get("moment", 1) == 1 else (lambda v: float(np.sqrt(max(v, 0.0))))
        payload["sandwich"] = sandwich(theorem, case, root(result["measured"]), root(result["lower_confidence"]),
                                       result.get("params", {}) | result.get("details", {}))
        if result.get("moment", 1) == 2:  # the certificate the hunt compared with (the fixed class's, if any)
            cert = payload["sandwich"]["sdp"] = root(result["bound"])
            payload["sandwich"]["certified_over_found"] = cert / root(result["measured"]) if result["measured"] > 0 \
                else None
        plot_objective(case, out / "worst_objective.png")
        payload["plots"]["objective"] = "worst_objective.png"
    plot_tightness(state.history, theorem, out / "tightness.png",
                   payload["worst"]["tightness"] if payload["worst"] and payload["worst"]["confirmation"] else None)
    payload["plots"]["tightness"] = "tightness.png"
    confirmed, allowed = state.violations()
    for key, found in (("violations", confirmed), ("within_euler_allowance", allowed)):
        payload[key] = [{"trial": trial, "measured": result["measured"], "lower_confidence": result["lower_confidence"],
                         "bound": result["bound"], "euler_allowance": euler_allowance(theorem, state.cases[trial],
                                                                                      conf_fid["steps_per_time"]),
                         "reproduce": reproduce_command(theorem, state.cases[trial], conf_fid)} for trial, result in found]
    for rung, results in enumerate(state.results):
        for trial, result in sorted(results.items()):
            if result.get("status") == "ok" and result.get("verdict") == "violated":
                payload["screening_flags"].append({"trial": trial, "rung": rung, "tightness": result["tightness"],
                                                   "confirmed": any(v["trial"] == trial for v in payload["violations"])})
    for name, text in (("hunt.json", json.dumps(finite_or_null(payload), indent=1, allow_nan=False)),
                       ("hunt.md", _markdown(payload))):
        with atomic_path(out / name) as tmp:
            tmp.write_text(text)
    return payload


def _fmt(v: Any) -> str:
    return "—" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def _markdown(p: dict[str, Any]) -> str:
    against = split(p["name"])[1]
    lines = [f"# quorumsgd hunt {p['name']}", "",
             *([f"Tightness is the measured **second moment** over the **SDP certificate**'s second moment over "
                f"S(lambda, L) (`bound {split(p['name'])[0]} --method sdp`, JSON `second_moment`), not the paper's "
                "bound; the sandwich below is in the norm's units (root mean square found).", ""]
               if against == "sdp" else []),
             *(["**Interrupted** before the budget was drawn: the cases that finished, without the independent "
                "confirmation run; rerun the same command to resume.", ""] if p.get("interrupted") else []),
             f"{p['candidates']} candidates, {p['evaluations']} evaluations ({p['evaluated_now']} now, "
             f"{p['from_store']} from the store `{p['store']}`), seed {p['seed']}, engine: {p['engine']}, "
             f"{p['elapsed_s']:.1f} s. Status counts: {p['status_counts']}.", ""]
    w = p["worst"]
    if w is None:
        lines.append("No candidate could be measured.")
    else:
        lines += ["## Worst case found", "",
                  "| measured | lower conf. | upper conf. | bound | tightness | verdict | tightness in the race |",
                  "|---|---|---|---|---|---|---|",
                  f"| {_fmt(w['measured'])} | {_fmt(w['lower_confidence'])} | {_fmt(w['upper_confidence'])} | "
                  f"{_fmt(w['bound'])} | {_fmt(w['tightness'])} | {w['verdict']} | {_fmt(w['raced_tightness'])} (rung "
                  f"{w['rung']}) |", "",
                  "The numbers are an independent confirmation run (fresh seed, twice finer step) of the race's "
                  "winner: the race's own value is biased upward by selection." if w["confirmation"] else
                  "The confirmation run failed: the numbers are the race's.", "",
                  f"Case: `{json.dumps(w['case'], sort_keys=True)}`", "", f"Reproduce: `{w['reproduce']}`", ""]
        s = p["sandwich"]
        lines += ["## The sandwich", "",
                  "| found (lower) | SDP certificate (upper) | paper's bound | exact quadratic | certified / found | paper / found |",
                  "|---|---|---|---|---|---|",
                  f"| {_fmt(s['found'])} | {_fmt(s['sdp'])} | {_fmt(s['paper'])} | {_fmt(s['exact_quadratic'])} | "
                  f"{_fmt(s['certified_over_found'])} | {_fmt(s['paper_over_found'])} |", "", f"SDP: {s['sdp_note']}", ""]
    if p["violations"]:
        lines += ["## VIOLATIONS (confirmed on independent noise: lower confidence bound > bound x (1 + Euler allowance))",
                  ""]
        lines += [f"- trial {v['trial']}: measured {v['measured']:.6g} (lower conf. {v['lower_confidence']:.6g}) > bound "
                  f"{v['bound']:.6g}. Reproduce: `{v['reproduce']}`" for v in p["violations"]]
        lines.append("")
    if p.get("within_euler_allowance"):
        lines += ["Confirmation excesses within the Euler discretization allowance (not findings; rerun finer to decide):",
                  ""]
        lines += [f"- trial {v['trial']}: lower conf. {v['lower_confidence']:.6g} vs bound {v['bound']:.6g} "
                  f"(allowance {100 * v['euler_allowance']:.2f}%). `{v['reproduce']}`" for v in p["within_euler_allowance"]]
        lines.append("")
    if p["screening_flags"]:
        lines += [f"Screening flags in the race (lower confidence > bound; re-measured before any claim): "
                  f"{len(p['screening_flags'])}.", ""]
    lines += ["![worst objective](worst_objective.png)", "", "![tightness](tightness.png)"] if w else ["![tightness](tightness.png)"]
    return "\n".join(lines) + "\n"
