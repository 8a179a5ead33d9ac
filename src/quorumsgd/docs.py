"""Build the API reference (Sphinx, from the docstrings) offline: ``python -m quorumsgd.docs --out DIR``.

The sources are ``docs/`` of the source checkout (``docs/conf.py`` says why Sphinx); the pages are generated
by autodoc + napoleon from the docstrings, the theorems' from the registry (:mod:`quorumsgd.bounds.registry`).
Math is typeset by the proof site's bundled KaTeX, so the pages need no network. ``--strict`` (``-W``) turns
every warning into an error, as the test does. The proof site (:func:`quorumsgd.proofsite.site.render_site`)
builds it into ``OUT/api/`` and links it from its index.

Example:
    >>> source_dir().name
    'docs'
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from quorumsgd.errors import QuorumSGDError


class DocsUnavailable(QuorumSGDError):
    """Sphinx is not installed or the ``docs/`` sources are not there (an installed wheel has none)."""


def source_dir() -> Path:
    """``docs/`` of the source checkout this package was imported from (it may not exist in a wheel)."""
    return Path(__file__).resolve().parents[2] / "docs"


def check_available(source: Path | None = None) -> Path:
    """The sources folder, or :class:`DocsUnavailable` with one line naming what is missing and how to get it."""
    source = source_dir() if source is None else Path(source)
    if importlib.util.find_spec("sphinx") is None:
        raise DocsUnavailable("docs: the package sphinx is not installed (pip install sphinx, or pip install -e "
                              "'.[test]')")
    if not (source / "conf.py").is_file():
        raise DocsUnavailable(f"docs: no Sphinx sources at {source} (the API docs build from a source checkout)")
    return source


def build(out: Path, *, strict: bool = False, source: Path | None = None, quiet: bool = True) -> Path:
    """Build the HTML API reference into ``out``; return ``out/index.html``.

    ``strict``: warnings are errors (``-W --keep-going``); a failed build raises :class:`QuorumSGDError` with
    the first problem Sphinx reported, on one line.
    """
    from sphinx.cmd.build import build_main

    source = check_available(source)
    out = Path(out)
    args = ["-b", "html", "-q", "-E", *(["-W", "--keep-going"] if strict else []), str(source), str(out)]
    log = io.StringIO()
    with redirect_stderr(log), redirect_stdout(io.StringIO() if quiet else sys.stdout), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Sphinx's deprecations of its own extensions
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        code = build_main(args)
    if code != 0:
        problems = [line for line in log.getvalue().splitlines() if "WARNING" in line or "ERROR" in line]
        first = problems[0] if problems else (log.getvalue().strip().splitlines() or ["unknown error"])[-1]
        raise QuorumSGDError(f"docs: the Sphinx build failed ({len(problems)} problem(s)); first: {first}")
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quorumsgd.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("api-docs"), help="output folder (default: api-docs)")
    parser.add_argument("--strict", action="store_true", help="warnings are errors (sphinx -W)")
    parser.add_argument("--source", type=Path, default=None, help="the Sphinx sources (default: docs/ of the checkout)")
    args = parser.parse_args(argv)
    try:
        index = build(args.out, strict=args.strict, source=args.source)
    except QuorumSGDError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"API reference written to {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
