"""``quorumsgd train`` and ``quorumsgd train table1``: outputs, the paper's layout, one-line errors."""

from __future__ import annotations

import json

import pytest

from quorumsgd.training.table1 import easgd_wm_wins, format_table1

TINY = ["--widths", "4,8,8", "--batch-size", "32", "--max-train", "128", "--max-eval", "64", "--image-size", "8",
        "--no-progress"]

# Table 1 of the paper (Sec. 6): minimum test error, rows EASGD-WM / EASGD / MSGD per momentum block.
PAPER_ERRORS = [
    [.267, .266, .264, .269, .268, .270], [.304, .313, .301, .282, .280, .277], [.310, .323, .306, .286, .292, .295],
    [.262, .259, .253, .261, .267, .257], [.297, .300, .280, .275, .263, .283], [.300, .307, .294, .294, .287, .301],
    [.252, .258, .250, .255, .262, .253], [.286, .283, .265, .267, .276, .417], [.294, .307, .295, .290, .292, 0.9],
    [.267, .264, .268, .265, .268, .269], [.282, .283, .277, .272, .280, 0.9], [.288, .307, .287, .288, .301, 0.9],
]




def test_train_writes_results_plots_and_checkpoint(tmp_path, run_cli):
    out = tmp_path / "run"
    code, stdout, err = run_cli("train", "--algorithm", "easgd", "--n-agents", "2", "--coupling", "0.5", "--epochs",
                                "2", *TINY, "--out", str(out), "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["status"] == "completed" and summary["epochs_run"] == 2
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["coupling"] == 0.5 and len(results["history"]) == 3
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "checkpoint.pt").exists()
    # --resume with more epochs continues the same run.
    code, stdout, err = run_cli("train", "--algorithm", "easgd", "--n-agents", "2", "--coupling", "0.5", "--epochs",
                                "3", *TINY, "--out", str(out), "--resume")
    assert code == 0 and "completed" in stdout, err
    assert len(json.loads((out / "results.json").read_text())["history"]) == 4


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--algo", "sgd"],
        ["train", "--n-agents", "2"],  # no --algo
        ["train", "--algorithm", "qsgd", "--widths", "4,8"],
        ["train", "--algorithm", "qsgd", "--lr", "-1"],
        ["train", "--algorithm", "qsgd", "--lr", "fast"],
        ["train", "--algorithm", "qsgd", "--dataset", "cifar10"],  # no --data-root
        ["train", "table1", "--lrs", "0.1,x"],
        ["train", "table1", "--momenta", "1.5"],
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, run_cli, args):
    code, _, err = run_cli(*args, "--out", str(tmp_path / "x"))
    assert code == 2
    err = err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "x" / "results.json").exists()


def test_table1_prints_the_papers_layout(tmp_path, run_cli):
    args = ["train", "table1", "--lrs", "0.05,0.1", "--momenta", "0.9", "--seeds", "1", "--epochs", "1",
            *TINY, "--out", str(tmp_path)]
    code, text, err = run_cli(*args)
    assert code == 0, err
    lines = text.splitlines()
    assert "Minimum test loss" in lines[1] and "Minimum test error" in lines[1]
    assert "lr=0.05" in lines[2] and "lr=0.1" in lines[2]
    # One block: the momentum in the first row only, then the three methods in the paper's order.
    assert lines[3].split()[:2] == ["0.9", "EASGD-WM"]
    assert lines[4].split()[0] == "EASGD" and lines[5].split()[0] == "MSGD"
    table = json.loads((tmp_path / "table1.json").read_text())
    assert [r["method"] for r in table["rows"]] == ["EASGD-WM", "EASGD", "MSGD"]
    assert all(0.0 <= e <= 1.0 for r in table["rows"] for e in r["min_test_error"])
    # 2 rates x (EASGD-WM + 2 methods x 1 momentum) x 1 seed = 6 runs, each in its own directory.
    assert len(list(tmp_path.glob("*/lr*/results.json"))) == 6
    assert run_cli(*args)[1] == text  # a second call reuses the finished runs and prints the same table


def test_the_papers_table1_has_exactly_one_exception():
    # Sec. 6 / claim C16: "for all but one choice, EASGD-WM has the best error" (block 2, column 5).
    methods = ["EASGD-WM", "EASGD", "MSGD"] * 4
    rows = [{"momentum": 0.0, "method": m, "min_test_error": e, "min_test_loss": [1.0] * 6,
             "diverged": [False] * 6} for m, e in zip(methods, PAPER_ERRORS, strict=True)]
    assert easgd_wm_wins(rows, 6) == {"easgd_wm_best": 23, "cells": 24}
    text = format_table1({"lrs": [1, 2, 3, 4, 5, 6], "n_seeds": 3, "rows": rows, "wins": easgd_wm_wins(rows, 6),
                          "config": {"dataset": "cifar10", "n_agents": 1, "coupling": 1.0, "epochs": 0}})
    assert "23 of 24" in text and text.count("EASGD-WM") >= 4
