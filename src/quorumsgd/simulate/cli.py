"""``quorumsgd simulate figN --out DIR``: the model-problem figures (PNG) and their numbers (JSON).

Example:
    >>> from typer.testing import CliRunner
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> CliRunner().invoke(app, ["fig1", "--quick", "--out", out]).exit_code
    0
"""

from __future__ import annotations

import json

import typer

from quorumsgd.clikit import Interrupted, finite_or_null, make_app, output_dir
from quorumsgd.errors import InvalidParameter

app = make_app(
    "Monte Carlo model-problem experiments of the paper (Figs 1-6) on surrogate losses.", name="simulate", no_args_is_help=True
)

BACKENDS = ("numpy", "torch")

FIGURES = {
    "fig1": "Fig 1: QSGD (41) on the 1-D surrogate loss, coupling sweep (claim C8).",
    "fig2": "Fig 2: Fig 1 with the learning rate halved periodically down to a floor (claim C9).",
    "fig3": "Fig 3: momentum (42)-(43) on the 1-D surrogate, coupling sweep (claim C10).",
    "fig4": "Fig 4: high-dimensional surrogate: cross-sections and quorum loss vs iteration per coupling (C8).",
    "fig5": "Fig 5: final agent positions on the high-dimensional surrogate for six couplings.",
    "fig6": "Fig 6: final quorum positions on the high-dimensional surrogate for six couplings.",
}


def _run(name: str, out_arg: str, quick: bool, sims: int | None, steps: int | None, seed: int | None,
         backend: str) -> None:
    if sims is not None and sims < 2:
        raise InvalidParameter("--sims", "be an integer >= 2", sims, f"simulate {name}")
    if steps is not None and steps < 1:
        raise InvalidParameter("--steps", "be an integer >= 1", steps, f"simulate {name}")
    if backend not in BACKENDS:
        raise InvalidParameter("--backend", f"be one of {', '.join(BACKENDS)}", backend, f"simulate {name}")
    out = output_dir(out_arg)

    from tqdm import tqdm

    from quorumsgd.simulate.experiments import InterruptedRun, run_figure
    from quorumsgd.simulate.figures import plot_figure

    out.mkdir(parents=True, exist_ok=True)
    try:
        with tqdm(total=1, desc=name, unit="step", unit_scale=True, leave=False) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            result = run_figure(name, quick=quick, progress=progress, backend=backend, sims=sims, steps=steps,
                                seed=seed)
    except InterruptedRun as stop:
        partial = out / f"{name}.json"
        partial.write_text(json.dumps(finite_or_null(stop.partial), indent=1, allow_nan=False))
        raise Interrupted(f"interrupted: {len(stop.partial['runs'])} of "
                          f"{len(stop.partial['config']['couplings'])} couplings finished; partial results "
                          f"(marked interrupted) in {partial}") from None
    except KeyboardInterrupt:  # before the sweep began: there is nothing to keep
        raise Interrupted(f"interrupted before the first coupling finished; nothing written to {out}") from None
    png = plot_figure(result, out / f"{name}.png")
    (out / f"{name}.json").write_text(json.dumps(finite_or_null(result), indent=1, allow_nan=False))
    summary = ", ".join(f"k={r['coupling']:g}: {r['center_loss']['mean']:.3f}" for r in result["runs"])
    typer.echo(f"{name}: wrote {png} and {out / (name + '.json')}")
    typer.echo(f"final quorum loss f(x̄) by coupling: {summary}")


def _make_command(name: str) -> None:
    def command(
        out: str = typer.Option(..., "--out", help="Output directory for the PNG and JSON."),
        quick: bool = typer.Option(False, "--quick", help="Small settings (seconds), for smoke tests."),
        sims: int | None = typer.Option(None, "--sims", help="Simulations per coupling (default: figure's)."),
        steps: int | None = typer.Option(None, "--steps", help="Iterations (default: figure's)."),
        seed: int | None = typer.Option(None, "--seed", help="Base random seed."),
        backend: str = typer.Option("numpy", "--backend", help="numpy or torch."),
    ) -> None:
        _run(name, out, quick, sims, steps, seed, backend)

    command.__doc__ = FIGURES[name]
    app.command(name=name, help=FIGURES[name])(command)


for _name in FIGURES:
    _make_command(_name)
