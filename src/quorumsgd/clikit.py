"""The command-line toolkit every ``quorumsgd`` sub-command shares: one app factory, one error handler.

* :func:`make_app` builds a Typer application with the project's settings (``-h``, no completion, plain
  help, no pretty tracebacks).
* :class:`LazyGroup` is the root command's group: it knows each sub-command by ``"module:attribute"`` and a
  one-line help, and imports a sub-command's module only when that sub-command runs, so that
  ``quorumsgd --help`` and ``quorumsgd bound ...`` never import torch, cvxpy or the simulator.
* :func:`run` is the entry point's error handler: a user error (bad flag, bad value, violated hypothesis)
  is one line ``error: ...`` on stderr and exit code 2; an internal numerical failure
  (:class:`~quorumsgd.errors.NumericalFailure`: a conic solver failed) one line and exit code 3; an interrupt is one line on stderr and exit code 130,
  after the command has saved what it finished (:class:`Interrupted`).
* :func:`output_dir` checks an output folder before any work; :func:`dumps` is strict JSON (no ``NaN`` or
  ``Infinity``); :func:`shown` truncates echoed input.

Example:
    >>> import typer
    >>> app = make_app("demo")
    >>> @app.command()
    ... def hello(n: int = typer.Option(1, "--n")) -> None:
    ...     print("hello " * n)
    >>> run(app, ["--n", "x"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
    >>> dumps({"rate": float("inf")}, where="demo")
    Traceback (most recent call last):
    ...
    quorumsgd.errors.QuorumSGDError: demo: rate is not a finite number (inf); the parameters are outside the range a 64-bit float can evaluate (rescale them)
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click; older releases depend on it
    from typer import _click as click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    import click
    from click import exceptions as click_errors

from quorumsgd.errors import InvalidParameter, NumericalFailure, QuorumSGDError

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
MAX_SHOWN = 80
"""Characters of a user's input echoed back in an error line (a 100 kB argument is cut, not printed whole)."""


class Interrupted(Exception):
    """Raised by a long command after Ctrl-C, once it has saved what it finished; the message says where."""


def make_app(help: str, name: str | None = None, **settings: Any) -> typer.Typer:
    """A Typer application with the project's settings (one place for all sub-commands)."""
    options: dict[str, Any] = {
        "name": name,
        "help": help,
        "add_completion": False,
        "pretty_exceptions_enable": False,
        "rich_markup_mode": None,
        "context_settings": dict(HELP_OPTIONS),
    }
    options.update(settings)
    return typer.Typer(**options)


def _load(target: str) -> click.Command:
    module, attr = target.split(":")
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, typer.Typer):
        return typer.main.get_group(obj)  # a group even with one sub-command (`proofs render`)
    if isinstance(obj, click.Command):
        return obj
    single = make_app(help=obj.__doc__ or "")
    single.command()(obj)  # a one-command Typer app collapses into that command
    return typer.main.get_command(single)


class LazyGroup(TyperGroup):
    """A group whose sub-commands are imported on first use.

    ``commands`` maps a name to ``("package.module:attribute", "one-line help")``; the attribute is a Typer
    app, a click command or a plain Typer command function. Help lists the registry's lines without
    importing anything.
    """

    registry: Mapping[str, tuple[str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.registry)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.registry:
            command = _load(self.registry[cmd_name][0])
            command.name = cmd_name
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_line) for name, (_, help_line) in self.registry.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name.startswith("-") or self.get_command(ctx, name) is not None:
            return super().resolve_command(ctx, args)
        matches = get_close_matches(name, list(self.registry))
        hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
        ctx.fail(f"No such command {shown(name)!r}.{hint}")

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # Typer would turn it into a silent exit 130 before run() sees it
            raise Interrupted("interrupted") from None


def lazy_group(registry: Mapping[str, tuple[str, str]]) -> type[LazyGroup]:
    return type("RegisteredGroup", (LazyGroup,), {"registry": dict(registry)})


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error to stderr and exit (code 2: the user can fix the input)."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(code)


def run(app: typer.Typer, argv: Sequence[str] | None = None) -> None:
    """Run ``app`` as a console script: no tracebacks for user errors, one line for an interrupt."""
    try:
        with warnings.catch_warnings():  # overflow is reported as one line by the command, never as a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            result = app(args=None if argv is None else list(argv), standalone_mode=False)
    except click_errors.NoArgsIsHelpError:
        app(args=["--help"], standalone_mode=False)
        raise SystemExit(0) from None
    except click_errors.UsageError as err:  # bad flag, missing option, unparsable value
        fail(truncate(err.format_message()))
    except QuorumSGDError as err:
        fail(truncate(str(err)))
    except NumericalFailure as err:  # not the user's input: a distinct exit code
        fail(truncate(str(err)), code=NumericalFailure.exit_code)
    except (Interrupted, KeyboardInterrupt, typer.Abort) as err:
        print(truncate(str(err)) if isinstance(err, Interrupted) else "interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except typer.Exit as err:
        raise SystemExit(err.exit_code) from None
    except BrokenPipeError:  # output piped into `head`: not an error of ours
        raise SystemExit(0) from None
    if isinstance(result, int) and result:
        if result == 130:  # a sub-app's own KeyboardInterrupt handling (standalone runs of a sub-app)
            print("interrupted", file=sys.stderr)
        raise SystemExit(result)


def truncate(text: str, limit: int = 4 * MAX_SHOWN) -> str:
    """One line, at most ``limit`` characters (long inputs are elided in the middle)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else f"{line[: limit // 2]} ... {line[-limit // 4 :]} ({len(line)} chars)"


def shown(value: object) -> str:
    """A user's value for an error message, cut to :data:`MAX_SHOWN` characters."""
    text = str(value)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 25]}... ({len(text)} characters)"


_FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev")


def output_dir(path: Path | str, flag: str = "--out") -> Path:
    """Check an output folder before any work; return it as a ``Path``. Nothing is created.

    Pass the option as typed (a ``str``): Typer turns ``--out ""`` into ``Path(".")``, the current folder.

    It must be a non-empty path, not an existing file, not under ``/proc``, ``/sys`` or ``/dev``, with each
    name within the file system's limit, and its nearest existing parent must be a writable folder.
    """
    text = str(path)
    if not text.strip():
        raise InvalidParameter(flag, "be a folder name, not an empty string")
    target = Path(text).expanduser()
    resolved = Path(os.path.abspath(target))
    if any(resolved == Path(r) or Path(r) in resolved.parents for r in _FORBIDDEN_ROOTS):
        raise InvalidParameter(flag, "be a folder outside /proc, /sys and /dev", shown(text))
    for part in resolved.parts:
        if len(os.fsencode(part)) > 255:
            raise InvalidParameter(flag, "be a path whose names are at most 255 bytes each", shown(text))
    if len(os.fsencode(str(resolved))) > 4000:
        raise InvalidParameter(flag, "be a path of at most 4000 bytes", shown(text))
    if resolved.exists() and not resolved.is_dir():
        raise InvalidParameter(flag, "be a folder, not an existing file", shown(text))
    parent = resolved
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InvalidParameter(flag, f"be inside a folder ({parent} is a file)", shown(text))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidParameter(flag, f"be a writable folder ({parent} is not writable)", shown(text))
    return target


def _first_non_finite(obj: Any, path: str = "") -> tuple[str, float] | None:
    if isinstance(obj, float) and not math.isfinite(obj):
        return path or "value", obj
    if isinstance(obj, Mapping):
        for key, val in obj.items():
            found = _first_non_finite(val, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(obj, list | tuple):
        for i, val in enumerate(obj):
            found = _first_non_finite(val, f"{path}[{i}]")
            if found:
                return found
    return None


def dumps(obj: Any, where: str, **kwargs: Any) -> str:
    """Strict JSON (``allow_nan=False``); a non-finite number raises a one-line error naming its key."""
    found = _first_non_finite(obj)
    if found is not None:
        check_finite({found[0]: found[1]}, where)
    return json.dumps(obj, allow_nan=False, **kwargs)


def finite_or_null(obj: Any) -> Any:
    """For data files: every non-finite float becomes ``None`` (JSON ``null``: "no value", e.g. all diverged)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_null(v) for v in obj]
    return obj


def check_finite(values: Mapping[str, float], where: str) -> None:
    """Raise a one-line error if a number about to be printed is not finite (overflow, 0/0)."""
    for name, value in values.items():
        if value is not None and not math.isfinite(float(value)):
            raise QuorumSGDError(
                f"{where}: {name} is not a finite number ({value}); the parameters are outside the range a "
                "64-bit float can evaluate (rescale them)"
            )
