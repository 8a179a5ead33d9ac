"""The ``quorumsgd`` command.

Each layer owns a Typer sub-application in its own ``cli`` module; this file only assembles them and turns
every user error (bad flag, bad value, violated hypothesis) into a one-line message and exit code 2.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.20 vendors click; older releases depend on it
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_errors

from quorumsgd.errors import QuorumSGDError

app = typer.Typer(
    name="quorumsgd",
    help="Bounds, contraction certificates, simulations and training runs for distributed SGD "
    "(Boffi & Slotine, Neural Computation 2020).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Bounds, contraction certificates, simulations and training runs for distributed SGD."""


def _register() -> None:
    # Imported here so that `quorumsgd --help` stays fast and each layer keeps its own CLI module.
    from quorumsgd.bounds.cli import bound_command

    app.command(name="bound", context_settings={"help_option_names": ["-h", "--help"]})(bound_command)
    from quorumsgd.training.cli import app as train_app

    app.add_typer(train_app, name="train")
    from quorumsgd.contraction.cli import app as contraction_app

    app.add_typer(contraction_app, name="contraction")
    from quorumsgd.simulate.cli import app as simulate_app

    app.add_typer(simulate_app, name="simulate")
    from quorumsgd.verify.cli import verify_command

    app.command(name="verify")(verify_command)
    from quorumsgd.hunt.cli import hunt_command

    app.command(name="hunt")(hunt_command)
    from quorumsgd.proofsite.cli import app as proofs_app

    app.add_typer(proofs_app, name="proofs")


_register()


def fail(message: str) -> None:
    """Print a one-line error to stderr and exit with code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: no tracebacks for user errors."""
    try:
        result = app(args=argv, standalone_mode=False)
    except click_errors.NoArgsIsHelpError:
        app(args=["--help"], standalone_mode=False)
        raise SystemExit(0) from None
    except click_errors.UsageError as err:  # bad flag, missing option, unparsable value
        fail(" ".join(err.format_message().split()))
    except QuorumSGDError as err:
        fail(str(err))
    except (typer.Abort, KeyboardInterrupt):
        fail("interrupted")
    except typer.Exit as err:
        raise SystemExit(err.exit_code) from None
    except BrokenPipeError:  # output piped into `head`: not an error of ours
        raise SystemExit(0) from None
    if isinstance(result, int) and result:
        raise SystemExit(result)


if __name__ == "__main__":
    main()
