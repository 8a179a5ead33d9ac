"""Model-problem experiments: the intermediate-coupling optimum (claim C8) and the figure commands."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from quorumsgd.simulate.cli import FIGURES
from quorumsgd.simulate.experiments import HighDimConfig, OneDimConfig, run_high_dim, run_one_dim


def test_intermediate_coupling_is_optimal_on_the_1d_surrogate():
    """C8: k = 0 leaves the quorum between the basins, a large k freezes it near its start; an intermediate k
    reaches a lower quorum loss. One-sided 97.5% bounds from the number of simulations decide."""
    cfg = replace(OneDimConfig.fig1(), couplings=(0.0, 0.5, 30.0), sims=80, steps=1500)
    runs = {r["coupling"]: r["center_loss"] for r in run_one_dim(cfg)["runs"]}
    small, mid, large = runs[0.0], runs[0.5], runs[30.0]
    for s in (small, mid, large):
        assert s["n"] == cfg.sims  # nothing diverged
    # mean +- t * stderr with the stderr of 80 independent simulations
    assert mid["ucb"] < small["lcb"]
    assert mid["ucb"] < large["lcb"]


def test_momentum_tolerates_larger_coupling_than_plain_qsgd():
    """C10: at k = 10 plain QSGD has already degraded (frozen quorum) while the momentum iteration has not."""
    plain = replace(OneDimConfig.fig1(), couplings=(10.0,), sims=60, steps=1500)
    mom = replace(OneDimConfig.fig3(), couplings=(10.0,), sims=60, steps=2000)
    p = run_one_dim(plain)["runs"][0]["center_loss"]
    m = run_one_dim(mom)["runs"][0]["center_loss"]
    assert m["ucb"] < p["lcb"]


def test_high_dim_coupling_beats_independent_agents():
    """C8, lower side, on the high-dimensional surrogate: uncoupled agents leave a meaningless quorum."""
    cfg = replace(HighDimConfig.fig4(), couplings=(0.0, 30.0), sims=30, steps=800)
    runs = {r["coupling"]: r["center_loss"] for r in run_high_dim(cfg)["runs"]}
    assert runs[30.0]["ucb"] < runs[0.0]["lcb"]


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_commands_write_png_and_json(run_cli, tmp_path, name):
    code, _, err = run_cli("simulate", name, "--quick", "--out", str(tmp_path), "--seed", "1")
    assert code == 0, err
    png, js = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(js.read_text())
    assert data["figure"] == name and data["surrogate"] is True and len(data["runs"]) >= 6
    assert all({"coupling", "center_loss", "trace_center_loss"} <= set(r) for r in data["runs"])


def test_figure_command_rejects_bad_values(run_cli, tmp_path):
    code, _, err = run_cli("simulate", "fig1", "--quick", "--out", str(tmp_path), "--sims", "1")
    assert code == 2
    assert "sims" in err
