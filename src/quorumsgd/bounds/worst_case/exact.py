r"""Exact stationary second moments of 1-D curvature profiles, by quadrature (no Monte Carlo).

**QSGD is a gradient system.** The drift of (6) is :math:`-\nabla U` with
:math:`U(\mathbf x)=\sum_i f(x^i)+\frac k2\sum_i(x^i-\bar x)^2`, and every agent gets the same isotropic noise
:math:`s\,dW^i`, :math:`s^2=\eta\sigma^2/b` (the SDE :math:`dx=-\nabla f\,dt+\sqrt{\eta/b}\,B\,dW`, :math:`BB^{\mathsf T}=\Sigma`,
all of :math:`\operatorname{tr}\Sigma=\sigma^2` in the one direction). So the stationary law is the Gibbs density
:math:`\propto e^{-\beta U}`, :math:`\beta=2/s^2`, for every :math:`p` and :math:`k`. Writing
:math:`-\beta U=\sum_i(-\beta f(x^i)-\frac{\beta k}2(x^i)^2)+\frac{\beta k}{2p}(\sum_ix^i)^2` and
:math:`e^{cS^2}=\mathbb E_z e^{zS}`, :math:`z\sim\mathcal N(0,2c)` (Hubbard--Stratonovich), the agents decouple given
:math:`z`:

.. math::
    \mathbb E\bar x^2=\frac{\int\varphi(z)\,g_0(z)^p\,\frac{M_2(z)+(p-1)M_1(z)^2}{p}\,dz}{\int\varphi(z)\,g_0(z)^p\,dz},
    \qquad g_r(z)=\int x^r e^{-\beta(f(x)+\frac k2x^2)+zx}dx,\ M_r=g_r/g_0,

a two-dimensional quadrature (Gauss--Legendre in :math:`x` between the switch points, trapezoid in :math:`z`).
At :math:`k=0` it is :math:`\mathbb E\bar x^2=\mathbb E x^2/p+(1-1/p)(\mathbb E x)^2` of one Gibbs law
:math:`\propto e^{-2f/s^2}`.

**Momentum at k = 0 or p = 1** (Thm 5.3's (33)--(34), :math:`k_v=0`): each agent is an underdamped Langevin
system with stationary law :math:`\propto e^{-(2\gamma/s^2)(f(x)+v^2/2)}`: the position has the Gibbs law at
:math:`s^2/\gamma`, the velocity is :math:`\mathcal N(0,s^2/(2\gamma))` and independent of it.

Example:
    >>> from quorumsgd.objectives.profile import CurvatureProfile
    >>> f = CurvatureProfile([], [0.5])                                  # the quadratic: s^2 / (2 h p)
    >>> round(second_moment("thm5.1", f, n_agents=4, coupling=2.0, noise=1.0), 10)
    0.25
    >>> round(second_moment("thm5.1", CurvatureProfile([0.0], [0.5, 2.0]), n_agents=4, coupling=0.0,
    ...                     noise=1.0), 6)
    0.306866
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import logsumexp

from quorumsgd.objectives.profile import CurvatureProfile

_NODES, _WEIGHTS = leggauss(24)


def _x_grid(f: CurvatureProfile, beta: float, curvature_floor: float, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights covering the mass of :math:`e^{-\\beta f}` (and its tilts up to ``reach``)."""
    scale = 1.0 / np.sqrt(beta * curvature_floor)  # the widest Gaussian scale of the law
    t = f.switches
    # f >= curvature_floor x^2 / 2 about x* = 0, so beyond 16 scales (plus the tilt) lies < e^-128 of the mass
    lo, hi = -16 * scale - reach, 16 * scale + reach
    edges = np.unique(np.asarray([lo, 0.0, hi, *[s for s in t if lo < s < hi]]))
    cells = []
    for a, b in itertools.pairwise(edges):
        m = max(1, int(np.ceil((b - a) / (0.5 * scale))))
        e = np.linspace(a, b, m + 1)
        cells.append(np.column_stack([e[:-1], e[1:]]))
    c = np.vstack(cells)
    half, mid = (c[:, 1:] - c[:, :1]) / 2, (c[:, 1:] + c[:, :1]) / 2
    return (half * _NODES + mid).ravel(), (half * _WEIGHTS).ravel()


def gibbs_moments(f: CurvatureProfile, noise: float) -> tuple[float, float]:
    r""":math:`(\mathbb E x,\mathbb E x^2)` under :math:`\propto e^{-2f(x)/s^2}`, ``noise`` :math:`=s^2`."""
    beta = 2.0 / noise
    x, w = _x_grid(f, beta, float(f.curvatures.min()), 0.0)
    e = -beta * f.scalar_value(x)
    d = w * np.exp(e - e.max())
    z = d.sum()
    return float((d * x).sum() / z), float((d * x * x).sum() / z)


def qsgd_second_moment(f: CurvatureProfile, n_agents: int, coupling: float, noise: float) -> float:
    r""":math:`\mathbb E\bar x^2` of QSGD (6) at stationarity (module docstring), exact to quadrature."""
    p, k, beta = int(n_agents), float(coupling), 2.0 / noise
    if p == 1 or k == 0.0:
        m1, m2 = gibbs_moments(f, noise)
        return m2 / p + (1 - 1 / p) * m1 * m1
    lam = float(f.curvatures.min())
    var_z = beta * k / p
    # z's law under the weights phi g0^p has variance at most var_z (lam + k) / lam (the quadratic case)
    zmax = 14.0 * np.sqrt(var_z * (lam + k) / lam)
    z = np.linspace(-zmax, zmax, 301)
    reach = zmax / (beta * (lam + k))
    x, w = _x_grid(f, beta, lam + k, reach)
    base = -beta * (f.scalar_value(x) + k * x * x / 2)
    e = base[None, :] + z[:, None] * x[None, :]
    shift = e.max(axis=1, keepdims=True)
    d = w * np.exp(e - shift)
    g0 = d.sum(axis=1)
    m1 = (d * x).sum(axis=1) / g0
    m2 = (d * x * x).sum(axis=1) / g0
    logw = -z * z / (2 * var_z) + p * (np.log(g0) + shift[:, 0])
    wz = np.exp(logw - logsumexp(logw))
    if wz[0] > 1e-14 or wz[-1] > 1e-14:  # the z range must hold the mass (it does by the bound above)
        raise ArithmeticError("qsgd_second_moment: z range too short")
    return float(np.sum(wz * (m2 + (p - 1) * m1 * m1) / p))


def exact_available(name: str, n_agents: int, coupling: float) -> bool:
    """Where :func:`second_moment` is exact: QSGD everywhere, momentum QSGD at k = 0 or p = 1."""
    return name == "thm5.1" or (name == "thm5.3" and (coupling == 0.0 or n_agents == 1))


def second_moment(name: str, f: CurvatureProfile, *, n_agents: int, coupling: float, noise: float,
                  damping: float = 1.0) -> float:
    r"""The certified quantity of ``name`` for ``f`` (``noise`` :math:`=\eta\sigma^2/b`), where exact.

    thm5.1: :math:`\mathbb E\bar x^2`; thm5.3: :math:`\mathbb E\bar x^2+\mathbb E\bar v^2`.
    """
    if name == "thm5.1":
        return qsgd_second_moment(f, n_agents, coupling, noise)
    if name == "thm5.3" and (coupling == 0.0 or n_agents == 1):
        position = qsgd_second_moment(f, n_agents, 0.0, noise / damping)
        return position + noise / (2 * damping * n_agents)
    raise ValueError(f"no exact evaluator for {name} at p={n_agents}, k={coupling}")
