"""The prepared device check runs end to end on CPU (``--device cpu --quick``), as on a GPU machine without
cvxpy, optuna, dask or platformdirs (``--block-imports``), so that it cannot rot between GPU sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import quorumsgd

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_on_cpu_and_writes_one_json_and_a_table(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(quorumsgd.__file__).resolve().parents[1]),
        "QUORUMSGD_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu_check.py"),
            "--device",
            "cpu",
            "--quick",
            "--block-imports",
            "--out",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["ok"] and report["environment"]["device"] == "cpu"
    assert report["alignment"]["ok"] and report["alignment"]["loop"]["kernel_calls"] > 0
    tests = report["tests"]
    assert "tests/test_training_precision.py" in tests["files"] and tests["counts"]["skipped"] >= 3  # no CUDA here
    assert tests["counts"]["failed"] == tests["counts"]["error"] == 0
    rows = report["training"]["report"]["rows"]
    assert [r["n_agents"] for r in rows] == [1, 4]
    for row in rows:
        for method in ("loop", "grouped", "vmap", "auto", "auto-bf16", "ceiling", "ceiling-bf16"):
            assert row[method] > 0, (method, row)
        assert row["auto/loop"] > 0 and row["grouped/ceiling"] > 0 and row["auto-bf16/ceiling"] > 0
    sim = report["simulate"]
    # The Monte Carlo section runs on CPU too: it must measure (a missing optional peer such as torchsde is
    # recorded inside the report, not a failure of the section).
    assert sim.get("ok"), sim.get("error") or sim.get("output_tail")
    assert sim["report"]["throughput"]["large"]["agent_dim_steps_per_s"]["engine_numpy"] > 0
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| agents |" in table and "ceiling" in table and "## Monte Carlo" in table
