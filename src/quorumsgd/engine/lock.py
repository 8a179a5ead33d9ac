"""One process per output folder: an exclusive ``flock`` on ``FOLDER/.quorumsgd.lock``.

Two hunts (or verifies) writing the same store and report would interleave their rows and overwrite each
other's plots. The lock is advisory and held on an open descriptor: the kernel releases it when the process
ends, however it ends (``SIGKILL`` included), so a stale lock file never blocks the next run.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with folder_lock(folder, "hunt"):
    ...     with folder_lock(folder, "hunt"):
    ...         pass
    Traceback (most recent call last):
    ...
    quorumsgd.engine.lock.FolderBusy: hunt: ... is in use by another quorumsgd process (pid ...); wait for it to finish or choose another --out
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from quorumsgd.errors import QuorumSGDError

LOCK_NAME = ".quorumsgd.lock"


class FolderBusy(QuorumSGDError):
    """Another process holds the output folder's lock."""


@contextmanager
def folder_lock(folder: Path | str, where: str) -> Iterator[Path]:
    """Hold the folder's lock for the ``with`` block (creating the folder); :class:`FolderBusy` if it is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no advisory locks, run unlocked
        yield Path(folder)
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise FolderBusy(f"{where}: {folder} is in use by another quorumsgd process (pid {holder}); wait for "
                             "it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race with a waiting process)
