r"""A hunt *case*: one objective of a family, one noise model and the theorem's parameters, as a flat JSON dict.

A case is evaluated by :func:`evaluate_case` (on any worker: it takes and returns plain data) with one of the
checks of :mod:`quorumsgd.verify.checks`, so a hunt measures exactly what ``quorumsgd verify`` measures:
the stationary statistic past the theorem's transients, its one-sided confidence bounds, and the bound.

Families (``family``): ``softplus`` and ``switch`` (:class:`~quorumsgd.objectives.RotatedPieces`), ``logcosh``
(:class:`~quorumsgd.objectives.LogCosh`), ``quadratic`` (eigenvalues :math:`\lambda` and :math:`\lambda+c` along
rotated directions). Noise (``noise``): ``isotropic`` Gaussian, or :class:`~quorumsgd.objectives.ShapedNoise`
``anisotropic``, ``modulated`` (state dependent, strongest at :math:`\mathbf x^*`) or ``uniform`` (non-Gaussian).

Example:
    >>> case = {**DEFAULTS, "family": "softplus", "dim": 2, "curvature": 2.0, "width": 0.3, "shift": 1.3,
    ...         "n_agents": 4, "coupling": 1.0}
    >>> p = build_problem("thm5.1", case)
    >>> p.strong_convexity, p.smoothness, round(p.q, 4)
    (0.5, 2.5, 2.566)
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from quorumsgd.bounds.registry import ENTRIES
from quorumsgd.errors import InvalidParameter, NumericalFailure, QuorumSGDError
from quorumsgd.hunt.names import FAMILIES, NOISES, split
from quorumsgd.objectives import GaussianNoise, LogCosh, Quadratic, RotatedPieces, ShapedNoise
from quorumsgd.objectives.base import Objective
from quorumsgd.objectives.families import rotation
from quorumsgd.objectives.noise import NoiseModel
from quorumsgd.verify.problems import Problem, ProblemSpec
from quorumsgd.verify.sandwich import bound_parameters

DEFAULTS: dict[str, Any] = {
    "family": "softplus", "dim": 2, "strong_convexity": 0.5, "curvature": 1.0, "width": 1.0, "shift": 0.0,
    "pieces": 1.0, "angle": 0.0, "rotation_seed": 0, "noise": "isotropic", "sigma2": 1.0, "anisotropy": 0.0,
    "modulation": 0.0, "noise_length": 1.0, "n_agents": 4, "coupling": 1.0, "lr": 0.1, "batch_size": 1,
    "damping": None, "horizon": 30.0,
}
"""Every key of a case, with the value used when neither the search nor the user sets it."""


@dataclass(frozen=True)
class Fidelity:
    """How hard one evaluation measures (a rung of the race): simulations, window, Euler resolution, seed."""

    sims: int
    window: float
    steps_per_time: float
    seed: int
    confidence: float = 0.99

    def settings(self) -> Any:
        from quorumsgd.verify.checks import Settings

        return Settings(sims=self.sims, window=self.window, steps_per_time=self.steps_per_time, seed=self.seed,
                        confidence=self.confidence)

    def to_json(self) -> dict[str, Any]:
        return {"sims": self.sims, "window": self.window, "steps_per_time": self.steps_per_time, "seed": self.seed,
                "confidence": self.confidence}


def canonical(params: dict[str, Any]) -> dict[str, Any]:
    """The case with every key, numbers rounded to 12 significant digits (stable keys, exact replays)."""
    out = {**DEFAULTS, **params}
    for key, value in out.items():
        if isinstance(value, float) and math.isfinite(value):
            out[key] = float(f"{value:.12g}")
        elif isinstance(value, np.generic):
            out[key] = value.item()
    return out


def case_key(theorem: str, params: dict[str, Any], fidelity: Fidelity) -> str:
    """A stable hash of (theorem, case, fidelity): the store's key, independent of worker count and order."""
    blob = json.dumps([theorem, canonical(params), fidelity.to_json()], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def _pieces(params: dict[str, Any]) -> int:
    return max(1, min(int(params["dim"]), math.ceil(float(params["pieces"]) * int(params["dim"]) - 1e-9)))


def build_objective(params: dict[str, Any]) -> Objective:
    """The case's objective (exact constants by construction)."""
    p = canonical(params)
    family, dim, lam, c = p["family"], int(p["dim"]), float(p["strong_convexity"]), float(p["curvature"])
    if family in ("softplus", "switch"):
        return RotatedPieces(dim, lam, c, width=float(p["width"]), shift=float(p["shift"]), pieces=_pieces(p),
                             angle=float(p["angle"]), seed=int(p["rotation_seed"]), profile=family)
    if family == "logcosh":
        return LogCosh(dim, strong_convexity=lam, curvature=c, shift=float(p["shift"]))
    if family == "quadratic":
        u = rotation(dim, float(p["angle"]), int(p["rotation_seed"]))[: _pieces(p)]
        return Quadratic(lam * np.eye(dim) + c * u.T @ u)
    raise InvalidParameter("family", f"be one of {', '.join(FAMILIES)}", family, "hunt")


def build_noise(params: dict[str, Any], objective: Objective) -> NoiseModel:
    p = canonical(params)
    dim, sigma2, kind = int(p["dim"]), float(p["sigma2"]), p["noise"]
    if kind == "isotropic":
        return GaussianNoise.isotropic(dim, sigma2)
    if kind not in NOISES:
        raise InvalidParameter("noise", f"be one of {', '.join(NOISES)}", kind, "hunt")
    modulation = 0.0 if kind == "anisotropic" else float(p["modulation"])
    return ShapedNoise(dim, sigma2, anisotropy=float(p["anisotropy"]), modulation=modulation,
                       center=objective.minimizer, length=float(p["noise_length"]),
                       distribution="uniform" if kind == "uniform" else "normal")


def build_problem(theorem: str, params: dict[str, Any]) -> Problem:
    """The :class:`~quorumsgd.verify.problems.Problem` a verify check runs on."""
    p = canonical(params)
    objective = build_objective(p)
    noise = build_noise(p, objective)
    exact_quadratic = p["family"] == "quadratic" and p["noise"] == "isotropic"
    spec = ProblemSpec(
        objective="quadratic" if exact_quadratic else f"hunt:{p['family']}", dim=int(p["dim"]),
        strong_convexity=float(objective.strong_convexity), smoothness=float(objective.smoothness),
        objective_seed=int(p["rotation_seed"]), noise=p["noise"], sigma2=float(noise.sigma2),
        n_agents=int(p["n_agents"]), coupling=float(p["coupling"]), lr=float(p["lr"]),
        batch_size=int(p["batch_size"]), damping=None if p["damping"] is None else float(p["damping"]),
        logcosh_curvature=float(p["curvature"]) if p["family"] == "logcosh" else None,
        modulation=float(p["modulation"]) if p["noise"] in ("modulated", "uniform") else None,
    )
    return Problem(spec, objective, noise)


MAX_STIFFNESS = 400.0
"""Cases stiffer than this (see :func:`stiffness`) are skipped as ``too_stiff``: they cost minutes, not seconds."""


@dataclass(frozen=True)
class _QFree(Problem):
    r"""A problem whose check runs without a finite :math:`Q` (members of :math:`S(\lambda,L)` with a kink in
    their curvature): only the paper's bound involves :math:`Q`, never the transient rates a check burns in by,
    and a hunt against the SDP certificate does not report the paper's bound for such a case."""

    @property
    def q(self) -> float:
        return 0.0


def evaluate_case(theorem: str, params: dict[str, Any], fidelity: Fidelity,
                  max_stiffness: float = MAX_STIFFNESS) -> dict[str, Any]:
    r"""Run the theorem's verify check on one case: plain data in, plain data out (any worker can run it).

    Returns the check's JSON plus ``status`` (``ok``, ``diverged``, ``too_stiff``, or ``invalid`` with the
    one-line error of a violated hypothesis) and ``wall_s``. A target ``NAME@sdp``
    (:func:`~quorumsgd.hunt.names.target`) measures the *second moment* of the same statistic (the quantity the
    SDP certifies, ``moment: 2``) against the SDP certificate's second moment over :math:`S(\lambda,L)` (in one
    dimension with independent agents, thm5.1 and thm5.3, the exact one-dimensional certificate when smaller,
    as ``quorumsgd bracket`` does), where
    :math:`L` is the case's ``smoothness`` when given (the fixed class of ``hunt --smoothness``: every case of the
    hunt is compared with the same certificate, so tightness ranks objectives by the certified quantity) and the
    case objective's own smoothness otherwise; ``bound`` is that certificate, ``paper_bound`` the paper's
    first-moment bound (``None`` where :math:`Q` is infinite).
    """
    from quorumsgd.verify.checks import CHECKS

    start = time.perf_counter()
    name, against = split(theorem)
    try:
        problem = build_problem(name, params)
        if against == "sdp" and not math.isfinite(problem.q):
            problem = _QFree(problem.spec, problem.objective, problem.noise)
        stiff = stiffness(name, problem)
        if stiff > max_stiffness:
            return {"status": "too_stiff", "error": f"stiffness {stiff:.4g} > {max_stiffness:g}",
                    "wall_s": time.perf_counter() - start}
        settings = fidelity.settings()
        certificate = None
        if against == "sdp":
            fixed_class = None if params.get("smoothness") is None else (
                float(canonical(params)["strong_convexity"]), float(params["smoothness"]))
            certificate = _certificate(name, problem, fixed_class)
            settings = replace(settings, moment=2)
        if name == "lemma5.5":
            from quorumsgd.verify.checks import check_lemma5_5

            result = check_lemma5_5(problem, settings, horizon=float(canonical(params)["horizon"]))
        else:
            result = CHECKS[name](problem, settings)
    except QuorumSGDError as err:
        return {"status": "invalid", "error": str(err), "wall_s": time.perf_counter() - start}
    out = result.to_json()
    if certificate is not None:
        out = _against_certificate(out, certificate, paper=None if isinstance(problem, _QFree) else out["bound"])
        out["moment"] = 2
    diverged = int(out.get("details", {}).get("diverged", 0))
    finite = all(math.isfinite(out[k]) for k in ("measured", "bound", "tightness"))
    out["status"] = "ok" if diverged == 0 and finite else "diverged"
    out["wall_s"] = time.perf_counter() - start
    return out


def _certificate(theorem: str, problem: Problem, fixed_class: tuple[float, float] | None = None) -> float:
    """The SDP certificate's second moment over S(λ, L) at the case's parameters: (λ, L) the fixed class when given
    (else the objective's own constants); a one-line error where there is none."""
    from quorumsgd.verify.sandwich import sdp_certificate

    params = bound_parameters(theorem, problem)
    big_l = problem.smoothness
    if fixed_class is not None:
        lam, big_l = fixed_class
        if not lam * (1 - 1e-12) <= problem.strong_convexity <= problem.smoothness <= big_l * (1 + 1e-12):
            raise InvalidParameter("smoothness", f"bound a class S({lam:g}, L) that holds the case's objective "
                                   f"S({problem.strong_convexity:.6g}, {problem.smoothness:.6g})", big_l, "hunt")
        if "strong_convexity" in params:
            params["strong_convexity"] = lam
        if "lambda_max" in params:  # lemma3.1 is stated with lambda_max = -lambda (the largest eigenvalue of -H)
            params["lambda_max"] = -lam
    value, note = sdp_certificate(theorem, params, big_l)
    if value is None:
        raise InvalidParameter("--against", f"be paper here ({note})", "sdp", "hunt")
    second = value if theorem == "lemma3.1" else value * value  # value = sqrt(second moment), but lemma3.1's own
    one = _one_dimension(theorem, problem, params, big_l)
    return second if one is None else min(second, one)


def _one_dimension(theorem: str, problem: Problem, params: dict[str, Any], big_l: float) -> float | None:
    """The exact one-dimensional certificate where it holds for the case (what ``quorumsgd bracket`` reports as
    ``upper`` there): thm5.1 or thm5.3 in one dimension with independent agents (k = 0 or p = 1); thm5.3 only
    with constant noise. ``None`` elsewhere."""
    from quorumsgd.bounds.worst_case.one_dimension import applies

    s = problem.spec
    constant = isinstance(problem.noise, GaussianNoise)
    if problem.objective.dim != 1 or not applies(theorem, s.n_agents, s.coupling) or (
            theorem == "thm5.3" and not constant):
        return None
    noise = float(params["lr"]) * float(params["sigma2"]) / float(params["batch_size"])
    try:
        return _one_dimension_value(theorem, int(s.n_agents), noise, float(params.get("damping") or 1.0),
                                    float(params["strong_convexity"]), float(big_l), not constant)
    except NumericalFailure:  # not proved here: the SDP certificate stands alone (still sound)
        return None


@functools.lru_cache(maxsize=64)
def _one_dimension_value(theorem: str, p: int, noise: float, damping: float, lam: float, big: float,
                         state_dependent: bool) -> float:
    """Cached per worker: with a fixed class every case of a hunt has the same certificate."""
    from quorumsgd.bounds.worst_case.one_dimension import theorem_bound

    return theorem_bound(theorem, n_agents=p, noise=noise, strong_convexity=lam, smoothness=big, damping=damping,
                         state_dependent=state_dependent)


def _against_certificate(out: dict[str, Any], certificate: float, paper: float | None) -> dict[str, Any]:
    """A check's JSON with the certificate as its bound (tightness and verdict recomputed)."""
    from quorumsgd.verify.result import verdict_for

    out = {**out, "bound": certificate, "paper_bound": paper, "tightness": out["measured"] / certificate,
           "verdict": verdict_for(out["upper_confidence"], out["lower_confidence"], certificate)}
    if paper is None:  # the paper's numbers were computed with a stand-in Q: none of them is reported
        out.update(terms={}, bound_lmi=None)
    return out


def stiffness(theorem: str, problem: Problem) -> float:
    """Fastest rate of the simulated system over the slowest transient of the bound: the cost of one case.

    The number of Euler steps of a check grows linearly with it (step ~ 1/fastest, horizon ~ 1/slowest).
    """
    from quorumsgd import bounds

    s, big_l = problem.spec, problem.smoothness
    if theorem == "lemma5.5":  # exact transitions with dt = 0.1 / (h + k) over the horizon T = horizon / h
        return (problem.strong_convexity + s.coupling) / problem.strong_convexity * 10.0
    s, big_l = problem.spec, problem.smoothness
    fastest = {"sgd": big_l, "thm5.2": big_l + s.coupling * (1 + s.n_agents),
               "thm5.3": (s.damping or 0.0) + s.coupling + big_l**0.5}.get(theorem, big_l + s.coupling)
    rates = [float(r) for r in bounds.evaluate(theorem, **bound_parameters(theorem, problem)).transient_rates.values()]
    positive = [r for r in rates if r > 0]
    return float("inf") if not positive else fastest / min(positive)


_EXACT_SCHEME = {e.name for e in ENTRIES if e.check is not None and e.check.exact_on_quadratics}
"""Checks that use exact transitions on isotropic quadratics (the registry's ``CheckSpec.exact_on_quadratics``)."""


def euler_allowance(theorem: str, params: dict[str, Any], steps_per_time: float) -> float:
    r"""Relative discretization bias a measurement may carry: a smaller excess over the bound is no finding.

    Euler--Maruyama with step :math:`dt` inflates the stationary second moment of the linear test equation
    :math:`dX=-aX\,dt+s\,dW` by :math:`1/(1-a\,dt/2)`; the checks take :math:`dt=1/(\text{steps\_per\_time}\,r_{\max})`
    with :math:`a\le r_{\max}`. So second moments (Lemma 3.1's spread) may read up to :math:`1/(2s-1)` high and
    norms (the other bounds) up to :math:`\sqrt{1+1/(2s-1)}-1`, with :math:`s` = ``steps_per_time``. Exact
    transitions (isotropic quadratics, Lemma 5.5) have no bias: 0.

    >>> euler_allowance("lemma3.1", {"family": "softplus"}, 20.0) == 1 / 39
    True
    """
    p = canonical(params)
    name, against = split(theorem)
    if name == "lemma5.5" or (name in _EXACT_SCHEME and p["family"] == "quadratic" and p["noise"] == "isotropic"):
        return 0.0
    second_moment = 1.0 / (2.0 * steps_per_time - 1.0)
    measures_second_moment = name == "lemma3.1" or against == "sdp"  # NAME@sdp: see evaluate_case
    return second_moment if measures_second_moment else math.sqrt(1.0 + second_moment) - 1.0
