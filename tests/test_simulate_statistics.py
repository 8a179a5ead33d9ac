"""Streaming statistics: confidence bounds that hold at their nominal level despite autocorrelation."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from quorumsgd.algorithms import SGD
from quorumsgd.objectives import GaussianNoise, Quadratic
from quorumsgd.simulate import GaussianLaw, linearize, run_ensemble, summarize


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=50), st.floats(0.5, 0.999))
def test_summary_bounds_are_ordered_and_sized_by_the_sample(xs, confidence):
    s = summarize("x", np.array([*xs, np.nan, np.inf]), confidence)
    assert s.n == len(xs)  # non-finite samples are dropped
    assert s.lcb <= s.mean <= s.ucb
    if s.stderr > 0:
        q = sps.t.ppf(confidence, len(xs) - 1)
        # ucb - mean cancels digits when the mean is large: compare with an absolute tolerance at its scale
        np.testing.assert_allclose(s.ucb - s.mean, q * np.std(xs, ddof=1) / np.sqrt(len(xs)), rtol=1e-9,
                                   atol=1e-12 * max(1.0, abs(s.mean)))


def test_one_sample_has_no_finite_bound():
    s = summarize("x", np.array([1.0]))
    assert s.n == 1 and s.ucb == float("inf") and s.lcb == float("-inf")


def test_stationary_bounds_cover_the_exact_value_at_the_nominal_rate():
    """40 independent experiments on an OU process (exact EM-chain value known): the one-sided 95% bounds from
    per-simulation batch means cover it about 95% of the time, while naive i.i.d. error bars (ignoring the
    autocorrelation of successive steps) would be far too narrow."""
    f, noise, lr, dt = Quadratic.isotropic(1, 1.0), GaussianNoise.isotropic(1, 1.0), 0.2, 0.05
    sde = linearize(SGD(), f, 1, noise, lr, 1.0)
    exact = GaussianLaw(*sde.euler(dt).stationary(), sde.layout).expected_center_error_sq(f.minimizer)
    covered_up = covered_down = 0
    ratio_naive = []
    experiments = 40
    for seed in range(experiments):
        r = run_ensemble(SGD(), f, noise, n_agents=1, sims=12, steps=1500, dt=dt, lr=lr, burn_in=300,
                         stats=("center_error_sq",), seed=seed, time_batches=2)
        s = r.stationary["center_error_sq"]
        covered_up += s.ucb >= exact
        covered_down += s.lcb <= exact
        naive_stderr = s.std / np.sqrt(12 * 1200)
        ratio_naive.append(s.stderr / naive_stderr)
    # Binomial(40, 0.95): mean 38, sd 1.4; allow three sd.
    assert covered_up >= 34 and covered_down >= 34
    assert np.median(ratio_naive) > 3  # autocorrelation inflates the true standard error several fold
