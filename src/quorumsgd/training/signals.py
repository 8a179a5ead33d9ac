"""SIGTERM handled like Ctrl-C: ``timeout``, ``kill`` and schedulers end a long command the way a user does.

Without it a SIGTERM kills the process at once: the epoch in progress is lost (that much is unavoidable)
but so are the final ``results.json`` status and the one-line message. Inside :func:`terminate_as_interrupt`
a SIGTERM raises ``KeyboardInterrupt`` in the main thread, so the same code paths that save and report after
Ctrl-C run.

Example:
    >>> import os, signal
    >>> with terminate_as_interrupt():
    ...     try:
    ...         os.kill(os.getpid(), signal.SIGTERM)
    ...     except KeyboardInterrupt:
    ...         print("saved and reported")
    saved and reported
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` inside the block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
