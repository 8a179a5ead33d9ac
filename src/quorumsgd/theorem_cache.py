"""A disk cache of compiled theorems, so that ``quorumsgd bound NAME ...`` answers without SymPy.

Deriving a theorem (SymPy simplification, then compilation) takes about a second; importing SymPy half a
second more. The derivation's product, a :class:`~quorumsgd.numeric_theorem.NumericTheorem`, is stored as JSON
under the user's cache folder (``platformdirs``; override with ``QUORUMSGD_CACHE_DIR``, disable with
``QUORUMSGD_CACHE_DIR=""``).

It is keyed by the package version, the SymPy and NumPy versions and a hash of every source file of the
package, so any change to the code invalidates it.

Why it is safe to read: an entry is data, never code. Its formulas are an expression tree of a closed
vocabulary (:mod:`quorumsgd.expression_program`) mapped onto numpy functions, so a tampered file can at worst
fail to load — it cannot run anything. The files are still opened defensively, because a shared or synced
cache folder can be swapped under a running process: the cache root, the version folder and the file are
each opened with ``O_NOFOLLOW`` relative to the descriptor of the one above (no path is looked up twice), and
each opened descriptor is checked with ``fstat`` — owned by this user (the root may also be a sticky
folder), writable by nobody else, of the right type. :func:`store` writes through the same descriptors, so it
never writes into a folder that another user owns or can write. An entry that is unreadable, malformed,
tampered or of another format is ignored with one warning line on stderr and derived again.

The cache does not import :mod:`quorumsgd.bounds` (which uses it): :func:`compiled` takes the derivation as
an argument.

Example:
    >>> import os, tempfile
    >>> from quorumsgd import bounds
    >>> os.environ["QUORUMSGD_CACHE_DIR"] = tempfile.mkdtemp()
    >>> derive = lambda name: bounds.theorem(name).numeric
    >>> compiled("thm3.1", derive).evaluate(coupling=3.0, lambda_max=1.0).value
    2.0
    >>> load("thm3.1") is not None and (cache_folder() / "thm3.1.json").exists()
    True
    >>> del os.environ["QUORUMSGD_CACHE_DIR"]
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import stat
import sys
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from quorumsgd.numeric_theorem import NumericTheorem

_PACKAGE = Path(__file__).resolve().parent


@cache
def _key() -> str:
    """Package, SymPy and NumPy versions and the hash of the package's sources: any change, a new folder."""
    digest = hashlib.sha256()
    for dist in ("quorumsgd", "sympy", "numpy"):
        try:
            digest.update(f"{dist}={metadata.version(dist)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist}=?;".encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def cache_folder() -> Path | None:
    """The folder of this version's cached theorems (``None`` if caching is disabled)."""
    root = os.environ.get("QUORUMSGD_CACHE_DIR")
    if root is None:
        from platformdirs import user_cache_dir

        root = user_cache_dir("quorumsgd")
    if not root:
        return None
    return Path(root) / f"theorems-{_key()}"


_MODE = stat.S_IWGRP | stat.S_IWOTH
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_MAX_BYTES = 1 << 20
"""A compiled theorem is a few kB; anything larger is not one of ours."""

_warned: set[str] = set()


class Untrusted(OSError):
    """A cache folder or file that must not be used (foreign owner, writable by others, a link, not a file)."""


def _warn(what: str, reason: object) -> None:
    """One line on stderr per entry and process: the cache is an optimization, never an error."""
    if what in _warned:
        return
    _warned.add(what)
    text = " ".join(str(reason).split())[:200]
    print(f"warning: ignoring the cached theorem {what} ({text}); deriving it again", file=sys.stderr)


def _check(fd: int, what: str, *, directory: bool, root: bool = False) -> None:
    """The opened descriptor is ours (or, for the root, a sticky folder) and nobody else can write it."""
    info = os.fstat(fd)
    kind_ok = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
    if not kind_ok:
        raise Untrusted(f"{what} is not a {'folder' if directory else 'regular file'}")
    sticky = root and bool(info.st_mode & stat.S_ISVTX) and info.st_uid in (0, os.getuid())
    if info.st_uid != os.getuid() and not sticky:
        raise Untrusted(f"{what} belongs to another user (uid {info.st_uid})")
    if info.st_mode & _MODE and not sticky:
        raise Untrusted(f"{what} is writable by other users (mode {stat.S_IMODE(info.st_mode):o})")


def _open_folder(name: str, *, create: bool, dir_fd: int | None = None, root: bool = False) -> int:
    """Open (creating it, mode 700, if asked) one folder without following a link, and check it."""
    try:
        fd = os.open(name, _DIRECTORY, dir_fd=dir_fd)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, 0o700, dir_fd=dir_fd)
        except FileExistsError:
            pass
        fd = os.open(name, _DIRECTORY, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Untrusted(f"{name} is a symbolic link or not a folder") from None
        raise
    try:
        _check(fd, name, directory=True, root=root)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_theorems(*, create: bool) -> int | None:
    """A checked descriptor of this version's folder (root and version folder opened without following links)."""
    folder = cache_folder()
    if folder is None:
        return None
    root = str(folder.parent)
    if create:
        os.makedirs(Path(root).parent, mode=0o700, exist_ok=True)
    root_fd = _open_folder(root, create=create, root=True)
    try:
        return _open_folder(folder.name, create=create, dir_fd=root_fd)
    finally:
        os.close(root_fd)


def _read(name: str) -> bytes | None:
    """The bytes of ``name.json``, read through checked descriptors; ``None`` if it is not cached."""
    try:
        folder_fd = _open_theorems(create=False)
    except FileNotFoundError:
        return None
    if folder_fd is None:
        return None
    try:
        try:
            fd = os.open(f"{name}.json", _FILE, dir_fd=folder_fd)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise Untrusted(f"{name}.json is a symbolic link") from None
            raise
        try:
            _check(fd, f"{name}.json", directory=False)
            with os.fdopen(os.dup(fd), "rb") as fh:
                data = fh.read(_MAX_BYTES + 1)
        finally:
            os.close(fd)
    finally:
        os.close(folder_fd)
    if len(data) > _MAX_BYTES:
        raise ValueError(f"{name}.json is larger than {_MAX_BYTES} bytes")
    return data


def _well_formed(data: Any, name: str) -> NumericTheorem:
    """The theorem of a parsed entry, with every field of the type it must have (else ``ValueError``)."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    texts = ("name", "title", "equation", "latex", "expression", "spec_difference", "kind")
    lists = ("parameters", "terms", "transient_rates")
    for key in texts:
        if not isinstance(data.get(key), str):
            raise ValueError(f"{key} is not a string")
    for key in lists:
        if not (isinstance(data.get(key), list) and all(isinstance(v, str) for v in data[key])):
            raise ValueError(f"{key} is not a list of names")
    optional = data.get("optional")
    if not (isinstance(optional, dict) and all(v is None or type(v) in (int, float) for v in optional.values())):
        raise ValueError("optional is not an object of numbers")
    hypotheses = data.get("hypotheses")
    if not (
        isinstance(hypotheses, list)
        and all(
            isinstance(h, list)
            and len(h) == 3
            and isinstance(h[0], str)
            and isinstance(h[1], str)
            and isinstance(h[2], list)
            and all(isinstance(p, str) for p in h[2])
            for h in hypotheses
        )
    ):
        raise ValueError("hypotheses are not [statement, equation, parameters] triples")
    expressions = data.get("term_expressions")
    if not (isinstance(expressions, dict) and all(isinstance(v, str) for v in expressions.values())):
        raise ValueError("term_expressions is not an object of strings")
    if data["name"] != name:
        raise ValueError(f"it holds {data['name']!r}")
    if data.get("program") is None:
        raise ValueError("it has no program")
    theorem = NumericTheorem.from_dict(data)
    outputs = len(theorem.terms) + len(theorem.transient_rates) + len(theorem.hypotheses)
    if data["program"].get("args") != list(theorem.all_parameters) or len(data["program"].get("out", ())) != outputs:
        raise ValueError("its program does not match its parameters and outputs")
    _ = theorem.function  # compiles the program now: a malformed one is refused here, not at evaluation
    return theorem


def _no_constant(text: str) -> None:
    raise ValueError(f"it holds the non-JSON number {text}")


def load(name: str) -> NumericTheorem | None:
    """The cached compiled theorem, or ``None`` (not cached, disabled, or ignored with one warning line:
    unreadable, untrusted, malformed or of another format)."""
    try:
        raw = _read(name)
        if raw is None:
            return None
        return _well_formed(json.loads(raw.decode("utf-8"), parse_constant=_no_constant), name)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        _warn(name, err)  # ProgramError, JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def store(theorem: NumericTheorem) -> None:
    """Write a compiled theorem atomically, through checked descriptors (never into a folder another user owns
    or can write); skipped silently where the cache cannot be written."""
    if theorem.prepare is not None or theorem.program is None:
        return  # a prepare hook is code of the catalog: such theorems are derived in-process
    try:
        folder_fd = _open_theorems(create=True)
    except OSError:
        return
    if folder_fd is None:
        return
    try:
        payload = json.dumps(theorem.to_dict(), allow_nan=False).encode()
        tmp = f".{theorem.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(tmp, flags, 0o600, dir_fd=folder_fd)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, f"{theorem.name}.json", src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except (OSError, ValueError):
        return
    finally:
        os.close(folder_fd)


def compiled(name: str, derive: Callable[[str], NumericTheorem | None]) -> NumericTheorem | None:
    """The compiled theorem ``name``: from the cache, else ``derive(name)`` (SymPy) and stored. ``None`` for
    theorems that cannot be evaluated from the cache alone (``derive`` returned ``None``, a ``prepare`` hook,
    or no program)."""
    cached = load(name)
    if cached is not None:
        return cached
    numeric = derive(name)
    if numeric is None:
        return None
    store(numeric)
    return None if numeric.prepare is not None or numeric.program is None else numeric
