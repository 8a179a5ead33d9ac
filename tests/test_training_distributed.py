"""The torch.distributed engine: 2 processes on gloo over loopback match the single-process engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from quorumsgd.training.config import TrainConfig
from quorumsgd.training.engine import Trainer

TINY_FLAGS = ["--n-agents", "3", "--epochs", "2", "--widths", "4,8,8", "--batch-size", "32",
              "--max-train", "192", "--max-eval", "96", "--image-size", "8", "--lr", "0.1", "--no-progress"]
TINY = dict(n_agents=3, epochs=2, widths=(4, 8, 8), batch_size=32, max_train=192, max_eval=96, image_size=8,
            lr=0.1)


def torchrun(out, *flags: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node 2 -m quorumsgd.training.cli ...`` on CPU (gloo, loopback)."""
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
               "--nproc-per-node", "2", "-m", "quorumsgd.training.cli", *flags, "--out", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def assert_same_history(distributed: list[dict], single: list[dict]) -> None:
    """Equal up to float summation order (grouped convolutions over 2+1 agents instead of 3, all_reduce)."""
    assert len(distributed) == len(single)
    for d, s in zip(distributed, single, strict=True):
        for metric in ("train_loss", "val_loss", "test_loss", "distance_to_mean_sq"):
            assert d["agents"][metric] == pytest.approx(s["agents"][metric], rel=1e-4, abs=1e-6), metric
        for metric in ("val_error", "test_error"):
            assert d["agents"][metric] == pytest.approx(s["agents"][metric], abs=1.5 / 96)
        assert d["quorum"]["val_loss"] == pytest.approx(s["quorum"]["val_loss"], rel=1e-4)
        assert d["sync"] == pytest.approx(s["sync"], rel=1e-4)
        assert d["quorum_mean_distance"] == pytest.approx(s["quorum_mean_distance"], rel=1e-3, abs=1e-6)
        assert d["winner"] == s["winner"] and d["lr"] == s["lr"]


def single_process(algo: str, **changes) -> list[dict]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return json.loads(json.dumps(Trainer(TrainConfig(algo=algo, **{**TINY, **changes})).run()["history"],
                                     default=float))
    finally:
        torch.set_num_threads(previous)


def test_two_gloo_processes_match_one_process(tmp_path):
    # SD-QSGD: two all_reduces per step, the EMA quorum, the winner from gathered validation losses,
    # and an uneven split of 3 agents over 2 ranks.
    torchrun(tmp_path, "--algo", "sdqsgd", *TINY_FLAGS)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "completed" and results["world_size"] == 2
    assert (tmp_path / "checkpoint-rank0-of-2.pt").exists() and (tmp_path / "checkpoint-rank1-of-2.pt").exists()
    assert_same_history(results["history"], single_process("sdqsgd"))


@pytest.mark.slow
def test_two_gloo_processes_easgd_with_resume(tmp_path):
    torchrun(tmp_path, "--algo", "easgd", *TINY_FLAGS[:2], "--epochs", "1", *TINY_FLAGS[4:])
    torchrun(tmp_path, "--algo", "easgd", *TINY_FLAGS, "--resume")
    results = json.loads((tmp_path / "results.json").read_text())
    assert_same_history(results["history"], single_process("easgd"))
