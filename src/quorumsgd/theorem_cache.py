"""A disk cache of compiled theorems, so that ``quorumsgd bound NAME ...`` answers without SymPy.

Deriving a theorem (SymPy simplification, then ``lambdify``) takes about a second; importing SymPy half a
second more. The derivation's product, a :class:`~quorumsgd.numeric_theorem.NumericTheorem` (plain data and
the generated numpy source), is stored as JSON under the user's cache folder (``platformdirs``; override with
``QUORUMSGD_CACHE_DIR``, disable with ``QUORUMSGD_CACHE_DIR=""``).

It is keyed by the package version, the SymPy and NumPy versions and a hash of every source file of the
package, so any change to the code invalidates it. Because a cached theorem contains code that is executed, a
file is used only if it and its folder belong to the current user and nobody else can write them; anything
unreadable, foreign or stale is ignored and derived again.

Example:
    >>> import os, tempfile
    >>> os.environ["QUORUMSGD_CACHE_DIR"] = tempfile.mkdtemp()
    >>> compiled("thm3.1").evaluate(coupling=3.0, lambda_max=1.0).value
    2.0
    >>> compiled("thm3.1") is not None and (cache_folder() / "thm3.1.json").exists()
    True
    >>> del os.environ["QUORUMSGD_CACHE_DIR"]
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path

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


def _private(path: Path) -> bool:
    """Owned by this user and writable by nobody else (a cached theorem holds code that will run)."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load(name: str) -> NumericTheorem | None:
    """The cached compiled theorem, or ``None`` (not cached, disabled, unreadable or not private)."""
    folder = cache_folder()
    if folder is None:
        return None
    path = folder / f"{name}.json"
    if not (_private(folder) and _private(path)):
        return None
    try:
        data = json.loads(path.read_text())
        theorem = NumericTheorem.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return theorem if theorem.name == name and theorem.namespace is not None else None


def store(theorem: NumericTheorem) -> None:
    """Write a compiled theorem (atomically); silently skipped where the cache cannot be written."""
    folder = cache_folder()
    if folder is None or theorem.prepare is not None or theorem.namespace is None:
        return  # a prepare hook is code of the catalog: such theorems are derived in-process
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{theorem.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(theorem.to_dict(), fh)
        os.replace(tmp, folder / f"{theorem.name}.json")
    except OSError:
        return


def compiled(name: str) -> NumericTheorem | None:
    """The compiled theorem ``name``: from the cache, else derived (SymPy) and stored. ``None`` for theorems
    that cannot be evaluated from the cache alone (those with a ``prepare`` hook, ``stability``)."""
    cached = load(name)
    if cached is not None:
        return cached
    from quorumsgd import bounds

    if name not in bounds.NAMES or name == "stability":
        return None
    numeric = bounds.theorem(name).numeric
    store(numeric)
    return None if numeric.prepare is not None or numeric.namespace is None else numeric
