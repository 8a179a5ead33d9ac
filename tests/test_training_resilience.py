"""Nothing is run from data, and nothing finished is lost: a checkpoint that would run code is refused; a
study interrupted by SIGINT, SIGTERM or SIGKILL resumes with every finished run kept and none trained twice;
two processes never write one folder; the training package has no import cycle."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import quorumsgd
from quorumsgd.errors import InvalidParameter
from quorumsgd.training.lock import FolderLock
from quorumsgd.training.results import to_json_ready
from quorumsgd.training.study import StudyChoices, planned_runs

SRC = Path(quorumsgd.__file__).resolve().parents[1]


class Payload:
    """Unpickling this runs ``touch MARKER`` (what a tampered checkpoint would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_in_one_line(tmp_path, run_cli):
    out, marker = tmp_path / "run", tmp_path / "pwned"
    out.mkdir()
    torch.save({"version": 2, "config": {}, "state": Payload(marker)}, out / "checkpoint.pt")
    code, _, err = run_cli("train", "--algorithm", "qsgd", "--out", str(out), "--resume")
    assert code == 2 and not marker.exists()
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "refused" in err and "checkpoint.pt" in err


def test_a_second_writer_of_a_folder_is_refused_in_one_line(tmp_path, run_cli):
    out = tmp_path / "study"
    with FolderLock(out):
        code, _, err = run_cli("train", "study", "--preset", "tiny", "--no-estimate", "--out", str(out))
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert f"pid {os.getpid()}" in err and "another folder" in err
        with pytest.raises(InvalidParameter, match="no other process"):
            from quorumsgd.training.config import TrainConfig
            from quorumsgd.training.engine import Trainer

            Trainer(TrainConfig(widths=(4, 8, 8), max_train=64, image_size=8, batch_size=32), out).run()
    assert not (out / "runs").exists()  # nothing was written by the refused commands
    FolderLock(out).acquire().release()  # free again once the holder is done


# ------------------------------------------------------------------------------ interrupts of a real process
# Tiny-preset epochs take ~20 ms on 2 cores: 10 of them leave a window of several epochs in which a signal
# lands mid-run for certain (with 4, a run often finished between the check and the signal).
EPOCHS = 10
ARGS = [
    "train",
    "study",
    "--preset",
    "tiny",
    "--only",
    "fig12",
    "--epochs",
    str(EPOCHS),
    "--seeds",
    "1",
    "--threads",
    "1",
    "--no-estimate",
]


def _runs(out: Path) -> dict[str, dict]:
    # Every results.json is written atomically (temporary file + rename): never half a file, even after SIGKILL.
    return {path.parent.name: json.loads(path.read_text()) for path in (out / "runs").glob("*/results.json")}


def _start(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "quorumsgd.cli", *ARGS, "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_progress(proc: subprocess.Popen, out: Path, finished: int, timeout: float = 240.0) -> None:
    """Until ``finished`` runs are complete and another has a finished epoch and at least four still to go (the
    process still running): a signal sent right after lands in the middle of that run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        runs = _runs(out)
        done = sum(r["status"] == "completed" for r in runs.values())
        if done >= finished and any(r["status"] == "running" and 2 <= len(r["history"]) <= EPOCHS - 3
                                    for r in runs.values()):
            return
        time.sleep(0.02)
    raise AssertionError("no progress")


def _history(run: dict) -> list:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in to_json_ready(run["history"])]


def test_sigkill_sigint_and_sigterm_mid_study_lose_nothing_and_train_nothing_twice(tmp_path, run_cli):
    keys = list(planned_runs(StudyChoices.preset("tiny", epochs=EPOCHS, n_seeds=1), ["fig12"]))
    assert len(keys) >= 4
    out = tmp_path / "study"
    kept: dict[str, list] = {}
    for sig in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
        proc = _start(out)
        _wait_for_progress(proc, out, finished=len(kept) + 1)  # real progress: a run finished since the last stop
        if sig == signal.SIGKILL:  # a second writer meanwhile: refused in one line, nothing touched
            code, _, err = run_cli(*ARGS, "--out", str(out))
            assert code == 2 and f"pid {proc.pid}" in err and len(err.strip().splitlines()) == 1
            _wait_for_progress(proc, out, finished=len(kept) + 1)  # the check took time: a run in progress again
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        runs = _runs(out)
        if sig == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
            assert any(r["status"] == "running" for r in runs.values())  # killed mid-run: no final write
        else:  # Ctrl-C and SIGTERM: the run in progress is saved as interrupted, and one line says so
            assert proc.returncode == 130, err
            last = err.strip().splitlines()[-1]
            assert "every finished epoch is saved" in last and "rerun the same command" in last
            assert any(r["status"] == "interrupted" for r in runs.values())
        assert {k: _history(runs[k]) for k in kept} == kept  # finished runs untouched
        kept = {k: _history(r) for k, r in runs.items() if r["status"] == "completed"}
        assert len(kept) < len(keys)

    code, _, err = run_cli(*ARGS, "--out", str(out))  # the same command, to the end
    assert code == 0, err
    final = _runs(out)
    assert sorted(final) == sorted(keys)  # every run once, in its own folder
    for key, run in final.items():
        assert run["status"] == "completed"
        assert [h["epoch"] for h in run["history"]] == list(range(EPOCHS + 1))  # no epoch lost or repeated
        if key in kept:
            assert _history(run) == kept[key]  # reused, not retrained


# ------------------------------------------------------------------------------------------- structure
def test_the_training_package_has_no_import_cycle():
    """Function-level imports included: a cycle hidden inside a function is still a cycle (plan.py broke the
    study <-> claims_cnn one)."""
    package = SRC / "quorumsgd" / "training"
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        name = f"quorumsgd.training.{path.stem}"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("quorumsgd.training."):
                edges.add(node.module)
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name.startswith("quorumsgd.training.")}
        graph[name] = edges - {name}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert "quorumsgd.training.plan" in graph["quorumsgd.training.claims_cnn"]
