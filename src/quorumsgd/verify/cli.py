"""``quorumsgd verify``: every measurable bound against its measurement, the claims ledger, a report folder."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from quorumsgd.clikit import Interrupted, dumps, optional_import, output_dir, terminate_as_interrupt
from quorumsgd.engine.lock import folder_lock
from quorumsgd.errors import InvalidParameter
from quorumsgd.verify.checks import CHECKS, run_check
from quorumsgd.verify.claims import CLAIMS
from quorumsgd.verify.report import (
    Sweep,
    print_headline,
    print_table,
    quick_settings,
    run_sweep,
    sandwiches_of,
    write_report,
)
from quorumsgd.verify.result import CheckResult

SWEEPS = (("thm5.1", "n_agents", (1, 2, 4, 8, 16, 32)), ("thm5.1", "coupling", (0.0, 0.3, 1.0, 3.0, 10.0)),
          ("lemma3.1", "n_agents", (2, 4, 8, 16, 32)), ("lemma3.1", "coupling", (0.3, 1.0, 3.0, 10.0)))


def verify_command(
    thorough: bool = typer.Option(False, "--thorough", help="more simulations, longer windows, finer steps"),
    device: str = typer.Option("cpu", "--device", help="cpu, or cuda to simulate with torch on the GPU"),
    json_: bool = typer.Option(False, "--json", help="print one JSON object instead of the table"),
    out_arg: str = typer.Option("report", "--out", help="report folder (Markdown, PNG plots, JSON)"),
    only: str | None = typer.Option(None, "--only", help="run one check (e.g. thm5.1) or claim (e.g. C4)"),
    plain: bool = typer.Option(False, "--plain", help="no control variates: plain Euler--Maruyama where the "
                               "default uses the linearized system (slower; for comparison)"),
    scheduler: str | None = typer.Option(None, "--scheduler",
                                         help="run the checks on this Dask scheduler (tcp://host:8786)"),
    workers: int | None = typer.Option(None, "--workers",
                                       help="local Dask workers for --thorough (default: CPU cores; 0: in-process)"),
    fresh: bool = typer.Option(False, "--fresh", help="set an existing OUT/cases.sqlite aside (renamed, not "
                               "deleted) and start a new store"),
) -> None:
    """Measure every bound of the paper against its derivation; exit 1 if any bound is violated.

    On Ctrl-C (or ``SIGTERM``) the report of what finished is written (marked ``interrupted``) and the exit
    code is 130 (143). One process at a time may use an ``--out`` folder (a lock file).
    """
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InvalidParameter("--device", "be cpu or cuda", device)
    if only is not None and only not in CHECKS and only not in CLAIMS:
        raise InvalidParameter("--only", f"be one of {', '.join([*CHECKS, *CLAIMS])}", only)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InvalidParameter("--device", "be cpu on a machine without CUDA", device)
    out = output_dir(out_arg)
    distributed = thorough or scheduler is not None or workers is not None
    if distributed:
        from quorumsgd.engine import CaseStore, Engine

        if workers != 0 or scheduler is not None:
            optional_import("distributed", "distributed", "quorumsgd verify --thorough")
        Engine(workers=workers, scheduler=scheduler).probe()  # --workers and --scheduler checked before any work
    with folder_lock(out, "verify"), terminate_as_interrupt():
        if fresh and distributed and (aside := CaseStore.set_aside(out / "cases.sqlite")) is not None:
            print(f"the previous store was set aside as {aside}", file=sys.stderr)
        _verify(thorough, device, json_, out, only, plain, scheduler, workers, distributed)


def _verify(thorough: bool, device: str, json_: bool, out: Path, only: str | None, plain: bool,
            scheduler: str | None, workers: int | None, distributed: bool) -> None:
    settings = quick_settings(thorough, None if device == "cpu" else device)
    if plain:
        settings = replace(settings, control_variate=False)
    checks = [only] if only in CHECKS else ([] if only in CLAIMS else list(CHECKS))
    claims = [only] if only in CLAIMS else ([] if only in CHECKS else list(CLAIMS))
    sweeps = [] if only is not None else list(SWEEPS)
    console = Console(stderr=json_)
    with_table = only is None  # the SDP table over (p, k, n) belongs to the full report
    total = len(checks) + len(claims) + sum(len(v) for _, _, v in sweeps) + 2 * int(with_table)
    results: list[CheckResult] = []
    claim_results: list[Any] = []
    sweep_results: list[Sweep] = []
    sdp_table: list[Any] = []
    bracket: list[Any] | None = None
    sweep_settings = settings if thorough else replace(settings, sims=64, window=10.0)
    interrupted = False
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=json_ or not sys.stderr.isatty()) as progress:
        task = progress.add_task("verifying", total=total)
        try:
            if distributed and (checks or sweeps):
                # Checks and sweeps as cases of the distributed engine, resumable from out/cases.sqlite.
                from quorumsgd.verify.distributed import distributed_checks

                progress.update(task, description="checks and sweeps (distributed)")
                results, sweep_results = distributed_checks(checks, sweeps, settings, sweep_settings, out, scheduler,
                                                            workers, on_done=lambda: progress.advance(task),
                                                            into=(results, sweep_results))
            for name in checks if not distributed else ():
                progress.update(task, description=f"check {name}")
                results.append(run_check(name, settings=settings))
                progress.advance(task)
            for check, field_name, values in sweeps if not distributed else ():
                progress.update(task, description=f"sweep {check} over {field_name}")
                run_sweep(check, field_name, values, sweep_settings, on_done=lambda: progress.advance(task),
                          into=sweep_results)
            for name in claims:
                progress.update(task, description=f"claim {name}")
                claim_results.append(CLAIMS[name](out, settings))
                progress.advance(task)
            if with_table:
                from quorumsgd.bounds.sdp.table import cached_sandwich

                progress.update(task, description="SDP certificates over (p, k, n)")
                sdp_table = cached_sandwich()
                progress.advance(task)
                from quorumsgd.bounds.worst_case.table import bracket_table as worst_case_grid

                # inside the interruptible block: Ctrl-C while it is solved (minutes on a new version, then
                # cached) keeps every finished check in a report without this section
                progress.update(task, description="the worst case bracketed over S(lambda, L) (cached after)")
                bracket = worst_case_grid()
                progress.advance(task)
        except KeyboardInterrupt:  # keep what finished: the report below is written and marked interrupted
            interrupted = True
    sweep_checks = [r for s in sweep_results for r in s.results]
    sandwiches = [] if interrupted else sandwiches_of(results)
    payload = write_report(out, results + sweep_checks, claim_results, sweep_results, interrupted=interrupted,
                           sandwiches=sandwiches, sdp_table=sdp_table, bracket_table=bracket)
    violated = [r for r in results + sweep_checks if r.verdict == "violated"]
    if json_:
        print(dumps({**payload, "checks": [r.to_json() for r in results],
                     "sweep_checks": payload["checks"][len(results):], "report": str(out)}, where="verify"))
    else:
        print_headline(console, sandwiches)
        print_table(console, results, sweeps=sweep_results)
        for c in claim_results:
            color = {"supported": "green", "not supported": "bold red", "inconclusive": "yellow",
                     "not run": "dim"}[c.verdict]
            console.print(f"[{color}]{c.claim} {c.verdict}[/]: {c.statement} — {c.evidence}")  # wrapped
        for r in violated:
            console.print(f"[bold red]VIOLATED[/] {r.name}: measured {r.measured:.6g} (lower confidence "
                          f"{r.lower_confidence:.6g}) > bound {r.bound:.6g}; reproduce with {json.dumps(r.params)}",
                          soft_wrap=True)
        if not interrupted:
            console.print(f"report written to {out}/report.md (and report.html)")
    if interrupted:
        done = len(results) + len(sweep_checks) + len(claim_results)
        raise Interrupted(f"interrupted: {done} of {total} checks, sweep points and claims finished; partial "
                          f"report in {out}/report.md")
    if violated:
        raise typer.Exit(1)

