r"""Adversarial search for the worst member of :math:`\mathcal S(\lambda,L)`: the lower side of the bracket.

The objective is the exact second moment of :mod:`quorumsgd.bounds.worst_case.exact` over bang-bang curvature
profiles (curvature :math:`\lambda` or :math:`L` between switch points; the stationary moments are a
variational problem in :math:`f''\in[\lambda,L]` whose extremes are of this form), searched with
``scipy.optimize`` (Nelder--Mead on the switch points, several numbers of switches, both starting
curvatures, several starts), always also against the quadratics :math:`\frac h2x^2`. Where no exact
evaluator exists, :func:`monte_carlo` measures candidates with the simulator.

By scaling, the worst case is linear in the noise power: :math:`f_c(x)=f(cx)/c^2` stays in the class and
:math:`\mathbb E_{s^2}[x^2;f_c]=\mathbb E_{c^2s^2}[x^2;f]/c^2`, so for separable objectives the split of
:math:`\operatorname{tr}\Sigma\le\sigma^2` over directions does not matter; all noise is put in one direction.

Example:
    >>> w = worst_profile("thm5.1", n_agents=4, coupling=0.0, noise=1.0, strong_convexity=0.5, smoothness=2.0,
    ...                   max_switches=1, starts=2)
    >>> round(w.value, 4), w.profile.to_dict()["curvatures"]
    (0.3069, [0.5, 2.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from quorumsgd.bounds.worst_case.exact import second_moment
from quorumsgd.objectives.profile import CurvatureProfile


@dataclass(frozen=True)
class Witness:
    """A member of the class, its value, and how it was measured (``exact`` or ``monte_carlo``)."""

    profile: CurvatureProfile
    value: float
    lcb: float
    method: str

    def to_dict(self, noise: float) -> dict[str, Any]:
        return {**self.profile.to_dict(), "noise": {"kind": "constant", "direction": 0, "power": noise},
                "method": self.method}


def _profile(switches: np.ndarray, first: float, other: float) -> CurvatureProfile:
    t = np.sort(np.asarray(switches, dtype=float))
    curv = [first if i % 2 == 0 else other for i in range(t.size + 1)]
    return CurvatureProfile(t, curv)


def prune(f: CurvatureProfile, reach: float) -> CurvatureProfile:
    """The same member where the law lives: switches beyond ``reach`` of x* (no mass there) removed."""
    t, c = f.switches, f.curvatures
    keep = np.abs(t) < reach
    # piece j lies between t[j-1] and t[j]; keep the pieces that meet (-reach, reach)
    lo = int(np.searchsorted(t, -reach))
    hi = int(np.searchsorted(t, reach))
    return CurvatureProfile(t[keep], c[lo:hi + 1])


def worst_profile(name: str, *, n_agents: int, coupling: float, noise: float, strong_convexity: float,
                  smoothness: float, damping: float = 1.0, max_switches: int = 3, starts: int = 3,
                  seed: int = 0) -> Witness:
    r"""The worst bang-bang profile found (exact evaluator; see :func:`~quorumsgd.bounds.worst_case.exact.second_moment`)."""
    lam, big = float(strong_convexity), float(smoothness)

    def value(f: CurvatureProfile) -> float:
        return second_moment(name, f, n_agents=n_agents, coupling=coupling, noise=noise, damping=damping)

    candidates = [CurvatureProfile([], [h]) for h in np.linspace(lam, big, 7)]
    if big > lam:
        candidates += [CurvatureProfile([0.0], [lam, big]), CurvatureProfile([0.0], [big, lam])]
    best = max(candidates, key=value)
    best_value = value(best)
    if big > lam:
        rng = np.random.default_rng(seed)
        scale = np.sqrt(noise / (2 * lam))
        for m in range(1, max_switches + 1):
            for first, other in ((lam, big), (big, lam)):
                for s in range(starts):
                    z0 = np.sort(rng.normal(0.0, scale, m)) if s else np.linspace(-0.5, 0.5, m) * scale
                    res = optimize.minimize(lambda z: -value(_profile(z, first, other)), z0,  # noqa: B023
                                            method="Nelder-Mead",
                                            options={"xatol": 1e-7 * scale, "fatol": 1e-12, "maxiter": 400 * m})
                    f = prune(_profile(res.x, first, other), 16.0 * scale)
                    v = value(f)
                    if v > best_value * (1 + 1e-9):
                        best, best_value = f, v
    return Witness(best, best_value, best_value, "exact")


def quadratic_worst(name: str, point: dict[str, float], grid: int = 13) -> tuple[float, float]:
    r"""The worst isotropic quadratic :math:`\frac h2x^2`, :math:`h` on a grid of :math:`[\lambda,L]`: (h, value),
    exact by the linear-SDE oracle (:func:`quorumsgd.simulate.linearize`)."""
    from quorumsgd.bounds.worst_case.certificate import TARGETS, algorithm
    from quorumsgd.objectives import GaussianNoise, Quadratic
    from quorumsgd.simulate import linearize

    p = int(point["n_agents"])
    alg = algorithm(name, point["coupling"], point.get("damping", 1.0))
    best = (float("nan"), -1.0)
    for h in np.linspace(point["strong_convexity"], point["smoothness"], grid):
        law = linearize(alg, Quadratic.isotropic(1, float(h)), p, GaussianNoise.isotropic(1, point["sigma2"]),
                        point["lr"], point["batch_size"]).stationary()
        total = 0.0
        for fld in TARGETS[name]:
            mean, cov = law.marginal(fld)
            if fld != "quorum":
                sel = np.full((1, p), 1 / p)
                mean, cov = sel @ mean, sel @ cov @ sel.T
            total += float(np.trace(cov) + mean @ mean)
        if total > best[1]:
            best = (float(h), total)
    return best


def monte_carlo(name: str, f: CurvatureProfile, point: dict[str, float], *, sims: int = 4000, time: float = 60.0,
                dt: float = 0.01, seed: int = 0, confidence: float = 0.99) -> tuple[float, float]:
    r"""Stationary second moment of ``name`` for ``f`` by the simulator (Euler--Maruyama, the control variate
    of the linearization at :math:`x^*`): (estimate, one-sided ``confidence`` lower bound).

    Euler--Maruyama inflates a stationary second moment by a relative :math:`O(h\,dt)` (on an OU process with
    curvature :math:`h` exactly :math:`1/(1-h\,dt/2)-1`), so the lower bound is deflated by :math:`1-L\,dt`
    (twice that, for :math:`h\le L`): a witness is never credited with the integrator's bias."""
    from quorumsgd.bounds.worst_case.certificate import TARGETS, algorithm
    from quorumsgd.objectives import GaussianNoise
    from quorumsgd.simulate import run_ensemble

    fields = TARGETS[name]

    def m2(state: dict[str, Any], ctx: Any) -> Any:
        total = 0.0
        for fld in fields:
            v = state[fld]
            c = ctx.ops.mean(v) if fld != "quorum" else v
            total = total + (c * c).sum(-1)
        return total

    p = int(point["n_agents"])
    alg = algorithm(name, point["coupling"], point.get("damping", 1.0))
    steps = round(time / dt)
    res = run_ensemble(alg, f, GaussianNoise.isotropic(1, point["sigma2"]), n_agents=p, sims=sims, steps=steps,
                       dt=dt, lr=point["lr"], batch_size=point["batch_size"], burn_in=steps // 4,
                       stats=[("m2", m2)], confidence=confidence, seed=seed, time_batches=4)
    s = res.stationary["m2"]
    return float(s.mean), float(s.lcb) * (1.0 - f.smoothness * dt)
