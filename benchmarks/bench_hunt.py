"""Throughput of the distributed engine: cases per hour, in-process vs a local Dask cluster of 2 workers.

Run: python benchmarks/bench_hunt.py [--cases 12] [--repeats 2] [--workers 2]

Two workloads, the cases that `verify --thorough`'s random tier and `hunt` evaluate:

* **thorough tier**: problems drawn (derandomized) from the strategies of ``tests/test_verify_properties.py``'s
  slow tier, measured with its settings (96 simulations, window 12, 20 steps per time unit);
* **hunt rung 0**: candidates of a ``hunt thm5.1`` search (the first batch the seeded TPE asks) on rung 0.

The in-process engine and clusters of 1 and of 2 workers run the *same* cases; each cluster runs alone
(started, measured, stopped), interleaved with in-process runs, each after a warm-up case on every worker (process start and first-call imports are reported separately). Parallel
efficiency = (t_1_worker / t_2_workers) / 2; note that one case already uses more than one core (the simulation
engine draws its noise in threads next to the arithmetic), which caps what extra workers can add on 2 cores.
The projection for 10^5 cases on 64 workers assumes that efficiency and one worker's speed. The machine is
shared with other jobs: compare the ratios, not the absolute numbers. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings

from quorumsgd.hunt import racing
from quorumsgd.hunt.cases import DEFAULTS, evaluate_case
from quorumsgd.hunt.engine import Engine
from quorumsgd.hunt.engine.sweep import verify_case
from quorumsgd.hunt.search import complete_case, search_space
from quorumsgd.testing.strategies import qsgd_problems
from quorumsgd.verify.checks import Settings

SLOW_TIER = Settings(sims=96, window=12.0, confidence=0.99, steps_per_time=20.0)


def thorough_cases(n: int) -> list[tuple[Any, ...]]:
    drawn = []

    @settings(max_examples=4 * n, derandomize=True, deadline=None, database=None)
    @given(problem=qsgd_problems())
    def collect(problem: Any) -> None:
        drawn.append(problem)

    collect()
    names = ("thm5.1", "lemma3.1", "sgd")
    out = []
    for i, problem in enumerate(drawn[-n:]):  # past hypothesis' first, minimal examples: typical cases
        spec = json.loads(json.dumps(problem.spec.__dict__))
        out.append((verify_case, names[i % 3], spec, {**SLOW_TIER.__dict__, "seed": i}))
    return out


def hunt_cases(n: int) -> list[tuple[Any, ...]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    space = search_space("thm5.1")
    from quorumsgd.hunt.search import _suggest

    fid = racing.fidelity(0, 0)
    out = []
    for _ in range(n):
        trial = study.ask()
        case = complete_case("thm5.1", {k: _suggest(trial, k, d) for k, d in space.items()}, {})
        out.append((evaluate_case, "thm5.1", case, fid))
    return out


def _call(fn: Any, *args: Any) -> Any:
    return fn(*args)


def _time(engine: Engine, cases: list[tuple[Any, ...]]) -> float:
    start = time.perf_counter()
    results = list(engine.map(_call, cases))
    assert len(results) == len(cases)
    return time.perf_counter() - start


def _spawn(args: list[str]) -> list[subprocess.Popen[bytes]]:
    dask = Path(sys.executable).with_name("dask")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return [subprocess.Popen([str(dask), *args], start_new_session=True, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sessions", action="store_true",
                        help="run each worker in its own session: on a shared Linux machine with scheduler autogroups "
                             "(kernel.sched_autogroup_enabled) all processes of one session share one slice of CPU, "
                             "so local workers started by this process could never run in parallel")
    args = parser.parse_args()
    workloads = {"thorough_tier": thorough_cases(args.cases), "hunt_rung0": hunt_cases(args.cases)}
    warm = [(evaluate_case, "thm5.1", {**DEFAULTS, "dim": 1}, racing.fidelity(0, 99))]
    local = Engine(workers=0)
    list(local.map(_call, warm))
    report: dict[str, Any] = {"workers": args.workers, "cases": args.cases, "startup_s": {}}
    times: dict[str, dict[str, list[float]]] = {name: {} for name in workloads}
    # One cluster at a time: measured while a second cluster's processes were alive, a 1-worker cluster ran
    # 8x slower than alone (2026-12-02), so each cluster is started, measured and stopped before the next.
    # In-process runs are interleaved with every cluster's (the same background load for both).
    for n in sorted({1, args.workers}):
        key, spawned = f"cluster_{n}", []
        t0 = time.perf_counter()
        try:
            if args.sessions:  # a scheduler and n single-process workers, each in its own session (own autogroup)
                address = f"tcp://127.0.0.1:{8790 + n}"
                spawned += _spawn(["scheduler", "--host", "127.0.0.1", "--port", str(8790 + n), "--no-dashboard"])
                time.sleep(3)
                for _ in range(n):
                    spawned += _spawn(["worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"])
                engine = Engine(scheduler=address).__enter__()
                engine.client.wait_for_workers(n, timeout=60)
            else:
                engine = Engine(workers=n).__enter__()
            list(engine.map(_call, warm * n * 2))  # process start and first-call imports
            report["startup_s"][key] = time.perf_counter() - t0
            for name, cases in workloads.items():
                times[name].setdefault("in_process", [])
                times[name][key] = []
                for _ in range(args.repeats):
                    times[name]["in_process"].append(_time(local, cases))
                    times[name][key].append(_time(engine, cases))
            engine.close()
        finally:
            for proc in reversed(spawned):
                proc.terminate()
                proc.wait(timeout=30)
    for name, cases in workloads.items():
        best = {k: min(v) for k, v in times[name].items()}
        one, many = best["cluster_1"], best[f"cluster_{args.workers}"]
        eff = one / many / args.workers
        per_case = one / len(cases)
        report[name] = {
            "seconds": times[name],
            "cases_per_hour": {k: 3600 * len(cases) / v for k, v in best.items()},
            "parallel_efficiency_vs_1_worker": eff,
            "speedup_vs_in_process": best["in_process"] / many,
            "projected_hours_1e5_cases_64_workers": 1e5 * per_case / (64 * min(eff, 1.0)) / 3600,
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
