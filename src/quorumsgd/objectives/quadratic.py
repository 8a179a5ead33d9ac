r"""Quadratic objectives :math:`f(\mathbf x)=\tfrac12(\mathbf x-\mathbf c)^{\mathsf T}\mathbf A(\mathbf x-\mathbf c)`.

With :math:`\mathbf A\succ0` symmetric: :math:`\lambda=\lambda_{\min}(\mathbf A)`, :math:`L=\lambda_{\max}(\mathbf A)`,
:math:`Q=0` (third derivatives vanish) and :math:`\mathbf x^*=\mathbf c`. The N-agent QSGD / EASGD / momentum
systems on a quadratic are linear SDEs, so :mod:`quorumsgd.simulate.oracle` solves them exactly (Sec. 5.5).

Example:
    >>> import numpy as np
    >>> f = Quadratic(np.diag([1.0, 4.0]), center=np.array([1.0, 0.0]))
    >>> f.grad(np.array([[2.0, 1.0]])).tolist(), float(f.value(np.array([2.0, 1.0])))
    ([[1.0, 4.0]], 2.5)
    >>> f.strong_convexity, f.smoothness
    (1.0, 4.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import final

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.arrays import Array, constant, sum_last
from quorumsgd.objectives.base import Objective


@final
@dataclass(frozen=True, eq=False)
class Quadratic(Objective):
    """:math:`\\tfrac12(\\mathbf x-\\mathbf c)^{\\mathsf T}\\mathbf A(\\mathbf x-\\mathbf c)` for a symmetric positive definite ``matrix``."""

    matrix: np.ndarray
    center: np.ndarray | None = None
    dim: int = field(init=False)
    _eig: np.ndarray = field(init=False, repr=False)
    _centered: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        a = np.asarray(self.matrix, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise InvalidParameter("matrix", "a square 2-D array", getattr(a, "shape", None), "Quadratic")
        if not np.allclose(a, a.T, rtol=1e-10, atol=1e-12):
            raise InvalidParameter("matrix", "symmetry", None, "Quadratic")
        eig = np.linalg.eigvalsh(a)
        if eig[0] <= 0:
            raise InvalidParameter("matrix", "positive definiteness", float(eig[0]), "Quadratic")
        c = np.zeros(a.shape[0]) if self.center is None else np.asarray(self.center, dtype=np.float64)
        if c.shape != (a.shape[0],):
            raise InvalidParameter("center", f"shape ({a.shape[0]},)", c.shape, "Quadratic")
        object.__setattr__(self, "matrix", 0.5 * (a + a.T))
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "dim", a.shape[0])
        object.__setattr__(self, "_eig", eig)
        object.__setattr__(self, "_centered", bool(np.any(c != 0)))  # skip a subtraction per step at x* = 0

    @classmethod
    def isotropic(cls, dim: int, curvature: float = 1.0) -> Quadratic:
        """:math:`\\tfrac h2\\|\\mathbf x\\|^2` with ``h = curvature``."""
        if dim < 1:
            raise InvalidParameter("dim", ">= 1", dim, "Quadratic")
        return cls(curvature * np.eye(dim))

    @classmethod
    def random(cls, dim: int, strong_convexity: float, smoothness: float, seed: int = 0) -> Quadratic:
        """A random rotation of ``diag(linspace(strong_convexity, smoothness))``."""
        if not 0 < strong_convexity <= smoothness:
            raise InvalidParameter("strong_convexity", "0 < strong_convexity <= smoothness",
                                   (strong_convexity, smoothness), "Quadratic")
        rng = np.random.default_rng(seed)
        rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        eig = np.linspace(strong_convexity, smoothness, dim)
        return cls(rotation @ np.diag(eig) @ rotation.T)

    def _shifted(self, x: Array) -> Array:
        if not self._centered:
            return x
        return x - constant(self.center, like=x)

    def value(self, x: Array) -> Array:
        y = self._shifted(x)
        return 0.5 * sum_last((y @ constant(self.matrix, like=x)) * y)

    def grad(self, x: Array) -> Array:
        # A is symmetric, so the row-vector product y @ A is A y for every leading index at once.
        y = x - constant(self.center, like=x) if self._centered else x
        return y @ constant(self.matrix, like=x)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.matrix, (*np.shape(x), self.dim)).copy()

    @property
    def strong_convexity(self) -> float:
        return float(self._eig[0])

    @property
    def smoothness(self) -> float:
        return float(self._eig[-1])

    @property
    def q(self) -> float:
        return 0.0

    @property
    def lambda_max(self) -> float:
        return -float(self._eig[0])

    @property
    def minimizer(self) -> np.ndarray:
        return self.center.copy()

    def smoothed_value(self, x: Array, half_width: float) -> Array:
        # E[(y+u)^T A (y+u)]/2 = f(x) + tr(A) a^2/6 for u_j iid U(-a, a) (variance a^2/3).
        return self.value(x) + float(np.trace(self.matrix)) * half_width**2 / 6.0
