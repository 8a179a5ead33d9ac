"""LMI certificates: optimality against closed forms, verification, structure, failure modes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorumsgd.contraction import lmi
from quorumsgd.contraction.lmi import (
    LMISolverError,
    RateNotCertified,
    SolverUnavailable,
    Verification,
    as_family,
    certify,
    kron_factor,
    metric_rate,
    min_condition_metric,
    spectral_bound,
    verify_certificate,
)
from quorumsgd.errors import InvalidParameter, QuorumSGDError


def momentum_family(lam: float, big_l: float, damping: float, dim: int = 1) -> list[np.ndarray]:
    """Synchronized heavy ball (Lemma 5.3): x' = v, v' = -damping v - h x, h in {lam, L}."""
    return [np.kron(np.array([[0.0, 1.0], [-h, -damping]]), np.eye(dim)) for h in (lam, big_l)]


def independent_check(cert: lmi.Certificate, family: list[np.ndarray]) -> None:
    """Re-verify a certificate from scratch: M > 0 and J^T M + M J + 2 r M <= 0 (rounding) at every vertex."""
    m = cert.metric
    assert np.allclose(m, m.T)
    assert np.linalg.eigvalsh(m)[0] > 0
    for j in family:
        worst = np.linalg.eigvalsh(j.T @ m + m @ j + 2 * cert.rate * m)[-1]
        assert worst <= 1e-10 * np.linalg.norm(m, 2) * max(1.0, np.linalg.norm(j, 2))


# --- optimality against closed forms --------------------------------------------------------------------


def test_symmetric_family_needs_no_sdp_and_gets_the_identity() -> None:
    # Symmetric Jacobians: the identity attains the spectral bound, so the rate is -lambda_max exactly.
    family = [np.diag([-1.0, -3.0]), np.array([[-2.0, 0.5], [0.5, -2.0]])]
    cert = certify(family)
    assert cert.n_solves == 0 and cert.verified and cert.contracting
    assert cert.rate == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(cert.metric, np.eye(2)) and cert.chi == pytest.approx(1.0)


def test_single_vertex_reaches_the_spectral_abscissa() -> None:
    # One diagonalizable Hurwitz matrix: the best constant metric certifies -max Re eig exactly (Lyapunov).
    j = np.array([[0.0, 1.0], [-2.0, -3.0]])  # eigenvalues -1, -2
    cert = certify([j])
    assert cert.rate == pytest.approx(1.0, abs=1e-7)
    assert cert.rate <= spectral_bound([j]) + 1e-12
    independent_check(cert, [j])


def test_momentum_polytope_matches_bisection_and_is_below_the_spectral_bound() -> None:
    family = momentum_family(0.5, 4.0, 2.0)
    fast, reference = certify(family), certify(family, method="bisection", rate_tol=1e-10)
    assert fast.verified and reference.verified
    assert fast.rate == pytest.approx(reference.rate, abs=1e-7)
    assert fast.rate < fast.upper_bound - 0.05  # the polytope is strictly harder than each vertex alone
    assert fast.n_solves < reference.n_solves  # Dinkelbach steps beat bisection
    assert fast.beta_min == pytest.approx(1.0)
    assert fast.chi == pytest.approx(np.sqrt(np.linalg.cond(fast.metric)))
    independent_check(fast, family)


def test_rate_scales_and_is_invariant_under_a_change_of_coordinates() -> None:
    family = momentum_family(0.3, 2.0, 1.5)
    base = certify(family).rate
    t = np.array([[2.0, 1.0], [0.5, 1.0]])
    moved = [t @ j @ np.linalg.inv(t) for j in family]
    assert certify([3.0 * j for j in family]).rate == pytest.approx(3 * base, abs=1e-6)
    assert certify(moved).rate == pytest.approx(base, abs=1e-6)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 3), vertices=st.integers(1, 3))
def test_random_families_certificate_between_lower_and_upper_bounds(seed: int, n: int, vertices: int) -> None:
    rng = np.random.default_rng(seed)
    family = [rng.normal(size=(n, n)) - 1.5 * np.eye(n) for _ in range(vertices)]
    cert = certify(family)
    identity_rate = metric_rate(np.eye(n), family)
    assert cert.verified
    assert identity_rate - 1e-9 <= cert.rate <= spectral_bound(family) + 1e-9
    independent_check(cert, family)


def test_kronecker_structure_is_exploited_exactly() -> None:
    small, big = momentum_family(0.5, 4.0, 2.0), momentum_family(0.5, 4.0, 2.0, dim=3)
    assert kron_factor(np.stack(big)) == 3
    reduced, full = certify(big), certify(big, exploit_structure=False)
    assert reduced.structure == 3 and full.structure == 1
    assert reduced.rate == pytest.approx(certify(small).rate, abs=1e-9)
    assert reduced.rate == pytest.approx(full.rate, abs=1e-6)
    assert np.allclose(reduced.metric, np.kron(reduced.metric[::3, ::3], np.eye(3)))
    assert reduced.metric.shape == (6, 6)
    independent_check(full, big)


# --- non-contracting and defective families -------------------------------------------------------------


def test_unstable_family_is_reported_not_contracting_without_exception() -> None:
    cert = certify([np.array([[0.5, 1.0], [0.0, -1.0]])])
    assert cert.verified and not cert.contracting
    assert cert.rate <= 0 and cert.rate == pytest.approx(-0.5, abs=1e-6)


def test_stable_vertices_without_a_common_metric_are_not_contracting() -> None:
    # Each matrix alone contracts at rate 0.1; no constant metric works for both (switching destabilizes).
    a1, a2 = np.array([[-0.1, 1.0], [-2.0, -0.1]]), np.array([[-0.1, 2.0], [-1.0, -0.1]])
    assert certify([a1]).rate == pytest.approx(0.1, abs=1e-6)
    assert certify([a2]).rate == pytest.approx(0.1, abs=1e-6)
    both = certify([a1, a2])
    assert both.verified and not both.contracting and both.rate <= 0
    assert both.upper_bound == pytest.approx(0.1)


def test_defective_jacobian_trades_rate_for_condition_number() -> None:
    # A Jordan block: rate 1 is approached only as chi -> infinity; the cap keeps chi finite.
    jordan = [np.array([[-1.0, 1.0], [0.0, -1.0]])]
    loose, tight = certify(jordan, max_condition=1e6), certify(jordan, max_condition=100.0)
    assert 0.999 < loose.rate < 1.0 and loose.chi <= 1e3 * (1 + 1e-6)
    assert tight.rate < loose.rate and tight.chi <= 10.0 * (1 + 1e-6)
    independent_check(loose, jordan)


def test_min_condition_metric_trades_rate_for_chi() -> None:
    family = momentum_family(0.5, 4.0, 2.0)
    best = certify(family)
    relaxed = min_condition_metric(family, 0.5 * best.rate)
    assert relaxed.verified and relaxed.rate >= 0.5 * best.rate - 1e-7
    assert relaxed.chi < best.chi
    with pytest.raises(RateNotCertified, match="no metric certifies rate"):
        min_condition_metric(family, best.upper_bound + 0.1)


# --- verification ---------------------------------------------------------------------------------------


def test_verification_rejects_wrong_certificates() -> None:
    family = momentum_family(0.5, 4.0, 2.0)
    cert = certify(family)
    assert verify_certificate(cert.metric, cert.rate, family).passed
    assert not verify_certificate(cert.metric, cert.rate + 1e-3, family).passed
    assert not verify_certificate(-np.eye(2), 0.0, family).passed
    assert not verify_certificate(np.eye(2), 0.2, family).passed  # identity does not certify 0.2 here
    with pytest.raises(InvalidParameter):
        verify_certificate(np.eye(3), 0.1, family)


def test_failed_verification_is_never_reported_as_success(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(metric: np.ndarray, rate: float, jacobians: object, tol: float | None = None) -> Verification:
        return Verification(False, 0.0, 1.0, (1.0,))

    monkeypatch.setattr(lmi, "verify_certificate", failing)
    cert = certify(momentum_family(0.5, 4.0, 2.0))
    assert not cert.verified and not cert.contracting
    assert cert.status == "verification_failed"
    assert cert.to_dict()["verified"] is False


def test_certificate_dict_has_the_cli_keys() -> None:
    out = certify(momentum_family(0.5, 4.0, 2.0)).to_dict()
    for key in ("rate", "metric", "chi", "beta_min", "solver", "status", "verified"):
        assert key in out
    assert out["solver"] == "CLARABEL" and out["status"] == "optimal"


# --- input and solver errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([], "at least one matrix"),
        ([np.ones((2, 3))], "square"),
        ([np.eye(2), np.eye(3)], "same shape"),
        ([np.array([[np.nan]])], "finite"),
        ([np.ones(3)], "square"),
    ],
)
def test_bad_jacobians_are_rejected_up_front(bad: list[np.ndarray], match: str) -> None:
    with pytest.raises(InvalidParameter, match=match) as err:
        certify(bad)
    assert "\n" not in str(err.value)


def test_unknown_and_missing_solvers_give_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    family = momentum_family(0.5, 4.0, 2.0)
    with pytest.raises(InvalidParameter, match="solver"):
        certify(family, solver="NOPE")
    monkeypatch.setattr(lmi, "installed_solvers", lambda: ("CLARABEL",))
    with pytest.raises(SolverUnavailable, match="SCS is not installed") as err:
        certify(family, solver="SCS")
    assert "not_installed" in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, QuorumSGDError)


def test_failing_solver_names_solver_and_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lmi, "_solve", lambda problem, solver: "solver_error")
    with pytest.raises(LMISolverError, match="CLARABEL failed with status solver_error"):
        certify(momentum_family(0.5, 4.0, 2.0))
    with pytest.raises(LMISolverError, match="CLARABEL failed with status solver_error"):
        certify(momentum_family(0.5, 4.0, 2.0), method="bisection")


def test_scs_agrees_with_clarabel() -> None:
    family = momentum_family(0.5, 4.0, 2.0)
    scs, clarabel = certify(family, solver="SCS"), certify(family)
    assert scs.solver == "SCS" and scs.verified
    assert scs.rate == pytest.approx(clarabel.rate, abs=1e-5)


def test_problems_are_dpp_and_compiled_once_per_shape() -> None:
    family = momentum_family(0.5, 4.0, 2.0)
    certify(family)
    margin = lmi._margin_sdp(2, 2, "CLARABEL")
    condition = lmi._condition_sdp(2, 2, "CLARABEL")
    assert margin.problem.is_dpp() and condition.problem.is_dpp()
    before = lmi._margin_sdp.cache_info().misses
    certify(momentum_family(0.2, 3.0, 1.0))  # new data, same shape: no new problem object
    assert lmi._margin_sdp.cache_info().misses == before


def test_as_family_accepts_a_single_matrix_and_a_stack() -> None:
    assert as_family(np.eye(2)).shape == (1, 2, 2)
    assert as_family(np.stack([np.eye(2), -np.eye(2)])).shape == (2, 2, 2)
