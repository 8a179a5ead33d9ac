"""SDP certificates over S(lambda, L): exact where the worst case is known, above every member we can compute,
reduced == full, verified, and one-line errors.

The exact values come from the Lyapunov oracles of :mod:`quorumsgd.simulate` (linear systems on quadratics),
never from a formula typed here, except the two closed forms the issue names (N = 1).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from quorumsgd import bounds
from quorumsgd.algorithms import QSGD
from quorumsgd.bounds.sdp import SDPInfeasible, certify_point
from quorumsgd.bounds.sdp.certificate import reduced_blocks
from quorumsgd.bounds.sdp.system import mode_system
from quorumsgd.bounds.sdp.theorems import THEOREMS, full_lmi_check
from quorumsgd.errors import HypothesisViolation, InvalidParameter
from quorumsgd.objectives import GaussianNoise, LogCosh, Quadratic
from quorumsgd.simulate import linearize, linearize_iteration, run_ensemble
from quorumsgd.simulate.oracle import GaussianLaw

LAM, L, LR, B, S2 = 0.5, 2.0, 0.1, 32.0, 4.0
BASE = dict(lr=LR, batch_size=B, sigma2=S2, strong_convexity=LAM, smoothness=L)
REL = 1e-5  # the SDP's margin and the solver's accuracy; values are verified, this is only for equalities


def _params(name: str, discrete: bool, **over: float) -> dict[str, float]:
    p = dict(BASE, n_agents=4, coupling=1.0, damping=2.0, momentum=0.5)
    p.update(over)
    th = THEOREMS[name]
    return {k: p[k] for k in (th.discrete_parameters if discrete else th.parameters)}


def _exact(name: str, discrete: bool, params: dict[str, float], objective: Quadratic, noise: GaussianNoise) -> float:
    """The exact stationary second moment of the certified quantity on a quadratic (oracle)."""
    th = THEOREMS[name]
    p = int(params.get("n_agents", 1))
    if discrete:
        amap, layout = linearize_iteration(th.discrete(params), objective, p, noise, params["batch_size"])
        law = GaussianLaw(*amap.stationary(), layout)
    else:
        law = linearize(th.continuous(params), objective, p, noise, params["lr"], params["batch_size"]).stationary()
    if th.target == ("spread",):
        return law.expected_spread()
    total = law.expected_center_error_sq(np.zeros(objective.dim))
    for name_ in th.target[1:]:
        field = {"quorum": "quorum", "center_velocity": "v"}[name_]
        mean, cov = law.marginal(field)
        if field == "v":  # velocity of the center: average over the agents
            sel = np.kron(np.full((1, p), 1 / p), np.eye(objective.dim))
            mean, cov = sel @ mean, sel @ cov @ sel.T
        total += float(np.trace(cov) + mean @ mean)
    return total


# --- exact where the worst case is known -------------------------------------------------------------------


def test_one_agent_is_sgds_exact_worst_case() -> None:
    r = bounds.evaluate("sgd", method="sdp", **BASE)
    assert r.terms["second_moment"] == pytest.approx(LR * S2 / (2 * B * LAM), rel=REL)
    assert r.value == pytest.approx(bounds.sgd(lr=LR, batch_size=B, sigma2=S2, strong_convexity=LAM).value, rel=REL)
    one = bounds.evaluate("thm5.1", method="sdp", n_agents=1, coupling=3.0, **BASE)
    assert one.value == pytest.approx(r.value, rel=REL)
    assert r.method == "sdp" and r.verified and r.status == "optimal"


@pytest.mark.parametrize("lr", [0.1, 0.45, 0.9])
def test_one_agent_discrete_is_the_worst_quadratic(lr: float) -> None:
    """x+ = x - lr (h x - zeta): stationary variance lr sigma2 / (b h (2 - lr h)), maximized over h in [lam, L]."""
    h = np.linspace(LAM, L, 2001)
    worst = np.max(lr * S2 / (B * h * (2 - lr * h)))
    r = bounds.evaluate("sgd", method="sdp", discrete=True, **{**BASE, "lr": lr})
    assert r.terms["second_moment"] == pytest.approx(worst, rel=1e-4)


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("name", ["thm5.1", "thm5.2", "thm5.3", "lemma3.1"])
def test_single_quadratic_class_equals_the_lyapunov_oracle(name: str, discrete: bool) -> None:
    """lambda = L: S(lambda, L) is the one quadratic L/2 |x|^2, so the certificate is its exact value."""
    params = _params(name, discrete, strong_convexity=1.5, smoothness=1.5)
    cert = certify_point(name, params, discrete)
    exact = _exact(name, discrete, params, Quadratic.isotropic(2, 1.5), GaussianNoise.isotropic(2, S2))
    assert cert.second_moment == pytest.approx(exact, rel=REL)


def test_spread_certificate_is_the_corrected_lemma_3_1() -> None:
    """Over S(lambda, L) the worst spread is (p-1)/p times (22) with lambda_max = -lambda: (22) is tight."""
    k = np.array([0.0, 1.0, 10.0])
    r = bounds.evaluate("lemma3.1", method="sdp", n_agents=4, coupling=k, **BASE)
    paper = bounds.lemma3_1(n_agents=4, lr=LR, batch_size=B, sigma2=S2, coupling=k, lambda_max=-LAM).value
    np.testing.assert_allclose(r.value, paper, rtol=REL)


# --- above every member of the class -----------------------------------------------------------------------


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("name", ["thm5.1", "thm5.2", "thm5.3", "lemma3.1"])
def test_certificate_is_above_random_quadratics_of_the_class(name: str, discrete: bool) -> None:
    params = _params(name, discrete, n_agents=3)
    cert = certify_point(name, params, discrete)
    rng = np.random.default_rng(11)
    for seed in range(3):
        f = Quadratic.random(3, LAM, L, seed=seed)
        root = rng.standard_normal((3, 3))
        cov = root @ root.T
        noise = GaussianNoise(3, cov=cov * S2 / np.trace(cov))
        exact = _exact(name, discrete, params, f, noise)
        assert exact <= cert.second_moment * (1 + 1e-9), (seed, exact, cert.second_moment)
    # the worst quadratic is h = lam (for these parameters): the certificate is not far above it
    lo = _exact(name, discrete, params, Quadratic.isotropic(1, LAM), GaussianNoise.isotropic(1, S2))
    assert lo <= cert.second_moment * (1 + 1e-9)


def test_certificate_is_above_a_monte_carlo_lower_bound_on_log_cosh() -> None:
    """The discrete iteration (41) is simulated exactly (no discretization bias): its LCB must stay below."""
    f = LogCosh(dim=1, strong_convexity=LAM, curvature=L - LAM, shift=1.0)
    lr, batch, sigma2, p = 0.2, 1.0, 8.0, 3
    params = dict(n_agents=p, lr=lr, batch_size=batch, sigma2=sigma2, strong_convexity=LAM, smoothness=L,
                  coupling=1.0)
    cert = bounds.evaluate("thm5.1", method="sdp", discrete=True, **params)
    run = run_ensemble(THEOREMS["thm5.1"].discrete(params), f, GaussianNoise.isotropic(1, sigma2), n_agents=p,
                       sims=400, steps=700, burn_in=200, batch_size=batch, stats=("center_error_sq",), seed=3,
                       time_batches=4)
    stat = run.stationary["center_error_sq"]
    assert 0 < stat.lcb <= cert.terms["second_moment"], (stat, cert.terms)
    assert stat.mean > 0.2 * cert.terms["second_moment"]  # the comparison is not vacuous


# --- structure -----------------------------------------------------------------------------------------------


def test_certificate_falls_with_the_coupling() -> None:
    k = np.array([0.0, 0.05, 0.5, 5.0, 50.0])
    for name in ("thm5.1", "thm5.3"):
        extra = {"damping": 2.0} if name == "thm5.3" else {}
        v = bounds.evaluate(name, method="sdp", n_agents=8, coupling=k, **extra, **BASE).value
        assert np.all(np.diff(v) <= 1e-7 * v[0]), (name, v)
        assert v[-1] < 0.9 * v[0]


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("name", ["sgd", "thm5.1", "thm5.2", "thm5.3", "lemma3.1"])
def test_reduced_equals_full_sdp(name: str, discrete: bool) -> None:
    for n_agents in ((1,) if name == "sgd" else (2, 3, 4)):
        params = _params(name, discrete, n_agents=n_agents)
        reduced = certify_point(name, params, discrete)
        full = certify_point(name, params, discrete, full=True)
        assert reduced.second_moment == pytest.approx(full.second_moment, rel=REL), (n_agents, reduced, full)
        assert full_lmi_check(name, params, reduced, discrete) <= 0.0  # the reduced P is valid on the full LMI


def test_mode_systems_come_from_the_algorithm_definitions() -> None:
    """QSGD (6): the consensus mode is -u (coupling cancels), the disagreement mode -k x - u."""
    cons = mode_system(QSGD(coupling=2.5), 5, "consensus")
    dis = mode_system(QSGD(coupling=2.5), 5, "disagreement")
    np.testing.assert_allclose([cons.a[0, 0], cons.b[0, 0], dis.a[0, 0], dis.b[0, 0]], [0.0, -1.0, -2.5, -1.0],
                               atol=1e-14)
    blocks, _ = reduced_blocks(QSGD(coupling=2.5), 5, ("center",), LAM, L, 1.0)
    assert [b.shape for b in blocks] == [(2, 1), (2, 1)]  # size independent of the number of agents


def test_reduced_size_does_not_depend_on_the_number_of_agents() -> None:
    r = bounds.evaluate("thm5.2", method="sdp", n_agents=np.array([2, 64, 1024]), coupling=1.0, **BASE)
    assert np.all(np.isfinite(r.value)) and np.all(np.diff(r.value) < 0)


def test_json_keys(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("bound", "thm5.3", "--method", "sdp", "--smoothness", "2", "--n-agents", "4",
                             "--coupling", "1", "--lr", "0.1", "--batch-size", "32", "--sigma2", "4",
                             "--strong-convexity", "0.5", "--damping", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["method"] == "sdp" and data["verified"] is True and data["status"] == "optimal"
    assert data["value"] == pytest.approx(np.sqrt(data["second_moment"]), rel=1e-12)
    code, out, err = run_cli("bound", "thm5.1", "--method", "sdp", "--discrete", "--smoothness", "2",
                             "--n-agents", "4", "--coupling", "1", "--lr", "0.1", "--batch-size", "32",
                             "--sigma2", "4", "--strong-convexity", "0.5", "--dim", "10", "--q", "1.0", "--json")
    assert code == 0, err
    assert json.loads(out)["equation"].startswith("(41)")


# --- bad input -----------------------------------------------------------------------------------------------


def test_bad_input_is_a_one_line_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameter, match="smoothness"):
        bounds.evaluate("thm5.1", method="sdp", n_agents=2, coupling=1.0, lr=LR, batch_size=B, sigma2=S2,
                        strong_convexity=LAM)
    with pytest.raises(HypothesisViolation, match="strong_convexity <= smoothness"):
        bounds.evaluate("sgd", method="sdp", **{**BASE, "smoothness": 0.4})
    with pytest.raises(SDPInfeasible, match="no quadratic certificate"):
        bounds.evaluate("sgd", method="sdp", discrete=True, **{**BASE, "lr": 1.2})  # lr L > 2
    with pytest.raises(InvalidParameter, match="damping"):
        bounds.evaluate("thm5.3", method="sdp", discrete=True, n_agents=2, coupling=1.0, damping=1.0, **BASE)
    with pytest.raises(InvalidParameter, match="method"):
        bounds.evaluate("thm5.1", method="magic")
    base = ["--lr", "0.1", "--batch-size", "32", "--sigma2", "4", "--strong-convexity", "0.5"]
    for argv in (["bound", "sgd", "--method", "sdp", *base],
                 ["bound", "sgd", "--method", "sdp", "--smoothness", "0.1", *base],
                 ["bound", "sgd", "--method", "sdp", "--discrete", "--smoothness", "2", *base[2:], "--lr", "5"],
                 ["bound", "thm3.2", "--method", "sdp", "--smoothness", "2"],
                 ["bound", "sgd", "--discrete", *base]):
        code, _, err = run_cli(*argv)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (argv, err)


def test_solver_failure_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A failing conic solver is never reported as a bound: a one-line SDPSolverError naming the attempts, an
    internal failure (not a ValueError: exit code 3, not the bad-input code 2)."""
    from quorumsgd.bounds.sdp import SDPSolverError, problem

    monkeypatch.setattr(problem._SDP, "solve", lambda self, *a, **k: ("solver_error", [], None))
    with pytest.raises(SDPSolverError, match=r"no verified certificate .*CLARABEL:solver_error.*SCS:solver_error"):
        bounds.evaluate("sgd", method="sdp", **BASE)
    code, _, err = run_cli("bound", "sgd", "--method", "sdp", "--smoothness", "2", "--lr", "0.1", "--batch-size", "32",
                           "--sigma2", "4", "--strong-convexity", "0.5")
    assert code == 3 and err.startswith("error: sgd: no verified certificate") and err.count("\n") == 1
    assert not issubclass(SDPSolverError, ValueError)


@pytest.mark.slow
def test_sandwich_over_the_issue_grid() -> None:
    """The issue's grid: the certificate is above the worst isotropic quadratic everywhere, below (51) and (54)
    wherever they apply, and the discrete certificate exists wherever the step is stable on the quadratics."""
    from quorumsgd.bounds.sdp.table import sandwich

    rows = sandwich()
    for r in rows:
        if not np.isfinite(r.certified):
            assert r.name == "thm5.2" and r.coupling == 0  # the frozen quorum
            continue
        assert r.quadratic <= r.certified * (1 + 1e-6), r
        if r.name != "thm5.1" and np.isfinite(r.paper[1]):
            assert r.certified <= r.paper[1], r


@pytest.mark.slow
@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("name", ["thm5.1", "thm5.2", "thm5.3", "lemma3.1"])
def test_reduced_equals_full_sdp_at_eight_agents(name: str, discrete: bool) -> None:
    params = _params(name, discrete, n_agents=8, coupling=0.3)
    reduced, full = certify_point(name, params, discrete), certify_point(name, params, discrete, full=True)
    assert reduced.second_moment == pytest.approx(full.second_moment, rel=REL)
