r"""Cases run through Dask distributed: a local cluster of worker processes by default, a real one by address.

Why Dask distributed rather than Ray: it is pure Python and pip-installable with no daemon, a
:class:`~distributed.LocalCluster` of worker *processes* starts inside the calling process in a second or two
(Ray starts a raylet, a GCS server and a dashboard: heavy on a 2-core machine), and the same code talks to a
real cluster given a scheduler address (``dask scheduler`` / ``dask worker ADDRESS`` on other machines).

Guarantees, and where they come from:

* **results independent of the number of workers**: a case carries its own seed (keyed by the case, see
  :func:`quorumsgd.hunt.cases.case_key`) and a worker only ever runs pure ``case -> result`` functions;
* **resumable, no case lost or run twice**: :func:`run_cases` asks the :class:`~quorumsgd.engine.store.CaseStore`
  first and writes each result as it arrives;
* **a dead worker's cases are retried**: the Dask scheduler reassigns the tasks of a worker that dies (up to
  ``distributed.scheduler.allowed-failures`` times) and the local cluster's nanny restarts the process;
  ``tests/test_hunt.py`` kills a worker in the middle of a task and checks the case still completes.

Example:
    >>> with Engine(workers=0) as engine:          # in-process: the reference every cluster run must equal
    ...     sorted(engine.map(pow, [(2, 3), (3, 2)]))
    [(0, 8), (1, 9)]
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from quorumsgd.errors import InvalidParameter


class Engine:
    """Where cases run: ``workers=0`` in this process; otherwise Dask (``scheduler`` address, or a LocalCluster).

    Args:
        workers: local worker processes (default: the number of CPU cores); 0 runs in-process.
        scheduler: address of a running Dask scheduler (``tcp://host:8786``); overrides ``workers``.
        processes: local workers as processes (True: no GIL contention; the default) or threads.
        connect_timeout: how long to try reaching ``scheduler``.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None, processes: bool = True,
                 connect_timeout: str = "10s") -> None:
        if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 0):
            raise InvalidParameter("--workers", "be an integer >= 0", workers)
        limit = max_workers()
        if workers is not None and workers > limit:
            raise InvalidParameter("--workers", f"be at most {limit} ({WORKERS_PER_CORE} per CPU core of this "
                                   "machine; use --scheduler for a larger cluster)", workers)
        if scheduler is not None:
            scheduler = check_scheduler_address(scheduler)
        self.workers = (os.cpu_count() or 1) if workers is None else int(workers)
        self.scheduler, self.processes, self.connect_timeout = scheduler, processes, connect_timeout
        self.client: Any = None
        self._cluster: Any = None

    @property
    def description(self) -> str:
        if self.scheduler:
            return f"dask scheduler {self.scheduler}"
        if self.workers == 0:
            return "in-process"
        return f"dask LocalCluster, {self.workers} worker {'processes' if self.processes else 'threads'}"

    def probe(self) -> None:
        """Check, within seconds, that the scheduler (if any) accepts connections: before any work is done."""
        if self.scheduler:
            _reachable(self.scheduler)

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is KeyboardInterrupt:  # tasks in flight are cancelled: their shutdown chatter is no news
            for name in ("distributed", "tornado", "asyncio"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        self.close()

    def start(self) -> None:
        if self.client is not None or (self.workers == 0 and not self.scheduler):
            return
        from distributed import Client, LocalCluster

        if self.scheduler:
            _reachable(self.scheduler)  # a closed port answers at once; Client would retry for its whole timeout
            try:
                self.client = Client(self.scheduler, timeout=self.connect_timeout)
            except Exception as err:  # OSError, TimeoutError, a non-Dask server's protocol error
                raise InvalidParameter("--scheduler", "be the address of a running Dask scheduler",
                                       f"{self.scheduler}: {type(err).__name__}: {err}") from None
            return
        import dask

        # Cases are short (a fraction of a second on rung 0): let workers queue them instead of waiting for the
        # scheduler after each one (its default keeps ~1 task per thread, a round trip per case).
        with dask.config.set({"distributed.scheduler.worker-saturation": float("inf")}):
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=self.processes,
                                         host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
        self.client = Client(self._cluster)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]], keys: Sequence[str] | None = None
            ) -> Iterator[tuple[int, Any]]:
        """``(index, fn(*args[index]))`` as results complete (submission order in-process).

        An exception inside ``fn`` is returned as ``{"status": "error", "error": ...}`` so that one bad case
        never stops a hunt; the task of a worker that *dies* is retried by the scheduler.
        """
        if self.client is None:
            for i, a in enumerate(args):
                yield i, _guarded(fn, *a)
            return
        from distributed import as_completed

        futures = {}
        for i, a in enumerate(args):
            key = None if keys is None else f"case-{keys[i]}"
            futures[self.client.submit(_guarded, fn, *a, key=key, pure=False)] = i
        for future in as_completed(futures):
            yield futures[future], future.result()


WORKERS_PER_CORE = 4
"""Local worker processes allowed per CPU core: more only thrash (a 2-core machine at load 94 with 1000)."""

_SCHEMES = ("tcp", "tls")


def max_workers() -> int:
    """The most local worker processes :class:`Engine` starts on this machine."""
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


def check_scheduler_address(address: str) -> str:
    """``tcp://host:port`` (or ``tls://``, or ``host:port``), checked before any connection is tried."""
    import re

    text = address.strip()
    scheme, _, rest = text.rpartition("://")
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})", rest)
    if (scheme and scheme not in _SCHEMES) or match is None or not 0 < int(match.group(2)) < 65536:
        shown = text if len(text) <= 80 else text[:55] + "..."
        raise InvalidParameter("--scheduler", "be a Dask scheduler address tcp://HOST:PORT (PORT 1-65535)", shown)
    return text if scheme else f"tcp://{text}"


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in one line, within seconds, when nothing listens at the scheduler's address."""
    import socket

    rest = address.rpartition("://")[2]
    host, _, port = rest.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise InvalidParameter("--scheduler", "be the address of a running Dask scheduler",
                               f"{address}: {err.strerror or type(err).__name__}") from None


def _guarded(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as err:  # a numerical failure of one case is a result, not the end of the hunt
        return {"status": "error", "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=4)}


def _apply(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@dataclass(frozen=True)
class Job:
    """One case to evaluate: its store key and the pure function call that evaluates it."""

    key: str
    theorem: str
    params: dict[str, Any]
    fidelity: dict[str, Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    rung: int | None = None
    trial: int | None = None


@dataclass
class RunStats:
    """What :func:`run_cases` did: cases evaluated now, and cases taken from the store."""

    evaluated: int = 0
    reused: int = 0
    keys_evaluated: list[str] = field(default_factory=list)


def run_cases(engine: Engine, store: Any, seed: int, jobs: Sequence[Job], stats: RunStats | None = None,
              on_result: Callable[[Job, dict[str, Any]], None] | None = None) -> dict[str, dict[str, Any]]:
    """Evaluate ``jobs`` through ``engine``, skipping those already in ``store``; returns ``key -> result``.

    Each result is written to the store as it arrives (a Ctrl-C keeps every finished case).
    """
    stats = stats if stats is not None else RunStats()
    results: dict[str, dict[str, Any]] = {}
    todo: list[Job] = []
    for job in jobs:
        if job.key in results or any(j.key == job.key for j in todo):
            continue
        hit = store.get(seed, job.key) if store is not None else None
        if hit is not None:
            results[job.key] = hit
            stats.reused += 1
            if on_result:
                on_result(job, hit)
        else:
            todo.append(job)
    for i, result in engine.map(_apply, [(j.fn, *j.args) for j in todo], [j.key for j in todo]):
        job = todo[i]
        results[job.key] = result
        stats.evaluated += 1
        stats.keys_evaluated.append(job.key)
        if store is not None and result.get("status") != "error":  # an error is retried on the next run
            store.put(seed, job.key, job.theorem, job.params, job.fidelity, result, rung=job.rung, trial=job.trial)
        if on_result:
            on_result(job, result)
    return results
