"""N-agent linearized systems built from the algorithm definitions; synchronization on the disagreement space."""

from __future__ import annotations

import numpy as np
import pytest

from quorumsgd.algorithms import QSGD, STACKED_OPS, CommonInputAgents
from quorumsgd.contraction import symbolic
from quorumsgd.contraction.lmi import certify
from quorumsgd.contraction.network import (
    NETWORK_ALGORITHMS,
    LinearizedNetwork,
    certify_consensus,
    certify_synchronization,
    helmert_basis,
    linearize_network,
    network_family,
)
from quorumsgd.errors import InvalidParameter

PARAMS = {"coupling": 1.5, "strong_convexity": 0.5, "smoothness": 3.0, "damping": 2.0}


@pytest.mark.parametrize("name", NETWORK_ALGORITHMS)
def test_bases_split_the_state_space_and_consensus_is_invariant(name: str) -> None:
    net = linearize_network(name, PARAMS, n_agents=4, hessian=[0.5, 2.0])
    u, v = net.consensus_basis, net.disagreement_basis
    n = net.jacobian.shape[0]
    assert u.shape[1] + v.shape[1] == n
    assert np.allclose(np.hstack([u, v]).T @ np.hstack([u, v]), np.eye(n))
    assert net.coupling_leak() < 1e-14  # V^T J U = 0: the disagreement dynamics are autonomous


def test_qsgd_spectrum_is_gradient_flow_plus_shifted_differences() -> None:
    # QSGD at f = h/2 |x|^2: the mean mode has eigenvalue -h, each of the (p-1) dim difference modes -(h + k).
    net = linearize_network("qsgd", {"coupling": 2.0}, n_agents=5, hessian=0.7, dim=2)
    eig = np.sort(np.linalg.eigvals(net.jacobian).real)
    assert np.allclose(eig[:8], -2.7) and np.allclose(eig[8:], -0.7)
    assert np.allclose(net.consensus_jacobian, -0.7 * np.eye(2))


@pytest.mark.parametrize("n_agents", [2, 3, 5, 8])
def test_qsgd_synchronization_rate_is_k_plus_lambda_for_every_n(n_agents: int) -> None:
    cert = certify_synchronization("qsgd", PARAMS, n_agents=n_agents, dim=2)
    assert cert.verified
    assert cert.rate == pytest.approx(PARAMS["coupling"] + PARAMS["strong_convexity"], abs=1e-9)


def test_qsgd_synchronization_rate_does_not_depend_on_n_in_the_full_sdp() -> None:
    # Same claim without the Kronecker reduction: the LMI sees the whole disagreement block.
    rates = [
        certify_synchronization("qsgd", PARAMS, n_agents=p, dim=1, exploit_structure=False).rate for p in (2, 4, 6)
    ]
    assert np.ptp(rates) < 1e-9 and rates[0] == pytest.approx(2.0, abs=1e-9)


def test_easgd_agents_synchronize_at_k_plus_lambda_too() -> None:
    # Thm 3.1 with u = the EASGD quorum: the quorum drops out of the disagreement dynamics.
    for p in (2, 7):
        assert certify_synchronization("easgd", PARAMS, n_agents=p).rate == pytest.approx(2.0, abs=1e-9)


def test_momentum_synchronization_is_lemma32_whatever_n() -> None:
    params = {**PARAMS, "velocity_coupling": 0.5}
    lemma = certify(symbolic.jacobian_family("lemma3.2", params))
    for p in (2, 3, 6):
        cert = certify_synchronization("momentum_qsgd", params, n_agents=p)
        assert cert.verified and cert.rate == pytest.approx(lemma.rate, abs=1e-7)
        assert cert.rate >= float(symbolic.paper_rate("lemma3.2", params)) - 1e-9  # (35) is a lower bound
    full = certify_synchronization("momentum_qsgd", params, n_agents=3, exploit_structure=False)
    assert full.structure == 1 and full.rate == pytest.approx(lemma.rate, abs=1e-6)


def test_momentum_easgd_synchronizes_like_momentum_qsgd() -> None:
    # Position coupling to a common input: the quorum drops out, leaving Lemma 3.2's blocks with k_v = 0.
    rates = [certify_synchronization("momentum_easgd", PARAMS, n_agents=p).rate for p in (2, 5)]
    qsgd = certify_synchronization("momentum_qsgd", PARAMS, n_agents=2).rate
    assert rates == pytest.approx([qsgd, qsgd], abs=1e-7)


def test_consensus_blocks_are_the_paper_synchronized_systems() -> None:
    p, dim = 4, 2
    for net, h in zip(network_family("momentum_qsgd", PARAMS, p, dim), (0.5, 3.0), strict=True):
        lemma53 = symbolic.jacobian_family("lemma5.3", PARAMS, dim)[0 if h == 0.5 else 1]
        assert np.allclose(net.consensus_jacobian, lemma53)
    # EASGD: U normalizes the mean by sqrt(p), i.e. the paper's Theta = diag(sqrt(p), 1) of Lemma 5.2.
    theta = np.kron(np.diag([np.sqrt(p), 1.0]), np.eye(dim))
    params52 = {**PARAMS, "n_agents": p}
    for net, j52 in zip(
        network_family("easgd", PARAMS, p, dim), symbolic.jacobian_family("lemma5.2", params52, dim), strict=True
    ):
        assert np.allclose(net.consensus_jacobian, theta @ j52 @ np.linalg.inv(theta))
    easgd = certify_consensus("easgd", PARAMS, n_agents=p)
    assert easgd.rate == pytest.approx(certify(symbolic.jacobian_family("lemma5.2", params52)).rate, abs=1e-7)


def test_helmert_basis_is_orthonormal_and_orthogonal_to_consensus() -> None:
    for p in (2, 3, 9):
        b = helmert_basis(p)
        assert np.allclose(b.T @ b, np.eye(p - 1)) and np.allclose(b.sum(axis=0), 0)


def test_general_hessian_and_linearity() -> None:
    h = np.array([[2.0, 0.5], [0.5, 1.0]])
    net = LinearizedNetwork.of(QSGD(coupling=1.0), n_agents=3, hessian=h)
    x = np.random.default_rng(1).normal(size=(3, 2))
    drift = QSGD(coupling=1.0).drift({"x": x}, lambda y: y @ h, STACKED_OPS)
    assert np.allclose(net.jacobian @ x.ravel(), drift["x"].ravel())


def test_errors() -> None:
    with pytest.raises(InvalidParameter, match="one of"):
        linearize_network("sgd", PARAMS, 3, 1.0)
    with pytest.raises(InvalidParameter, match="damping"):
        linearize_network("momentum_qsgd", {"coupling": 1.0}, 3, 1.0)
    with pytest.raises(InvalidParameter, match="n_agents"):
        certify_synchronization("qsgd", PARAMS, n_agents=1)
    with pytest.raises(InvalidParameter, match="symmetric"):
        LinearizedNetwork.of(QSGD(coupling=1.0), 2, np.array([[1.0, 2.0], [0.0, 1.0]]))
    # Agents pulled with different gains towards a common input: equal agents drift apart, so the
    # consensus subspace is not invariant and no disagreement system exists.
    heterogeneous = CommonInputAgents(coupling=np.array([[1.0], [2.0]]), common_input=lambda t: np.zeros(1))
    with pytest.raises(InvalidParameter, match="consensus subspace invariant"):
        LinearizedNetwork.of(heterogeneous, 2, 1.0)
