"""LMI-optimal rates vs the paper's analytic bounds (21), (35), (50), (52); the contraction CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumsgd.contraction import symbolic
from quorumsgd.contraction.compare import (
    ComparisonRow,
    certify_system,
    compare,
    compare_point,
    format_table,
    grid_points,
    system_params,
)
from quorumsgd.errors import InvalidParameter

points = st.fixed_dictionaries(
    {
        "strong_convexity": st.floats(0.05, 2.0),
        "gap": st.floats(0.0, 8.0),
        "coupling": st.floats(0.05, 6.0),
        "n_agents": st.integers(1, 32),
        "damping": st.floats(0.1, 6.0),
        "velocity_coupling": st.sampled_from([0.0, 0.5]),
    }
)


def _point(draw: dict[str, float]) -> dict[str, float]:
    point = dict(draw)
    point["smoothness"] = point["strong_convexity"] + point.pop("gap")
    return point


def _assert_lmi_dominates(row: ComparisonRow) -> None:
    assert row.verified
    assert row.lmi_rate <= row.upper_bound + row.tolerance
    if math.isfinite(row.paper_rate):
        assert row.lmi_rate >= row.paper_rate - row.tolerance, row
    if math.isfinite(row.paper_metric_rate):
        # the paper's metric is one candidate of the LMI, and its bound never beats its exact rate
        assert row.lmi_rate >= row.paper_metric_rate - row.tolerance, row
        if math.isfinite(row.paper_rate):
            assert row.paper_metric_rate >= row.paper_rate - 1e-9 * max(1.0, abs(row.paper_rate)), row


@settings(max_examples=50, deadline=None)
@given(draw=points)
@pytest.mark.parametrize("system", ["thm3.1", "lemma3.2", "lemma5.2", "lemma5.3"])
def test_lmi_rate_is_at_least_the_paper_bound(system: str, draw: dict[str, float]) -> None:
    _assert_lmi_dominates(compare_point(system, _point(draw)))


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(draw=points)
@pytest.mark.parametrize("system", ["lemma3.2", "lemma5.2", "lemma5.3"])
def test_lmi_rate_is_at_least_the_paper_bound_thorough(system: str, draw: dict[str, float]) -> None:
    _assert_lmi_dominates(compare_point(system, _point(draw)))


def test_default_grid_lmi_dominates_everywhere() -> None:
    rows = compare()
    assert len(rows) == 44  # 4 + 16 + 16 + 8 distinct points after dropping irrelevant axes
    for row in rows:
        _assert_lmi_dominates(row)


def test_thm31_rate_is_exactly_k_plus_lambda() -> None:
    row = compare_point("thm3.1", {"strong_convexity": 0.3, "coupling": 1.2})
    assert row.paper_rate == pytest.approx(1.5) and row.lmi_rate == pytest.approx(1.5, abs=1e-12)


def test_lemma32_lmi_certifies_synchronization_where_the_paper_condition_fails() -> None:
    # k_x gamma = 1 < m^2/4 = 2.25: (35) is negative, yet a diagonal metric gives a positive rate.
    row = compare_point("lemma3.2", {"strong_convexity": 0.5, "smoothness": 4.0, "coupling": 1.0, "damping": 1.0})
    assert row.paper_rate < 0 < row.lmi_rate
    assert row.lmi_rate == pytest.approx(5 / 12, abs=1e-6)


def test_lemma52_rate_is_tight_but_the_lmi_metric_is_better_conditioned() -> None:
    # Theta = diag(sqrt p, 1) symmetrizes the Jacobian, so (50) is the spectral bound: no metric does better.
    # The LMI finds the same rate with a smaller chi than sqrt(p), which enters Thm 5.2's first term.
    row = compare_point("lemma5.2", {"strong_convexity": 0.5, "smoothness": 4.0, "coupling": 1.0, "n_agents": 16})
    assert row.paper_rate == pytest.approx(row.upper_bound, rel=1e-12)
    assert row.lmi_rate == pytest.approx(row.paper_rate, abs=row.tolerance)
    assert row.paper_chi == pytest.approx(4.0) and row.lmi_chi < 0.7 * row.paper_chi


def test_lemma53_paper_metric_is_rate_optimal_when_its_hypothesis_holds() -> None:
    point = {"strong_convexity": 0.5, "smoothness": 4.0, "damping": 2.0}
    assert point["damping"] > np.sqrt(4.0) - np.sqrt(0.5)
    row = compare_point("lemma5.3", point)
    assert row.lmi_rate == pytest.approx(row.paper_rate, abs=10 * row.tolerance)
    assert row.lmi_chi <= row.paper_chi + 1e-3


def test_certify_system_in_dimension_n_keeps_the_scalar_rate() -> None:
    params = {"strong_convexity": 0.5, "smoothness": 4.0, "damping": 2.0}
    scalar, block = certify_system("lemma5.3", params), certify_system("lemma5.3", params, dim=3)
    assert block.metric.shape == (6, 6) and block.verified
    assert block.rate == pytest.approx(scalar.rate, abs=1e-9) and block.chi == pytest.approx(scalar.chi, rel=1e-9)


def test_grid_helpers() -> None:
    points = grid_points({"strong_convexity": [1.0, 5.0], "smoothness": [2.0]})
    assert all(p["smoothness"] >= p["strong_convexity"] for p in points) and len(points) == 8
    assert system_params("thm3.1", {"strong_convexity": 0.5, "coupling": 1.0}) == {"coupling": 1.0, "lambda_max": -0.5}
    with pytest.raises(InvalidParameter, match="damping"):
        system_params("lemma5.3", {"strong_convexity": 0.5, "smoothness": 1.0})
    with pytest.raises(InvalidParameter, match="one of"):
        compare(systems=("lemma9.9",))
    with pytest.raises(InvalidParameter, match="smoothness >= strong_convexity"):
        compare_point("lemma5.3", {"strong_convexity": 2.0, "smoothness": 1.0, "damping": 1.0})


def test_table_lists_every_row() -> None:
    rows = compare(
        {"strong_convexity": [0.5], "smoothness": [4.0], "coupling": [1.0], "n_agents": [4], "damping": [2.0]}
    )
    table = format_table(rows)
    assert table.splitlines()[0].split()[:3] == ["system", "eq.", "parameters"]
    for system, eq in (("thm3.1", "(21)"), ("lemma3.2", "(35)"), ("lemma5.2", "(50)"), ("lemma5.3", "(52)")):
        assert any(line.startswith(system) and eq in line for line in table.splitlines())
    assert all(json.dumps(r.to_dict()) for r in rows)


# --- CLI --------------------------------------------------------------------------------------------------

def test_cli_certify_json_has_the_documented_keys(run_cli) -> None:
    code, out, err = run_cli("contraction", "certify", "lemma5.3", "--strong-convexity", "0.5", "--smoothness", "4", "--damping", "2", "--dim", "2", "--json")
    assert code == 0, err
    out = json.loads(out)
    for key in ("rate", "metric", "chi", "beta_min", "solver", "status", "verified"):
        assert key in out
    assert out["verified"] and np.array(out["metric"]).shape == (4, 4)
    assert out["rate"] == pytest.approx(float(symbolic.paper_rate("lemma5.3", out["params"])), abs=1e-6)


def test_cli_certify_human_output(run_cli) -> None:
    code, out, err = run_cli("contraction", "certify", "lemma3.2", "--strong-convexity", "0.5", "--smoothness", "4", "--coupling", "1", "--damping", "1", "--velocity-coupling", "0.5")
    assert code == 0, err
    assert "verified  yes" in out and "paper" in out and "metric M =" in out


def test_cli_certify_not_contracting_exits_zero_and_says_so(run_cli) -> None:
    code, out, _ = run_cli("contraction", "certify", "thm3.1", "--coupling", "1", "--lambda-max", "2")
    assert code == 0 and "NOT contracting" in out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["certify", "lemma5.2", "--strong-convexity", "0.5", "--smoothness", "4", "--coupling", "1"], "n_agents"),
        (
            [
                "certify",
                "lemma5.3",
                "--strong-convexity",
                "0.5",
                "--smoothness",
                "4",
                "--damping",
                "2",
                "--coupling",
                "1",
            ],
            "must not be given",
        ),
        (
            ["certify", "lemma5.3", "--strong-convexity", "-1", "--smoothness", "4", "--damping", "2"],
            "strong_convexity > 0",
        ),
        (["certify", "lemma9", "--coupling", "1"], "SYSTEM"),
        (["certify", "thm3.1", "--coupling", "1", "--lambda-max", "0", "--solver", "gurobi"], "solver"),
    ],
)
def test_cli_bad_input_raises_user_errors(run_cli, args: list[str], match: str) -> None:
    code, _, err = run_cli("contraction", *args)
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
    assert match in err


def test_cli_compare_prints_the_table(run_cli) -> None:
    code, out, err = run_cli("contraction", "compare", "--system", "lemma5.2", "--strong-convexity", "0.5", "--smoothness", "2", "--coupling", "1", "--n-agents", "2", "--n-agents", "8")
    assert code == 0, err
    assert out.count("lemma5.2") == 2 and "2 of 2" in out


def test_main_cli_registers_contraction_and_reports_errors_on_one_line(run_cli) -> None:
    code, _, err = run_cli("contraction", "certify", "lemma5.3", "--strong-convexity", "0.5", "--smoothness", "4")
    assert code == 2
    err = err.strip()
    assert err.startswith("error:") and "damping" in err and "\n" not in err
