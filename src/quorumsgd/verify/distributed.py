"""``quorumsgd verify``'s checks and sweeps as cases of the distributed engine (resumable from a store).

It lives in ``verify`` and uses the engine layer below (:mod:`quorumsgd.engine`), never ``hunt``.

A verify case is ``(check name, problem spec or None for the check's default problem, settings)``; its seed
is the settings' seed, so the results are those of the in-process run whatever the number of workers.

Example:
    >>> from quorumsgd.verify.checks import Settings
    >>> from quorumsgd.engine import Engine
    >>> [r] = run_verify_cases([("sgd", None)], Settings(sims=16, window=4.0), Engine(workers=0))
    >>> r.name, r.verdict
    ('sgd', 'holds')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from quorumsgd.engine.cluster import Engine, Job, RunStats, run_cases


def verify_case(name: str, spec: dict[str, Any] | None, settings: dict[str, Any]) -> dict[str, Any]:
    """Run one verify check (plain data in and out: any worker can run it)."""
    from quorumsgd.verify.checks import Settings, run_check
    from quorumsgd.verify.problems import Problem, ProblemSpec

    problem = None
    if spec is not None:
        spec = dict(spec)
        if isinstance(spec.get("lr"), list):
            spec["lr"] = tuple(spec["lr"])
        problem = Problem.build(ProblemSpec(**spec))
    out = run_check(name, problem, Settings(**settings)).to_json()
    out["status"] = "ok"
    return out


def _key(name: str, spec: dict[str, Any] | None, settings: dict[str, Any]) -> str:
    blob = json.dumps([name, spec, settings], sort_keys=True, default=list)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def run_verify_cases(tasks: Sequence[tuple[str, Any]], settings: Any, engine: Engine, store: Any = None,
                     stats: RunStats | None = None, on_done: Callable[[], None] | None = None) -> list[Any]:
    """Evaluate ``(check, problem | None)`` tasks through ``engine``; returns their CheckResults in order.

    Raises the first case's error (a verify check failing is a bug, not a finding) after every other case
    has been stored.
    """
    from quorumsgd.verify.result import CheckResult

    s = asdict(settings)
    jobs = []
    for name, problem in tasks:
        spec = None if problem is None else json.loads(json.dumps(asdict(problem.spec)))
        jobs.append(Job(_key(name, spec, s), name, {"spec": spec}, s, verify_case, (name, spec, s)))
    results = run_cases(engine, store, int(settings.seed), jobs, stats,
                        on_result=(lambda job, res: on_done()) if on_done else None)
    out = []
    for job in jobs:
        r = dict(results[job.key])
        if r.get("status") != "ok":
            raise RuntimeError(f"verify case {job.theorem} failed: {r.get('error')}")
        r.pop("status", None)
        out.append(CheckResult(**r))
    return out


def _stored(tasks: Sequence[tuple[str, Any]], settings: Any, store: Any) -> list[Any | None]:
    """The stored result of each ``(check, problem | None)`` task (``None`` where it has not finished)."""
    from quorumsgd.verify.result import CheckResult

    s, found = asdict(settings), []
    for name, problem in tasks:
        spec = None if problem is None else json.loads(json.dumps(asdict(problem.spec)))
        row = store.get(int(settings.seed), _key(name, spec, s))
        if row is not None and row.get("status") == "ok":
            row = {k: v for k, v in row.items() if k != "status"}
            found.append(CheckResult(**row))
        else:
            found.append(None)
    return found


def distributed_checks(checks: Sequence[str], sweeps: Sequence[tuple[str, str, Sequence[float]]], settings: Any,
                       sweep_settings: Any, out: Any, scheduler: str | None, workers: int | None,
                       on_done: Callable[[], None] | None = None,
                       into: tuple[list[Any], list[Any]] | None = None) -> tuple[list[Any], list[Any]]:
    """``quorumsgd verify``'s checks and sweeps through the engine; the store is ``out/cases.sqlite``.

    Returns the check results and the :class:`~quorumsgd.verify.report.Sweep` objects, exactly as the
    in-process loop builds them (same problems, same settings, same seeds). On an interrupt the finished
    checks and sweep points (every one is in the store: rerunning the command resumes) are appended to
    ``into`` before the interrupt propagates, so the caller can write a partial report.
    """
    from pathlib import Path

    from quorumsgd.engine.store import CaseStore
    from quorumsgd.verify.checks import default_problem
    from quorumsgd.verify.report import Sweep

    sweep_tasks = []
    for check, field_name, values in sweeps:
        base = default_problem(check)
        sweep_tasks += [(check, base.replace(**{field_name: int(v) if field_name == "n_agents" else float(v)}))
                        for v in values]
    with CaseStore(Path(out) / "cases.sqlite") as store, Engine(workers=workers, scheduler=scheduler) as engine:
        try:
            results = run_verify_cases([(n, None) for n in checks], settings, engine, store, on_done=on_done)
            flat = run_verify_cases(sweep_tasks, sweep_settings, engine, store, on_done=on_done)
        except KeyboardInterrupt:
            if into is not None:
                into[0].extend(r for r in _stored([(n, None) for n in checks], settings, store) if r is not None)
                done, i = _stored(sweep_tasks, sweep_settings, store), 0
                for check, field_name, values in sweeps:
                    points = [(float(v), r) for v, r in zip(values, done[i:i + len(values)], strict=True)
                              if r is not None]
                    i += len(values)
                    if points:
                        into[1].append(Sweep(check, field_name, [v for v, _ in points], [r for _, r in points]))
            raise
    sweep_results, i = [], 0
    for check, field_name, values in sweeps:
        sweep_results.append(Sweep(check, field_name, [float(v) for v in values], flat[i:i + len(values)]))
        i += len(values)
    return results, sweep_results
