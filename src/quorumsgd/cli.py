"""The ``quorumsgd`` command.

Each layer owns its sub-command in its own ``cli`` module; this file only lists them. A sub-command is
imported when it runs (never for ``--help`` or for another sub-command), so that ``quorumsgd --help`` and
``quorumsgd bound ...`` answer at once. Adding a command is one line in :data:`COMMANDS`::

    "hunt": ("quorumsgd.hunt.cli:app", "Adversarial search for the worst case of a bound."),

where the target is a Typer app, a click command or a Typer command function. The error handling (one line,
exit code 2; interrupts: one line, exit code 130) is :func:`quorumsgd.clikit.run`.
"""

from __future__ import annotations

from collections.abc import Sequence

from quorumsgd.clikit import lazy_group, make_app, run

COMMANDS: dict[str, tuple[str, str]] = {
    "bound": ("quorumsgd.bounds.cli:bound_command",
              "Evaluate a bound of the paper: value, terms, transient rates, hypotheses, LaTeX."),
    "train": ("quorumsgd.training.cli:app", "Train N agents of the paper's CNN (Sec. 6); 'table1': Table 1 grid."),
    "contraction": ("quorumsgd.contraction.cli:app",
                    "LMI contraction certificates and comparison with the paper's rates."),
    "simulate": ("quorumsgd.simulate.cli:app", "Monte Carlo model-problem experiments of the paper (Figs 1-6)."),
    "verify": ("quorumsgd.verify.cli:verify_command",
               "Measure every bound of the paper against its derivation; exit 1 if one is violated."),
    "hunt": ("quorumsgd.hunt.cli:hunt_command",
             "Adversarial search for the worst case of a bound (measured / bound), on a Dask cluster."),
    "bracket": ("quorumsgd.bounds.worst_case.cli:bracket_command", "Worst case over S(lambda, L): certificate vs member."),
    "proofs": ("quorumsgd.proofsite.cli:app", "Proof notebooks: execute them and render the browsable site."),
}
"""name -> ("module:attribute", one-line help shown by ``quorumsgd --help`` without importing the module)."""

app = make_app(
    "Bounds, contraction certificates, simulations and training runs for distributed SGD "
    "(Boffi & Slotine, Neural Computation 2020).",
    name="quorumsgd",
    cls=lazy_group(COMMANDS),
    no_args_is_help=True,
)


@app.callback()
def _root() -> None:
    """Bounds, contraction certificates, simulations and training runs for distributed SGD."""


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script: no tracebacks for user errors, one line for an interrupt."""
    run(app, argv)


if __name__ == "__main__":
    main()
