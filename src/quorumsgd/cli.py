"""The ``quorumsgd`` command.

Each layer owns a Typer sub-application in its own ``cli`` module; this file only assembles them and turns
every user error (bad flag, bad value, violated hypothesis) into a one-line message and exit code 2.
"""

from __future__ import annotations

import sys

import click
import typer

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


def _register() -> None:
    # Imported here so that `quorumsgd --help` stays fast and each layer keeps its own CLI module.
    from quorumsgd.bounds.cli import bound_command

    app.command(name="bound", context_settings={"help_option_names": ["-h", "--help"]})(bound_command)


_register()


def fail(message: str) -> None:
    """Print a one-line error to stderr and exit with code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: no tracebacks for user errors."""
    try:
        result = app(args=argv, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError:
        raise SystemExit(0) from None
    except click.UsageError as err:  # bad flag, missing option, unparsable value
        fail(" ".join(err.format_message().split()))
    except QuorumSGDError as err:
        fail(str(err))
    except click.exceptions.Abort:
        fail("aborted")
    except click.exceptions.Exit as err:
        raise SystemExit(err.exit_code) from None
    if isinstance(result, int) and result:
        raise SystemExit(result)


if __name__ == "__main__":
    main()
