"""What a reader of ``quorumsgd verify`` sees: an 80-column table with labelled sweep rows, the sandwich first.

The checks' measurements are replaced by fixed numbers (the table and the headline are under test, not the
simulations); the SDP certificates and the paper's bounds are the real ones at each default problem.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from quorumsgd import bounds
from quorumsgd.verify.checks import CHECKS, default_problem
from quorumsgd.verify.report import Sweep, headline, print_headline, print_table, sandwiches_of, write_report
from quorumsgd.verify.result import CheckResult
from quorumsgd.verify.sandwich import bound_parameters, exact_quadratic_value

# measured, bound, direction: numbers of a real quick run, with the widest cells a run prints
NUMBERS = {"lemma3.1": (0.1645, 0.2333), "lemma3.1:multi_lr": (0.1336, 0.1875), "thm3.2": (0.004085, 0.08981),
           "sgd": (0.2115, 0.3162), "thm5.1": (0.06715, 0.3377), "thm5.2": (0.1037, 0.4927),
           "thm5.3": (0.0699, 0.3901), "lemma5.4": (1.226, 1.167), "lemma5.5": (0.0007758, 0.0008333)}


def fake_check(name: str, problem: Any = None, settings: Any = None, verdict: str = "holds") -> CheckResult:
    measured, bound = NUMBERS[name]
    problem = problem if problem is not None else default_problem(name)
    lower = name == "lemma5.4"
    return CheckResult(name=name, statistic="E |(x_bar, v_bar) - (x*, 0)|" if name == "thm5.3" else "E |x_bar - x*|",
                       bound=bound, measured=measured, stderr=1e-4, upper_confidence=measured * 1.0001,
                       lower_confidence=measured * 0.9999, confidence=0.99,
                       tightness=bound / measured if lower else measured / bound, verdict=verdict,  # type: ignore[arg-type]
                       direction="lower" if lower else "upper",
                       params={"problem": problem.to_json(), **({"T": 30.0} if name == "lemma5.5" else {})},
                       details={"exact_finite_time": 0.0007917} if name == "lemma5.5" else {})


def sweeps() -> list[Sweep]:
    out = []
    for check, field, values in (("thm5.1", "n_agents", (1, 2, 32)), ("lemma3.1", "coupling", (0.3, 10.0))):
        sw = Sweep(check, field, [float(v) for v in values])
        for v in values:
            r = fake_check(check, default_problem(check).replace(**{field: int(v) if field == "n_agents" else v}))
            sw.results.append(r)
        out.append(sw)
    return out


def words(line: str) -> list[str]:
    """A table row's cells, without the wide table's box characters."""
    return [w for w in line.split() if w not in ("│", "┃")]


def render(width: int, draw: Callable[[Console], None], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(width))
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False)
    assert console.width == width
    draw(console)
    return buffer.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 100, 140])
def test_table_fits_the_terminal_and_cuts_nothing(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = [fake_check(n, verdict="inconclusive" if n == "thm5.2" else "holds") for n in CHECKS]
    lines = render(width, lambda c: print_table(c, checks, sweeps=sweeps()), monkeypatch)
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= width, text
    assert "…" not in text, text
    header = next(line for line in lines if "theorem" in line)
    assert "verdict" in header and "bound" in header and "measured" in header
    for name in CHECKS:  # every check whole, with its verdict on its row
        row = next(line for line in lines if words(line)[:1] == [name])
        assert ("inconclusive" if name == "thm5.2" else "holds") in row, row
    assert "lcb 1.226" in text  # the rate's verdict is decided by its lower confidence bound: shown as such


@pytest.mark.parametrize("width", [80, 140])
def test_sweep_rows_show_the_swept_value(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = render(width, lambda c: print_table(c, [fake_check("thm5.1")], sweeps=sweeps()), monkeypatch)
    for label, bound in (("thm5.1 p=1", 0.3377), ("thm5.1 p=32", 0.3377), ("lemma3.1 k=0.3", 0.2333),
                         ("lemma3.1 k=10", 0.2333)):
        row = next((line for line in lines if label in line), None)
        assert row is not None, "\n".join(lines)
        assert f"{bound:.4g}" in row and "holds" in row


def test_headline_is_the_sandwich_at_each_default_problem() -> None:
    checks = [fake_check(n) for n in CHECKS]
    rows = {h["check"]: h for h in headline(sandwiches_of(checks))}
    assert {"thm5.1", "thm5.2", "thm5.3", "lemma3.1", "sgd"} <= set(rows) and "lemma5.4" not in rows  # a rate
    for name in ("thm5.1", "thm5.2", "thm5.3"):
        h, problem = rows[name], default_problem(name)
        params = bound_parameters(name, problem)
        sdp = bounds.evaluate(name, method="sdp", **{**params, "smoothness": problem.smoothness}).value
        assert h["sdp"] == pytest.approx(float(sdp), rel=1e-9)
        assert h["paper"] == NUMBERS[name][1]  # the check's own bound
        exact = exact_quadratic_value(name, problem)
        assert h["worst_found"] == pytest.approx(max(NUMBERS[name][0], exact))
        assert h["from"] == ("exact quadratic" if exact > NUMBERS[name][0] else "measured")
        # the sandwich holds: the worst case found is below the certificate and the paper's bound
        assert h["worst_found"] <= h["sdp"] <= h["paper"] * (1 + 1e-9)
        assert h["known_within"] == pytest.approx(min(h["sdp"], h["paper"]) / h["worst_found"])
    assert rows["lemma3.1"]["known_within"] == pytest.approx(1.0, rel=1e-3)  # (22) is attained by the quadratic


def test_headline_on_the_terminal_and_first_in_report_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = [fake_check(n) for n in CHECKS]
    sandwiches = sandwiches_of(checks)
    lines = render(80, lambda c: print_headline(c, sandwiches), monkeypatch)
    assert max(len(line) for line in lines) <= 80 and "…" not in "\n".join(lines)
    header = next(line for line in lines if "theorem" in line)
    assert all(col in header for col in ("worst found", "SDP cert.", "paper"))
    rows = {h["check"]: h for h in headline(sandwiches)}
    for name in ("thm5.1", "thm5.2", "thm5.3"):
        row = next(line for line in lines if words(line)[:1] == [name])
        h = rows[name]
        assert [f"{h['worst_found']:.4g}*", f"{h['sdp']:.4g}", f"{h['paper']:.4g}"] == words(row)[1:4], row

    sw = sweeps()  # as verify passes them: the sweep points follow the checks
    payload = write_report(tmp_path, checks + [r for s in sw for r in s.results], [], sw, sandwiches=sandwiches,
                           html=False)
    text = (tmp_path / "report.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0].startswith("## Headline: the worst case from both sides")
    first_table = text[text.index("| theorem |"):].split("\n\n")[0].splitlines()
    assert "worst found" in first_table[0] and "SDP certificate" in first_table[0] and "paper" in first_table[0]
    h = rows["thm5.1"]
    assert f"| thm5.1 | Theorem 5.1 (47) | {h['worst_found']:.4g} | exact quadratic | {h['sdp']:.4g} | " \
           f"{h['paper']:.4g} |" in "\n".join(first_table)
    assert json.loads((tmp_path / "report.json").read_text())["headline"] == payload["headline"]
    # sweep rows in report.md carry the swept value too, and a pipe inside a statistic no longer splits its cell
    assert "| thm5.1 p=32 | E \\|x_bar - x*\\| |" in text


def test_verify_command_fits_80_columns(run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole terminal output of ``quorumsgd verify`` at COLUMNS=80: nothing wider, nothing cut."""
    import quorumsgd.verify.cli as cli
    from quorumsgd.bounds.sdp import table

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(cli, "run_check", lambda name, settings=None: fake_check(name))
    monkeypatch.setattr("quorumsgd.verify.report.run_check", fake_check)
    monkeypatch.setattr(cli, "SWEEPS", (("thm5.1", "n_agents", (1, 32)), ("lemma3.1", "coupling", (0.3, 10.0))))
    monkeypatch.setattr(cli, "CLAIMS", {"C5": cli.CLAIMS["C5"]})
    monkeypatch.setattr(table, "cached_sandwich", lambda **_: [])
    code, out, _ = run_cli("verify", "--out", str(tmp_path))
    assert code == 0, out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    assert "…" not in out and "verdict" in out
    assert out.index("worst found") < out.index("measured")  # the headline comes first
    assert any("thm5.1 p=32" in line for line in lines) and any("lemma3.1 k=10" in line for line in lines)
