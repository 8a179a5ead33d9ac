"""One writer per output folder: an advisory ``flock`` on ``FOLDER/.lock``, held while a command writes there.

Two ``quorumsgd train study --out D`` (or two runs into one ``--out``) would interleave their checkpoints
and results; the second is refused with one line naming the first one's process id. The kernel releases
the lock when its holder exits, however it exits (SIGKILL included), so a lock never outlives a crash and
there is nothing to clean up: the next command simply takes it.

Example:
    >>> import tempfile
    >>> from quorumsgd.errors import InvalidParameter
    >>> folder = tempfile.mkdtemp()
    >>> with FolderLock(folder):
    ...     try:
    ...         FolderLock(folder).acquire()
    ...     except InvalidParameter as err:
    ...         print(str(err).split(" (")[0])
    parameter out must be a folder that no other process is writing
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from quorumsgd.errors import InvalidParameter

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; the folder is simply not locked
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


class FolderLock:
    """Exclusive, non-blocking lock on ``folder`` (created if missing); ``flag`` names the option in errors."""

    def __init__(self, folder: str | Path, flag: str = "out"):
        self.folder, self.flag = Path(folder), flag
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        if fcntl is None or self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise InvalidParameter(
                self.flag,
                f"be a folder that no other process is writing (pid {holder} holds {self.folder / LOCK_NAME}; "
                "wait for it to finish or use another folder)",
                str(self.folder),
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
