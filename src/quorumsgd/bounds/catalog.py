r"""Every bound, rate and condition of the paper, composed from the proofs' building blocks.

Nothing here is a typed closed form: each theorem's expression is built by calling the blocks of
:mod:`quorumsgd.bounds.blocks` on rates, metrics and conditions derived in
:mod:`quorumsgd.contraction.symbolic` from the algorithm definitions. Thm 5.1 *is*
``triangle(robustness_distance(1, taylor_disturbance(spread(Thm 2.1 ...)), rate), jensen(Cor 2.1 ...))``.

Where the derivation differs from the paper's printed constant, the theorem carries a ``spec_difference``
note. The one systematic difference: the synchronization bound (22) counts only ordered pairs of distinct
agents (the :math:`i=j` terms are zero), so it has :math:`p-1` where the paper's printed form has :math:`p`; the factor
:math:`(p-1)/p` carries into (31), (47), (51) and (54). With one agent the disturbance term then vanishes
and Thm 5.1 reduces exactly to the SGD bound.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy

from quorumsgd.algorithms import QSGD, easgd_iteration, qsgd_iteration
from quorumsgd.algorithms.linearize import affine_map
from quorumsgd.algorithms.ops import SIM_OPS, ZERO_MEAN_OPS, AgentOps
from quorumsgd.algorithms.sdqsgd import follower_gain, winner_gain
from quorumsgd.bounds import blocks
from quorumsgd.bounds.registry import REGISTRY
from quorumsgd.bounds.theorem import Theorem
from quorumsgd.contraction import symbolic
from quorumsgd.paper import (
    PAIRS_NOTE,
    C,
    a,
    a_mag,
    b,
    beta_min,
    big_l,
    chi,
    dbar,
    gamma,
    h,
    k,
    k_v,
    lam,
    lam_max,
    lr,
    n,
    p,
    q,
    rate,
    sigma2,
    t,
    v0,
)


def _at_least_one(expr: sympy.Expr, var: sympy.Symbol) -> sympy.Expr:
    """Simplify using var >= 1 (a number of agents): substitute var = 1 + s with s >= 0."""
    s = sympy.Symbol("_s", nonnegative=True)
    return sympy.simplify(sympy.simplify(expr.subs(var, 1 + s)).subs(s, var - 1))


# --- shared pieces of the proofs ---------------------------------------------------------------------------


def agent_noise_bound() -> sympy.Expr:
    r"""Per-agent noise bound of the SDE (2) in the Euclidean metric: :math:`\operatorname{tr}(\frac\eta b\mathbf B^{\mathsf T}\mathbf B)\le\eta\sigma^2/b`."""
    return lr * sigma2 / b


def synchronization_spread(
    rate: sympy.Expr, noise_weight: sympy.Expr = sympy.Integer(1), beta_min: sympy.Expr = sympy.Integer(1)
) -> sympy.Expr:
    r"""Lemma 3.1's chain: Thm 2.1 for each pair of agents (same virtual system, independent noises),
    summed over ordered pairs of distinct agents, through the pair-sum identity.

    The virtual system contracts at ``rate`` in a metric :math:`\mathbf M\succeq\beta_{\min}\mathbf I` whose
    block on the noisy coordinate is ``noise_weight`` (the paper: Euclidean, both 1). ``lr`` stands for the
    agents' mean learning rate: with per-agent rates :math:`C_i=\eta_i\sigma^2/b` the pair bound is
    :math:`(C_i+C_j)/(2\lambda\beta_{\min})` and :math:`\sum_{i\ne j}(C_i+C_j)=2(p-1)\sum_iC_i` (Sec. 3.4).
    """
    total_noise = p * noise_weight * agent_noise_bound()  # sum_i C_i, C_i = eta_i M_jj sigma^2 / b, mean eta = lr
    pair_sum = blocks.distinct_pair_noise_sum(total_noise, p) / (2 * rate * beta_min)  # sum_{i!=j} pair bounds
    return sympy.simplify(blocks.spread_from_pair_sum(pair_sum, p))


def disturbance_bound(
    rate: sympy.Expr, noise_weight: sympy.Expr = sympy.Integer(1), beta_min: sympy.Expr = sympy.Integer(1)
) -> sympy.Expr:
    r"""Thm 3.2 (31): the Taylor bound (30) applied to the synchronization spread at rate ``rate``."""
    return sympy.simplify(blocks.taylor_disturbance(synchronization_spread(rate, noise_weight, beta_min), q, n, p))


def sync_rate_strongly_convex() -> sympy.Expr:
    r"""Thm 3.1's rate with :math:`\lambda_{\max}\le-\lambda` (strong convexity, footnote 7): :math:`k+\lambda`."""
    return symbolic.derive("thm3.1").rate_bound.subs(lam_max, -lam)


def center_of_mass_noise(metric_entry: sympy.Expr = sympy.Integer(1)) -> sympy.Expr:
    r"""Noise bound of the center of mass (29), :math:`\frac{\eta}{bp}\operatorname{tr}(\tilde{\mathbf B}^{\mathsf T}M\tilde{\mathbf B})`.

    ``metric_entry`` is the metric's block on the noisy coordinate (1 in the Euclidean metric).
    """
    return lr * metric_entry * sigma2 / (b * p)


def _metric_chi_beta(system: str) -> tuple[sympy.Expr, sympy.Expr, sympy.Matrix]:
    """Condition number of Theta and the smallest eigenvalue of M, for diagonal paper metrics."""
    theta = symbolic.paper_theta(system)
    metric = (theta.T * theta).applyfunc(sympy.simplify)
    diagonal = list(metric.diagonal())
    chi = sympy.sqrt(_at_least_one(sympy.Max(*diagonal) / sympy.Min(*diagonal), p))
    beta_min = _at_least_one(sympy.Min(*metric.diagonal()), p)
    return chi, beta_min, metric


# --- Section 2: contraction tools ----------------------------------------------------------------------------


@cache
def lemma2_1() -> Theorem:
    return Theorem.of(
        REGISTRY["lemma2.1"],
        terms={"distance": blocks.robustness_distance(chi, dbar, rate)},
        transient_rates={"contraction": rate},
        derivation=("(11) dR/dt + lambda R <= |Theta d|", "(13) convolution", "|x - y| <= |Theta^-1| R"),
    )


def _stochastic_contraction(name: str, noisy_copies: int) -> Theorem:
    other = C if noisy_copies == 2 else sympy.Integer(0)
    full = blocks.mean_square_gap_transient(C, other, rate, beta_min, v0, t)
    steady = blocks.mean_square_gap(C, other, rate, beta_min)
    return Theorem.of(
        REGISTRY[name],
        terms={"steady_state": steady, "transient": sympy.simplify(full - steady)},
        transient_rates={"mean_square": 2 * rate},
        derivation=(f"dV <= (-2 lambda V + {noisy_copies} C) dt for V = |a - b|_M^2", "Gronwall", "M >= beta_min I"),
    )


@cache
def thm2_1() -> Theorem:
    return _stochastic_contraction("thm2.1", noisy_copies=2)


@cache
def cor2_1() -> Theorem:
    return _stochastic_contraction("cor2.1", noisy_copies=1)


# --- Section 3: synchronization and noise -------------------------------------------------------------------


@cache
def thm3_1() -> Theorem:
    rate = symbolic.derive("thm3.1").rate_bound
    return Theorem.of(
        REGISTRY["thm3.1"],
        terms={"rate": rate},
        relations=(symbolic.derive("thm3.1").condition,),
        derivation=("virtual system (20) Jacobian (21) = -Hessian - k I (computed from the algorithm)",),
    )


@cache
def lemma3_1() -> Theorem:
    rate = symbolic.derive("thm3.1").rate_bound
    return Theorem.of(
        REGISTRY["lemma3.1"],
        terms={"spread": synchronization_spread(rate)},
        transient_rates={"synchronization": 2 * rate},
        relations=(symbolic.derive("thm3.1").condition,),
        derivation=(
            "(23) every agent solves one virtual system, contracting at k - lambda_max (Thm 3.1)",
            "(24) Thm 2.1 per pair with C = eta sigma^2 / b",
            "sum over ordered pairs of distinct agents; pair-sum identity",
        ),
        spec_difference=PAIRS_NOTE + " With per-agent rates (Sec. 3.4) pass lr = their mean.",
    )


@cache
def thm3_2() -> Theorem:
    rate = symbolic.derive("thm3.1").rate_bound
    return Theorem.of(
        REGISTRY["thm3.2"],
        terms={"disturbance": disturbance_bound(rate)},
        transient_rates={"synchronization": 2 * rate},
        relations=(symbolic.derive("thm3.1").condition,),
        derivation=("(30) second-order Taylor expansion around the mean", "(22) for the spread"),
        spec_difference=PAIRS_NOTE,
    )


@cache
def lemma3_2() -> Theorem:
    deriv = symbolic.derive("lemma3.2")
    return Theorem.of(
        REGISTRY["lemma3.2"],
        terms={"rate": deriv.rate_bound},
        relations=(deriv.condition, big_l >= lam),
        derivation=("Jacobian of (36)-(37) from the algorithm", "symmetric part, Slotine's block bound"),
    )


# --- Section 5: convergence --------------------------------------------------------------------------------


@cache
def sgd() -> Theorem:
    flow_rate = symbolic.derive("gradient_flow").rate_bound
    noise = blocks.jensen(blocks.mean_square_gap(agent_noise_bound(), 0, flow_rate))
    return Theorem.of(
        REGISTRY["sgd"],
        terms={"noise": noise},
        transient_rates={"convergence": flow_rate},
        derivation=("Cor 2.1: SGD SDE (2) vs the gradient flow, C = eta sigma^2/b", "Jensen"),
    )


@cache
def thm5_1() -> Theorem:
    flow_rate = symbolic.derive("gradient_flow").rate_bound
    sync = sync_rate_strongly_convex()
    disturbance = blocks.robustness_distance(sympy.Integer(1), disturbance_bound(sync), flow_rate)
    noise = blocks.jensen(blocks.mean_square_gap(center_of_mass_noise(), 0, flow_rate))
    return Theorem.of(
        REGISTRY["thm5.1"],
        terms={"disturbance": sympy.simplify(disturbance), "noise": sympy.simplify(noise)},
        transient_rates={"convergence": flow_rate, "synchronization": sync},
        relations=(sync > 0,),
        derivation=(
            "hierarchy y (gradient flow, contracts at lambda) -> z (flow - eps) -> x_bar (z + noise (29))",
            "|y - z|: Lemma 2.1 with chi = 1 and the eps bound (31) at rate k + lambda",
            "|z - x_bar|: Cor 2.1 with C = eta sigma^2/(b p), then Jensen",
            "triangle inequality",
        ),
        spec_difference=PAIRS_NOTE,
    )


@cache
def lemma5_2() -> Theorem:
    deriv = symbolic.derive("lemma5.2")
    return Theorem.of(
        REGISTRY["lemma5.2"],
        terms={"rate": deriv.rate_bound},
        relations=(deriv.condition,),
        derivation=(
            "Jacobian of the synchronized EASGD system from the algorithm",
            "Theta = diag(sqrt p, 1) makes it symmetric",
            "Slotine's block bound at h = lambda",
        ),
    )


METRIC = {name: sympy.Symbol(name, positive=True) for name in (
    "metric_chi", "metric_beta_min", "metric_rate", "metric_noise_weight",
    "sync_rate", "sync_noise_weight", "sync_beta_min",
)}
"""Symbols of a generic contraction metric: the convergence metric (chi, beta_min, rate, M on the noisy
coordinate) and the synchronization metric (rate, M on the noisy coordinate, beta_min)."""


def convergence_terms(sync_rate: sympy.Expr, sync_weight: sympy.Expr, sync_beta: sympy.Expr, chi: sympy.Expr,
                      beta_min: sympy.Expr, rate: sympy.Expr, noise_weight: sympy.Expr) -> dict[str, sympy.Expr]:
    r"""Thm 5.1--5.3's common composition for any contraction metrics.

    * disturbance: Lemma 2.1 with :math:`\chi` and the :math:`\boldsymbol\epsilon` bound (31) at the
      synchronization rate;
    * noise: Cor 2.1 for the center of mass (29) with :math:`C=\frac{\eta}{bp}M_{jj}\sigma^2`, then Jensen.
    """
    disturbance = blocks.robustness_distance(chi, disturbance_bound(sync_rate, sync_weight, sync_beta), rate)
    noise = blocks.jensen(blocks.mean_square_gap(center_of_mass_noise(noise_weight), 0, rate, beta_min))
    return {"disturbance": disturbance, "noise": noise}


def generic_convergence_terms() -> dict[str, sympy.Expr]:
    """:func:`convergence_terms` with every metric quantity a symbol of :data:`METRIC`."""
    m = METRIC
    return convergence_terms(m["sync_rate"], m["sync_noise_weight"], m["sync_beta_min"], m["metric_chi"],
                             m["metric_beta_min"], m["metric_rate"], m["metric_noise_weight"])


@cache
def thm5_2() -> Theorem:
    lam_e = symbolic.derive("lemma5.2").rate_bound
    sync = sync_rate_strongly_convex()
    chi, beta_min, metric = _metric_chi_beta("lemma5.2")
    terms = convergence_terms(sync, sympy.Integer(1), sympy.Integer(1), chi, beta_min, lam_e, metric[0, 0])
    return Theorem.of(
        REGISTRY["thm5.2"],
        terms={k: sympy.simplify(v) for k, v in terms.items()},
        transient_rates={"convergence": lam_e, "synchronization": sync},
        relations=tuple(h.relation for h in lemma5_2().hypotheses),
        derivation=(
            "(x_bar, x_tilde) contracts at lambda_E in M = diag(p, 1) (Lemma 5.2), chi = sqrt p, beta_min = 1",
            "Lemma 2.1 with the eps bound at rate k + lambda (agents synchronize whatever the quorum, App. A)",
            "Cor 2.1 with C = p sigma^2 (the noise enters x_bar, weighted by M_11 = p), then Jensen",
            "triangle inequality",
        ),
        spec_difference=PAIRS_NOTE,
    )


def _lemma53_prepare_rate_optimal(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if np.all(np.isnan(values["metric_a"])):
        values["metric_a"] = np.asarray(
            symbolic.lemma53_metric_a(values["strong_convexity"], values["smoothness"], values["damping"])
        )
    return values


def _lemma53_relations() -> tuple[sympy.Basic, ...]:
    """The relations of Lemma 5.3's hypotheses, in the registry's order."""
    deriv = symbolic.derive("lemma5.3")
    c2 = symbolic.lemma53_c_squared()
    sync = symbolic.derive("lemma3.2").condition.subs(k_v, 0)
    return (
        big_l >= lam,
        gamma > sympy.sqrt(big_l) - sympy.sqrt(lam),
        sympy.And(a > 0, a < gamma),
        c2 > 0,
        deriv.condition,
        sync,
    )


@cache
def lemma5_3() -> Theorem:
    deriv = symbolic.derive("lemma5.3")
    constants = symbolic.lemma53_metric_constants()
    return Theorem.of(
        REGISTRY["lemma5.3"],
        terms={"rate": deriv.rate_bound},
        transient_rates={},
        relations=_lemma53_relations(),
        prepare=_lemma53_prepare_rate_optimal,
        derivation=(
            "Jacobian of the synchronized momentum system from the algorithm",
            "Theta = [[c, 0], [a, 1]]; symmetric part [[-a, S], [S, -(gamma - a)]]",
            "c^2 chosen (solved) to equalize S at h = lambda and h = L",
            "Slotine's block bound; a defaults to the rate-maximizing admissible value (solved d rate/du = 0)",
        ),
        spec_difference="metric_a defaults to the rate-maximizing admissible a (closed form "
        f"u = a(gamma - a) = {symbolic.lemma53_rate_optimal_u()}); metric constants: beta_min = "
        f"{constants['beta_min']}",
    )


def _thm53_prepare_bound_optimal(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Default metric_a: the admissible a that minimizes (54), by a vectorized grid + golden refinement."""
    if not np.all(np.isnan(values["metric_a"])):
        return values
    theorem = thm5_3()
    names = theorem.all_parameters
    shape = np.broadcast_shapes(*(np.shape(values[nm]) for nm in names if nm != "metric_a"))
    gamma_v = np.broadcast_to(values["damping"], shape)
    grid = np.linspace(0.0, 1.0, 66)[1:-1]  # fractions of the damping, open interval (0, gamma)

    def bound_at(fraction: np.ndarray) -> np.ndarray:
        cols = [
            np.broadcast_to(values[nm], shape)[..., None] if nm != "metric_a" else gamma_v[..., None] * fraction
            for nm in names
        ]
        with np.errstate(all="ignore"):
            out = theorem._compiled(*np.broadcast_arrays(*cols))
        n_terms, n_rates = len(theorem.terms), len(theorem.transient_rates)
        ok = np.logical_and.reduce([np.asarray(o, dtype=bool) for o in out[n_terms + n_rates :]])
        total = np.asarray(sum(out[:n_terms]), dtype=float)
        return np.where(ok & np.isfinite(total), total, np.inf)

    values_grid = bound_at(grid)
    best = np.argmin(values_grid, axis=-1)
    lo = grid[np.maximum(best - 1, 0)]
    hi = grid[np.minimum(best + 1, grid.size - 1)]
    ratio = (np.sqrt(5.0) - 1) / 2
    for _ in range(40):  # golden-section search inside the bracketing grid cell
        x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        f1, f2 = bound_at(x1[..., None])[..., 0], bound_at(x2[..., None])[..., 0]
        hi, lo = np.where(f1 <= f2, x2, hi), np.where(f1 <= f2, lo, x1)
    fraction = (lo + hi) / 2
    fallback = grid[best]
    better = bound_at(fraction[..., None])[..., 0] <= np.take_along_axis(values_grid, best[..., None], -1)[..., 0]
    chosen = gamma_v * np.where(better, fraction, fallback)
    # Where no a satisfies every hypothesis, use the rate-optimal a so that the hypothesis check reports
    # the hypothesis that actually fails (e.g. the synchronization condition, which does not involve a).
    feasible = np.isfinite(np.min(values_grid, axis=-1))
    rate_optimal = symbolic.lemma53_metric_a(values["strong_convexity"], values["smoothness"], values["damping"])
    values["metric_a"] = np.where(feasible, chosen, np.broadcast_to(rate_optimal, shape))
    return values


@cache
def thm5_3() -> Theorem:
    lam_m = symbolic.derive("lemma5.3").rate_bound
    lam_s = symbolic.derive("lemma3.2").rate_bound.subs(k_v, 0)
    constants = symbolic.lemma53_metric_constants()
    metric = symbolic.derive("lemma5.3").metric
    m_vv = metric[1, 1]  # the noise enters the velocity equation
    terms = convergence_terms(lam_s, sympy.Integer(1), sympy.Integer(1), constants["chi"], constants["beta_min"],
                              lam_m, m_vv)
    return Theorem.of(
        REGISTRY["thm5.3"],
        terms=terms,
        transient_rates={"convergence": lam_m, "synchronization": lam_s},
        relations=_lemma53_relations(),
        prepare=_thm53_prepare_bound_optimal,
        derivation=(
            "(x_bar, v_bar) contracts at lambda_m in the metric (53) (Lemma 5.3)",
            "eps enters the velocity equation; its bound (31) at the synchronization rate lambda_s (35)",
            "Lemma 2.1 with chi(Theta) of (53)",
            "Cor 2.1 with C = sigma^2 (M_vv = 1) and beta_min of (53), then Jensen; triangle inequality",
        ),
        spec_difference=PAIRS_NOTE + " metric_a defaults to the admissible a that minimizes the bound "
        "(vectorized search), not the proof's existence choice near the admissibility boundary.",
    )


@cache
def lemma5_4() -> Theorem:
    # Mean gain of (60)-(61) as a function of decay = exp(-t/tau) in (0, 1]; affine, so its infimum over
    # t >= 0 is at decay -> 0 or decay = 1.
    decay = sympy.Symbol("decay", positive=True)
    mean_gain = (winner_gain(k, a_mag, decay) + (p - 1) * follower_gain(k, decay)) / p
    inf_gain = sympy.Min(sympy.simplify(mean_gain.subs(decay, 0)), sympy.simplify(mean_gain.subs(decay, 1)))
    rate = inf_gain - lam_max
    return Theorem.of(
        REGISTRY["lemma5.4"],
        terms={"rate": rate},
        relations=(rate > 0,),
        derivation=(
            "weighted quorum x_w and mean gain k_bar (57)",
            "virtual system contracts at k_bar - lambda_max",
            "mean of the gains (60)-(61) from the algorithm's gain functions; infimum over t",
        ),
    )


def _mean_drift_is_coupling_free() -> sympy.Expr:
    """The center of mass of QSGD drifts as -h x_bar: computed from the QSGD definition (3 agents)."""
    agents = np.array([[sympy.Symbol(f"x{i}", real=True)] for i in range(3)], dtype=object)
    drift = QSGD(coupling=k).drift({"x": agents}, lambda y: h * y, AgentOps(axis=0))["x"]
    mean_drift = sympy.simplify(sum(drift.ravel()) / 3)
    mean = sum(agents.ravel()) / 3
    slope = sympy.simplify(mean_drift / mean)
    if slope.has(k):
        raise AssertionError("QSGD coupling does not cancel in the center-of-mass drift")
    return slope


@cache
def _lemma55_expressions() -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    r"""(slope, finite-time, asymptotic) E|x_hat(t)|^2 from the OU center of mass (58) and the Itô isometry."""
    slope = _mean_drift_is_coupling_free()  # = -curvature, independent of the coupling
    u = sympy.Symbol("u", positive=True)
    # Per-coordinate noise of the mean: (eta sigma^2 / b) / n per agent, divided by p (isotropic case).
    per_coordinate = lr * sigma2 / (b * n * p)
    kernel = (1 - sympy.exp(slope * (t - u))) / (-slope)  # A^{-1}(I - e^{-A(t-u)})
    integrated = sympy.integrate(kernel**2, (u, 0, t))
    finite = sympy.simplify(n * per_coordinate * integrated / t**2)
    asymptotic = sympy.simplify(sympy.limit(finite * t, t, sympy.oo) / t)
    return slope, finite, asymptotic


def lemma5_5_finite_time() -> sympy.Expr:
    """Exact E|x_hat(t)|^2 when the center of mass starts at the minimizer (no initial-condition term)."""
    return _lemma55_expressions()[1]


@cache
def lemma5_5() -> Theorem:
    slope, finite, asymptotic = _lemma55_expressions()
    return Theorem.of(
        REGISTRY["lemma5.5"],
        terms={"asymptotic": asymptotic},
        transient_rates={"center_of_mass": -slope},
        derivation=(
            "center-of-mass drift from the QSGD definition: the coupling cancels",
            "OU solution (58); integral of x_bar; Ito isometry",
            "keep the term linear in t",
        ),
        spec_difference="Isotropic case A = h I, Sigma = (eta sigma^2/(b n)) I (Sec. 5.5 convention: Sigma "
        "includes eta/b); the value is E|x_hat(t)|^2 to leading order in 1/t. Exact finite-time value for a "
        f"start at x*: {finite}",
    )


# --- Discrete-time stability (the paper's SI, re-derived) ---------------------------------------------------------------------


@cache
def stability_matrices(algorithm: str) -> dict[str, sympy.Matrix]:
    """Linear maps of the discrete iteration on f = h/2 x^2, per mode, computed from the algorithm.

    Mean mode: all agents equal (one agent is the mean). Difference modes: zero-mean perturbations, whose
    quorum contribution vanishes (the quorum is not moved by them).
    """
    if algorithm == "qsgd":
        it = qsgd_iteration(lr=lr, coupling=k)
        fields = ("x",)
    elif algorithm == "easgd":
        it = easgd_iteration(lr=lr, coupling=k, n_agents=p, momentum=0)
        fields = ("x", "quorum")
    else:
        raise ValueError(algorithm)
    out = {}
    for mode, ops in (("mean", SIM_OPS), ("difference", ZERO_MEAN_OPS)):
        one_agent = it.init(np.zeros((1, 1, 1), dtype=object), ops)
        step = affine_map(lambda s, ops=ops: it.update(s, lambda y: h * y, ops), one_agent, symbolic=True,
                          where="stability")
        out[mode] = sympy.Matrix(step.block(fields if mode == "mean" else ("x",))).applyfunc(sympy.expand)
    return out


def jury_conditions(matrix: sympy.Matrix) -> list[sympy.Basic]:
    """Schur stability of a 1x1 or 2x2 map: |z| < 1, or Jury's three conditions on z^2 + a1 z + a0."""
    z = sympy.Symbol("z")
    poly = sympy.Poly(matrix.charpoly(z).as_expr(), z)
    coeffs = poly.all_coeffs()
    if len(coeffs) == 2:
        root = -coeffs[1] / coeffs[0]
        return [root < 1, root > -1]
    _, a1, a0 = coeffs
    return [1 + a1 + a0 > 0, 1 - a1 + a0 > 0, a0 < 1, a0 > -1]

