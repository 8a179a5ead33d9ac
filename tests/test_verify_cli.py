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


def test_ctrl_c_while_the_bracket_table_is_solved_keeps_every_finished_check(
        run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bracket table takes minutes on a new version (then it is cached): an interrupt there used to lose the
    whole report (it was solved inside write_report); now the report of every finished check is written, marked
    interrupted, without the bracket section."""
    def interrupted(**_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("quorumsgd.bounds.worst_case.table.bracket_table", interrupted)
    code, _, err = run_cli("verify", "--out", str(tmp_path))
    assert code == 130 and err.strip().splitlines()[-1].startswith("interrupted: ")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] is True and "bracket_table" not in report and report["sdp_table"]
    assert {"lemma3.1", "sgd", "thm5.1", "thm5.2", "thm5.3"} <= {c["name"] for c in report["checks"]}
    assert not (tmp_path / "bracket.md").exists() and "| thm5.1 |" in (tmp_path / "report.md").read_text()
