"""The one prepared device check: everything a GPU session should measure, in one call of at most 6 minutes.

Run on a fresh GPU machine with the project's sources (torch preinstalled; no cvxpy, optuna, dask or
platformdirs there; nothing downloadable), from the repository root::

    python benchmarks/gpu_check.py --device cuda --out "$OUT"        # on the GPU machine
    python benchmarks/gpu_check.py --device cpu --quick --out /tmp/g  # anywhere: the same code paths, seconds

It writes ``gpu_check.json`` (every figure, every test outcome, every error) and ``gpu_check.md`` (the short
tables for a note) into ``--out``. Sections, in order of importance, each in its own time slot of the
``--budget`` (a section that overruns is stopped and recorded, the next still runs):

1. ``alignment``: one epoch of odd layouts (widths 3/5/7, 3 agents, EASGD, batch 31, image 9) in every batching
   mode under :class:`~quorumsgd.training.kernel_check.KernelAlignmentCheck`, on the device (no crash, and
   every convolution / BatchNorm / GEMM operand on a 16-byte boundary);
2. ``tests``: ``pytest -m gpu`` on the test files that have GPU tests (CPU/GPU agreement in the strict
   precision mode, no host synchronization per step, the tiny study on the device, the simulator's GPU tests);
3. ``training``: ``benchmarks/bench_training.py`` -- agents 1, 4, 8, 16, 32 x loop / grouped / vmap /
   engine-loop / auto / auto-bf16 / ceiling / ceiling-bf16, with the ratios to the loop and to the ceiling;
4. ``simulate``: ``benchmarks/bench_simulate.py --device cuda --json`` (the Monte Carlo GPU figures; its
   absence or failure is recorded, not fatal);
5. ``compiled``: 8 agents with ``torch.compile`` of the whole step (CUDA graphs), compile time reported.

Exit code 0 when the alignment check, the tests and the training benchmark all passed.
"""

from __future__ import annotations

import argparse
import importlib.abc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC, TESTS, BENCH = ROOT / "src", ROOT / "tests", ROOT / "benchmarks"
ABSENT_ON_GPU_MACHINE = ("cvxpy", "optuna", "dask", "platformdirs")
"""Packages the GPU machine does not have: with ``--block-imports`` they fail to import here too."""

BLOCKER = """
import importlib.abc, sys
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {names!r}:
            raise ImportError(f"{{name}} is absent on the GPU machine (gpu_check --block-imports)")
sys.meta_path.insert(0, _Absent())
"""


class _Absent(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.split(".")[0] in self.names:
            raise ImportError(f"{name} is absent on the GPU machine (gpu_check --block-imports)")


class Budget:
    """Seconds left of the whole check; each section gets at most its own slot and what is left."""

    def __init__(self, total: float, reserve: float = 8.0):
        self.end, self.reserve = time.monotonic() + total, reserve

    def slot(self, seconds: float) -> float:
        return max(0.0, min(seconds, self.end - time.monotonic() - self.reserve))


def _env(blocked: Path | None) -> dict[str, str]:
    paths = [str(SRC), *([str(blocked)] if blocked else []), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "PYTHONUNBUFFERED": "1",
        "QUORUMSGD_CACHE_DIR": os.environ.get("QUORUMSGD_CACHE_DIR") or tempfile.mkdtemp(prefix="qsgd-cache-"),
    }


def _run(cmd: list[str], timeout: float, env: dict[str, str]) -> dict[str, Any]:
    """A subprocess with a time limit: return code, seconds, the tail of its output; never raises."""
    if timeout <= 1:
        return {"command": cmd, "error": "skipped: no time left in the budget"}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        out = {"command": cmd, "returncode": proc.returncode, "output_tail": (proc.stdout + proc.stderr)[-3000:]}
    except subprocess.TimeoutExpired as err:
        tail = (
            ((err.stdout or b"") + (err.stderr or b"")).decode(errors="replace")
            if isinstance(err.stdout, bytes)
            else (err.stdout or "") + (err.stderr or "")
        )
        out = {"command": cmd, "error": f"timed out after {timeout:.0f} s", "output_tail": tail[-3000:]}
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


# ------------------------------------------------------------------------------------------------ sections
def environment(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.device(device))
        info.update(
            name=props.name,
            memory_gib=round(props.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
    return info


def alignment(device: str, quick: bool) -> dict[str, Any]:
    from quorumsgd.training.config import TrainConfig
    from quorumsgd.training.engine import Trainer
    from quorumsgd.training.kernel_check import KernelAlignmentCheck

    out: dict[str, Any] = {}
    for batching in ("loop", "grouped") if quick else ("loop", "grouped", "vmap", "auto"):
        cfg = TrainConfig(
            algo="easgd",
            n_agents=3,
            epochs=1,
            widths=(3, 5, 7),
            batch_size=31,
            max_train=93,
            max_eval=45,
            image_size=9,
            lr_schedule="constant",
            batching=batching,
            device=device,
        )
        start = time.perf_counter()
        try:
            with KernelAlignmentCheck() as check:
                status = Trainer(cfg).run()["status"]
            out[batching] = {
                "status": status,
                "kernel_calls": check.calls,
                "misaligned": len(check.misaligned),
                "first": [list(map(str, m)) for m in check.misaligned[:3]],
            }
        except Exception as err:  # a crash is the finding
            out[batching] = {"status": f"crashed: {type(err).__name__}: {str(err).splitlines()[0][:300]}"}
        out[batching]["seconds"] = round(time.perf_counter() - start, 2)
    out["ok"] = all(v.get("status") == "completed" and v.get("misaligned") == 0 for v in out.values())
    return out


def gpu_test_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in TESTS.glob("test_*.py") if "mark.gpu" in p.read_text())


def _junit_cases(junit: Path) -> list[dict[str, Any]]:
    cases = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, detail = "passed", ""
        for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            found = case.find(tag)
            if found is not None:
                outcome, detail = name, (found.get("message") or "")[:300]
                break
        cases.append(
            {
                "test": f"{case.get('classname')}::{case.get('name')}",
                "outcome": outcome,
                "seconds": round(float(case.get("time") or 0), 2),
                "detail": detail,
            }
        )
    return cases


def tests(budget: Budget, slot: float, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """``pytest -m gpu``, one process per file: a file that overruns its time loses only its own outcomes."""
    files = gpu_test_files()
    end = time.monotonic() + budget.slot(slot)
    out: dict[str, Any] = {"files": files, "runs": [], "cases": []}
    for i, name in enumerate(files):
        junit = workdir / f"gpu-tests-{i}.xml"
        share = (end - time.monotonic()) / (len(files) - i) * 1.5  # a fair share, with room for a slower file
        cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", name]
        run = _run(cmd, min(share, end - time.monotonic()), env)
        out["runs"].append({k: v for k, v in run.items() if k != "command"} | {"file": name})
        if junit.exists():
            out["cases"] += _junit_cases(junit)
        else:
            out["cases"].append(
                {
                    "test": name,
                    "outcome": "error",
                    "seconds": run.get("seconds", 0),
                    "detail": run.get("error") or f"pytest exited {run.get('returncode')}",
                }
            )
    out["seconds"] = round(sum(r.get("seconds", 0) for r in out["runs"]), 1)
    out["counts"] = {k: sum(c["outcome"] == k for c in out["cases"]) for k in ("passed", "failed", "error", "skipped")}
    # pytest exits 5 when every selected test of a file was deselected (no GPU test there): not a failure.
    out["ok"] = (
        all(r.get("returncode") in (0, 5) for r in out["runs"])
        and not out["counts"]["failed"]
        and not out["counts"]["error"]
    )
    return out


def training(
    args: argparse.Namespace, timeout: float, env: dict[str, str], workdir: Path, extra: list[str], name: str
) -> dict[str, Any]:
    path = workdir / f"{name}.json"
    cmd = [sys.executable, str(BENCH / "bench_training.py"), "--device", args.device, "--json", str(path), *extra]
    out = _run(cmd, timeout, env)
    if path.exists():
        out["report"] = json.loads(path.read_text())
        sys.path.insert(0, str(BENCH))
        from bench_training import markdown

        out["markdown"] = markdown(out["report"])
    out["ok"] = out.get("returncode") == 0 and "report" in out
    if "report" in out and not out["ok"]:
        out["partial"] = True  # stopped at its time limit: the agent counts measured before it are kept
    return out


def simulate(args: argparse.Namespace, timeout: float, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    script = BENCH / "bench_simulate.py"
    if not script.exists():
        return {"error": "benchmarks/bench_simulate.py is absent", "ok": False}
    usage = _run([sys.executable, str(script), "--help"], min(timeout, 60), env)
    text = usage.get("output_tail", "")
    if "--device" not in text:
        return {
            "error": "bench_simulate.py has no --device option (the simulator's GPU mode is not merged)",
            "help_returncode": usage.get("returncode"),
            "ok": False,
        }
    if args.quick and "--quick" not in text:
        return {"error": "skipped in --quick: bench_simulate.py has no --quick option", "ok": False}
    path = workdir / "simulate.json"
    cmd = [
        sys.executable,
        str(script),
        "--device",
        args.device,
        "--json",
        str(path),
        *(["--quick"] if args.quick else []),
    ]
    out = _run(cmd, timeout, env)
    if path.exists():
        try:
            out["report"] = json.loads(path.read_text())
        except ValueError as err:
            out["error"] = f"unreadable JSON from bench_simulate: {err}"
    out["ok"] = out.get("returncode") == 0 and "report" in out
    if not out["ok"] and "error" not in out:
        last = out.get("output_tail", "").strip().splitlines()[-1:] or ["no output"]
        out["error"] = f"bench_simulate exited {out.get('returncode')}: {last[0][:300]}"
    return out


# ------------------------------------------------------------------------------------------------ report
def summary_markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [
        f"# gpu_check on {env.get('name', env['device'])} (torch {env['torch']}, "
        f"{report['seconds']:.0f} s of a {report['budget']:.0f} s budget)",
        "",
    ]
    lines += [
        "## Alignment (no crash; misaligned kernel operands)",
        "",
        "| batching | status | kernel calls | misaligned |",
        "|---|---|---|---|",
    ]
    for batching, row in report["alignment"].items():
        if isinstance(row, dict):
            lines.append(
                f"| {batching} | {row.get('status')} | {row.get('kernel_calls', 'n/a')} | "
                f"{row.get('misaligned', 'n/a')} |"
            )
    t = report["tests"]
    lines += [
        "",
        f"## GPU tests: {t.get('counts')} ({t.get('seconds', 0)} s){' -- ' + t['error'] if 'error' in t else ''}",
        "",
    ]
    lines += [
        f"- {c['outcome']}: {c['test']} ({c['seconds']} s){' -- ' + c['detail'] if c['detail'] else ''}"
        for c in t.get("cases", [])
        if c["outcome"] != "skipped" or report["environment"]["cuda_available"]
    ]
    for key, title in (("training", "Training throughput"), ("compiled", "torch.compile of the step")):
        section = report.get(key, {})
        lines += ["", f"## {title}", ""]
        lines.append(section.get("markdown") or f"not measured: {section.get('error', 'failed')}")
        if key == "compiled" and section.get("report"):
            secs = [r.get("compile_seconds") for r in section["report"]["rows"]]
            lines.append(f"\ncompile seconds (incl. CUDA graph capture): {secs}")
    sim = report.get("simulate", {})
    lines += ["", "## Monte Carlo (bench_simulate)", ""]
    lines.append(
        "measured: see gpu_check.json['simulate']['report']"
        if sim.get("ok")
        else f"not measured: {sim.get('error', 'failed')} {sim.get('output_tail', '')[-300:]}".strip()
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a CPU test of this script)")
    parser.add_argument("--out", default=os.environ.get("OUT") or "gpu_check_out")
    parser.add_argument("--budget", type=float, default=340.0, help="seconds for everything (the call has 360)")
    parser.add_argument(
        "--block-imports",
        action="store_true",
        help=f"make {', '.join(ABSENT_ON_GPU_MACHINE)} unimportable, as on the GPU machine",
    )
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    budget = Budget(args.budget)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    blocked = None
    if args.block_imports:
        sys.meta_path.insert(0, _Absent(set(ABSENT_ON_GPU_MACHINE)))
        blocked = workdir / "blocked"
        blocked.mkdir()
        (blocked / "sitecustomize.py").write_text(BLOCKER.format(names=set(ABSENT_ON_GPU_MACHINE)))
    sys.path.insert(0, str(SRC))
    env = _env(blocked)
    skip = set(filter(None, args.skip.split(",")))
    report: dict[str, Any] = {"budget": args.budget, "quick": args.quick, "environment": environment(args.device)}

    def section(name: str, fn: Any) -> None:
        if name in skip:
            report[name] = {"error": "skipped (--skip)", "ok": None}
            return
        t0 = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as err:  # recorded; the remaining sections still run
            report[name] = {"error": f"{type(err).__name__}: {err}", "ok": False}
        report[name]["section_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"[gpu_check] {name}: ok={report[name].get('ok')} ({report[name]['section_seconds']} s)", flush=True)

    gpu = args.device.startswith("cuda")
    bench_args = (
        ["--quick", "--threads", "1"] if args.quick else ["--n-agents", "1,4,8,16,32", "--steps", "4", "--repeats", "3"]
    )
    section("alignment", lambda: alignment(args.device, args.quick))
    section("tests", lambda: tests(budget, 120, env, workdir))
    section("training", lambda: training(args, budget.slot(110 if gpu else 120), env, workdir, bench_args, "training"))
    section("simulate", lambda: simulate(args, budget.slot(60), env, workdir))
    if gpu and not args.quick:
        section(
            "compiled",
            lambda: training(
                args,
                budget.slot(45),
                env,
                workdir,
                ["--n-agents", "8", "--methods", "loop,grouped,compiled,ceiling", "--steps", "4", "--repeats", "3"],
                "compiled",
            ),
        )
    else:
        report["compiled"] = {
            "error": "not run on CPU / --quick (compilation takes minutes there; the CPU tests "
            "exercise the compiled step)",
            "ok": None,
        }
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["ok"] = bool(report["alignment"].get("ok") and report["tests"].get("ok") and report["training"].get("ok"))
    (out_dir / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    (out_dir / "gpu_check.md").write_text(summary_markdown(report))
    print(summary_markdown(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
