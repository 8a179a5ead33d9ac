"""The per-agent plateau schedule of Sec. 6.1 (footnote 11)."""

from __future__ import annotations

import numpy as np
import pytest

from quorumsgd.training.schedule import PlateauSchedule


def run(schedule: PlateauSchedule, losses: list[list[float]]) -> list[list[float]]:
    rates = []
    for epoch_losses in losses:
        schedule.observe(np.array(epoch_losses))
        rates.append(schedule.lr.tolist())
    return rates


def test_drops_by_five_then_two_then_two_after_five_stalled_epochs():
    schedule = PlateauSchedule(np.array([1.0]))
    rates = run(schedule, [[1.0]] * 30)
    flat = [r[0] for r in rates]
    # Epoch 1 sets the reference; epochs 2..6 are five unchanged epochs -> first drop after epoch 6.
    assert flat[:5] == [1.0] * 5
    assert flat[5] == pytest.approx(0.2)
    assert flat[10] == pytest.approx(0.1) and flat[9] == pytest.approx(0.2)
    assert flat[15] == pytest.approx(0.05)
    assert flat[-1] == pytest.approx(0.05)  # three drops only
    assert schedule.drops.tolist() == [3]


def test_changes_beyond_the_threshold_reset_the_reference_and_agents_are_independent():
    schedule = PlateauSchedule(np.array([1.0, 1.0]), threshold=0.01, patience=2)
    # Agent 0 keeps improving by 10 % per epoch; agent 1 stalls (changes of 0.5 % < 1 %).
    losses = [[0.9**e, 1.0 - 0.005 * (e % 2)] for e in range(6)]
    rates = run(schedule, losses)
    assert [r[0] for r in rates] == [1.0] * 6
    assert [r[1] for r in rates][:3] == pytest.approx([1.0, 1.0, 0.2])


def test_non_finite_losses_leave_the_agent_alone():
    schedule = PlateauSchedule(np.array([1.0, 1.0]), patience=1)
    run(schedule, [[1.0, np.nan], [1.0, np.inf], [1.0, np.nan]])
    assert schedule.lr.tolist() == pytest.approx([0.1, 1.0])
    state = schedule.state_dict()
    other = PlateauSchedule(np.array([5.0, 5.0]))
    other.load_state_dict(state)
    assert other.lr.tolist() == schedule.lr.tolist() and other.drops.tolist() == [2, 0]
