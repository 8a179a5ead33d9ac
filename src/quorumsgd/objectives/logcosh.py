r"""A strongly convex, non-quadratic test function with bounded third derivatives (Assumption 2.1).

.. math::
    f(\mathbf x)=\sum_{j=1}^n\Big[\frac\lambda2x_j^2+c\,\log\cosh(x_j-a_j)\Big],\qquad
    \nabla^2 f=\operatorname{diag}\big(\lambda+c\,\operatorname{sech}^2(x_j-a_j)\big).

So :math:`\lambda\mathbf I\preceq\nabla^2f\preceq(\lambda+c)\mathbf I` and, since
:math:`|\tfrac{d^3}{dy^3}\log\cosh y|=2\operatorname{sech}^2y\,|\tanh y|\le\tfrac{4}{3\sqrt3}`, the Hessian of each
gradient component has norm at most :math:`Q=\tfrac{4c}{3\sqrt3}` (Assumption 2.1). Unlike a quadratic, the
disturbance :math:`\boldsymbol\epsilon` of (27) does not vanish here, which makes it the test bed of Thm 3.2 / 5.1.

Example:
    >>> import numpy as np
    >>> f = LogCosh(dim=2, strong_convexity=0.5, curvature=2.0, shift=1.0)
    >>> f.smoothness, round(f.q, 6)
    (2.5, 1.539601)
    >>> bool(np.allclose(f.grad(f.minimizer), 0.0, atol=1e-12))
    True
"""

from __future__ import annotations

from typing import final

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.arrays import Array, constant, namespace, sum_last
from quorumsgd.objectives.base import QuadraticPlusBoundedCurvature

_MAX_THIRD = 4.0 / (3.0 * 3.0**0.5)  # sup |d^3/dy^3 log cosh y|, attained at tanh^2 y = 1/3


def log_cosh(y: Array) -> Array:
    """Overflow-free :math:`\\log\\cosh y = |y| + \\log(1+e^{-2|y|}) - \\log 2`."""
    xp = namespace(y)
    a = xp.abs(y)
    return a + xp.log1p(xp.exp(-2.0 * a)) - 0.6931471805599453  # log 2 as a Python float: any backend


@final
class LogCosh(QuadraticPlusBoundedCurvature):
    """:math:`\\sum_j[\\frac\\lambda2x_j^2+c\\log\\cosh(x_j-a_j)]`; ``curvature`` is :math:`c`, ``shift`` is :math:`\\mathbf a`."""

    def __init__(self, dim: int, strong_convexity: float = 0.5, curvature: float = 2.0,
                 shift: np.ndarray | float = 1.0) -> None:
        if dim < 1:
            raise InvalidParameter("dim", ">= 1", dim, "LogCosh")
        if not strong_convexity > 0:
            raise InvalidParameter("strong_convexity", "> 0", strong_convexity, "LogCosh")
        if not curvature >= 0:
            raise InvalidParameter("curvature", ">= 0", curvature, "LogCosh")
        a = np.broadcast_to(np.asarray(shift, dtype=np.float64), (dim,)).copy()
        self.dim = int(dim)
        self.strong_convexity_ = float(strong_convexity)
        self.curvature = float(curvature)
        self.shift = a
        self._minimizer = self._solve_minimizer()

    def __repr__(self) -> str:
        return (f"LogCosh(dim={self.dim}, strong_convexity={self.strong_convexity_}, "
                f"curvature={self.curvature}, shift={self.shift.tolist()})")

    def _solve_minimizer(self) -> np.ndarray:
        # Each coordinate solves lam*x + c*tanh(x - a) = 0, a strictly increasing function: bisection on
        # [-c/lam, c/lam] (where the sign must change since |tanh| < 1), then Newton polishing.
        lam, c, a = self.strong_convexity_, self.curvature, self.shift
        lo, hi = np.full(self.dim, -c / lam - 1.0), np.full(self.dim, c / lam + 1.0)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            positive = lam * mid + c * np.tanh(mid - a) > 0
            hi, lo = np.where(positive, mid, hi), np.where(positive, lo, mid)
        x = 0.5 * (lo + hi)
        for _ in range(3):
            x = x - (lam * x + c * np.tanh(x - a)) / (lam + c / np.cosh(x - a) ** 2)
        return x

    def value(self, x: Array) -> Array:
        y = x - constant(self.shift, like=x)
        return sum_last(0.5 * self.strong_convexity_ * x * x + self.curvature * log_cosh(y))

    def grad(self, x: Array) -> Array:
        xp = namespace(x)
        return self.strong_convexity_ * x + self.curvature * xp.tanh(x - constant(self.shift, like=x))

    def hessian(self, x: np.ndarray) -> np.ndarray:
        d = self.strong_convexity_ + self.curvature / np.cosh(np.asarray(x) - self.shift) ** 2
        return d[..., None] * np.eye(self.dim)

    def third_derivative(self, x: np.ndarray) -> np.ndarray:
        """Diagonal third derivative :math:`\\partial_j^3 f = -2c\\,\\operatorname{sech}^2\\tanh`; the rest vanish."""
        y = np.asarray(x) - self.shift
        return -2.0 * self.curvature * np.tanh(y) / np.cosh(y) ** 2

    @property
    def q(self) -> float:
        return self.curvature * _MAX_THIRD

    @property
    def minimizer(self) -> np.ndarray:
        return self._minimizer.copy()
