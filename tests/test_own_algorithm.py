"""Your own algorithm: one definition, and bounds.certify, contraction.certify, run_ensemble, hunt and train all work.

The three worked algorithms beyond the paper (gossip, local SGD, stale EASGD) and a user-defined class written
here, outside the package, go through the same four capabilities; the generic SDP reproduces the paper theorems'
SDP certificates (the cross-check that lets the registry route them through this mechanism).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from quorumsgd import bounds, contraction
from quorumsgd.algorithms import (
    EASGD,
    QSGD,
    AgentOps,
    DiscreteAlgorithm,
    GossipIteration,
    LocalSGD,
    StaleEASGD,
    State,
    easgd_iteration,
    qsgd_iteration,
    random_regular_mixing,
    ring_mixing,
    spectral_gap,
)
from quorumsgd.algorithms.agent_system import agent_system, detect_symmetry, equivariant
from quorumsgd.bounds.own_algorithm import certify
from quorumsgd.errors import HypothesisViolation, InvalidParameter
from quorumsgd.objectives import GaussianNoise, Quadratic
from quorumsgd.simulate import run_ensemble

CLASS = dict(strong_convexity=0.5, smoothness=2.0)
NOISE = dict(sigma2=4.0, batch_size=32)


def test_one_call_per_capability_is_a_function_of_the_package():
    # the calls the README's table names: functions, also after their defining modules were imported directly
    import quorumsgd.bounds.own_algorithm
    import quorumsgd.bounds.worst_case
    import quorumsgd.contraction.own_algorithm

    assert bounds.certify is certify and callable(contraction.certify) and callable(bounds.bracket)
    assert contraction.certify is quorumsgd.contraction.own_algorithm.certify
    assert bounds.bracket is quorumsgd.bounds.worst_case.table.bracket


# --- a user-defined algorithm, written outside the package ------------------------------------------------------


@dataclass(frozen=True)
class PullToMean(DiscreteAlgorithm):
    """x' = x - lr g + lr k (x-bar - x), written from scratch with AgentOps: QSGD (41) by another name."""

    lr: float = 0.1
    coupling: float = 1.0

    def apply(self, state: State, grad: Any, ops: AgentOps, lr: Any = None) -> State:
        lr = self.lr if lr is None else lr
        x = state["x"]
        return {"x": x - lr * grad + lr * self.coupling * (ops.expand(ops.mean(x)) - x)}


@dataclass(frozen=True)
class LeaderFollower(DiscreteAlgorithm):
    """Agent 0 runs plain SGD, the others are pulled towards it: not exchangeable."""

    lr: float = 0.1
    coupling: float = 1.0

    def apply(self, state: State, grad: Any, ops: AgentOps, lr: Any = None) -> State:
        x = state["x"]
        leader = x[..., :1, :]
        mask = np.ones(x.shape[-2])
        mask[0] = 0.0
        return {"x": x - self.lr * grad + self.lr * self.coupling * mask[:, None] * (leader - x)}


@dataclass(frozen=True)
class CubicPull(DiscreteAlgorithm):
    """A coupling that is not affine in the state."""

    lr: float = 0.1

    def apply(self, state: State, grad: Any, ops: AgentOps, lr: Any = None) -> State:
        x = state["x"]
        return {"x": x - self.lr * grad + 0.1 * (ops.expand(ops.mean(x)) - x) ** 3}


@dataclass(frozen=True)
class WrongShape(DiscreteAlgorithm):
    lr: float = 0.1

    def apply(self, state: State, grad: Any, ops: AgentOps, lr: Any = None) -> State:
        return {"x": ops.mean(state["x"] - self.lr * grad)}


def make_user_algorithm() -> PullToMean:
    """The factory ``quorumsgd hunt --algorithm test_own_algorithm:make_user_algorithm`` loads."""
    return PullToMean(lr=0.1, coupling=1.0)


# --- the generic SDP reproduces the paper theorems' certificates ---------------------------------------------------


@pytest.mark.parametrize("n_agents", [1, 4, 16])
def test_certify_reproduces_the_sdp_of_thm5_1_and_thm5_2_and_lemma3_1(n_agents):
    point = dict(n_agents=n_agents, coupling=1.0, lr=0.1, **NOISE, **CLASS)
    cases = [
        ("thm5.1", False, QSGD(coupling=1.0), "center"),
        ("thm5.1", True, qsgd_iteration(0.1, 1.0), "center"),
        ("thm5.2", False, EASGD(coupling=1.0), ("center", "quorum")),
        ("thm5.2", True, easgd_iteration(0.1, 1.0, n_agents, momentum=0.0, nesterov=False), ("center", "quorum")),
    ]
    if n_agents > 1:
        cases.append(("lemma3.1", True, qsgd_iteration(0.1, 1.0), "spread"))
    for name, discrete, alg, quantity in cases:
        ref = bounds.evaluate(name, method="sdp", discrete=discrete, **point).terms["second_moment"]
        got = certify(alg, quantity, n_agents=n_agents, lr=None if discrete else 0.1, **NOISE, **CLASS)
        assert got.verified and got.second_moment == pytest.approx(ref, rel=1e-6), (name, discrete)


def test_the_user_class_is_qsgd_and_gets_its_certificate():
    user = certify(PullToMean(), "center", n_agents=4, **NOISE, **CLASS)
    ref = certify(qsgd_iteration(0.1, 1.0), "center", n_agents=4, **NOISE, **CLASS)
    assert user.symmetry == "permutation" and user.second_moment == pytest.approx(ref.second_moment, rel=1e-7)


# --- symmetry: used only where valid, exact where used ---------------------------------------------------------


def test_symmetry_is_detected_from_the_linear_map():
    assert detect_symmetry(agent_system(qsgd_iteration(0.1, 1.0), 5)) == "permutation"
    assert detect_symmetry(agent_system(LocalSGD(lr=0.1, period=3), 5)) == "permutation"
    ring = agent_system(GossipIteration(lr=0.1, mixing=ring_mixing(6)), 6)
    assert not equivariant(ring, "permutation") and equivariant(ring, "circulant")
    assert detect_symmetry(agent_system(GossipIteration(lr=0.1, mixing=random_regular_mixing(8, 3)), 8)) == "none"
    assert detect_symmetry(agent_system(LeaderFollower(), 4)) == "none"


@pytest.mark.parametrize("quantity", ["center", "spread"])
def test_the_reductions_equal_the_full_problem(quantity):
    kw = dict(n_agents=8, sigma2=1.0, **CLASS)
    ring = GossipIteration(lr=0.1, mixing=ring_mixing(8))
    full = certify(ring, quantity, symmetry="none", **kw).second_moment
    assert certify(ring, quantity, **kw).second_moment == pytest.approx(full, rel=1e-6)
    qsgd = qsgd_iteration(0.1, 1.0)
    assert certify(qsgd, quantity, **kw).second_moment == pytest.approx(
        certify(qsgd, quantity, symmetry="none", **kw).second_moment, rel=1e-6
    )
    # and each reduced certificate, mapped back (P over every copy of every mode, a multiplier per pair), satisfies
    # the full N-agent LMI: the reduction loses nothing
    for alg, n in (
        (ring, 8),
        (GossipIteration(lr=0.1, mixing=ring_mixing(7)), 7),
        (qsgd, 8),
        (LocalSGD(lr=0.1, period=3), 5),
        (StaleEASGD(lr=0.1, coupling=1.0, n_agents=5), 5),
    ):
        cert = certify(alg, quantity, **{**kw, "n_agents": n})
        assert cert.symmetry != "none" and cert.full_check <= 0.0
    # the spectral restriction (one multiplier per pair type) is valid, so never below the full problem
    rr = GossipIteration(lr=0.1, mixing=random_regular_mixing(8, 3))
    assert certify(rr, quantity, symmetry="spectral", **kw).second_moment >= (
        certify(rr, quantity, symmetry="none", **kw).second_moment * (1 - 1e-6)
    )


def test_a_symmetry_the_coupling_breaks_is_one_clear_error():
    kw = dict(n_agents=6, sigma2=1.0, **CLASS)
    with pytest.raises(InvalidParameter, match=r"symmetry.*commutes"):
        certify(GossipIteration(lr=0.1, mixing=ring_mixing(6)), symmetry="permutation", **kw)
    with pytest.raises(InvalidParameter, match=r"symmetry.*commutes"):
        certify(LeaderFollower(), symmetry="circulant", **kw)
    with pytest.raises(InvalidParameter, match="spectral"):
        certify(LeaderFollower(), symmetry="spectral", **kw)
    assert certify(LeaderFollower(), **kw).symmetry == "none"  # auto: the full problem


# --- bad definitions: one clear error each ------------------------------------------------------------------------


def test_bad_definitions_get_one_clear_error_each():
    kw = dict(n_agents=3, sigma2=1.0, **CLASS)
    with pytest.raises(InvalidParameter, match="affine"):
        certify(CubicPull(), **kw)
    with pytest.raises(InvalidParameter, match="shape"):
        certify(WrongShape(), **kw)
    with pytest.raises(InvalidParameter, match="algorithm"):
        certify(object(), **kw)
    with pytest.raises(InvalidParameter, match="quantity"):
        certify(PullToMean(), "quorum", **kw)
    with pytest.raises(InvalidParameter, match="lr"):
        certify(QSGD(coupling=1.0), **kw)  # a drift needs the SDE noise scale
    with pytest.raises(HypothesisViolation, match="strong_convexity <= smoothness"):
        certify(PullToMean(), n_agents=3, sigma2=1.0, strong_convexity=3.0, smoothness=2.0)
    with pytest.raises(InvalidParameter, match=r"mixing.*doubly stochastic"):
        GossipIteration(lr=0.1, mixing=np.ones((3, 3)))
    with pytest.raises(InvalidParameter, match=r"mixing.*shape"):
        certify(GossipIteration(lr=0.1, mixing=ring_mixing(4)), **kw)
    with pytest.raises(InvalidParameter, match="period"):
        LocalSGD(lr=0.1, period=0)
    for message in ("affine",):
        with pytest.raises(InvalidParameter, match=message):
            contraction.certify(CubicPull(), n_agents=3, **CLASS)


# --- gossip: the spectral gap in the certificate ---------------------------------------------------------------------


def test_the_gossip_certificate_shows_the_spectral_gap():
    kw = dict(sigma2=1.0, **CLASS)
    spreads, gaps = [], []
    for n in (4, 8, 16):
        w = ring_mixing(n)
        cert = certify(GossipIteration(lr=0.1, mixing=w), "spread", n_agents=n, **kw)
        assert cert.symmetry == "circulant"
        # one block per Fourier mode, with its mixing eigenvalue: the slowest disagreement mode's is 1 - gap
        eigen = cert.mode_eigenvalues
        assert eigen[0] == pytest.approx(1.0) and eigen[1] == pytest.approx(1 - spectral_gap(w), abs=1e-6)
        # and the slowest disagreement mode carries the largest share of the spread
        assert max(cert.modes[1:], key=lambda m: m[1]) == cert.modes[1]
        spreads.append(cert.second_moment)
        gaps.append(spectral_gap(w))
    assert gaps == sorted(gaps, reverse=True) and spreads == sorted(spreads)
    # a better connected graph (random regular, larger gap at N=8) certifies a smaller spread than the ring
    rr = random_regular_mixing(8, 3)
    assert spectral_gap(rr) > spectral_gap(ring_mixing(8))
    assert (
        certify(GossipIteration(lr=0.1, mixing=rr), "spread", n_agents=8, **kw).second_moment
        < certify(GossipIteration(lr=0.1, mixing=ring_mixing(8)), "spread", n_agents=8, **kw).second_moment
    )


def test_stale_easgd_without_delay_is_easgd_and_the_delay_costs():
    kw = dict(n_agents=4, **NOISE, **CLASS)
    fresh = certify(StaleEASGD(lr=0.1, coupling=1.0, n_agents=4, delay=0), ("center", "quorum"), **kw)
    ref = certify(easgd_iteration(0.1, 1.0, 4, momentum=0.0, nesterov=False), ("center", "quorum"), **kw)
    assert fresh.second_moment == pytest.approx(ref.second_moment, rel=1e-6)
    stale = certify(StaleEASGD(lr=0.1, coupling=1.0, n_agents=4), ("center", "quorum"), **kw)
    # one step of staleness acts as one more filter stage: on this noise-driven moment it *lowers* the bound
    # (the exact quadratic values agree, see test_the_certificate_is_above_every_quadratic_of_the_class)
    assert stale.second_moment < fresh.second_moment * (1 - 1e-3)


def test_local_sgd_certifies_the_h_step_map():
    kw = dict(n_agents=4, sigma2=1.0, **CLASS)
    certs = {h: certify(LocalSGD(lr=0.1, period=h), "spread", **kw) for h in (1, 2, 4)}
    assert [certs[h].period for h in (1, 2, 4)] == [1, 2, 4]
    assert certs[1].second_moment < certs[2].second_moment < certs[4].second_moment  # rarer averaging, more spread
    # H = 1 averages after every step: the time average of the spread is over post-averaging states only
    assert certs[1].second_moment < 1e-5 * certs[2].second_moment


# --- Monte Carlo: every certificate holds, and is not vacuous --------------------------------------------------------


ALGORITHMS = {
    "gossip-ring": (GossipIteration(lr=0.1, mixing=ring_mixing(6)), 6, "spread"),
    "gossip-regular": (GossipIteration(lr=0.1, mixing=random_regular_mixing(6, 3)), 6, "spread"),
    "local-sgd": (LocalSGD(lr=0.1, period=4), 4, "center"),
    "stale-easgd": (StaleEASGD(lr=0.1, coupling=1.0, n_agents=4), 4, ("center", "quorum")),
    "user": (PullToMean(), 4, "center"),
}


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_monte_carlo_stays_below_the_certificate(name):
    from quorumsgd.hunt.custom import _measure

    alg, n, quantity = ALGORITHMS[name]
    quantity = (quantity,) if isinstance(quantity, str) else quantity
    cert = certify(alg, quantity, n_agents=n, sigma2=1.0, **CLASS)
    # the quadratic with the smallest curvature of the class is the slowest: the certificate's near-worst case
    run = run_ensemble(
        alg,
        Quadratic(np.eye(1) * 0.5),
        GaussianNoise.isotropic(1, 1.0),
        n_agents=n,
        sims=256,
        steps=4000,
        burn_in=1000,
        stats=[("q", _measure(quantity))],
        confidence=0.999,
        seed=3,
    )
    s = run.stationary["q"]
    assert s.lcb <= cert.second_moment
    assert s.ucb >= 0.5 * cert.second_moment, (s.mean, cert.second_moment)  # not vacuous


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_the_certificate_is_above_every_quadratic_of_the_class(name):
    """On f = h/2 |x|^2, h in [lambda, L], the stationary moment is exact (periodic Lyapunov equation): the
    certificate over the class must be above all of them, and is attained within a factor of 2 here."""
    import scipy.linalg

    from quorumsgd.bounds.own_algorithm import quantity_matrix

    alg, n, quantity = ALGORITHMS[name]
    quantity = (quantity,) if isinstance(quantity, str) else quantity
    cert = certify(alg, quantity, n_agents=n, sigma2=1.0, **CLASS)
    system = agent_system(alg, n, keep=tuple("quorum" if q == "quorum" else "x" for q in quantity))
    w = quantity_matrix(quantity, system)
    exact = []
    for h in np.linspace(CLASS["strong_convexity"], CLASS["smoothness"], 7):
        maps = [a + h * b @ c for a, b, c in zip(system.a, system.b, system.c, strict=True)]
        mono, drive = np.eye(system.n_state), np.zeros((system.n_state,) * 2)
        for m, e in zip(maps, system.noise, strict=True):  # covariance over one period, from phase 0
            mono, drive = m @ mono, m @ drive @ m.T + e @ e.T
        cov = scipy.linalg.solve_discrete_lyapunov(mono, drive)
        total = 0.0
        for m, e in zip(maps, system.noise, strict=True):  # the time average over the phases
            cov = m @ cov @ m.T + e @ e.T
            total += np.trace(w @ cov) / len(maps)
        exact.append(total)
    assert max(exact) <= cert.second_moment * (1 + 1e-6)
    assert max(exact) >= 0.5 * cert.second_moment


# --- contraction -------------------------------------------------------------------------------------------------------


def test_contraction_certificates():
    kw = dict(n_agents=4, **CLASS)
    c = contraction.certify(QSGD(coupling=1.0), **kw)
    assert c.rate == pytest.approx(0.5, rel=1e-3) and dict(c.mode_rates)["disagreement"] == pytest.approx(1.5, rel=1e-3)
    it = contraction.certify(qsgd_iteration(0.1, 1.0), **kw)
    assert it.rate == pytest.approx(1 - 0.1 * 0.5, abs=1e-3)
    ring = contraction.certify(GossipIteration(lr=0.1, mixing=ring_mixing(8)), n_agents=8, **CLASS)
    assert ring.symmetry == "circulant" and ring.rate == pytest.approx(0.95, abs=1e-3)
    # the Fourier modes contract at |theta_k - lr h| at worst over h: the mixing eigenvalues, explicitly
    theta = np.linalg.eigvalsh(ring_mixing(8))
    slow = max(max(abs(t - 0.1 * 0.5), abs(t - 0.1 * 2.0)) for t in theta[:-1])
    assert max(r for label, r in ring.mode_rates if label.startswith("fourier")) == pytest.approx(slow, abs=1e-3)
    local = contraction.certify(LocalSGD(lr=0.1, period=4), **kw)
    assert local.period == 4 and local.rate == pytest.approx(0.95, abs=1e-3)
    stale = contraction.certify(StaleEASGD(lr=0.1, coupling=1.0, n_agents=4), **kw)
    assert 0.95 <= stale.rate < 1.0
    user = contraction.certify(PullToMean(), **kw)
    assert user.rate == pytest.approx(it.rate, abs=1e-3)
    assert contraction.certify(LeaderFollower(), **kw).symmetry == "none"


# --- hunt and train --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gossip-ring", "local-sgd", "stale-easgd", "user"])
def test_hunt_finds_no_violation(name):
    from quorumsgd.hunt.custom import hunt_algorithm

    alg, n, quantity = ALGORITHMS[name]
    r = hunt_algorithm(alg, quantity, n_agents=n, sigma2=1.0, budget=2, sims=64, steps=800, seed=1, **CLASS)
    assert len(r.cases) == 2 and r.violations == []
    assert all(0 < c["tightness"] <= 1 for c in r.cases)


def _cli(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    from quorumsgd.cli import main

    try:
        main(argv)
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_hunt_cli_takes_a_user_class(capsys):
    import json

    code, out, err = _cli(
        [
            "hunt",
            "center",
            "--algorithm",
            "test_own_algorithm:make_user_algorithm",
            "--budget",
            "1",
            "--json",
            "--n-agents",
            "3",
        ],
        capsys,
    )
    assert code == 0, err
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload["certificate"]["symmetry"] == "permutation" and payload["violations"] == []
    code, out, err = _cli(["hunt", "center", "--algorithm", "no_such_module:X", "--budget", "1"], capsys)
    assert code == 2 and "--algorithm" in err and len(err.strip().splitlines()) == 1
    code, out, err = _cli(["hunt", "nonsense", "--algorithm", "test_own_algorithm:make_user_algorithm"], capsys)
    assert code == 2 and "quantity" in err


def test_train_with_each_algorithm():
    from quorumsgd.training.config import TrainConfig
    from quorumsgd.training.custom import train_algorithm

    cfg = TrainConfig(
        n_agents=4,
        epochs=1,
        widths=(4, 8, 8),
        batch_size=32,
        max_train=64,
        max_eval=32,
        image_size=8,
        on_divergence="stop",
    )
    for alg in (
        GossipIteration(lr=0.1, mixing=ring_mixing(4)),
        LocalSGD(lr=0.1, period=2),
        StaleEASGD(lr=0.1, coupling=0.5, n_agents=4),
        PullToMean(),
    ):
        out = train_algorithm(alg, cfg)
        assert out["status"] == "completed" and out["algorithm"] == type(alg).__name__
        losses = out["history"][-1]["agents"]["train_loss"]
        assert len(losses) == 4 and np.all(np.isfinite(losses))
    with pytest.raises(InvalidParameter, match="DiscreteAlgorithm"):
        train_algorithm(QSGD(coupling=1.0), cfg)  # type: ignore[arg-type]
