"""``quorumsgd hunt``: end to end, resumable from its store, the same on a real Dask cluster as in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from quorumsgd.engine import Engine
from quorumsgd.engine.store import CaseStore
from quorumsgd.hunt import racing
from quorumsgd.hunt.cases import DEFAULTS, Fidelity, evaluate_case
from quorumsgd.hunt.search import hunt

# Tiny rungs: the tests check the machinery, not the statistics.
TINY = (racing.Rung(8, 2.0, 8.0), racing.Rung(16, 3.0, 8.0))


def _measurements(state: object) -> list[dict[int, tuple[float, float, str]]]:
    return [{t: (r.get("measured"), r.get("bound"), r.get("status")) for t, r in rung.items()}
            for rung in state.results]  # type: ignore[attr-defined]


def test_hunt_end_to_end_writes_store_report_plots_and_replays(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "h"
    code, stdout, _ = run_cli("hunt", "sgd", "--budget", "6", "--batch", "3", "--workers", "0", "--seed", "2",
                              "--out", str(out), "--json", "--dim", "2")
    assert code == 0, stdout
    payload = json.loads(stdout)
    assert payload["candidates"] == 6 and payload["evaluations"] >= 7  # rung 0 for all, the best climbs
    for name in ("hunt.json", "hunt.md", "tightness.png", "worst_objective.png", "cases.sqlite"):
        assert (out / name).stat().st_size > 0
    with CaseStore(out / "cases.sqlite") as store:
        assert store.count(2) == payload["evaluations"]
    worst, sandwich = payload["worst"], payload["sandwich"]
    assert worst["case"]["dim"] == 2 and worst["rung"] == len(payload["rungs"]) - 1
    assert worst["verdict"] != "violated" and 0 < worst["tightness"]
    # The sandwich: the SGD bound (48) against the exact Lyapunov value on the isotropic quadratic (below it).
    assert sandwich["paper"] == pytest.approx(worst["bound"])
    assert 0 < sandwich["exact_quadratic"] < sandwich["paper"]
    # The one-line reproduction gives exactly the reported numbers (same case, fidelity and seed).
    replay = json.loads(worst["reproduce"].split("--replay ", 1)[1].strip("'"))
    code, stdout, _ = run_cli("hunt", "sgd", "--replay", json.dumps(replay), "--json")
    assert code == 0 and json.loads(stdout)["measured"] == worst["measured"]


def test_resume_runs_only_the_lost_cases(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite"
    with CaseStore(path) as store:
        first = hunt("thm5.1", 6, seed=5, store=store, batch=3, rungs=TINY, fixed={"dim": 1, "n_agents": 2})
        rows = store.rows(5)
        lost = [r["case_key"] for r in rows[-2:]]  # an interrupt lost the last two results
        for key in lost:
            store.delete(5, key)
        again = hunt("thm5.1", 6, seed=5, store=store, batch=3, rungs=TINY, fixed={"dim": 1, "n_agents": 2})
        assert sorted(again.stats.keys_evaluated) == sorted(lost)  # nothing lost, nothing run twice
        assert again.stats.reused == len(rows) - 2
        assert _measurements(again) == _measurements(first)
        assert store.count(5) == len(rows)


def test_local_cluster_equals_in_process_and_retries_a_dead_worker(tmp_path: Path) -> None:
    fixed = {"dim": 1, "n_agents": 2, "family": "softplus", "noise": "uniform"}
    reference = hunt("thm5.1", 4, seed=7, batch=4, rungs=TINY, fixed=fixed)
    marker = tmp_path / "died-once"

    def die_once(path: str) -> str:
        if not os.path.exists(path):
            Path(path).write_text("x")
            os._exit(1)  # the worker process dies in the middle of the task
        return "retried"

    engine = Engine(workers=2, processes=True)
    assert engine.description.startswith("dask LocalCluster, 2 worker processes")
    with engine:
        assert all(addr.startswith("tcp://127.0.0.1:") for addr in engine.client.scheduler_info()["workers"])
        on_cluster = hunt("thm5.1", 4, seed=7, batch=4, rungs=TINY, fixed=fixed, engine=engine)
        assert list(engine.map(die_once, [(str(marker),)])) == [(0, "retried")]
    assert _measurements(on_cluster) == _measurements(reference)


def test_case_results_do_not_depend_on_anything_but_the_case() -> None:
    case = {**DEFAULTS, "family": "softplus", "dim": 2, "curvature": 2.0, "width": 0.2, "shift": 1.3,
            "noise": "modulated", "modulation": 0.7}
    fid = Fidelity(8, 2.0, 8.0, seed=11)
    a, b = evaluate_case("thm3.2", case, fid), evaluate_case("thm3.2", dict(reversed(case.items())), fid)
    assert a["status"] == "ok" and a["measured"] == b["measured"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["hunt", "thm9.9"], "NAME"),
        (["hunt", "thm5.1", "--budget", "0"], "--budget"),
        (["hunt", "thm5.1", "--family", "cubic"], "--family"),
        (["hunt", "thm5.1", "--n-agents", "0"], "--n-agents"),
        (["hunt", "thm5.1", "--sigma2", "-1"], "--sigma2"),
        (["hunt", "thm5.1", "--replay", "{not json"], "--replay"),
        (["hunt", "thm5.1", "--budget", "many"], "--budget"),
        (["hunt", "thm3.2", "--against", "sdp"], "--against"),
        (["hunt", "thm5.1", "--against", "lmi"], "--against"),
    ],
)
def test_bad_flags_are_one_line_errors(run_cli, argv: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(*argv)
    assert code == 2 and err.startswith("error:") and needle in err and err.count("\n") == 1


def test_verify_cases_through_the_engine_equal_the_in_process_sweep(tmp_path: Path) -> None:
    from quorumsgd.verify.checks import Settings, run_check
    from quorumsgd.verify.distributed import distributed_checks
    from quorumsgd.verify.report import run_sweep

    settings = Settings(sims=16, window=3.0)
    sweeps = [("lemma3.1", "coupling", (0.5, 2.0))]
    checks, swept = distributed_checks(["sgd"], sweeps, settings, settings, tmp_path, None, 0)
    assert checks[0].to_json() | {"details": {}} == run_check("sgd", settings=settings).to_json() | {"details": {}}
    plain = run_sweep("lemma3.1", "coupling", (0.5, 2.0), settings)
    assert [r.measured for r in swept[0].results] == [r.measured for r in plain.results]
    # A second run takes every case from the store (resume): same numbers, nothing evaluated.
    again, swept_again = distributed_checks(["sgd"], sweeps, settings, settings, tmp_path, None, 0)
    assert [r.measured for r in swept_again[0].results] == [r.measured for r in plain.results]
    assert again[0].details == checks[0].details  # elapsed times too: they come from the store


def test_sandwich_uses_the_sdp_certificate_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from quorumsgd import bounds
    from quorumsgd.hunt.report import sandwich

    case = {**DEFAULTS, "family": "quadratic", "curvature": 1.0, "n_agents": 4, "coupling": 2.0, "dim": 2}
    real = sandwich("thm5.1", case, measured=0.2)  # the certificate of quorumsgd.bounds.sdp
    assert real["sdp"] is not None and "SDP certificate" in real["sdp_note"]
    assert 0 < real["exact_quadratic"] <= real["sdp"] * (1 + 1e-6)  # certified >= every member of the class
    assert 0 < real["exact_quadratic"] < real["paper"]
    paper_evaluate = bounds.evaluate
    seen = {}

    def evaluate(name: str, method: str = "paper", **params: object) -> object:
        if method == "sdp":
            seen.update(params)
            return SimpleNamespace(value=0.3)
        return paper_evaluate(name, **params)

    monkeypatch.setattr(bounds, "evaluate", evaluate)
    with_sdp = sandwich("thm5.1", case, measured=0.2)
    assert with_sdp["sdp"] == 0.3 and with_sdp["certified_over_found"] == pytest.approx(1.5)
    assert seen["smoothness"] == pytest.approx(1.5) and seen["coupling"] == 2.0


def test_unreachable_scheduler_is_a_one_line_error() -> None:
    from quorumsgd.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="--scheduler"):
        Engine(scheduler="tcp://127.0.0.1:9", connect_timeout="1s").start()


def test_verify_report_can_show_the_sandwich_of_a_check() -> None:
    from quorumsgd.verify.checks import Settings, run_check
    from quorumsgd.verify.sandwich import sandwich_for_check

    result = run_check("sgd", settings=Settings(sims=16, window=3.0))
    s = sandwich_for_check(result)
    assert s is not None and s["found"] == result.measured and s["paper"] == result.bound
    # The default SGD problem is a quadratic: its exact value (isotropic, curvature lambda) is below the bound.
    assert 0 < s["exact_quadratic"] < s["paper"]


def test_hunt_against_the_sdp_certificate(tmp_path: Path) -> None:
    """``NAME@sdp`` measures the second moment of the statistic against the certificate's second moment over
    S(lambda, L), searches the switch profile (Q infinite: no paper bound there), and its report and reproduction
    say so."""
    from quorumsgd import bounds
    from quorumsgd.hunt.cases import build_problem
    from quorumsgd.hunt.report import build_report
    from quorumsgd.hunt.search import search_space
    from quorumsgd.verify.sandwich import bound_parameters

    assert "switch" in search_space("thm5.1@sdp")["family"][1] and "switch" not in search_space("thm5.1")["family"][1]
    with CaseStore(tmp_path / "cases.sqlite") as store:
        state = hunt("thm5.1@sdp", 4, seed=1, store=store, batch=2, rungs=TINY,
                     fixed={"dim": 1, "n_agents": 2, "family": "switch"})
    trial, _, result = state.best()
    problem = build_problem("thm5.1", state.cases[trial])
    certificate = bounds.evaluate("thm5.1", method="sdp", smoothness=problem.smoothness,
                                  **bound_parameters("thm5.1", problem)).terms["second_moment"]
    assert result["bound"] == pytest.approx(certificate, rel=1e-9) and result["paper_bound"] is None
    assert result["tightness"] == pytest.approx(result["measured"] / certificate) and result["moment"] == 2
    assert result["statistic"] == "E |x_bar - x*|^2"
    payload = build_report(state, tmp_path / "out", "in-process", 0.0, tmp_path / "cases.sqlite")
    assert payload["name"] == "thm5.1@sdp" and "--against sdp" in payload["worst"]["reproduce"]
    assert payload["sandwich"]["paper"] is None and payload["sandwich"]["sdp"] == pytest.approx(certificate**0.5)
    assert "SDP certificate" in (tmp_path / "out" / "hunt.md").read_text()
    # The same case against the paper's bound is outside (47)'s hypotheses (Q infinite): a one-line "invalid".
    paper = evaluate_case("thm5.1", state.cases[trial], Fidelity(8, 2.0, 8.0, seed=1))
    assert paper["status"] == "invalid" and "q" in paper["error"]


def test_hunt_against_a_fixed_class_ranks_by_the_certified_second_moment() -> None:
    """At the point of the bracket (p = 4, k = 0, one dimension, S(0.5, 2), eta = b = sigma^2 = 1) every case is
    compared with the same certificate, the bracket's upper side there: E xbar^2 <= 0.30690 (exact in one dimension;
    the SDP of every dimension says 0.4665); the asymmetric switch profile's measured second moment is above the
    quadratic's exact 1/(2 lambda p) = 0.25, agrees with the bracket's exact Gibbs value 0.30687, and so meets the
    certificate (tightness 1 within its confidence interval) -- the hunt and ``quorumsgd bracket`` agree on what
    "worst" means and on how bad it is."""
    from quorumsgd.bounds.worst_case.exact import second_moment
    from quorumsgd.objectives.profile import CurvatureProfile

    point = {**DEFAULTS, "n_agents": 4, "coupling": 0.0, "dim": 1, "lr": 1.0, "batch_size": 1, "sigma2": 1.0,
             "strong_convexity": 0.5, "smoothness": 2.0, "noise": "isotropic"}
    fid = Fidelity(sims=400, window=20.0, steps_per_time=20.0, seed=3)
    quad = evaluate_case("thm5.1@sdp", {**point, "family": "quadratic", "curvature": 0.0}, fid)
    switch = evaluate_case("thm5.1@sdp", {**point, "family": "switch", "curvature": 1.5, "shift": 0.0}, fid)
    assert quad["status"] == switch["status"] == "ok" and quad["moment"] == switch["moment"] == 2
    assert quad["bound"] == pytest.approx(switch["bound"], rel=1e-9) == pytest.approx(0.3069, abs=1e-4)
    assert quad["lower_confidence"] <= 0.25 <= quad["upper_confidence"]  # exact transitions: unbiased
    assert switch["lower_confidence"] > quad["upper_confidence"]  # the profile is worse than the quadratic
    exact = second_moment("thm5.1", CurvatureProfile([0.0], [0.5, 2.0]), n_agents=4, coupling=0.0, noise=1.0)
    assert switch["lower_confidence"] <= exact * 1.01 and exact <= switch["upper_confidence"] / (1 - 1 / 39)
    assert exact <= switch["bound"] <= exact * 1.001  # attained: the certificate is the worst case
    assert switch["lower_confidence"] <= switch["bound"] <= switch["upper_confidence"] * 1.01
    # A case outside the class is refused in one line, not compared with a certificate that does not hold for it.
    outside = evaluate_case("thm5.1@sdp", {**point, "family": "quadratic", "curvature": 3.0}, fid)
    assert outside["status"] == "invalid" and "class" in outside["error"]
