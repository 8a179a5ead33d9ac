"""``quorumsgd hunt NAME``: search for the worst case of a bound; exit 1 on a confirmed violation."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from quorumsgd.clikit import Interrupted, finite_or_null, optional_import, output_dir, terminate_as_interrupt
from quorumsgd.errors import InvalidParameter
from quorumsgd.hunt.names import AGAINST, FAMILIES, NOISES, SDP_THEOREMS, THEOREMS, target

MAX_BUDGET = 100_000
"""Candidates one hunt may draw: beyond it a typo (``--budget 1e20``) would run for years; resumes extend it."""

_POSITIVE = {"lr", "sigma2", "strong_convexity", "damping", "curvature", "width", "smoothness"}


def _fixed(**given: Any) -> dict[str, Any]:
    fixed = {k: v for k, v in given.items() if v is not None}
    flag = {k: "--" + k.replace("_", "-") for k in fixed}
    for key, value in fixed.items():
        if key in _POSITIVE and not value > 0:
            raise InvalidParameter(flag[key], "be > 0", value, "hunt")
    if fixed.get("n_agents", 1) < 1 or fixed.get("dim", 1) < 1 or fixed.get("batch_size", 1) < 1:
        bad = next(k for k in ("n_agents", "dim", "batch_size") if fixed.get(k, 1) < 1)
        raise InvalidParameter(flag[bad], "be an integer >= 1", fixed[bad], "hunt")
    if fixed.get("coupling", 0.0) < 0:
        raise InvalidParameter("--coupling", "be >= 0", fixed["coupling"], "hunt")
    if fixed.get("family", FAMILIES[0]) not in FAMILIES:
        raise InvalidParameter("--family", f"be one of {', '.join(FAMILIES)}", fixed["family"], "hunt")
    if fixed.get("noise", NOISES[0]) not in NOISES:
        raise InvalidParameter("--noise", f"be one of {', '.join(NOISES)}", fixed["noise"], "hunt")
    return fixed


def _replay(name: str, replay: str, json_: bool, console: Console) -> None:
    from quorumsgd.hunt.cases import Fidelity, euler_allowance, evaluate_case

    try:
        payload = json.loads(replay)
        case, fidelity = payload["case"], Fidelity(**payload["fidelity"])
    except (ValueError, KeyError, TypeError) as err:
        raise InvalidParameter("--replay", "be the JSON {\"case\": {...}, \"fidelity\": {...}} a hunt report prints",
                               str(err)[:80], "hunt") from None
    result = evaluate_case(name, case, fidelity)
    allowance = euler_allowance(name, case, fidelity.steps_per_time)
    if result.get("status") != "ok":
        raise InvalidParameter("--replay", "describe a case that can be measured", result.get("error") or
                               result.get("status"), "hunt")
    confirmed = result["lower_confidence"] > result["bound"] * (1.0 + allowance)
    if json_:
        print(json.dumps({**result, "euler_allowance": allowance, "confirmed_violation": confirmed}))
    else:
        console.print(f"{name}: measured {result['measured']:.6g} [lcb {result['lower_confidence']:.6g}, "
                      f"ucb {result['upper_confidence']:.6g}], bound {result['bound']:.6g}, tightness "
                      f"{result['tightness']:.4f}: {result['verdict']}"
                      + (" (beyond the Euler allowance: a finding)" if confirmed else ""))
    if confirmed:
        raise typer.Exit(1)


def hunt_command(
    name: str = typer.Argument(..., metavar="NAME", help=f"the bound to attack: {', '.join(THEOREMS)}"),
    budget: int = typer.Option(200, "--budget", help="candidates drawn by the optimizer (each measured on rung 0)"),
    seed: int = typer.Option(0, "--seed", help="seed of the search and of the common random numbers"),
    out_arg: str = typer.Option("hunt", "--out", help="report folder (hunt.md, hunt.json, PNG plots, cases.sqlite)"),
    fresh: bool = typer.Option(False, "--fresh", help="set an existing cases.sqlite aside (renamed, not deleted) and "
                               "start a new store"),
    json_: bool = typer.Option(False, "--json", help="print one JSON object instead of a summary"),
    workers: int | None = typer.Option(None, "--workers", help="local Dask worker processes (default: CPU cores; 0: in-process)"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="address of a Dask scheduler (tcp://host:8786)"),
    batch: int = typer.Option(8, "--batch", help="candidates asked at once (run in parallel; part of the search's identity)"),
    replay: str | None = typer.Option(None, "--replay", help="evaluate one case (the JSON a report prints) and stop"),
    against: str = typer.Option("paper", "--against", help="measure tightness against the paper's bound, or the "
                                f"SDP certificate over S(lambda, L) (sdp: {', '.join(SDP_THEOREMS)})"),
    n_agents: int | None = typer.Option(None, "--n-agents", help="fix the number of agents"),
    coupling: float | None = typer.Option(None, "--coupling", help="fix the coupling gain k"),
    lr: float | None = typer.Option(None, "--lr", help="fix the learning rate (default 0.1)"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="fix the batch size (default 1)"),
    sigma2: float | None = typer.Option(None, "--sigma2", help="fix the noise bound sigma^2"),
    dim: int | None = typer.Option(None, "--dim", help="fix the dimension"),
    strong_convexity: float | None = typer.Option(None, "--strong-convexity", help="fix lambda (default 0.5)"),
    damping: float | None = typer.Option(None, "--damping", help="fix the damping (thm5.3)"),
    family: str | None = typer.Option(None, "--family", help=f"fix the objective family: {', '.join(FAMILIES)}"),
    noise: str | None = typer.Option(None, "--noise", help=f"fix the noise model: {', '.join(NOISES)}"),
    curvature: float | None = typer.Option(None, "--curvature", help="fix the pieces' curvature c (L = lambda + c)"),
    smoothness: float | None = typer.Option(None, "--smoothness", help="with --against sdp: fix the class "
                                            "S(lambda, L); every case lies in it and is compared with its certificate"),
    width: float | None = typer.Option(None, "--width", help="fix the softplus width w"),
    algorithm: str | None = typer.Option(None, "--algorithm", help="hunt your own algorithm (module:Class) against "
                                         "its SDP certificate; NAME is then the quantity (center, spread, ...)"),
) -> None:
    """Maximize measured / bound over objectives, noise and parameters; exit 1 on a confirmed violation."""
    if algorithm is not None:  # your own algorithm: quorumsgd.hunt.custom (certificate from bounds.certify)
        from quorumsgd.hunt.custom import run_cli

        fixed = _fixed(n_agents=n_agents, lr=lr, batch_size=batch_size, sigma2=sigma2,
                       strong_convexity=strong_convexity, curvature=curvature)
        if run_cli(algorithm, name, fixed=fixed, budget=budget, seed=seed, json_=json_):
            raise typer.Exit(1)
        return
    if name not in THEOREMS:
        raise InvalidParameter("NAME", f"be one of {', '.join(THEOREMS)}", name, "hunt")
    if against not in AGAINST:
        raise InvalidParameter("--against", f"be one of {', '.join(AGAINST)}", against, "hunt")
    if against == "sdp" and name not in SDP_THEOREMS:
        raise InvalidParameter("--against", f"be paper for {name} (SDP certificates: {', '.join(SDP_THEOREMS)})",
                               against, "hunt")
    name = target(name, against)
    if not 1 <= budget <= MAX_BUDGET:
        raise InvalidParameter("--budget", f"be an integer from 1 to {MAX_BUDGET} (a hunt resumes: extend it with "
                               "a larger --budget later)", budget, "hunt")
    if batch < 1:
        raise InvalidParameter("--batch", "be an integer >= 1", batch, "hunt")
    fixed = _fixed(n_agents=n_agents, coupling=coupling, lr=lr, batch_size=batch_size, sigma2=sigma2, dim=dim,
                   strong_convexity=strong_convexity, damping=damping, family=family, noise=noise,
                   curvature=curvature, width=width, smoothness=smoothness)
    if smoothness is not None:
        lam = fixed.get("strong_convexity", 0.5)
        if against != "sdp":
            raise InvalidParameter("--smoothness", "be given only with --against sdp (it fixes the certified class)",
                                   smoothness, "hunt")
        if not smoothness > lam:
            raise InvalidParameter("--smoothness", f"be > the strong convexity {lam:g} (a class S(lambda, L) with "
                                   "curvature to search)", smoothness, "hunt")
        if curvature is not None and lam + curvature > smoothness * (1 + 1e-12):
            raise InvalidParameter("--curvature", f"be <= smoothness - strong convexity = {smoothness - lam:g} (the "
                                   "objective must lie in S(lambda, L))", curvature, "hunt")
    console = Console(stderr=json_)
    if replay is not None:
        _replay(name, replay, json_, console)
        return
    out = output_dir(out_arg)
    for module, package in (("optuna", "optuna"), *(() if workers == 0 and scheduler is None else
                                                    (("distributed", "distributed"),))):
        optional_import(module, package, "quorumsgd hunt")
    from quorumsgd.engine import CaseStore, Engine, folder_lock
    from quorumsgd.hunt.report import build_report
    from quorumsgd.hunt.search import hunt

    store_path = out / "cases.sqlite"
    start = time.perf_counter()
    engine = Engine(workers=workers, scheduler=scheduler)  # checks --workers and --scheduler before any work
    engine.probe()

    def progress(state: Any) -> None:
        best = state.best()
        shown = f"{best[2]['tightness']:.4f} (rung {best[1]})" if best else "—"
        console.print(f"[dim]{len(state.cases)}/{budget} candidates, best tightness {shown}[/]")

    with folder_lock(out, "hunt"), terminate_as_interrupt():
        if fresh and (aside := CaseStore.set_aside(store_path)) is not None:
            console.print(f"the previous store was set aside as {aside}")
        with CaseStore(store_path) as store:
            try:
                with engine:
                    state = hunt(name, budget, seed=seed, fixed=fixed, engine=engine, store=store, batch=batch,
                                 progress=None if json_ else progress)
                payload = build_report(state, out, engine.description, time.perf_counter() - start, store_path)
            except KeyboardInterrupt as stop:
                report = _partial_report(getattr(stop, "state", None), out, engine.description,
                                         time.perf_counter() - start, store_path)
                raise Interrupted(f"interrupted: {store.count(seed)} cases kept in {store_path}{report}; rerun the "
                                  "same command to resume (finished cases are not run again)") from None
    if json_:
        print(json.dumps(finite_or_null(payload), allow_nan=False))  # no value (all diverged) is null
    else:
        _summary(console, payload, out)
    if payload["violations"]:
        raise typer.Exit(1)


def _partial_report(state: Any, out: Path, engine: str, elapsed: float, store_path: Path) -> str:
    """Write the report of an interrupted hunt's finished cases; the phrase that says where (or nothing)."""
    from quorumsgd.hunt.report import build_report

    if state is None or not state.cases:
        return ""
    try:
        build_report(state, out, engine, elapsed, store_path, interrupted=True)
    except KeyboardInterrupt:  # a second Ctrl-C: the store is what counts
        return ""
    return f", partial report in {out}/hunt.md"


def _summary(console: Console, p: dict[str, Any], out: Path) -> None:
    w, s = p["worst"], p["sandwich"]
    if w is None:
        console.print(f"hunt {p['name']}: no candidate could be measured ({p['status_counts']})")
        return
    console.print(f"hunt {p['name']}: worst tightness {w['tightness']:.4f} (measured {w['measured']:.6g}, lcb "
                  f"{w['lower_confidence']:.6g}, ucb {w['upper_confidence']:.6g}, bound {w['bound']:.6g}; "
                  f"{'independent confirmation' if w['confirmation'] else 'race'}, {w['verdict']}; in the race "
                  f"{w['raced_tightness']:.4f})", soft_wrap=True)
    console.print(f"case: {json.dumps(w['case'], sort_keys=True)}", soft_wrap=True)
    shown = {k: "—" if s[k] is None else f"{s[k]:.6g}" for k in ("found", "sdp", "paper", "exact_quadratic")}
    console.print(f"sandwich: found {shown['found']} | SDP {shown['sdp']} | paper {shown['paper']} | exact quadratic "
                  f"{shown['exact_quadratic']}", soft_wrap=True)
    for v in p["violations"]:
        console.print(f"[bold red]VIOLATED[/] {p['name']}: measured {v['measured']:.6g} (lower confidence "
                      f"{v['lower_confidence']:.6g}) > bound {v['bound']:.6g}; reproduce with: {v['reproduce']}",
                      soft_wrap=True)
    console.print(f"reproduce: {w['reproduce']}", soft_wrap=True)
    console.print(f"report written to {out}/hunt.md ({p['evaluations']} evaluations, {p['from_store']} from the store)")
