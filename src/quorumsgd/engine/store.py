"""Every evaluated case in one SQLite file (stdlib :mod:`sqlite3`), keyed by ``(seed, case_key)``: resumable.

A hunt or a sweep asks the store before evaluating a case; a case already there is never run again, and a
case is written the moment its result arrives, so an interrupted run loses at most the cases in flight.
SQLite (rather than Parquet) because rows arrive one at a time from many workers and must survive a kill.

A file that is not such a store (truncated, overwritten, another program's database) is refused when it is
opened, as one line (:class:`StoreUnreadable`) that says how to start afresh; :meth:`CaseStore.set_aside`
moves it out of the way without deleting anything.

Example:
    >>> import tempfile, pathlib
    >>> with CaseStore(pathlib.Path(tempfile.mkdtemp()) / "cases.sqlite") as store:
    ...     store.put(0, "k1", "thm5.1", {"coupling": 1.0}, {"sims": 16}, {"status": "ok", "tightness": 0.5}, rung=0)
    ...     store.get(0, "k1")["tightness"], store.count(0)
    (0.5, 1)
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from quorumsgd.errors import QuorumSGDError

F = TypeVar("F", bound=Callable[..., Any])

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    seed INTEGER NOT NULL,
    case_key TEXT NOT NULL,
    theorem TEXT NOT NULL,
    rung INTEGER,
    trial INTEGER,
    params TEXT NOT NULL,
    fidelity TEXT NOT NULL,
    status TEXT,
    measured REAL, lower_confidence REAL, upper_confidence REAL, bound REAL, tightness REAL,
    verdict TEXT,
    wall_s REAL,
    result TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (seed, case_key)
)
"""


_COLUMNS = ("seed", "case_key", "theorem", "rung", "trial", "params", "fidelity", "status", "measured",
            "lower_confidence", "upper_confidence", "bound", "tightness", "verdict", "wall_s", "result", "created")


class StoreUnreadable(QuorumSGDError):
    """The case store's file is not a readable store (corrupt, truncated, foreign); the message says what to do."""

    def __init__(self, path: Path, reason: object) -> None:
        super().__init__(f"{path} is not a readable case store ({' '.join(str(reason).split())[:120]}); move it "
                         "away, or rerun with --fresh to set it aside and start a new one")


def _guarded(method: F) -> F:
    """A database error in the middle of a run (the file damaged under us) is one line, not a traceback."""

    @functools.wraps(method)
    def call(self: CaseStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, ValueError) as err:
            if isinstance(err, QuorumSGDError):
                raise
            raise StoreUnreadable(self.path, err) from None

    return call  # type: ignore[return-value]


class CaseStore:
    """The SQLite store of evaluated cases (one row per ``(seed, case_key)``).

    Opening checks the file (``PRAGMA quick_check`` and the table's columns) and raises
    :class:`StoreUnreadable` for anything that is not a store of this layout.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
        except sqlite3.DatabaseError as err:
            raise StoreUnreadable(self.path, err) from None
        try:
            check = self._db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no answer'}")
            self._db.execute(_SCHEMA)
            columns = tuple(row[1] for row in self._db.execute("PRAGMA table_info(cases)"))
            if columns != _COLUMNS:
                raise sqlite3.DatabaseError(f"its cases table has other columns ({', '.join(columns)[:60]})")
            self._db.commit()
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise StoreUnreadable(self.path, err) from None

    @staticmethod
    def set_aside(path: Path | str) -> Path | None:
        """Rename an existing store to ``NAME.set-aside-<time>`` (nothing is deleted); return the new name."""
        path = Path(path)
        if not path.exists():
            return None
        target = path.with_name(f"{path.name}.set-aside-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while target.exists():
            target, n = path.with_name(f"{path.name}.set-aside-{time.strftime('%Y%m%d-%H%M%S')}-{n}"), n + 1
        path.rename(target)
        for suffix in ("-journal", "-wal", "-shm"):  # SQLite's side files belong to the old store
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        return target

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @_guarded
    def get(self, seed: int, key: str) -> dict[str, Any] | None:
        """The stored result of a case, or ``None``."""
        row = self._db.execute("SELECT result FROM cases WHERE seed = ? AND case_key = ?", (seed, key)).fetchone()
        return None if row is None else json.loads(row[0])

    @_guarded
    def put(self, seed: int, key: str, theorem: str, params: dict[str, Any], fidelity: dict[str, Any],
            result: dict[str, Any], rung: int | None = None, trial: int | None = None) -> None:
        """Write one case (committed at once: a kill keeps it)."""
        def num(name: str) -> float | None:
            v = result.get(name)
            return float(v) if isinstance(v, int | float) else None

        self._db.execute(
            "INSERT OR REPLACE INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seed, key, theorem, rung, trial, json.dumps(params, sort_keys=True), json.dumps(fidelity, sort_keys=True),
             result.get("status"), num("measured"), num("lower_confidence"), num("upper_confidence"), num("bound"),
             num("tightness"), result.get("verdict"), num("wall_s"), json.dumps(result), time.time()),
        )
        self._db.commit()

    @_guarded
    def count(self, seed: int | None = None) -> int:
        if seed is None:
            return int(self._db.execute("SELECT COUNT(*) FROM cases").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM cases WHERE seed = ?", (seed,)).fetchone()[0])

    @_guarded
    def rows(self, seed: int | None = None, theorem: str | None = None) -> list[dict[str, Any]]:
        """Stored cases in the order they were written (``rowid``)."""
        where, args = [], []
        if seed is not None:
            where.append("seed = ?")
            args.append(seed)
        if theorem is not None:
            where.append("theorem = ?")
            args.append(theorem)
        sql = "SELECT seed, case_key, theorem, rung, trial, params, fidelity, result FROM cases"
        if where:
            sql += " WHERE " + " AND ".join(where)
        out = []
        for seed_, key, th, rung, trial, params, fidelity, result in self._db.execute(sql + " ORDER BY rowid", args):
            out.append({"seed": seed_, "case_key": key, "theorem": th, "rung": rung, "trial": trial,
                        "params": json.loads(params), "fidelity": json.loads(fidelity), "result": json.loads(result)})
        return out

    @_guarded
    def delete(self, seed: int, key: str) -> None:
        """Remove one case (tests use it to simulate an interrupted run)."""
        self._db.execute("DELETE FROM cases WHERE seed = ? AND case_key = ?", (seed, key))
        self._db.commit()
