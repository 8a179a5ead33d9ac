"""Symbolic checks of the paper's contraction algebra (issue 3 item 2), derived from the algorithm definitions."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumsgd.contraction import symbolic as S
from quorumsgd.paper import a, big_l, gamma, k, lam, p
from quorumsgd.paper import k_v as kv

h = S.h


def test_jacobians_come_from_algorithms() -> None:
    assert S.reduced_jacobian("thm3.1") == sympy.Matrix([[-h - k]])
    assert S.reduced_jacobian("lemma5.3") == sympy.Matrix([[0, 1], [-h, -gamma]])
    assert S.reduced_jacobian("lemma3.2") == sympy.Matrix([[-k, 1], [-h, -gamma - kv]])


def test_lemma52_metric_symmetrizes_and_condition_is_lambda_positive() -> None:
    f = S.generalized_jacobian("lemma5.2")
    assert (f - f.T).applyfunc(sympy.simplify) == sympy.zeros(2, 2)
    # negative definiteness at h: trace < 0 and det > 0; det reduces to h k p > 0, i.e. lambda > 0 at h = lambda
    det = sympy.factor(sympy.simplify(f.det()))
    assert sympy.simplify(det - h * k * p) == 0
    assert S.derive("lemma5.2").condition == (k * p * lam > 0)


def test_lemma53_c_equalizes_the_max() -> None:
    fs = S.symmetric_part("lemma5.3")
    off = fs[0, 1].subs(S.metric_c2, S.lemma53_c_squared())
    assert sympy.simplify(off.subs(h, lam) + off.subs(h, big_l)) == 0
    assert sympy.simplify(S.lemma53_c_squared() - ((lam + big_l) / 2 - a * (gamma - a))) == 0


def test_lemma53_threshold_damping() -> None:
    lo, hi = S.lemma53_admissible_u()
    assert sympy.simplify(lo - (sympy.sqrt(big_l) - sympy.sqrt(lam)) ** 2 / 4) == 0
    assert sympy.simplify(hi - (sympy.sqrt(big_l) + sympy.sqrt(lam)) ** 2 / 4) == 0
    # a(gamma - a) > lo for some a in (0, gamma) iff gamma^2/4 > lo, i.e. gamma > sqrt(L) - sqrt(lambda)
    threshold = sympy.solve(sympy.Eq(gamma**2 / 4, lo), gamma)
    positive = [t for t in threshold if sympy.simplify(t.subs({lam: 1, big_l: 4})) > 0]
    # the positive root is |sqrt(L) - sqrt(lambda)| = sqrt(L) - sqrt(lambda) since L >= lambda
    assert sympy.simplify(sympy.expand(positive[0] ** 2 - (sympy.sqrt(big_l) - sympy.sqrt(lam)) ** 2)) == 0
    assert float(positive[0].subs({lam: 0.5, big_l: 7.0})) == pytest.approx(7.0**0.5 - 0.5**0.5)


def test_lemma32_condition() -> None:
    cond = S.derive("lemma3.2").condition
    m = sympy.Max(sympy.Abs(1 - lam), sympy.Abs(1 - big_l))
    rng = np.random.default_rng(0)
    for _ in range(200):
        vals = {
            k: rng.uniform(0, 3),
            gamma: rng.uniform(0.01, 3),
            kv: rng.uniform(0, 1),
            lam: rng.uniform(0.1, 2),
            big_l: rng.uniform(2, 6),
        }
        expected = bool(vals[k] * (vals[gamma] + vals[kv]) > float((m**2 / 4).subs(vals)))
        assert bool(cond.subs(vals)) == expected


def test_easgd_euclidean_restriction() -> None:
    # In the identity metric the synchronized EASGD Jacobian's symmetric part is negative definite iff
    # lambda > k (p-1)^2 / (4p): "a fairly strong restriction" (after Thm 5.2).
    j = S.reduced_jacobian("lemma5.2")
    fs = (j + j.T) / 2
    det = sympy.expand(fs.det())
    boundary = sympy.solve(sympy.Eq(det, 0), h)
    assert sympy.simplify(boundary[0] - k * (p - 1) ** 2 / (4 * p)) == 0


def _numeric_symmetric_part(system: str):  # type: ignore[no-untyped-def]
    fs = S.symmetric_part(system)
    names = sorted(s.name for s in fs.free_symbols if s is not h)
    fn = sympy.lambdify(
        [h, *[sympy.Symbol(n) for n in names]],
        fs.xreplace({s: sympy.Symbol(s.name) for s in fs.free_symbols if s is not h}),
        modules="numpy",
    )
    return lambda hv, params: np.array(fn(hv, *[params.get(n, 0.0) for n in names]), dtype=float)


@settings(max_examples=25)
@given(
    lam_v=st.floats(0.1, 3),
    gap=st.floats(0.0, 5),
    k_v=st.floats(0.05, 10),
    p_v=st.integers(1, 50),
    gamma_v=st.floats(0.1, 10),
)
def test_rate_bounds_are_lower_bounds_of_the_symmetric_part(
    lam_v: float, gap: float, k_v: float, p_v: int, gamma_v: float
) -> None:
    params = dict(
        strong_convexity=lam_v, smoothness=lam_v + gap, coupling=k_v, n_agents=p_v, damping=gamma_v, lambda_max=-lam_v
    )
    hs = np.linspace(lam_v, lam_v + gap, 7)
    for system in ("lemma3.2", "lemma5.2"):
        bound = S.paper_rate(system, params)
        fs = _numeric_symmetric_part(system)
        for hv in hs:
            worst = max(np.linalg.eigvalsh(fs(hv, params)))
            assert -worst >= bound - 1e-9
        assert S.exact_rate(system, params) >= bound - 1e-9


@pytest.mark.parametrize("gamma_v", [1.2, 2.0, 3.0, 6.0])
def test_lemma53_optimal_rate_is_exact_in_its_metric(gamma_v: float) -> None:
    params = dict(strong_convexity=1.0, smoothness=4.0, damping=gamma_v)
    if gamma_v <= 1.0:  # sqrt(L) - sqrt(lambda)
        return
    bound, exact = S.paper_rate("lemma5.3", params), S.exact_rate("lemma5.3", params)
    assert bound == pytest.approx(exact, rel=1e-9)
    m = S.paper_metric("lemma5.3", params)
    for hv in (1.0, 2.5, 4.0):
        j = np.array([[0.0, 1.0], [-hv, -gamma_v]])
        lmi = j.T @ m + m @ j + 2 * bound * m
        assert max(np.linalg.eigvalsh(lmi)) <= 1e-9


def test_numeric_family_helpers() -> None:
    fam = S.jacobian_family("lemma5.2", dict(strong_convexity=1.0, smoothness=2.0, coupling=1.0, n_agents=3), dim=2)
    assert len(fam) == 2 and fam[0].shape == (4, 4)
    assert S.paper_metric("lemma5.2", dict(strong_convexity=1.0, coupling=1.0, n_agents=3)).tolist() == [[3, 0], [0, 1]]
