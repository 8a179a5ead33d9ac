r"""Hunt *your own* algorithm: search objectives of :math:`\mathcal S(\lambda,L)` and noises for the worst case of its
certificate (:func:`quorumsgd.bounds.own_algorithm.certify`), measured by Monte Carlo (:func:`quorumsgd.simulate.run_ensemble`).

A case is a hunt case of :mod:`quorumsgd.hunt.cases` (family, dimension, curvature, width, shift, rotation, noise
model), drawn by a seeded search; the algorithm, the class :math:`(\lambda,L)`, the number of agents and the noise
level :math:`\sigma^2` stay fixed, so one certificate serves every case. Each case is simulated with common random
numbers and its stationary mean compared with the certificate: ``tightness`` = measured / certified, and a
*violation* is a case whose one-sided lower confidence bound exceeds the certificate by more than ``allowance``
(0 for a discrete iteration, which the simulator runs exactly; the Euler bias for a drift). A violation is a
finding (a defect of the certificate or of the definition), never tuned away.

Example:
    >>> from quorumsgd.algorithms import LocalSGD
    >>> r = hunt_algorithm(LocalSGD(lr=0.1, period=4), "center", strong_convexity=0.5, smoothness=2.0,
    ...                    n_agents=4, sigma2=1.0, budget=2, sims=64, steps=600, seed=0)
    >>> len(r.cases), r.violations, 0 < r.best["tightness"] <= 1
    (2, [], True)
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quorumsgd.algorithms import ContinuousAlgorithm, DiscreteAlgorithm
from quorumsgd.errors import InvalidParameter

FAMILIES = ("quadratic", "logcosh", "softplus", "switch")
NOISES = ("isotropic", "anisotropic", "modulated", "uniform")


def _measure(quantity: tuple[str, ...]) -> Any:
    """The certified quantity of one state, per simulation (the same definitions as ``certify``'s ``quantity``)."""

    def value(state: dict[str, Any], ctx: Any) -> Any:
        x = state["x"]
        star = ctx.x_star(x)
        total = 0.0
        for name in quantity:
            if name == "center":
                total = total + ((ctx.ops.mean(x) - star) ** 2).sum(-1)
            elif name == "spread":
                total = total + ((x - ctx.ops.expand(ctx.ops.mean(x))) ** 2).sum((-1, -2))
            elif name == "mean_square":
                total = total + ((x - star) ** 2).sum(-1).mean(-1)
            elif name == "quorum":
                total = total + ((state["quorum"] - star) ** 2).sum(-1)
        return total

    return value


@dataclass
class HuntResult:
    """Every measured case (``cases``: dicts with the case, measured mean, confidence bounds, tightness), the best
    (highest tightness), the violations, and the certificate they were measured against."""

    certificate: Any
    cases: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any]:
        return max(self.cases, key=lambda c: c["tightness"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "certificate": self.certificate.to_dict(),
            "cases": self.cases,
            "best": self.best,
            "violations": self.violations,
        }


def _draw(
    rng: np.random.Generator,
    dims: tuple[int, ...],
    lam: float,
    big_l: float,
    families: tuple[str, ...],
    noises: tuple[str, ...],
    sigma2: float,
) -> dict[str, Any]:
    return {
        "family": str(rng.choice(families)),
        "dim": int(rng.choice(dims)),
        "strong_convexity": lam,
        "curvature": float((big_l - lam) * rng.uniform(0.2, 1.0)),
        "width": float(rng.uniform(0.1, 2.0)),
        "shift": float(rng.uniform(-2.0, 2.0)),
        "pieces": float(rng.uniform(0.3, 1.0)),
        "angle": float(rng.uniform(0, np.pi)),
        "rotation_seed": int(rng.integers(0, 1000)),
        "noise": str(rng.choice(noises)),
        "sigma2": sigma2,
        "anisotropy": float(rng.uniform(0.0, 0.9)),
        "modulation": float(rng.uniform(0.0, 0.9)),
        "noise_length": float(rng.uniform(0.3, 2.0)),
    }


def hunt_algorithm(
    alg: ContinuousAlgorithm | DiscreteAlgorithm,
    quantity: str | tuple[str, ...] = "center",
    *,
    strong_convexity: float,
    smoothness: float,
    n_agents: int,
    sigma2: float,
    batch_size: float = 1.0,
    lr: float | None = None,
    budget: int = 8,
    seed: int = 0,
    sims: int = 128,
    steps: int = 2000,
    dt: float | None = None,
    dims: tuple[int, ...] = (1, 2),
    families: tuple[str, ...] = FAMILIES,
    noises: tuple[str, ...] = NOISES,
    allowance: float | None = None,
    confidence: float = 0.99,
    progress: Any = None,
) -> HuntResult:
    r"""Certify ``alg`` once, then measure ``budget`` drawn cases against the certificate (module docstring).

    ``steps`` are iterations (discrete) or Euler steps of length ``dt`` (continuous, default ``0.02 / L``); the
    first half is burn-in. ``allowance`` defaults to 0 (discrete) or :math:`5\,L\,dt` (the Euler bias, continuous).

    Raises:
        InvalidParameter: bad parameters (and everything :func:`~quorumsgd.bounds.own_algorithm.certify` raises).
    """
    from quorumsgd.bounds.own_algorithm import certify
    from quorumsgd.hunt.cases import build_noise, build_objective
    from quorumsgd.simulate import run_ensemble

    where = f"hunt({type(alg).__name__})"
    for name, value in (("budget", budget), ("sims", sims), ("steps", steps)):
        if int(value) != value or value < 1:
            raise InvalidParameter(name, "an integer >= 1", value, where)
    bad = [f for f in families if f not in FAMILIES] + [z for z in noises if z not in NOISES]
    if bad:
        raise InvalidParameter("families/noises", f"names in {FAMILIES} / {NOISES}", bad, where)
    quantity = (quantity,) if isinstance(quantity, str) else tuple(quantity)
    cert = certify(
        alg,
        quantity,
        strong_convexity=strong_convexity,
        smoothness=smoothness,
        n_agents=n_agents,
        sigma2=sigma2,
        batch_size=batch_size,
        lr=lr,
    )
    discrete = isinstance(alg, DiscreteAlgorithm)
    if not discrete:
        dt = 0.02 / float(smoothness) if dt is None else float(dt)
    allow = (0.0 if discrete else 5.0 * float(smoothness) * float(dt)) if allowance is None else float(allowance)
    rng = np.random.default_rng(seed)
    result = HuntResult(cert)
    stat = ("certified", _measure(quantity))
    for index in range(int(budget)):
        case = _draw(
            rng, tuple(dims), float(strong_convexity), float(smoothness), tuple(families), tuple(noises), float(sigma2)
        )
        objective = build_objective(case)
        noise = build_noise(case, objective)
        run = run_ensemble(
            alg,
            objective,
            noise,
            n_agents=n_agents,
            sims=sims,
            steps=steps,
            dt=dt,
            lr=None if discrete else lr,
            batch_size=batch_size,
            x0=objective.minimizer,
            burn_in=steps // 2,
            stats=[stat],
            time_batches=1,
            confidence=confidence,
            seed=seed * 100_003 + index,
        )
        s = run.stationary["certified"]
        out = {
            "case": case,
            "measured": float(s.mean),
            "lower_confidence": float(s.lcb),
            "upper_confidence": float(s.ucb),
            "certificate": cert.second_moment,
            "tightness": float(s.mean) / cert.second_moment,
            "diverged": int(run.diverged.sum()),
        }
        result.cases.append(out)
        if out["diverged"] or s.lcb > cert.second_moment * (1.0 + allow):
            result.violations.append(out)
        if progress is not None:
            progress(result)
    return result


def load_algorithm(spec: str, n_agents: int, where: str = "hunt --algorithm") -> Any:
    """``module:attr`` -> an algorithm: an instance, or a callable (class or factory) called with no arguments, or
    with ``n_agents=`` when it takes that keyword (a mixing matrix or EASGD's beta depends on it)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidParameter("--algorithm", "be module:Class (e.g. mypackage.algos:MyAlgorithm)", spec, where)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise InvalidParameter("--algorithm", "name an importable module:attribute", f"{spec} ({err})", where) from None
    if isinstance(obj, (ContinuousAlgorithm, DiscreteAlgorithm)):
        return obj
    if not callable(obj):
        raise InvalidParameter("--algorithm", "name an algorithm, its class or a factory", spec, where)
    try:
        takes_n = "n_agents" in inspect.signature(obj).parameters
    except (TypeError, ValueError):
        takes_n = False
    try:
        alg = obj(n_agents=n_agents) if takes_n else obj()
    except TypeError as err:
        raise InvalidParameter(
            "--algorithm", "be callable with no arguments (or with n_agents=)", f"{spec}: {err}", where
        ) from None
    if not isinstance(alg, (ContinuousAlgorithm, DiscreteAlgorithm)):
        raise InvalidParameter(
            "--algorithm", "build a ContinuousAlgorithm or DiscreteAlgorithm", type(alg).__name__, where
        )
    return alg


def run_cli(spec: str, quantity: str, *, fixed: dict[str, Any], budget: int, seed: int, json_: bool) -> int:
    """``quorumsgd hunt QUANTITY --algorithm module:Class``: print the hunt, return the exit code (1 on a violation)."""
    import json

    n_agents = int(fixed.get("n_agents", 4))
    lam = float(fixed.get("strong_convexity", 0.5))
    alg = load_algorithm(spec, n_agents)
    big_l = lam + float(fixed.get("curvature", 1.5))
    discrete = isinstance(alg, DiscreteAlgorithm)
    result = hunt_algorithm(
        alg,
        tuple(quantity.split("+")),
        strong_convexity=lam,
        smoothness=big_l,
        n_agents=n_agents,
        sigma2=float(fixed.get("sigma2", 1.0)),
        batch_size=float(fixed.get("batch_size", 1)),
        lr=None if discrete else float(fixed.get("lr", 0.1)),
        budget=budget,
        seed=seed,
    )
    if json_:
        print(json.dumps(result.to_dict()))
    else:
        best = result.best
        print(
            f"{spec} ({quantity}, p={n_agents}, S({lam:g}, {big_l:g})): certificate {result.certificate.second_moment:.6g} "
            f"[{result.certificate.symmetry}]; worst of {len(result.cases)} cases: measured {best['measured']:.6g} "
            f"(lcb {best['lower_confidence']:.6g}), tightness {best['tightness']:.4f}; "
            f"{len(result.violations)} violation(s)"
        )
    return 1 if result.violations else 0


__all__ = ["FAMILIES", "NOISES", "HuntResult", "hunt_algorithm", "load_algorithm", "run_cli"]
