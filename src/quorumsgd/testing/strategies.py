r"""Hypothesis strategies for valid parameter sets and problems (public API for property-based tests).

Needs ``hypothesis`` (the ``[test]`` extra); the toolkit itself never imports this module.

Every generated problem satisfies the hypotheses of the theorem it is drawn for (strong convexity, known
:math:`Q` and :math:`\sigma^2`, synchronization conditions, Lemma 5.3's damping threshold) and is small
enough to simulate in a fraction of a second. Lemma 3.1's bound (22) is *attained* by isotropic quadratics
and approached by any objective as the coupling grows; an exactly tight bound cannot be confirmed by an upper
confidence bound at any sample size, so :func:`lemma31_slack_problems` draws the cases where (22) has
provable slack (true value at most 3/4 of the bound), and the tight regime is tested for the absence of a significant violation.

Example:
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=3, derandomize=True, deadline=None)
    ... @given(qsgd_problems())
    ... def check(problem):
    ...     assert problem.spec.n_agents >= 1 and problem.strong_convexity > 0
    >>> check()
"""

from __future__ import annotations

from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as err:  # a test-only dependency: say how to get it, not a bare ModuleNotFoundError
    raise ImportError(
        'quorumsgd.testing.strategies needs hypothesis, a test dependency: pip install "quorumsgd[test]"'
    ) from err

from quorumsgd.verify.problems import Problem, ProblemSpec

__all__ = [
    "bound_parameters",
    "easgd_problems",
    "lemma31_slack_problems",
    "momentum_problems",
    "problem_specs",
    "qsgd_problems",
]


def _round(x: float) -> float:
    return float(f"{x:.4g}")  # readable, reproducible parameters in reports


positive = st.floats(0.05, 5.0).map(_round)


@st.composite
def problem_specs(
    draw: st.DrawFn,
    objectives: tuple[str, ...] = ("quadratic", "logcosh"),
    noises: tuple[str, ...] = ("isotropic", "modulated"),
    max_agents: int = 16,
    max_coupling: float = 4.0,
    min_coupling: float = 0.0,
    damping: bool = False,
    coupling_below_gap: bool = False,
    min_spread: float = 1.5,
) -> ProblemSpec:
    """A :class:`ProblemSpec` satisfying the strong-convexity hypotheses (Thm 5.1--5.3, Lemma 3.1)."""
    objective = draw(st.sampled_from(objectives))
    noise = "isotropic" if objective == "quadratic" else draw(st.sampled_from(noises))
    dim = draw(st.integers(2 if objective == "quadratic" else 1, 4))
    lam = _round(draw(st.floats(0.2, 1.0)))
    spread = draw(st.floats(min_spread, max(4.0, min_spread + 1.0)))
    smoothness = _round(lam * spread) if objective == "quadratic" else None
    curvature = _round(draw(st.floats(0.3, 2.0))) if objective == "logcosh" else None
    big_l = smoothness if smoothness is not None else lam + (curvature or 0.0)
    n_agents = draw(st.integers(1, max_agents))
    coupling = _round(draw(st.floats(min_coupling, max_coupling)))
    if coupling_below_gap:
        # Lemma 3.1's bound uses the worst curvature; with L >= 3 lambda and k <= (L - lambda)/2 the other
        # eigen-directions keep a gap: the true spread is at most (1 + (k+lambda)/(k+L))/2 <= 3/4 of (22)
        # (two curvatures; more dimensions only lower it), so an upper confidence bound can confirm it.
        coupling = _round(min(coupling, (big_l - lam) / 2))
    lr = _round(draw(st.floats(0.02, 0.5)))
    gamma = None
    if damping:
        # Lemma 5.3: gamma > sqrt(L) - sqrt(lambda); Lemma 3.2 (k_v = 0): k gamma > m^2/4.
        threshold = big_l**0.5 - lam**0.5
        gamma = _round(threshold + draw(st.floats(0.3, 2.5)))
        m = _m_35(lam, big_l)
        coupling = _round(max(coupling, 1.2 * m * m / (4 * gamma) + 0.05))
    return ProblemSpec(
        objective=objective,
        dim=dim,
        strong_convexity=lam,
        smoothness=smoothness if smoothness is not None else lam + (curvature or 0.0),
        objective_seed=draw(st.integers(0, 1000)),
        noise=noise,
        sigma2=_round(draw(st.floats(0.2, 4.0))),
        n_agents=n_agents,
        coupling=coupling,
        lr=lr,
        batch_size=draw(st.sampled_from([1, 2, 4, 8])),
        damping=gamma,
        logcosh_curvature=curvature,
        modulation=_round(draw(st.floats(0.0, 0.8))) if noise == "modulated" else None,
    )


def qsgd_problems(**kw: Any) -> st.SearchStrategy[Problem]:
    """QSGD problems for Lemma 3.1, Thm 3.2, Thm 5.1 and the SGD bound."""
    return problem_specs(**kw).map(Problem.build)


def lemma31_slack_problems(**kw: Any) -> st.SearchStrategy[Problem]:
    """QSGD problems on which (22) has provable slack: quadratics with two or more distinct curvatures and
    ``coupling <= smoothness - strong_convexity``. (22) is an equality for isotropic quadratics and becomes
    tight for any objective as the coupling grows: there only "not significantly violated" can be tested."""
    kw.setdefault("objectives", ("quadratic",))
    kw.setdefault("min_spread", 3.0)
    return problem_specs(coupling_below_gap=True, **kw).map(Problem.build)


def easgd_problems(**kw: Any) -> st.SearchStrategy[Problem]:
    """EASGD problems for Thm 5.2 (moderate k p keeps the quorum filter simulable with a modest step)."""
    kw.setdefault("max_agents", 8)
    kw.setdefault("max_coupling", 1.5)
    kw.setdefault("min_coupling", 0.1)  # k = 0 leaves the quorum frozen: Lemma 5.2 needs k p lambda > 0
    return problem_specs(**kw).map(Problem.build)


def momentum_problems(**kw: Any) -> st.SearchStrategy[Problem]:
    """QSGD-with-momentum problems for Thm 5.3 (Lemma 5.3 and Lemma 3.2 hypotheses hold)."""
    return problem_specs(damping=True, **kw).map(Problem.build)


def _m_35(strong_convexity: float, smoothness: float) -> float:
    """(35)'s m = max(|1 - lambda|, |1 - L|), from :mod:`quorumsgd.paper`."""
    from quorumsgd import paper

    return paper.lambdified(paper.m_35())(strong_convexity=strong_convexity, smoothness=smoothness)


_RANGES: dict[str, st.SearchStrategy[Any]] = {
    "n_agents": st.integers(1, 256),
    "coupling": st.floats(0.0, 50.0),
    "lr": st.floats(1e-4, 1.0),
    "batch_size": st.integers(1, 1024),
    "sigma2": st.floats(1e-3, 100.0),
    "dim": st.integers(1, 10**6),
    "q": st.floats(0.0, 10.0),
    "strong_convexity": st.floats(1e-3, 10.0),
    "time": st.floats(0.1, 1e4),
    "curvature": st.floats(1e-2, 10.0),
    "chi": st.floats(1.0, 100.0),
    "disturbance": st.floats(0.0, 10.0),
    "rate": st.floats(1e-3, 10.0),
    "beta_min": st.floats(1e-3, 10.0),
    "noise_bound": st.floats(0.0, 10.0),
    "initial_gap2": st.floats(0.0, 100.0),
    "magnification": st.floats(0.0, 20.0),
}


@st.composite
def bound_parameters(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """Parameters for :func:`quorumsgd.bounds.evaluate` that satisfy the theorem's hypotheses."""
    from quorumsgd import bounds, paper

    theorem = bounds.theorem(name)
    out: dict[str, Any] = {}
    for param in theorem.parameters:
        if param in _RANGES:
            out[param] = draw(_RANGES[param])
    for option, values in bounds.registry.REGISTRY[name].choices.items():
        out[option] = draw(st.sampled_from(values))
    lam = out.get("strong_convexity", draw(st.floats(0.05, 5.0)))
    if "smoothness" in theorem.parameters:
        out["smoothness"] = lam * draw(st.floats(1.01, 20.0))  # L = lambda makes (53) singular at the optimum
    if "lambda_max" in theorem.parameters:
        out["lambda_max"] = draw(st.floats(-5.0, 5.0))
    if "coupling" in theorem.parameters and "lambda_max" in out and name != "lemma5.4":
        out["coupling"] = max(0.0, out["lambda_max"]) + draw(st.floats(0.01, 20.0))
    if name in ("lemma5.2", "thm5.2"):
        out["coupling"] = draw(st.floats(0.01, 20.0))
    if name == "lemma5.4":
        rate_at_zero = paper.lambdified(paper.rate_56())  # (56) with lambda_max = 0: the mean gain's infimum
        mean_inf = rate_at_zero(
            coupling=out["coupling"], magnification=out["magnification"], n_agents=out["n_agents"], lambda_max=0.0
        )
        out["lambda_max"] = mean_inf - draw(st.floats(0.01, 5.0))
    if "damping" in theorem.parameters:
        big_l = out["smoothness"]
        out["damping"] = big_l**0.5 - lam**0.5 + draw(st.floats(0.05, 5.0))
        m = _m_35(lam, big_l)
        out["coupling"] = 1.1 * m * m / (4 * out["damping"]) + draw(st.floats(0.01, 10.0))
    if name == "lemma3.2":
        big_l = out["smoothness"]
        out["damping"] = draw(st.floats(0.05, 10.0))
        m = _m_35(lam, big_l)
        out["coupling"] = 1.1 * m * m / (4 * out["damping"]) + draw(st.floats(0.01, 10.0))
    return out
