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
sector in three exact steps:

1. :math:`b\,m^2=\sup_\theta(2b\theta m-b\theta^2)` and sups commute:
   :math:`J^*=\sup_{|\theta|\le\bar\theta}[V(\theta)-b\theta^2]`, :math:`V(\theta)=\sup_f\mathbb E_f[g_\theta]`,
   :math:`g_\theta=ax^2+2b\theta x`, :math:`\bar\theta=s/\sqrt{2\lambda}` (Itô on :math:`x^2`:
   :math:`\mathbb E[xf']=s^2/2\ge\lambda\mathbb Ex^2`, so :math:`|\mathbb Ex|\le\bar\theta`). :math:`V` is even
   (:math:`x\to-x` keeps the sector) and convex (a sup of affine functions of :math:`\theta`), so between two nodes
   the chord of upper bounds :math:`\hat V(\theta_i)` bounds it, and the maximum of chord :math:`-b\theta^2` on each
   interval is in closed form.
2. :math:`V(\theta)\le C` iff :math:`\Psi(C)=\sup_f\int(g_\theta-C)e^{-\beta F}\le0`, :math:`F'=y`, :math:`F(0)=0`
   (Dinkelbach), and the two half-lines are independent: :math:`\Psi=\Psi_++\Psi_-`.
3. :math:`\Psi_+(C)\le w(0)` for every supersolution on :math:`x>0`:
   :math:`(g-C)+w'-\beta c\,x\,w\le0` for :math:`c\in\{\lambda,L\}`, since then
   :math:`\frac d{dx}[we^{-\beta F}]\le-(g-C)e^{-\beta F}` for every drift. :math:`w` solves the HJB equation
   :math:`w'=-(g-C)+\beta x\min_c(c\,w)` backwards from its exact tail :math:`w=\alpha x+\kappa+\mu/x`; the
   inequality is then checked *in closed form* on the piecewise-linear interpolant (a quadratic in :math:`x` per
   interval and :math:`c`), and any violation :math:`r_j` is charged as :math:`r_j\int_{I_j}e^{-\beta\lambda x^2/2}`
   (:math:`F\ge\lambda x^2/2`), so the reported value is a bound, not an estimate.

The bound holds for every drift in the sector with constant noise power :math:`s^2` in one dimension (and so for
separable objectives with the noise on the coordinate axes: each direction is such a problem, and the value is
linear in its noise power). It is attained: the extreme drift is :math:`c=L` on one side of :math:`x^*` and
:math:`c=\lambda` on the other, the one-switch member of the class, whose exact value the search finds.

Example:
    >>> c = certify_1d(n_agents=4, noise=1.0, strong_convexity=0.5, smoothness=2.0)
    >>> round(c.value, 4), c.verified
    (0.3069, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.special import erf

from quorumsgd.errors import NumericalFailure


@dataclass(frozen=True)
class OneDimensionCertificate:
    r"""A verified bound on :math:`a\mathbb Ex^2+b(\mathbb Ex)^2` over the sector in one dimension."""

    value: float
    theta: float  # the interval's maximizer of chord - b theta^2: the worst mean, to the grid's resolution
    nodes: int  # theta nodes solved
    residual: float  # the largest charged supersolution violation (Psi units), before the margin that absorbs it
    verified: bool


class _Sector:
    """The half-line problems of step 3 for one (a, b, lambda, L, beta)."""

    def __init__(self, a: float, b: float, lam: float, big: float, beta: float):
        self.a, self.b, self.lam, self.big, self.beta = a, b, lam, big, beta
        self.scale = 1.0 / np.sqrt(beta * lam)  # the widest Gaussian scale of any law of the sector
        self.z_min = np.sqrt(2 * np.pi / (beta * big))  # int e^{-beta F} >= int e^{-beta L x^2 / 2}

    def _tail(self, e: float, c: float) -> tuple[float, float, float]:
        # w = alpha x + kappa + mu / x makes (g - C) + w' - beta lam x w = -mu / x^2 exactly (g = a x^2 + e x)
        bl = self.beta * self.lam
        alpha = self.a / bl
        return alpha, e / bl, (alpha - c) / bl

    def _reach(self, e: float, c: float) -> float:
        """A tail start X where the tail is positive on [X, inf) (so c = lambda is its worst drift)."""
        alpha, kappa, mu = self._tail(e, c)
        x = 12.0 * self.scale + max(0.0, -2.0 * kappa / alpha)
        for _ in range(60):
            lo = alpha * x + kappa + mu / x if mu <= alpha * x * x else 2 * np.sqrt(alpha * mu) + kappa
            if lo >= 0:
                return x
            x *= 1.5
        raise NumericalFailure(f"one-dimension certificate: no positive tail for e={e:.6g}, C={c:.6g}")

    def half(self, e: float, c: float, check: bool) -> tuple[float, float]:
        """(w(0), charged residual) of the half-line with g = a x^2 + e x; the residual only when ``check``."""
        a, beta, lam, big = self.a, self.beta, self.lam, self.big
        x_end = self._reach(e, c)
        alpha, kappa, mu = self._tail(e, c)
        w_end = alpha * x_end + kappa + mu / x_end

        def rhs(x: float, w: np.ndarray) -> list[float]:
            return [-(a * x * x + e * x - c) + beta * x * (lam if w[0] > 0 else big) * w[0]]

        # backwards the HJB is stable (forwards it grows like e^{beta lam x^2 / 2})
        sol = solve_ivp(rhs, (x_end, 0.0), [w_end], method="LSODA", rtol=1e-11, atol=1e-13, dense_output=check)
        if not sol.success:
            raise NumericalFailure(f"one-dimension certificate: HJB integration failed ({sol.message})")
        if not check:
            return float(sol.y[0, -1]), 0.0
        near = min(x_end, 12.0 * self.scale)
        grid = np.linspace(0.0, near, 60001)
        if x_end > near:
            grid = np.concatenate([grid, np.linspace(near, x_end, 2001)[1:]])
        w = sol.sol(grid)[0]
        w[-1] = w_end
        x0, x1, w0 = grid[:-1], grid[1:], w[:-1]
        s = np.diff(w) / np.diff(grid)
        worst = np.full(x0.shape, -np.inf)
        for cc in (lam, big):  # (g - C) + s - beta cc x (w0 + s (x - x0)): a quadratic q2 x^2 + q1 x + q0
            q2 = a - beta * cc * s
            q1 = e - beta * cc * (w0 - s * x0)
            q0 = s - c
            at = [q2 * x0 * x0 + q1 * x0 + q0, q2 * x1 * x1 + q1 * x1 + q0]
            with np.errstate(divide="ignore", invalid="ignore"):
                xv = np.where(q2 < 0, -q1 / (2 * q2), x0)
            xv = np.clip(xv, x0, x1)
            at.append(q2 * xv * xv + q1 * xv + q0)
            worst = np.maximum(worst, np.max(at, axis=0))
        r = np.maximum(worst, 0.0)
        k = np.sqrt(beta * lam / 2)
        mass = np.sqrt(np.pi) / (2 * k) * (erf(k * x1) - erf(k * x0))  # int over I_j of e^{-beta lam x^2/2}
        tail_mass = np.sqrt(np.pi) / (2 * k) * (1 - erf(k * x_end))
        charged = float(r @ mass) + max(0.0, -mu) / x_end ** 2 * tail_mass
        return float(w[0]), charged

    def psi(self, theta: float, c: float, check: bool = False) -> float:
        e = 2 * self.b * theta
        (wp, rp), (wm, rm) = self.half(e, c, check), self.half(-e, c, check)
        return wp + wm + rp + rm

    def value(self, theta: float, noise: float) -> tuple[float, float]:
        """A verified upper bound on V(theta) and the residual it absorbed."""
        a, b = self.a, self.b
        theta_bar = np.sqrt(noise / (2 * self.lam))
        lo = -(b * theta) ** 2 / a - 1.0  # below min g: Psi > 0
        hi = a * noise / (2 * self.lam) + 2 * b * abs(theta) * theta_bar + 1.0
        root = brentq(lambda c: self.psi(theta, c), lo, hi, xtol=1e-13, rtol=1e-12)
        bound, first = root, None
        for _ in range(8):
            excess = self.psi(theta, bound, check=True)
            first = excess if first is None else first
            if excess <= 0:
                return bound, max(first, 0.0)
            bound += 1.01 * excess / self.z_min + 1e-12 * (1 + abs(bound))  # Psi falls at rate >= z_min
        raise NumericalFailure(f"one-dimension certificate: the supersolution check did not close at theta={theta:.6g}")


def certify_1d(*, n_agents: int, noise: float, strong_convexity: float, smoothness: float,
               tol: float = 1e-5) -> OneDimensionCertificate:
    r"""The verified bound on :math:`\mathbb E\bar x^2` of QSGD at :math:`k=0` in one dimension (module docstring).

    ``noise`` is :math:`s^2=\eta\sigma^2/b`; for momentum QSGD at :math:`k=0` call it with :math:`s^2/\gamma` and add
    :math:`s^2/(2\gamma p)`. ``tol``: the relative gap allowed between the chord bound and the best node before
    the theta grid stops being refined.

    Raises:
        NumericalFailure: the supersolution check did not close (it has not on any tested input).
    """
    p, lam, big = int(n_agents), float(strong_convexity), float(smoothness)
    a, b = 1.0 / p, 1.0 - 1.0 / p
    sector = _Sector(a, b, lam, big, 2.0 / noise)
    theta_bar = float(np.sqrt(noise / (2 * lam)))
    if b == 0.0:  # p = 1: V does not depend on theta
        v, res = sector.value(0.0, noise)
        return OneDimensionCertificate(v, 0.0, 1, res, True)
    thetas = list(np.linspace(0.0, theta_bar, 9))
    vals = {t: sector.value(t, noise) for t in thetas}
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
        for j in np.flatnonzero(tops > best_node + tol * abs(best_node)):
            mid = float((t0[j] + t1[j]) / 2)
            vals[mid] = sector.value(mid, noise)
    j = int(np.argmax(tops))
    residual = max(r for _, r in vals.values())
    return OneDimensionCertificate(top, float(tv[j]), len(vals), residual, True)
