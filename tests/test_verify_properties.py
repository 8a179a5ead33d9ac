"""Property tests: measured upper confidence bound <= derived bound, for every generated valid problem.

Fast tier in the default run; the thorough tier (``-m slow``) draws hundreds of cases per theorem. Set
``QUORUMSGD_SWEEP_LOG=path.jsonl`` to record every case (for the tightness distribution).
"""

from __future__ import annotations

import json
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumsgd import bounds
from quorumsgd.parameters import symbol
from quorumsgd.testing.strategies import (
    bound_parameters,
    easgd_problems,
    lemma31_slack_problems,
    momentum_problems,
    qsgd_problems,
)
from quorumsgd.verify.checks import CHECKS, Settings
from quorumsgd.verify.problems import Problem

FAST = Settings(sims=48, window=8.0, confidence=0.99, steps_per_time=20.0)
THOROUGH = Settings(sims=96, window=12.0, confidence=0.99, steps_per_time=20.0)


def _log(result: object) -> None:
    path = os.environ.get("QUORUMSGD_SWEEP_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(result.to_json()) + "\n")  # type: ignore[attr-defined]


def _assert_case(name: str, problem: Problem, seed: int, base: Settings, tight: bool = False) -> None:
    result = CHECKS[name](problem, Settings(**{**base.__dict__, "seed": seed}))
    _log(result)
    assert result.details.get("diverged", 0) == 0, f"{name}: simulation diverged for {problem.spec}"
    if tight:  # the bound can be attained: only a significant violation (lower confidence > bound) is a failure
        assert result.verdict != "violated", (
            f"{name} VIOLATED: lower confidence {result.lower_confidence:.6g} > bound {result.bound:.6g}; "
            f"reproduce with {json.dumps(result.params)}"
        )
        return
    assert result.upper_confidence <= result.bound, (
        f"{name} VIOLATED: upper confidence {result.upper_confidence:.6g} > bound {result.bound:.6g} "
        f"(measured {result.measured:.6g} ± {result.stderr:.3g}); reproduce with {json.dumps(result.params)}"
    )


seeds = st.integers(0, 2**31 - 1)


# --- the calculator: every valid parameter set gives a finite, non-negative bound ---------------------------


@pytest.mark.parametrize("name", bounds.NAMES)
@settings(max_examples=25)
@given(data=st.data())
def test_valid_parameters_give_finite_bounds(name: str, data: st.DataObject) -> None:
    params = data.draw(bound_parameters(name))
    result = bounds.evaluate(name, **params)
    assert math.isfinite(result.value)
    theorem = bounds.theorem(name)
    assert result.value >= 0 or theorem.kind == "rate"
    # Every hypothesis is reported, and re-checked independently (SymPy, at the evaluated parameters) it holds.
    reported = [h.statement for h in result.hypotheses]
    assert all(h.statement in reported for h in theorem.hypotheses)
    point = {symbol(n): v for n, v in result.parameters.items()}
    for hypothesis in theorem.hypotheses:
        assert bool(hypothesis.relation.subs(point)), f"{name}: {hypothesis.statement} fails at {result.parameters}"


# --- measured vs bound, fast tier ----------------------------------------------------------------------------


@settings(max_examples=4)
@given(problem=lemma31_slack_problems(), seed=seeds)
def test_lemma31_measured_below_bound(problem: Problem, seed: int) -> None:
    _assert_case("lemma3.1", problem, seed, FAST)


@settings(max_examples=3)
@given(problem=qsgd_problems(), seed=seeds)
def test_lemma31_never_significantly_violated(problem: Problem, seed: int) -> None:
    _assert_case("lemma3.1", problem, seed, FAST, tight=True)


@settings(max_examples=4)
@given(problem=qsgd_problems(objectives=("logcosh",)), seed=seeds)
def test_thm32_measured_below_bound(problem: Problem, seed: int) -> None:
    _assert_case("thm3.2", problem, seed, FAST)


@settings(max_examples=4)
@given(problem=qsgd_problems(), seed=seeds)
def test_thm51_measured_below_bound(problem: Problem, seed: int) -> None:
    _assert_case("thm5.1", problem, seed, FAST)


@settings(max_examples=3)
@given(problem=qsgd_problems(), seed=seeds)
def test_sgd_measured_below_bound(problem: Problem, seed: int) -> None:
    _assert_case("sgd", problem, seed, FAST)


@settings(max_examples=3)
@given(problem=easgd_problems(), seed=seeds)
def test_thm52_measured_below_bound(problem: Problem, seed: int) -> None:
    _assert_case("thm5.2", problem, seed, FAST)


@settings(max_examples=3)
@given(problem=momentum_problems(), seed=seeds)
def test_thm53_measured_below_bound(problem: Problem, seed: int) -> None:
    _assert_case("thm5.3", problem, seed, FAST)


# --- thorough tier -------------------------------------------------------------------------------------------

SLOW_CASES = int(os.environ.get("QUORUMSGD_SLOW_CASES", "300"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "strategy"),
    [
        ("lemma3.1", lemma31_slack_problems()),
        ("thm3.2", qsgd_problems(objectives=("logcosh",))),
        ("thm5.1", qsgd_problems()),
        ("sgd", qsgd_problems()),
        ("thm5.2", easgd_problems()),
        ("thm5.3", momentum_problems()),
    ],
)
def test_thorough_measured_below_bound(name: str, strategy: st.SearchStrategy[Problem]) -> None:
    @settings(max_examples=SLOW_CASES)
    @given(problem=strategy, seed=seeds)
    def run(problem: Problem, seed: int) -> None:
        _assert_case(name, problem, seed, THOROUGH)

    run()


@pytest.mark.slow
def test_thorough_lemma31_tight_regime_not_violated() -> None:
    @settings(max_examples=SLOW_CASES)
    @given(problem=qsgd_problems(), seed=seeds)
    def run(problem: Problem, seed: int) -> None:
        _assert_case("lemma3.1", problem, seed, THOROUGH, tight=True)

    run()
