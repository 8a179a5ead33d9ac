r"""The exact worst case in one dimension when the agents are independent (:math:`k=0`, or :math:`p=1`): a
certificate from an ergodic Hamilton--Jacobi--Bellman equation.

At :math:`k=0` the agents of QSGD (6) are independent copies of :math:`dx=-f'(x)\,dt+s\,dW`
(:math:`s^2=\eta\sigma^2/b`), stationary law :math:`\propto e^{-\beta f}`, :math:`\beta=2/s^2`, and

.. math::
    \mathbb E\bar x^2=a\,\mathbb E x^2+b\,(\mathbb E x)^2,\qquad a=\tfrac1p,\ b=1-\tfrac1p

(momentum QSGD (33)--(34) at :math:`k=0`: the same at :math:`s^2/\gamma`, plus :math:`s^2/(2\gamma p)` for the
velocities). Over :math:`\mathcal S(\lambda,L)` with :math:`x^*=0` the gradient :math:`y=f'(x)=c\,x` has
:math:`c\in[\lambda,L]` (the sector; the class also bounds how fast :math:`c` may vary, which is dropped: a
relaxation). :func:`certify_1d` bounds :math:`J^*=\sup_f[a\mathbb E x^2+b(\mathbb E x)^2]` over every drift of the
sector, with constant noise power :math:`s^2` or (``state_dependent=True``) any noise :math:`s^2(x)\in[0,s^2]`,
in three exact steps:

1. :math:`b\,m^2=\sup_\theta(2b\theta m-b\theta^2)` and sups commute:
   :math:`J^*=\sup_{|\theta|\le\bar\theta}[V(\theta)-b\theta^2]`, :math:`V(\theta)=\sup_f\mathbb E_f[g_\theta]`,
   :math:`g_\theta=ax^2+2b\theta x`, :math:`\bar\theta=s/\sqrt{2\lambda}` (Itô on :math:`x^2`:
   :math:`\mathbb E[xf']=s^2/2\ge\lambda\mathbb Ex^2`, so :math:`|\mathbb Ex|\le\bar\theta`). :math:`V` is even
   (:math:`x\to-x` keeps the sector) and convex (a sup of affine functions of :math:`\theta`), so between two nodes
   the chord of upper bounds :math:`\hat V(\theta_i)` bounds it, and the maximum of chord :math:`-b\theta^2` on each
   interval is in closed form.
2. :math:`V(\theta)\le C` is proved by a test function :math:`\varphi` (:math:`u=\varphi'`) with
   :math:`g_\theta-C-y\,u+\tfrac{s^2}2u'\le0` for every :math:`x`, every :math:`y` of the sector and every admissible
   noise :math:`s^2`, since :math:`\mathbb E[\mathcal L\varphi]=0` at stationarity (a concave kink of :math:`\varphi`
   only subtracts local time). On :math:`x>0` that is :math:`u'\le\frac2{s^2}R`,
   :math:`R=C-g+x\min_{c\in\{\lambda,L\}}cu`, and, when the noise may vanish, :math:`R\ge0` (an obstacle). The least
   :math:`u(0^+)` is the backward sweep of :math:`u'=\frac2{s^2}R` (an exponential integrator) from the exact
   tail :math:`u=\alpha x+\kappa+\mu/x`,
   projected onto the obstacle; the left half-line is its mirror, and :math:`C` is feasible when the kink at
   :math:`0` is concave, :math:`u(0^+)\le u(0^-)`. The least feasible :math:`C` is found by bisection.
3. The inequality is then checked *in closed form* on the piecewise-linear interpolant of the sweep (a quadratic in
   :math:`x` per interval, drift :math:`c\in\{\lambda,L\}` and noise :math:`s^2\in\{0,s^2\}`), and any violation
   :math:`r_j` is added to the bound as :math:`r_j\,\Pr(I_j)`, with :math:`\Pr(I_j)` bounded by the Gaussian envelope
   :math:`e^{-\beta\lambda x^2/2}/\int e^{-\beta Lx^2/2}` (constant noise) or, per shell of :math:`|x|`, by Markov's
   :math:`\Pr(|x|\ge x_k)\le s^2/(2\lambda x_k^2)`: the reported value is a bound, not an estimate.

The bound holds in one dimension (and for separable objectives with the noise on the coordinate axes: each
direction is such a problem, and the value is linear in its noise power). With constant noise it is attained: the
extreme drift is :math:`c=L` on one side of :math:`x^*` and :math:`c=\lambda` on the other, the one-switch member of
the class, whose exact value the search finds. Noise that may vanish (a law with an atom at a "sticky wall" where
the noise stops is then in the class) adds almost nothing: at :math:`p=8`, :math:`\lambda=0.5`, :math:`L=2`,
:math:`s^2=1` the bound moves from 0.23305 to 0.23326, about what the cruder charge of its residual (Markov
shells instead of a Gaussian envelope) costs.

Example:
    >>> c = certify_1d(n_agents=4, noise=1.0, strong_convexity=0.5, smoothness=2.0)
    >>> round(c.value, 4), c.verified
    (0.3069, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.optimize import brentq
from scipy.special import erf

from quorumsgd.errors import NumericalFailure


@dataclass(frozen=True)
class OneDimensionCertificate:
    r"""A verified bound on :math:`a\mathbb Ex^2+b(\mathbb Ex)^2` over the sector in one dimension."""

    value: float
    theta: float  # the interval's maximizer of chord - b theta^2: the worst mean, to the grid's resolution
    nodes: int  # theta nodes solved
    residual: float  # the largest violation charged to the bound (probability-weighted), over the nodes
    verified: bool
    state_dependent: bool


@njit(cache=True)
def _sweep(grid: np.ndarray, u_end: float, a: float, e: float, c: float, lam: float, big: float, tau: float,
           obstacle: bool) -> np.ndarray:
    """u on ``grid`` (ascending, x >= 0) backwards from ``u_end``, projected onto R >= 0 when ``obstacle``.

    On each step u' = A u + B is linear (A = 2 c x / tau with c = lam or L by the sign of u, B = 2 (C - g) / tau);
    frozen at the step's midpoint it is solved exactly (an exponential integrator: stable however steep the drift,
    where an explicit Runge--Kutta step blows up once 2 L x h / tau > 2.8)."""
    n = grid.size
    u = np.empty(n)
    u[n - 1] = u_end
    for j in range(n - 1, 0, -1):
        x1, x0 = grid[j], grid[j - 1]
        h = x1 - x0
        xm = 0.5 * (x0 + x1)
        v = u[j]
        slope = (lam if v > 0 else big) * 2.0 * xm / tau
        drive = 2.0 * (c - a * xm * xm - e * xm) / tau
        damp = math.exp(-slope * h)
        gain = h if slope * h < 1e-12 else -math.expm1(-slope * h) / slope  # (1 - e^{-A h}) / A
        v = v * damp - drive * gain
        if obstacle and x0 > 0:
            gap = a * x0 * x0 + e * x0 - c  # R >= 0: lam x u >= gap (u > 0) or L x u >= gap (u <= 0)
            floor = gap / (lam * x0) if gap > 0 else gap / (big * x0)
            v = max(v, floor)
        u[j - 1] = v
    return u


class _Sector:
    """The half-line problems of step 2 for one (a, b, lambda, L, noise power tau)."""

    def __init__(self, a: float, b: float, lam: float, big: float, tau: float, state_dependent: bool):
        self.a, self.b, self.lam, self.big, self.tau = a, b, lam, big, tau
        self.obstacle = state_dependent
        self.beta = 2.0 / tau
        self.scale = 1.0 / np.sqrt(self.beta * lam)  # the widest Gaussian scale of any law of the sector
        self.z_min = np.sqrt(2 * np.pi / (self.beta * big))  # int e^{-beta F} >= int e^{-beta L x^2 / 2}

    def _tail(self, e: float, c: float, x_end: float) -> tuple[float, float, float, float]:
        """u = alpha x + kappa + mu / x on [x_end, inf): there R = rho exactly (g = a x^2 + e x, u > 0)."""
        lam = self.lam
        alpha, kappa = self.a / lam, e / lam
        rho = 0.5 * self.tau * alpha * 1.5 + 1e-12
        mu = (rho - c) / lam
        return alpha, kappa, mu, rho

    def _grid(self, e: float, c: float) -> tuple[np.ndarray, float]:
        """The grid up to a tail start where the tail is positive and a supersolution (u' <= 2 rho / tau)."""
        x = 12.0 * self.scale
        for _ in range(60):
            alpha, kappa, mu, rho = self._tail(e, c, x)
            positive = (alpha * x + kappa + mu / x if mu <= alpha * x * x else 2 * np.sqrt(alpha * mu) + kappa) > 0
            if positive and alpha + abs(mu) / x ** 2 <= 2 * rho / self.tau:
                break
            x *= 1.5
        else:
            raise NumericalFailure(f"one-dimension certificate: no tail supersolution for e={e:.6g}, C={c:.6g}")
        near = 12.0 * self.scale
        # where the drift is steep (c = L) the sweep bends on the narrow scale 1/sqrt(beta L): a finer first stretch
        narrow = 12.0 / np.sqrt(self.beta * self.big)
        grid = np.linspace(0.0, near, 60001)
        if near > 4 * narrow:
            grid = np.concatenate([np.linspace(0.0, narrow, 30001), np.linspace(narrow, near, 60001)[1:]])
        if x > near:
            grid = np.concatenate([grid, np.linspace(near, x, 20001)[1:]])
        return grid, alpha * x + kappa + mu / x

    def half(self, e: float, c: float) -> tuple[np.ndarray, np.ndarray]:
        grid, u_end = self._grid(e, c)
        return grid, _sweep(grid, u_end, self.a, e, c, self.lam, self.big, self.tau, self.obstacle)

    def psi(self, theta: float, c: float) -> float:
        """u(0+) - u(0-): C is proved feasible where it is <= 0 (and the check of :meth:`residual` passes)."""
        e = 2 * self.b * theta
        return float(self.half(e, c)[1][0] + self.half(-e, c)[1][0])

    def residual(self, e: float, c: float) -> float:
        """The probability-weighted violation of the supersolution inequality by the interpolant (step 3)."""
        a, lam, big, tau = self.a, self.lam, self.big, self.tau
        grid, u = self.half(e, c)
        x0, x1, u0 = grid[:-1], grid[1:], u[:-1]
        s = np.diff(u) / np.diff(grid)
        worst = np.full(x0.shape, -np.inf)
        noises = (tau, 0.0) if self.obstacle else (tau,)
        for cc in (lam, big):
            for s2 in noises:  # g - C - cc x (u0 + s (x - x0)) + s2 s / 2 = q2 x^2 + q1 x + q0
                q2 = a - cc * s
                q1 = e - cc * (u0 - s * x0)
                q0 = s2 * s / 2 - c
                at = [q2 * x0 * x0 + q1 * x0 + q0, q2 * x1 * x1 + q1 * x1 + q0]
                with np.errstate(divide="ignore", invalid="ignore"):
                    xv = np.clip(np.where(q2 < 0, -q1 / (2 * q2), x0), x0, x1)
                at.append(q2 * xv * xv + q1 * xv + q0)
                worst = np.maximum(worst, np.max(at, axis=0))
        r = np.maximum(worst, 0.0)
        if self.obstacle:
            # No density envelope without a noise floor; Markov instead: E x^2 <= tau / (2 lam) for every law of
            # the sector (Ito on x^2), so Pr(|x| >= x_k) <= min(1, tau / (2 lam x_k^2)). Charge each shell
            # [x_k, x_{k+1}) its largest violation times that tail probability.
            edges = np.concatenate([[0.0], self.scale * 2.0 ** np.arange(-2, 12)])
            shell = np.searchsorted(edges, x0, side="right") - 1
            top = np.zeros(edges.size)
            np.maximum.at(top, shell, r)
            tail = np.ones(edges.size)
            tail[1:] = np.minimum(1.0, self.tau / (2 * lam * edges[1:] ** 2))
            return float(top @ tail)
        k = np.sqrt(self.beta * lam / 2)
        mass = np.sqrt(np.pi) / (2 * k) * (erf(k * x1) - erf(k * x0)) / self.z_min
        return float(r @ mass)

    def value(self, theta: float) -> tuple[float, float]:
        """A verified upper bound on V(theta) and the residual added to it."""
        a, b = self.a, self.b
        theta_bar = np.sqrt(self.tau / (2 * self.lam))
        lo = -(b * theta) ** 2 / a - 1.0  # below min g: no C this small is feasible
        hi = a * self.tau / (2 * self.lam) + 2 * b * abs(theta) * theta_bar + 1.0  # above E g for every law
        if not (self.psi(theta, lo) > 0 >= self.psi(theta, hi)):
            raise NumericalFailure(f"one-dimension certificate: no sign change of the kink at theta={theta:.6g}")
        c = brentq(lambda z: self.psi(theta, z), lo, hi, xtol=1e-13, rtol=1e-12)
        for _ in range(20):  # the feasible side of the root
            if self.psi(theta, c) <= 0:
                break
            c += 1e-12 * (1 + abs(c))
        else:
            raise NumericalFailure(f"one-dimension certificate: the bisection did not close at theta={theta:.6g}")
        e = 2 * b * theta
        r = self.residual(e, c) + self.residual(-e, c)
        return c + r, r


def certify_1d(*, n_agents: int, noise: float, strong_convexity: float, smoothness: float,
               state_dependent: bool = False, tol: float = 1e-5) -> OneDimensionCertificate:
    r"""The verified bound on :math:`\mathbb E\bar x^2` of QSGD at :math:`k=0` in one dimension (module docstring).

    ``noise`` is :math:`s^2=\eta\sigma^2/b` (constant, or the pointwise maximum when ``state_dependent``); for
    momentum QSGD at :math:`k=0` call it with :math:`s^2/\gamma` and add :math:`s^2/(2\gamma p)` (constant noise).
    ``tol``: the relative gap allowed between the chord bound and the best node before the theta grid stops being
    refined.

    Raises:
        NumericalFailure: the bisection or the supersolution check did not close (it has not on any tested input).
    """
    p, lam, big = int(n_agents), float(strong_convexity), float(smoothness)
    a, b = 1.0 / p, 1.0 - 1.0 / p
    sector = _Sector(a, b, lam, big, float(noise), bool(state_dependent))
    theta_bar = float(np.sqrt(noise / (2 * lam)))
    if b == 0.0:  # p = 1: V does not depend on theta
        v, res = sector.value(0.0)
        return OneDimensionCertificate(v, 0.0, 1, res, True, bool(state_dependent))
    vals = {float(t): sector.value(float(t)) for t in np.linspace(0.0, theta_bar, 9)}
    for _ in range(12):
        ts = np.array(sorted(vals))
        vs = np.array([vals[t][0] for t in ts])
        best_node = float(np.max(vs - b * ts * ts))
        # on [t0, t1]: chord(t) - b t^2 is concave; its max is at the clipped vertex
        t0, t1, v0, v1 = ts[:-1], ts[1:], vs[:-1], vs[1:]
        slope = (v1 - v0) / (t1 - t0)
        tv = np.clip(slope / (2 * b), t0, t1)
        tops = v0 + slope * (tv - t0) - b * tv * tv
        top = float(tops.max())
        if top <= best_node + tol * abs(best_node):
            break
        for split in np.flatnonzero(tops > best_node + tol * abs(best_node)):
            mid = float((t0[split] + t1[split]) / 2)
            vals[mid] = sector.value(mid)
    j = int(np.argmax(tops))
    residual = max(r for _, r in vals.values())
    return OneDimensionCertificate(top, float(tv[j]), len(vals), residual, True, bool(state_dependent))


def applies(name: str, n_agents: int, coupling: float) -> bool:
    """Where the agents are independent and :func:`theorem_bound` is exact in one dimension: thm5.1 and thm5.3 at
    :math:`k=0` or :math:`p=1`."""
    return name in ("thm5.1", "thm5.3") and (coupling == 0.0 or int(n_agents) == 1)


def theorem_bound(name: str, *, n_agents: int, noise: float, strong_convexity: float, smoothness: float,
                  damping: float = 1.0, state_dependent: bool = False) -> float:
    r"""The verified one-dimensional bound on the theorem's certified quantity where :func:`applies`.

    thm5.1: :math:`\mathbb E\bar x^2` (any noise :math:`s^2(x)\le s^2` when ``state_dependent``); thm5.3:
    :math:`\mathbb E\bar x^2+\mathbb E\bar v^2` with constant noise: the positions have the Gibbs law at
    :math:`s^2/\gamma` and the velocities add exactly :math:`s^2/(2\gamma p)`.

    Raises:
        ValueError: ``name`` is not thm5.1 or thm5.3, or thm5.3 with ``state_dependent``.
        NumericalFailure: the certificate did not close.
    """
    if name not in ("thm5.1", "thm5.3") or (name == "thm5.3" and state_dependent):
        raise ValueError(f"no one-dimension certificate for {name} (state_dependent={state_dependent})")
    gamma = float(damping) if name == "thm5.3" else 1.0
    c = certify_1d(n_agents=n_agents, noise=noise / gamma, strong_convexity=strong_convexity,
                   smoothness=smoothness, state_dependent=state_dependent)
    return c.value + (noise / (2 * gamma * int(n_agents)) if name == "thm5.3" else 0.0)
