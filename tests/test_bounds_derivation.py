"""Each composed bound against the spec's closed form (retyped here, and only here, as the independent check).

The expected difference is the documented (p-1)/p factor of the pair sum (spec §6.4); everything else must
simplify to exactly zero.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from quorumsgd import bounds
from quorumsgd.bounds import blocks, catalog
from quorumsgd.parameters import symbol

p, k, lr, b, s2, n, q = (symbol(x) for x in ("n_agents", "coupling", "lr", "batch_size", "sigma2", "dim", "q"))
lam, big_l, lmax, gamma, kv, a = (
    symbol(x) for x in ("strong_convexity", "smoothness", "lambda_max", "damping", "velocity_coupling", "metric_a")
)
PAIRS = (p - 1) / p


def same(x: sympy.Expr, y: sympy.Expr) -> bool:
    return sympy.simplify(x - y) == 0


def test_lemma2_1_is_chi_dbar_over_rate() -> None:
    chi, d, r = symbol("chi"), symbol("disturbance"), symbol("rate")
    assert same(bounds.theorem("lemma2.1").expression, chi * d / r)


def test_thm2_1_and_cor2_1_steady_states() -> None:
    c, r, beta = symbol("noise_bound"), symbol("rate"), symbol("beta_min")
    assert same(bounds.theorem("thm2.1").terms["steady_state"], c / (r * beta))
    assert same(bounds.theorem("cor2.1").terms["steady_state"], c / (2 * r * beta))


def test_thm3_1_rate() -> None:
    assert same(bounds.theorem("thm3.1").expression, k - lmax)


def test_lemma3_1_differs_from_spec_22_by_pairs_factor() -> None:
    spec = p * lr * s2 / (2 * b * (k - lmax))
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
    spec = lr * q * s2 * sympy.sqrt(n) / (4 * b * (k - lmax))
    assert same(bounds.theorem("thm3.2").expression, PAIRS * spec)


def test_lemma3_2_is_35() -> None:
    m = sympy.Max(sympy.Abs(1 - lam), sympy.Abs(1 - big_l))
    spec = (k + gamma + kv) / 2 - sympy.sqrt(((k - gamma - kv) / 2) ** 2 + m**2 / 4)
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
    assert same(bounds.theorem("sgd").expression, sympy.sqrt(lr * s2 / (2 * b * lam)))


def test_thm5_1_is_47_up_to_pairs_factor() -> None:
    th = bounds.theorem("thm5.1")
    spec1 = lr * q * s2 * sympy.sqrt(n) / (4 * b * lam * (k + lam))
    spec2 = sympy.sqrt(lr * s2 / (2 * b * p * lam))
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


def lambda_e() -> sympy.Expr:
    return (lam + k + k * p) / 2 - sympy.sqrt(((lam + k - k * p) / 2) ** 2 + k**2 * p)


def test_lemma5_2_is_50() -> None:
    assert same(bounds.theorem("lemma5.2").expression, lambda_e())


def test_thm5_2_is_51_up_to_pairs_factor() -> None:
    th = bounds.theorem("thm5.2")
    spec1 = sympy.sqrt(p) * lr * q * s2 * sympy.sqrt(n) / (4 * b * lambda_e() * (k + lam))
    spec2 = sympy.sqrt(lr * (p * s2) / (2 * b * p * lambda_e()))
    assert same(th.terms["disturbance"], PAIRS * spec1)
    assert same(th.terms["noise"], spec2)


def test_lemma5_3_is_52() -> None:
    c2 = (lam + big_l) / 2 - a * (gamma - a)
    spec = gamma / 2 - sympy.sqrt((gamma - 2 * a) ** 2 / 4 + (big_l - lam) ** 2 / (16 * c2))
    derived = bounds.theorem("lemma5.3").expression
    # Both are gamma/2 - sqrt(R); compare the radicands (equal as rational functions).
    assert same((gamma / 2 - derived) ** 2, (gamma / 2 - spec) ** 2)


def test_thm5_3_is_54_up_to_pairs_factor() -> None:
    th = bounds.theorem("thm5.3")
    c2 = (lam + big_l) / 2 - a * (gamma - a)
    lam_m = gamma / 2 - sympy.sqrt((gamma - 2 * a) ** 2 / 4 + (big_l - lam) ** 2 / (16 * c2))
    m = sympy.Max(sympy.Abs(1 - lam), sympy.Abs(1 - big_l))
    lam_s = (k + gamma) / 2 - sympy.sqrt(((k - gamma) / 2) ** 2 + m**2 / 4)
    tr = a**2 + c2 + 1
    beta_min = (tr - sympy.sqrt(tr**2 - 4 * c2)) / 2
    beta_max = (tr + sympy.sqrt(tr**2 - 4 * c2)) / 2
    chi = sympy.sqrt(beta_max / beta_min)
    spec1 = chi * lr * q * s2 * sympy.sqrt(n) / (4 * b * lam_m * lam_s)
    spec2 = sympy.sqrt(lr * s2 / (2 * b * p * beta_min * lam_m))
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
    amag = symbol("magnification")
    mean_at_0 = (k * (1 + amag) + (p - 1) * 0) / p
    derived = bounds.theorem("lemma5.4").expression
    assert same(derived, sympy.Min(k, mean_at_0) - lmax)


def test_lemma5_5_is_59_and_free_of_coupling() -> None:
    h, t = symbol("curvature"), symbol("time")
    th = bounds.theorem("lemma5.5")
    assert same(th.expression, lr * s2 / (b * p * h**2 * t))
    assert not th.expression.has(k)
    # finite-time exact value tends to the asymptotic one
    finite = catalog.lemma5_5_finite_time()
    assert sympy.limit(finite * t, t, sympy.oo) == sympy.simplify(th.expression * t)


def test_stability_maps_match_spec_2_6() -> None:
    h = symbol("curvature")
    q_maps = catalog.stability_matrices("qsgd")
    assert same(q_maps["mean"][0, 0], 1 - lr * h)
    assert same(q_maps["difference"][0, 0], 1 - lr * h - lr * k)
    e_map = catalog.stability_matrices("easgd")["mean"]
    alpha, a_ = lr * k, lr * h
    expected = sympy.Matrix([[1 - a_ - alpha, alpha], [p * alpha, 1 - p * alpha]])
    assert (e_map - expected).applyfunc(sympy.simplify) == sympy.zeros(2, 2)
