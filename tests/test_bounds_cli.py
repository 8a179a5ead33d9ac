"""`quorumsgd bound`: JSON agrees with an independent evaluation; every bad input exits 2 with one line."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest

from quorumsgd import bounds, paper

FLAGS = {
    "thm5.1": dict(n_agents=8, coupling=2, lr=0.1, batch_size=32, sigma2=4, dim=10, q=1, strong_convexity=0.5),
}


def as_flags(params: dict[str, float]) -> list[str]:
    return [x for k, v in params.items() for x in ("--" + k.replace("_", "-"), str(v))]


# Parameters at which the JSON is compared with an independent evaluation: the paper's published closed form
# (quorumsgd.paper, with the derivation's documented (p-1)/p), in plain Python math, no numpy.
INDEPENDENT = {
    "thm3.1": dict(coupling=3.0, lambda_max=0.4),
    "lemma3.1": dict(n_agents=5, lr=0.05, batch_size=8, sigma2=3.0, coupling=2.0, lambda_max=-0.5),
    "thm3.2": dict(n_agents=5, lr=0.05, batch_size=8, sigma2=3.0, dim=7, q=0.3, coupling=2.0, lambda_max=-0.5),
    "sgd": dict(lr=0.2, batch_size=4, sigma2=2.0, strong_convexity=0.3),
    "thm5.1": FLAGS["thm5.1"],
    "lemma5.2": dict(strong_convexity=0.7, coupling=1.5, n_agents=6),
    "thm5.2": dict(n_agents=6, lr=0.1, batch_size=16, sigma2=2.0, dim=5, q=0.4, strong_convexity=0.7, coupling=1.5),
    "lemma3.2": dict(coupling=2.0, damping=1.5, strong_convexity=0.5, smoothness=3.0),
    "lemma5.4": dict(coupling=2.0, n_agents=5, magnification=1.0, lambda_max=0.1),
    "lemma5.5": dict(n_agents=3, lr=0.1, batch_size=2, sigma2=1.5, dim=4, curvature=0.8, time=50.0),
    "lemma2.1": dict(chi=2.0, disturbance=0.3, rate=0.7),
    "thm2.1": dict(noise_bound=1.0, rate=0.5, beta_min=0.5, initial_gap2=5.0, time=1.0),
    "cor2.1": dict(noise_bound=1.0, rate=0.5, beta_min=0.5, initial_gap2=5.0, time=1.0),
}


def independent(name: str) -> Callable[[dict[str, float]], float]:
    optional = {"velocity_coupling": 0.0} if name == "lemma3.2" else {}
    return lambda d: paper.numeric(name)(**optional, **d)


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_json_matches_independent_evaluation(run_cli: Callable[..., tuple[int, str, str]], name: str) -> None:
    params, formula = INDEPENDENT[name], independent(name)
    code, out, _ = run_cli("bound", name, "--json", *as_flags(params))
    assert code == 0
    obj = json.loads(out)
    for key in ("name", "value", "terms", "latex", "transient_rates", "hypotheses"):
        assert key in obj
    assert obj["name"] == name
    assert obj["value"] == pytest.approx(formula({k: float(v) for k, v in params.items()}), rel=1e-10)
    assert obj["value"] == pytest.approx(sum(obj["terms"].values()), rel=1e-12)


@pytest.mark.parametrize("name", ["lemma5.3", "thm5.3", "stability"])
def test_json_for_theorems_with_chosen_metric(run_cli: Callable[..., tuple[int, str, str]], name: str) -> None:
    params = {
        "lemma5.3": dict(strong_convexity=1.0, smoothness=4.0, damping=3.0, coupling=10.0),
        "thm5.3": dict(
            n_agents=4,
            lr=0.1,
            batch_size=4,
            sigma2=1.0,
            dim=2,
            q=0.5,
            strong_convexity=1.0,
            smoothness=3.0,
            coupling=3.0,
            damping=2.5,
        ),
        "stability": dict(lr=0.1, curvature=1.0, coupling=0.5, n_agents=10),
    }[name]
    code, out, _ = run_cli("bound", name, "--json", *as_flags(params))
    assert code == 0
    obj = json.loads(out)
    assert obj["value"] == pytest.approx(bounds.evaluate(name, **params).value, rel=1e-10)
    if name == "lemma5.3":
        assert obj["value"] == pytest.approx(
            1.5 - math.sqrt(1.5**2 - 1.0), rel=1e-10
        )  # gamma/2 - sqrt(gamma^2/4 - lambda)


def test_random_parameters_agree_to_1e_10() -> None:
    rng = np.random.default_rng(7)
    formula = independent("thm5.1")
    for _ in range(200):
        d = dict(
            n_agents=float(rng.integers(1, 100)),
            coupling=rng.uniform(0, 50),
            lr=rng.uniform(1e-4, 1),
            batch_size=float(rng.integers(1, 512)),
            sigma2=rng.uniform(1e-3, 100),
            dim=float(rng.integers(1, 1e6)),
            q=rng.uniform(0, 10),
            strong_convexity=rng.uniform(1e-3, 10),
        )
        assert bounds.thm5_1(**d).value == pytest.approx(formula(d), rel=1e-10)


def test_vectorized_matches_scalar() -> None:
    rng = np.random.default_rng(3)
    k = rng.uniform(0, 10, 1000)
    p = rng.integers(1, 50, 1000).astype(float)
    vec = bounds.thm5_1(n_agents=p, coupling=k, lr=0.1, batch_size=8, sigma2=1.0, dim=3, q=1.0, strong_convexity=0.2)
    for i in range(0, 1000, 97):
        one = bounds.thm5_1(
            n_agents=p[i], coupling=k[i], lr=0.1, batch_size=8, sigma2=1.0, dim=3, q=1.0, strong_convexity=0.2
        )
        assert vec.value[i] == pytest.approx(one.value, rel=1e-13)


BAD = [
    (["bound", "thm5.1", *as_flags({**FLAGS["thm5.1"], "n_agents": 0})], "n_agents"),
    (["bound", "thm5.1", *as_flags({**FLAGS["thm5.1"], "lr": -0.1})], "lr"),
    (["bound", "thm5.1", *as_flags({**FLAGS["thm5.1"], "batch_size": 0})], "batch_size"),
    (["bound", "thm5.1", *as_flags({**FLAGS["thm5.1"], "sigma2": 0})], "sigma2"),
    (["bound", "thm5.1", *as_flags({**FLAGS["thm5.1"], "n_agents": 2.5})], "n_agents"),
    (["bound", "thm5.1", *as_flags({**FLAGS["thm5.1"], "lr": "nan"})], "lr"),
    (["bound", "thm5.1", "--lr", "abc"], "--lr"),
    (["bound", "thm5.1", "--no-such-flag", "1"], "--no-such-flag"),
    (["bound", "thm5.1", *as_flags({**FLAGS["thm5.1"], "damping": 1.0})], "--damping"),
    (["bound", "thm5.1", "--lr", "0.1"], "--n-agents"),
    (["bound", "thm9.9"], "NAME"),
    (["bound"], "NAME"),
    (
        ["bound", "lemma3.1", *as_flags(dict(n_agents=4, lr=0.1, batch_size=1, sigma2=1, coupling=0.5, lambda_max=1))],
        "coupling > lambda_max",
    ),
    (
        ["bound", "lemma5.3", *as_flags(dict(strong_convexity=1, smoothness=9, damping=1, coupling=10))],
        "damping > sqrt(smoothness) - sqrt(strong_convexity)",
    ),
    (
        ["bound", "lemma5.3", *as_flags(dict(strong_convexity=1, smoothness=9, damping=3, coupling=10, metric_a=5))],
        "0 < metric_a < damping",
    ),
    (
        [
            "bound",
            "thm5.3",
            *as_flags(
                dict(
                    n_agents=4,
                    lr=0.1,
                    batch_size=4,
                    sigma2=1.0,
                    dim=2,
                    q=0.5,
                    strong_convexity=1.0,
                    smoothness=3.0,
                    coupling=0.01,
                    damping=2.5,
                )
            ),
        ],
        "Lemma 3.2",
    ),
    (["bound", "lemma3.2", *as_flags(dict(coupling=0.01, damping=0.1, strong_convexity=0.5, smoothness=5))], "m^2/4"),
    (["bound", "lemma5.2", *as_flags(dict(strong_convexity=1, coupling=0, n_agents=4))], "(50)"),
    (["bound", "lemma5.4", *as_flags(dict(coupling=1, n_agents=10, magnification=0, lambda_max=0.5))], "(56)"),
    (["bound", "lemma3.2", *as_flags(dict(coupling=2, damping=1, strong_convexity=3, smoothness=1))], "smoothness >="),
    (
        ["bound", "stability", *as_flags(dict(lr=0.1, curvature=1, coupling=1, n_agents=2)), "--algorithm", "adam"],
        "algorithm",
    ),
]


@pytest.mark.parametrize(("argv", "needle"), BAD)
def test_bad_input_exits_2_with_one_line(run_cli: Callable[..., tuple[int, str, str]], argv: list[str], needle: str) -> None:
    code, out, err = run_cli(*argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert needle in err
    assert "Traceback" not in err + out


def test_list_names_every_theorem(run_cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = run_cli("bound", "--list")
    assert code == 0
    for name in bounds.NAMES:
        assert name in out


def test_human_output_has_value_terms_and_latex(run_cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = run_cli("bound", "thm5.1", *as_flags(FLAGS["thm5.1"]))
    assert code == 0
    assert "disturbance" in out and "noise" in out and "LaTeX" in out and "\\frac" in out
