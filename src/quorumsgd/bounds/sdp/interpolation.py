r"""Quadratic inequalities that every pair of (point, gradient) of one :math:`f\in\mathcal S(\lambda,L)` satisfies.

For :math:`f` :math:`\lambda`-strongly convex and :math:`L`-smooth, and any two points with gradients
:math:`(\mathbf y_i,\mathbf g_i)`, :math:`(\mathbf y_j,\mathbf g_j)` (the minimizer is the point
:math:`(\mathbf x^*,\mathbf 0)=(\mathbf 0,\mathbf 0)`), with :math:`\Delta\mathbf y=\mathbf y_i-\mathbf y_j`,
:math:`\Delta\mathbf g=\mathbf g_i-\mathbf g_j`:

.. math::
    \varphi=\langle\Delta\mathbf g,\Delta\mathbf y\rangle-\frac{\lambda L}{\lambda+L}\|\Delta\mathbf y\|^2
        -\frac1{\lambda+L}\|\Delta\mathbf g\|^2\ \ge0 \quad\text{(cocoercivity of } \nabla f-\lambda\mathbf x),\qquad
    \psi=\langle\Delta\mathbf g,\Delta\mathbf y\rangle-\lambda\|\Delta\mathbf y\|^2\ \ge0
    \quad\text{(strong monotonicity)}.

(Nesterov, *Lectures on Convex Optimization*, Thm 2.1.12.) :math:`\varphi\ge0` implies :math:`\psi\ge0`
pointwise, but :math:`\psi` is not a nonnegative combination of :math:`\varphi`, so both go into the
S-procedure. Function-value interpolation (Taylor--Hendrickx--Glineur) is not used: a quadratic Lyapunov
function without function values cannot use it except through these symmetric sums.

The forms act on :math:`(\boldsymbol\xi,\mathbf u)` through the gradient-point map :math:`\mathbf y=\mathbf C\boldsymbol\xi`.

Example:
    >>> import numpy as np
    >>> q = pair_forms(np.array([[1.0]]), 0, None, strong_convexity=1.0, smoothness=1.0)   # f = |x|^2 / 2
    >>> z = np.array([2.0, 2.0])                                    # y = 2, g = 2: on the class
    >>> [float(z @ f @ z) for f in q]
    [0.0, 0.0]
"""

from __future__ import annotations

import numpy as np


def pair_forms(c: np.ndarray, i: int, j: int | None, *, strong_convexity: float, smoothness: float
               ) -> tuple[np.ndarray, np.ndarray]:
    r"""The matrices of :math:`\varphi` and :math:`\psi` for the pair (input i, input j) over :math:`(\boldsymbol\xi,\mathbf u)`.

    ``c`` is the gradient-point map ``(m, n)``; ``j=None`` pairs input i with the minimizer.
    """
    m, n = c.shape
    dy = np.zeros(n + m)
    dg = np.zeros(n + m)
    dy[:n] = c[i]
    dg[n + i] = 1.0
    if j is not None:
        dy[:n] -= c[j]
        dg[n + j] = -1.0
    lam, big_l = float(strong_convexity), float(smoothness)
    cross = 0.5 * (np.outer(dg, dy) + np.outer(dy, dg))
    yy, gg = np.outer(dy, dy), np.outer(dg, dg)
    phi = cross - lam * big_l / (lam + big_l) * yy - gg / (lam + big_l)
    psi = cross - lam * yy
    return phi, psi


def mode_forms(c: np.ndarray, *, strong_convexity: float, smoothness: float) -> tuple[np.ndarray, np.ndarray]:
    r"""The forms on one symmetric mode (one input): a pair's difference projected on the mode is the mode's
    own (point, gradient), so the pair sums reduce to :math:`\varphi,\psi` of the mode vs. the origin
    (see :mod:`quorumsgd.bounds.sdp.reduction`)."""
    return pair_forms(c, 0, None, strong_convexity=strong_convexity, smoothness=smoothness)
