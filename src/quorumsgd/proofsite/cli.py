"""``quorumsgd proofs``: execute the proof notebooks and render the browsable site.

Heavy imports (nbclient, nbconvert, jupytext, the notebooks' own) happen inside the command, so that
``quorumsgd --help`` stays fast.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path
from typing import Any

import typer

from quorumsgd.clikit import make_app, output_dir
from quorumsgd.errors import InvalidParameter, QuorumSGDError

app = make_app(
    "Proof notebooks: each theorem's derivation, certificate and measurement, executed and rendered.", no_args_is_help=True
)


def _default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


@app.command("render")
def render(
    out_arg: str = typer.Option("proofs-site", "--out", "-o", help="Output folder of the site."),
    only: list[str] | None = typer.Option(None, "--only", help="Render only this result (repeatable), e.g. thm5.1."),
    quick: bool = typer.Option(False, "--quick", help="Small simulations: every notebook runs in seconds."),
    jobs: int = typer.Option(_default_jobs(), "--jobs", "-j", min=1, help="Notebooks executed side by side."),
    notebooks: Path | None = typer.Option(None, "--notebooks", help="Folder of the notebooks (default: proofs/)."),
    timeout: float = typer.Option(900.0, "--timeout", help="Seconds allowed per notebook cell."),
) -> None:
    """Execute the notebooks (nbclient) and write an HTML site with an index; math renders offline (KaTeX)."""
    if not (math.isfinite(timeout) and timeout > 0):
        raise InvalidParameter("--timeout", "be a positive number of seconds", timeout)
    out = output_dir(out_arg)
    missing = [m for m in ("jupytext", "nbclient", "nbconvert", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:  # dependencies of the default install; a trimmed environment gets one line, not a traceback
        raise QuorumSGDError(f"proofs render needs {', '.join(missing)} (dependencies of quorumsgd): "
                             f"pip install {' '.join(missing)}")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from quorumsgd.proofsite.execute import Execution
    from quorumsgd.proofsite.registry import ProofNotebook
    from quorumsgd.proofsite.site import render_site, select

    console = Console(stderr=True)
    chosen = select(only)
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"proofs ({'quick' if quick else 'full'} mode)", total=len(chosen))
        running: list[str] = []

        def started(nb: ProofNotebook) -> None:
            running.append(nb.name)
            progress.update(task, description="running " + ", ".join(running))

        def done(ex: Execution) -> None:
            running.remove(ex.notebook.name)
            mark = "[green]✓[/]" if ex.ok else "[bold red]✗[/]"
            checks = (ex.summary or {}).get("checks", 0)
            detail = f"{checks} checks" if ex.ok else ex.error
            progress.console.print(f"{mark} {ex.notebook.name:<10} {ex.elapsed_s:6.1f} s  {detail}")
            progress.update(task, advance=1, description="running " + ", ".join(running) if running else "rendering")

        site = render_site(out, only=only, quick=quick, jobs=jobs, notebooks=notebooks, timeout=timeout,
                           on_start=started, on_done=done, strict=False)
    if site.failures:
        from quorumsgd.proofsite.site import ProofsFailed

        console.print(f"site with failures written to {site.index}")
        raise ProofsFailed(site.failures)
    print(site.index, file=sys.stdout)
