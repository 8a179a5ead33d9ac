"""metric="lmi" for Thm 5.2 / 5.3: the same composition, with certified metrics."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from quorumsgd import bounds
from quorumsgd.bounds import catalog
from quorumsgd.errors import HypothesisViolation, InvalidParameter
from quorumsgd.parameters import symbol as sym

KW52 = dict(n_agents=16, lr=0.1, batch_size=4, sigma2=1.0, dim=2, q=0.5, strong_convexity=1.0, coupling=2.0)
KW53 = dict(n_agents=8, lr=0.1, batch_size=1, sigma2=1.0, dim=3, q=0.4, strong_convexity=0.5, smoothness=1.5,
            coupling=2.0, damping=2.0)


def test_paper_bound_is_the_generic_composition_with_the_paper_metric() -> None:
    m = catalog.METRIC
    generic = sympy.Add(*catalog.generic_convergence_terms().values())
    lam_e = catalog.symbolic.derive("lemma5.2").rate_bound
    subs = {m["metric_chi"]: sympy.sqrt(sym("n_agents")), m["metric_beta_min"]: 1, m["metric_rate"]: lam_e,
            m["metric_noise_weight"]: sym("n_agents"), m["sync_rate"]: sym("coupling") + sym("strong_convexity"),
            m["sync_noise_weight"]: 1, m["sync_beta_min"]: 1}
    composed = generic.subs(subs)
    rng = np.random.default_rng(0)
    for _ in range(20):
        point = {sym(n): float(v) for n, v in dict(
            n_agents=rng.integers(1, 50), lr=rng.uniform(0.01, 1), batch_size=rng.integers(1, 64),
            sigma2=rng.uniform(0.1, 5), dim=rng.integers(1, 100), q=rng.uniform(0, 3),
            strong_convexity=rng.uniform(0.05, 3), coupling=rng.uniform(0.05, 5)).items()}
        assert float(composed.subs(point)) == pytest.approx(float(catalog.thm5_2().expression.subs(point)), rel=1e-12)


def test_lmi_thm52_certified_rate_equals_50_and_improves_the_bound() -> None:
    paper = bounds.thm5_2(**KW52)
    lmi = bounds.thm5_2(**KW52, smoothness=4.0, metric="lmi")
    assert lmi.transient_rates["convergence"] == pytest.approx(paper.transient_rates["convergence"], rel=1e-6)
    assert lmi.parameters["metric_chi"] < 4.0  # below the paper's sqrt(p)
    assert 0 < lmi.value < paper.value
    assert lmi.value == pytest.approx(sum(lmi.terms.values()))


def test_lmi_thm53_gives_a_bound_where_35_fails() -> None:
    kw = {**KW53, "strong_convexity": 0.5, "smoothness": 4.0, "coupling": 1.0, "damping": 1.5}
    with pytest.raises(HypothesisViolation):
        bounds.thm5_3(**kw)
    lmi = bounds.thm5_3(**kw, metric="lmi")
    assert lmi.value > 0 and lmi.transient_rates["synchronization"] > 0


def test_lmi_thm53_finite_and_reported() -> None:
    r = bounds.thm5_3(**KW53, metric="lmi")
    assert r.value > 0 and r.parameters["metric_rate"] > 0
    assert "lmi" in r.spec_difference


def test_lmi_needs_smoothness_and_scalars() -> None:
    with pytest.raises(InvalidParameter, match="smoothness"):
        bounds.thm5_2(**KW52, metric="lmi")
    with pytest.raises(InvalidParameter, match="metric"):
        bounds.evaluate("thm5.1", metric="lmi", **{k: v for k, v in KW52.items()})
    with pytest.raises(InvalidParameter, match="metric"):
        bounds.evaluate("thm5.2", metric="nope", **KW52)
