"""Every Sec. 6 algorithm trains on the digits default, with the measurements the theory layer uses."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from quorumsgd.training.config import TrainConfig
from quorumsgd.training.engine import Trainer
from quorumsgd.training.recipes import ALGORITHMS

TINY = dict(widths=(4, 8, 8), batch_size=32, max_train=256, max_eval=128, image_size=8, lr=0.1,
            momentum=0.9, coupling=1.0, n_agents=3, lr_schedule="constant")


def tiny(**changes) -> TrainConfig:
    return TrainConfig(**{**TINY, **changes})




@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[Trainer, dict]]:
    out = {}
    for algo in ALGORITHMS:
        trainer = Trainer(tiny(algo=algo, epochs=3))
        out[algo] = (trainer, trainer.run())
    return out


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_every_algorithm_trains_and_measures(runs, algo):
    trainer, results = runs[algo]
    history = results["history"]
    assert results["status"] == "completed" and [h["epoch"] for h in history] == [0, 1, 2, 3]
    first, last = history[0], history[-1]
    for metric in ("train_loss", "train_error", "val_loss", "val_error", "test_loss", "test_error"):
        values = last["agents"][metric] + [last["quorum"][metric]]
        assert len(values) == 4 and all(math.isfinite(v) for v in values)
    # Learning happened: every agent's training loss fell well below its initial value.
    assert all(b < a - 0.3 for a, b in zip(first["agents"]["train_loss"], last["agents"]["train_loss"], strict=True))
    assert np.mean(last["agents"]["val_error"]) < np.mean(first["agents"]["val_error"]) - 0.2
    # Synchronization measure and quorum-mean distance are exactly the defined quantities.
    x = trainer.state["x"].double()
    mean = x.mean(dim=0)
    assert last["sync"] == pytest.approx(float(((x - mean) ** 2).sum()), rel=1e-5)
    assert last["agents"]["distance_to_mean_sq"] == pytest.approx(((x - mean) ** 2).sum(dim=1).tolist(), rel=1e-5)
    distance = float(torch.linalg.vector_norm(trainer.quorum_params().double() - mean))
    # (float32 means: the mean's rounding shows at 1e-6)
    assert last["quorum_mean_distance"] == pytest.approx(distance, rel=1e-5, abs=1e-5)


def test_coupled_agents_synchronize_and_uncoupled_ones_do_not(runs):
    sync = {algo: runs[algo][1]["history"][-1]["sync"] for algo in ALGORITHMS}
    start = runs["msgd"][1]["history"][0]["sync"]
    assert all(runs[a][1]["history"][0]["sync"] == start for a in ALGORITHMS)  # same initial points
    for algo in ("easgd", "easgd-wm", "qsgd", "sdqsgd"):
        assert sync[algo] < 0.5 * start < sync["msgd"]


def test_reported_quorums(runs):
    # MSGD reports the mean; EASGD its filter state x~ (not the mean); QSGD an EMA of the mean.
    assert runs["msgd"][1]["history"][-1]["quorum_mean_distance"] == 0.0
    for algo in ("easgd", "easgd-wm", "qsgd", "sdqsgd"):
        assert runs[algo][1]["history"][-1]["quorum_mean_distance"] > 0.0


def test_sdqsgd_winner_is_the_previous_epochs_best_validation_loss(runs):
    history = runs["sdqsgd"][1]["history"]
    for previous, current in itertools.pairwise(history):
        assert current["winner"] == int(np.argmin(previous["agents"]["val_loss"]))


def test_qsgd_without_coupling_is_msgd_agent_by_agent(runs):
    uncoupled = Trainer(tiny(algo="qsgd", coupling=0.0, epochs=3)).run()
    for a, b in zip(uncoupled["history"], runs["msgd"][1]["history"], strict=True):
        assert a["agents"]["val_loss"] == b["agents"]["val_loss"]


def test_easgd_wm_has_no_momentum_and_easgd_without_coupling_keeps_its_quorum():
    wm = Trainer(tiny(algo="easgd-wm", momentum=0.9, epochs=1)).run()
    wm0 = Trainer(tiny(algo="easgd-wm", momentum=0.0, epochs=1)).run()
    assert wm["history"][-1]["agents"] == wm0["history"][-1]["agents"]
    frozen = Trainer(tiny(algo="easgd", coupling=0.0, epochs=1)).run()
    assert frozen["history"][1]["quorum"] == frozen["history"][0]["quorum"]  # beta = p*alpha = 0


def test_common_initial_point_and_per_agent_learning_rates():
    common = Trainer(tiny(algo="qsgd", init="common", epochs=1, agent_lrs=(0.1, 0.05, 0.02))).run()
    assert common["history"][0]["sync"] == pytest.approx(0.0, abs=1e-9)  # all agents start at one point
    assert common["history"][1]["sync"] > 0.0  # their own data order and dropout spread them
    assert common["history"][1]["lr"] == [0.1, 0.05, 0.02]


def test_plateau_schedule_drops_each_agents_rate():
    # Every change counts as a stall (threshold 1000 %): drops after epochs 2 and 3 with patience 1.
    trainer = Trainer(tiny(algo="easgd", epochs=3, lr_schedule="plateau", plateau_threshold=10.0,
                           plateau_patience=1))
    results = trainer.run()
    # Each record holds the rates used during its epoch; a drop decided after epoch e applies from e + 1.
    rates = [h["lr"] for h in results["history"][1:]]
    assert rates[0] == rates[1] == [0.1] * 3 and rates[2] == pytest.approx([0.02] * 3)
    assert results["history"][2]["lr_drops"] == results["history"][3]["lr_drops"] == [0, 1, 2]
    assert trainer.schedule.lr.tolist() == pytest.approx([0.01] * 3)


def test_qsgd_ema_horizon_zero_reports_the_mean_and_a_longer_horizon_lags():
    instant = Trainer(tiny(algo="qsgd", epochs=1, ema_epochs=0.0))
    assert instant.run()["history"][-1]["quorum_mean_distance"] == pytest.approx(0.0, abs=1e-6)
    assert instant.ema_decay == 0.0
    lagging = Trainer(tiny(algo="qsgd", epochs=1, ema_epochs=1.0))
    assert lagging.ema_decay == pytest.approx(math.exp(-1 / 8))  # 256 samples / 32 = 8 batches per epoch
    assert lagging.run()["history"][-1]["quorum_mean_distance"] > 0.0
