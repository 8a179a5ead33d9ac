"""`quorumsgd verify`: the main job, its JSON, its report folder and its errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from quorumsgd.verify.claims import CLAIMS
from quorumsgd.verify.result import verdict_for


def test_full_verify_json_and_report(run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    code, out, _ = run_cli("verify", "--json", "--out", str(tmp_path))
    assert code == 0
    obj = json.loads(out)
    names = {c["name"] for c in obj["checks"]}
    assert {"lemma3.1", "thm3.2", "sgd", "thm5.1", "thm5.2", "thm5.3", "lemma5.4", "lemma5.5"} <= names
    for c in obj["checks"]:
        for key in ("name", "bound", "measured", "upper_confidence", "tightness", "verdict"):
            assert key in c
        assert c["verdict"] in ("holds", "violated", "inconclusive")
        assert c["verdict"] != "violated", c
    assert {c["claim"] for c in obj["claims"]} == set(CLAIMS)
    report = (tmp_path / "report.md").read_text()
    assert "| thm5.1 |" in report
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert "thm5_1_vs_n_agents.png" in pngs and "thm5_1_vs_coupling.png" in pngs
    assert json.loads((tmp_path / "report.json").read_text())["violations"] == []


def test_only_one_claim(run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    code, out, _ = run_cli("verify", "--only", "C5", "--json", "--out", str(tmp_path))
    assert code == 0
    obj = json.loads(out)
    assert obj["checks"] == [] and obj["claims"][0]["verdict"] == "supported"


@pytest.mark.parametrize(("argv", "needle"), [
    (["verify", "--only", "thm9.9"], "--only"),
    (["verify", "--device", "tpu"], "--device"),
])
def test_bad_verify_input(run_cli: Callable[..., tuple[int, str, str]], argv: list[str], needle: str) -> None:
    code, _, err = run_cli(*argv)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_verdicts_for_lower_bounds() -> None:
    assert verdict_for(2.0, 1.5, 1.0, "lower") == "holds"
    assert verdict_for(0.8, 0.5, 1.0, "lower") == "violated"
    assert verdict_for(1.2, 0.9, 1.0, "lower") == "inconclusive"
