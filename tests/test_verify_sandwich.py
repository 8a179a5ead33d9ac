"""The sandwich of a bound at one problem: exact quadratic <= SDP certificate (over the whole class), and the
report shows it beside the paper's bound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from quorumsgd.verify.problems import Problem
from quorumsgd.verify.report import write_report
from quorumsgd.verify.sandwich import bound_parameters, exact_quadratic_value, sandwich


@pytest.mark.parametrize("theorem", ["sgd", "lemma3.1", "thm5.1", "thm5.2", "thm5.3"])
def test_certificate_is_above_the_exact_quadratic(theorem: str) -> None:
    problem = Problem.logcosh(dim=3, strong_convexity=0.5, curvature=1.5, n_agents=4, coupling=1.0,
                              damping=2.0 if theorem == "thm5.3" else None)
    s = sandwich(theorem, problem, measured=0.01)
    assert s["sdp"] is not None, s["sdp_note"]
    assert 0 < s["exact_quadratic"] <= s["sdp"] * (1 + 1e-6)  # the quadratic of curvature lambda is in the class
    assert s["certified_over_found"] == pytest.approx(s["sdp"] / 0.01)


def test_lemma31_is_attained_and_thm32_has_no_quadratic_disturbance() -> None:
    problem = Problem.quadratic(dim=2, strong_convexity=0.5, smoothness=2.0, n_agents=4, coupling=2.0)
    s = sandwich("lemma3.1", problem, measured=0.1)
    assert s["exact_quadratic"] == pytest.approx(s["paper"], rel=1e-9)  # (22) with (p - 1) is attained
    assert exact_quadratic_value("thm3.2", problem) == 0.0
    assert set(bound_parameters("thm5.3", problem.replace(damping=2.0))) >= {"smoothness", "damping", "q"}


def test_report_shows_the_sandwich(tmp_path: Path) -> None:
    problem = Problem.quadratic(dim=2, strong_convexity=0.5, smoothness=2.0, n_agents=4, coupling=2.0)
    payload = write_report(tmp_path, [], [], [], sandwiches=[sandwich("thm5.1", problem, measured=0.05)])
    assert payload["sandwich"][0]["theorem"] == "thm5.1"
    text = (tmp_path / "report.md").read_text()
    assert "## The sandwich" in text and "| thm5.1 | 0.05 |" in text


def test_report_has_the_sdp_table_and_it_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The certified bound over (p, k, n) is in the report (Markdown and strict JSON), and a second run reads it
    from the cache instead of solving again."""
    from quorumsgd.bounds.sdp import table

    monkeypatch.setenv("QUORUMSGD_CACHE_DIR", str(tmp_path / "cache"))
    grid = dict(names=("thm5.1", "thm5.2"), n_agents=(1, 4), couplings=(0.0, 1.0), dims=(1, 1000))
    rows = table.cached_sandwich(**grid)
    assert len(rows) == 8 and any(not np.isfinite(r.certified) for r in rows)  # EASGD at k = 0: no certificate
    monkeypatch.setattr(table, "sandwich", lambda **_: pytest.fail("solved again instead of reading the cache"))
    again = table.cached_sandwich(**grid)
    assert [(r.name, r.n_agents, r.coupling, list(r.paper)) for r in again] == [
        (r.name, r.n_agents, r.coupling, list(r.paper)) for r in rows]
    for field in ("certified", "quadratic", "discrete"):
        np.testing.assert_allclose([getattr(r, field) for r in again], [getattr(r, field) for r in rows])
    np.testing.assert_allclose([list(r.paper.values()) for r in again], [list(r.paper.values()) for r in rows])

    payload = write_report(tmp_path / "out", [], [], [], sdp_table=again)
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## Certified worst case over S(lambda, L)" in text and "| thm5.2 | 4 | 1 |" in text
    assert "thm5.1, n=1000: certificate below the paper's bound" in text
    json.loads((tmp_path / "out" / "report.json").read_text())  # strict JSON: no Infinity for the missing ones
    assert payload["sdp_table"][4]["certified"] is None and payload["sdp_table"][4]["theorem"] == "thm5.2"
