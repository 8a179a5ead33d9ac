"""Each composed bound against the paper's published closed form (:mod:`quorumsgd.paper`, the independent check).

The expected difference is the documented (p-1)/p factor of the pair sum; everything else must simplify to
exactly zero.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from quorumsgd import bounds, paper
from quorumsgd.bounds import blocks, catalog
from quorumsgd.paper import PAIRS, a, b, big_l, gamma, k, lam, lr, n, p, q
from quorumsgd.paper import k_v as kv
from quorumsgd.paper import lam_max as lmax
from quorumsgd.paper import sigma2 as s2


def same(x: sympy.Expr, y: sympy.Expr) -> bool:
    return sympy.simplify(x - y) == 0


def test_lemma2_1_is_chi_dbar_over_rate() -> None:
    assert same(bounds.theorem("lemma2.1").expression, paper.robustness_12())


def test_thm2_1_and_cor2_1_steady_states() -> None:
    c, r, beta = paper.C, paper.rate, paper.beta_min
    assert same(bounds.theorem("thm2.1").terms["steady_state"], c / (r * beta))
    assert same(bounds.theorem("cor2.1").terms["steady_state"], c / (2 * r * beta))
    for name in ("thm2.1", "cor2.1"):
        assert same(bounds.theorem(name).expression, paper.published(name)["value"])


def test_thm3_1_rate() -> None:
    assert same(bounds.theorem("thm3.1").expression, k - lmax)


def test_lemma3_1_differs_from_spec_22_by_pairs_factor() -> None:
    spec = paper.spread_22()
    assert same(bounds.theorem("lemma3.1").expression, PAIRS * spec)


def test_pair_sum_identity_for_unequal_rates() -> None:
    # sum_{i != j} (C_i + C_j) = 2 (p - 1) sum_i C_i, checked term by term for small p (Sec. 3.4).
    for agents in range(1, 7):
        c = sympy.symbols(f"c0:{agents}")
        lhs = sum(c[i] + c[j] for i in range(agents) for j in range(agents) if i != j)
        assert sympy.expand(lhs - blocks.distinct_pair_noise_sum(sum(c), agents)) == 0


def test_pair_sum_identity_spread() -> None:
    # sum_{i,j} |x_i - x_j|^2 = 2 p sum_i |x_i - x_bar|^2, on numbers.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    pair_sum = ((x[:, None] - x[None]) ** 2).sum()
    assert np.isclose(blocks.spread_from_pair_sum(pair_sum, 7), ((x - x.mean(0)) ** 2).sum())


def test_thm3_2_differs_from_spec_31_by_pairs_factor() -> None:
    spec = paper.disturbance_31()
    assert same(bounds.theorem("thm3.2").expression, PAIRS * spec)


def test_lemma3_2_is_35() -> None:
    spec = paper.rate_35()
    derived = bounds.theorem("lemma3.2").expression
    rng = np.random.default_rng(1)
    for _ in range(50):  # Max/Abs resist simplify: compare numerically at random points, exactly enough
        vals = {
            k: rng.uniform(0.1, 5),
            gamma: rng.uniform(0.1, 5),
            kv: rng.uniform(0, 2),
            lam: rng.uniform(0.1, 3),
            big_l: rng.uniform(3, 6),
        }
        assert abs(float(derived.subs(vals)) - float(spec.subs(vals))) < 1e-12


def test_sgd_bound() -> None:
    assert same(bounds.theorem("sgd").expression, paper.sgd_48())


def test_thm5_1_is_47_up_to_pairs_factor() -> None:
    th = bounds.theorem("thm5.1")
    spec1, spec2 = paper.published("thm5.1").values()
    assert same(th.terms["disturbance"], PAIRS * spec1)
    assert same(th.terms["noise"], spec2)


def test_thm5_1_is_the_composition_of_its_blocks() -> None:
    th = bounds.theorem("thm5.1")
    spread = blocks.spread_from_pair_sum(blocks.distinct_pair_noise_sum(p * lr * s2 / b, p) / (2 * (k + lam)), p)
    eps = blocks.taylor_disturbance(spread, q, n, p)
    composed = blocks.triangle(
        blocks.robustness_distance(1, eps, lam), blocks.jensen(blocks.mean_square_gap(lr * s2 / (b * p), 0, lam))
    )
    assert same(th.expression, composed)


def test_lemma5_2_is_50() -> None:
    assert same(bounds.theorem("lemma5.2").expression, paper.rate_50())


def test_thm5_2_is_51_up_to_pairs_factor() -> None:
    th = bounds.theorem("thm5.2")
    spec1, spec2 = paper.published("thm5.2").values()
    assert same(th.terms["disturbance"], PAIRS * spec1)
    assert same(th.terms["noise"], spec2)


def test_lemma5_3_is_52() -> None:
    spec = paper.rate_52()
    derived = bounds.theorem("lemma5.3").expression
    # Both are gamma/2 - sqrt(R); compare the radicands (equal as rational functions).
    assert same((gamma / 2 - derived) ** 2, (gamma / 2 - spec) ** 2)


def test_thm5_3_is_54_up_to_pairs_factor() -> None:
    th = bounds.theorem("thm5.3")
    c2 = paper.c_squared_53()
    spec1, spec2 = paper.published("thm5.3").values()
    rng = np.random.default_rng(2)
    for _ in range(30):
        lam_v, gap, gamma_v = rng.uniform(0.2, 2), rng.uniform(0.1, 3), rng.uniform(3, 5)
        vals = {
            lam: lam_v,
            big_l: lam_v + gap,
            gamma: gamma_v,
            a: gamma_v * rng.uniform(0.3, 0.5),
            k: rng.uniform(2, 5),
            p: int(rng.integers(1, 9)),
            lr: 0.1,
            b: 4,
            s2: 2.0,
            n: 3,
            q: 0.7,
        }
        if float(c2.subs(vals)) <= 0:
            continue
        d1 = float(th.terms["disturbance"].subs(vals))
        assert d1 == pytest.approx(float((PAIRS * spec1).subs(vals)), rel=1e-10)
        assert float(th.terms["noise"].subs(vals)) == pytest.approx(float(spec2.subs(vals)), rel=1e-10)


def test_lemma5_4_is_56_with_gains_60_61() -> None:
    derived = bounds.theorem("lemma5.4").expression
    assert same(derived, paper.rate_56())


def test_lemma5_5_is_59_and_free_of_coupling() -> None:
    t = paper.t
    th = bounds.theorem("lemma5.5")
    assert same(th.expression, paper.published("lemma5.5")["asymptotic"])
    assert not th.expression.has(k)
    # finite-time exact value tends to the asymptotic one
    finite = catalog.lemma5_5_finite_time()
    assert sympy.limit(finite * t, t, sympy.oo) == sympy.simplify(th.expression * t)


def test_stability_maps_match_spec_2_6() -> None:
    for algorithm in ("qsgd", "easgd"):
        derived, printed = catalog.stability_matrices(algorithm), paper.stability_maps(algorithm)
        for mode in ("mean", "difference"):
            assert (derived[mode] - printed[mode]).applyfunc(sympy.simplify) == sympy.zeros(*printed[mode].shape)
