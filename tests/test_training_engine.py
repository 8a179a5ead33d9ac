"""The engine's guarantees: exact resume, divergence handled per agent, results never lost."""

from __future__ import annotations

import json
import math

import pytest
import torch

from quorumsgd.errors import InvalidParameter
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.engine import Trainer
from quorumsgd.training.results import to_json_ready

TINY = dict(widths=(4, 8, 8), batch_size=32, max_train=192, max_eval=96, image_size=8, lr=0.1, n_agents=3)




def without_timings(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in to_json_ready(history)]


@pytest.mark.parametrize("algo", ["sdqsgd", "easgd"])
def test_resume_after_an_interrupt_reproduces_the_uninterrupted_run(tmp_path, algo):
    # A plateau schedule that drops every epoch exercises the schedule state in the checkpoint too.
    cfg = TrainConfig(algo=algo, epochs=4, lr_schedule="plateau", plateau_threshold=10.0, plateau_patience=1,
                      **TINY)
    straight = Trainer(cfg, tmp_path / "straight").run()

    def interrupt(trainer, record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, tmp_path / "resumed").run(on_epoch_end=interrupt)
    saved = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert saved["status"] == "interrupted" and [h["epoch"] for h in saved["history"]] == [0, 1, 2]

    resumed = Trainer(cfg, tmp_path / "resumed").run(resume=True)
    assert resumed["status"] == "completed"
    assert without_timings(resumed["history"]) == without_timings(straight["history"])


def test_resume_checks_the_settings_and_a_fresh_run_never_overwrites(tmp_path):
    cfg = TrainConfig(algo="qsgd", epochs=1, **TINY)
    Trainer(cfg, tmp_path).run()
    with pytest.raises(InvalidParameter, match="coupling"):
        Trainer(cfg.replace(coupling=2.0), tmp_path).run(resume=True)
    with pytest.raises(InvalidParameter, match="resume"):
        Trainer(cfg, tmp_path).run()
    with pytest.raises(InvalidParameter, match="checkpoint"):
        Trainer(cfg, tmp_path / "empty").run(resume=True)
    # More epochs than before: resume extends the run.
    longer = Trainer(cfg.replace(epochs=2), tmp_path).run(resume=True)
    assert [h["epoch"] for h in longer["history"]] == [0, 1, 2]


def test_a_diverging_agent_is_dropped_and_the_others_continue(tmp_path):
    # Agent 1's rate overflows its parameters in one step; it is caught before reaching the quorum.
    cfg = TrainConfig(algo="qsgd", epochs=2, agent_lrs=(0.1, 1e30, 0.1), lr_schedule="constant", **TINY)
    results = Trainer(cfg, tmp_path).run()
    assert results["status"] == "completed"
    assert [(e["agent"], e["epoch"], e["action"]) for e in results["divergence"]] == [(1, 1, "drop")]
    saved = json.loads((tmp_path / "results.json").read_text())
    last = saved["history"][-1]
    assert last["active"] == [True, False, True]
    assert last["agents"]["val_loss"][1] is None and last["lr"][1] is None
    assert all(math.isfinite(last["agents"]["val_loss"][i]) for i in (0, 2))
    assert math.isfinite(last["quorum"]["val_loss"]) and math.isfinite(last["sync"])
    assert last["agents"]["val_loss"][0] < saved["history"][0]["agents"]["val_loss"][0]


def test_divergence_can_stop_the_run_cleanly(tmp_path):
    cfg = TrainConfig(algo="easgd", epochs=3, agent_lrs=(0.1, 0.1, 1e30), on_divergence="stop", **TINY)
    results = Trainer(cfg, tmp_path).run()
    assert results["status"] == "diverged"
    assert results["divergence"][0]["agent"] == 2 and results["divergence"][0]["action"] == "stop"
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["status"] == "diverged" and [h["epoch"] for h in saved["history"]] == [0]
    assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_agent_diverging_ends_the_run_with_its_results():
    cfg = TrainConfig(**{**TINY, "algo": "msgd", "epochs": 2, "lr": 1e30})
    results = Trainer(cfg).run()
    assert results["status"] == "diverged" and sorted(e["agent"] for e in results["divergence"]) == [0, 1, 2]


def test_vmap_and_grouped_engines_agree():
    cfg = TrainConfig(algo="easgd", epochs=1, **TINY)
    grouped = Trainer(cfg).run()["history"][-1]
    vmapped = Trainer(cfg.replace(batching="vmap")).run()["history"][-1]
    assert vmapped["agents"]["val_loss"] == pytest.approx(grouped["agents"]["val_loss"], rel=1e-4)
    assert vmapped["sync"] == pytest.approx(grouped["sync"], rel=1e-4)


def test_bad_settings_are_invalid_parameters():
    for changes in ({"algo": "adam"}, {"n_agents": 0}, {"lr": -1.0}, {"momentum": 1.0}, {"dataset": "mnist"},
                    {"agent_lrs": (0.1,)}, {"device": "tpu"}, {"init": "random"}, {"batch_size": 1}):
        with pytest.raises(InvalidParameter):
            TrainConfig(**{**TINY, **changes})
    with pytest.raises(InvalidParameter, match="batch_size"):
        Trainer(TrainConfig(**{**TINY, "batch_size": 1000}))
    if not torch.cuda.is_available():
        with pytest.raises(InvalidParameter, match="CUDA"):
            Trainer(TrainConfig(**{**TINY, "device": "cuda"}))


@pytest.mark.gpu
def test_cuda_engine_matches_cpu():
    cfg = TrainConfig(algo="sdqsgd", epochs=1, **TINY)
    cpu = Trainer(cfg).run()["history"][-1]
    for batching in ("grouped", "vmap"):
        cuda = Trainer(cfg.replace(device="cuda", batching=batching)).run()["history"][-1]
        assert cuda["agents"]["val_loss"] == pytest.approx(cpu["agents"]["val_loss"], rel=1e-3)
        assert cuda["sync"] == pytest.approx(cpu["sync"], rel=1e-3)
