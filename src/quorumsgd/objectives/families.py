r"""Adversarial objective families with exact constants: asymmetric pieces along rotated directions.

The worst case of Thm 3.2 / 5.1--5.3 puts a *small* curvature and a *large* third derivative together near the
minimizer; the log-cosh test function does the opposite. This family spans that corner of the class:

.. math::
    f(\mathbf x)=\frac\lambda2\|\mathbf x-\mathbf x^*\|^2+\sum_{j=1}^{m}c\,g\big((\mathbf U(\mathbf x-\mathbf x^*))_j\big),
    \qquad g(y)=\phi(y-s)-\phi(-s)-\phi'(-s)\,y ,

with :math:`\mathbf U` orthogonal (:math:`\mathbf U=e^{\theta\mathbf K}`, :math:`\mathbf K` a seeded skew matrix),
:math:`m\le n` pieces and a convex profile :math:`\phi` with :math:`0\le\phi''\le1`. Removing the linear part of
the shifted profile makes :math:`g(0)=g'(0)=0`, so :math:`\mathbf x^*` is the minimizer *exactly* whatever the
shift :math:`s`, and :math:`s` moves the extremum of :math:`g'''` onto (or next to) the minimizer. Profiles:

* ``"softplus"``: :math:`\phi(y)=4w^2\operatorname{softplus}(y/w)`, so :math:`\phi''=4\sigma(1-\sigma)\in(0,1]`
  and :math:`\sup|\phi'''|=4M_3/w` with :math:`M_3=\sup|\operatorname{softplus}'''|=\tfrac{\sqrt3}{18}`
  (derived in SymPy: :func:`softplus_constants`). The width :math:`w` trades curvature for third derivative.
* ``"switch"``: :math:`\phi(y)=\tfrac12(y)_+^2`, a curvature profile that switches between :math:`\lambda` and
  :math:`L` (a :math:`C^{1,1}` member of :math:`S(\lambda,L)`; :math:`Q=\infty`: only Q-free bounds apply).

Exact constants (the Hessian is :math:`\lambda\mathbf I+\mathbf U^{\mathsf T}\operatorname{diag}(c\,\phi''_j)\mathbf U` and
the Hessian of the gradient component :math:`i` is :math:`\mathbf U^{\mathsf T}\operatorname{diag}(c\,\phi'''_jU_{ji})\mathbf U`,
whose arguments :math:`y_j` range independently over :math:`\mathbb R`):

.. math:: \lambda_{\rm sc}=\lambda,\qquad L=\lambda+c\ (m\ge1),\qquad
   Q=\max_{i}\max_{j\le m}\frac{4M_3c}{w}\,|U_{ji}|\quad\text{(Assumption 2.1, two-sided form).}

Example:
    >>> import numpy as np
    >>> f = RotatedPieces(dim=2, strong_convexity=0.5, curvature=2.0, width=0.5, shift=0.3, angle=0.0)
    >>> f.smoothness, round(f.q, 6), f.lambda_max
    (2.5, 1.539601, -0.5)
    >>> bool(np.allclose(f.grad(f.minimizer), 0.0))
    True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, final

import numpy as np
from scipy.linalg import expm

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.arrays import Array, constant, namespace, sum_last
from quorumsgd.objectives.base import QuadraticPlusBoundedCurvature

Profile = Literal["softplus", "switch"]


@dataclass(frozen=True)
class ProfileConstants:
    """Suprema of the normalized profile :math:`\\operatorname{softplus}` and where :math:`|\\phi'''|` peaks."""

    max_second: float
    """:math:`\\sup\\operatorname{softplus}''=1/4`, at 0."""
    max_third: float
    """:math:`M_3=\\sup|\\operatorname{softplus}'''|=\\sqrt3/18`."""
    third_peak: float
    """:math:`y_3=\\log\\frac{3+\\sqrt3}{3-\\sqrt3}`: :math:`|\\operatorname{softplus}'''|` peaks at :math:`\\pm y_3`."""


@functools.lru_cache(maxsize=1)
def softplus_constants() -> ProfileConstants:
    r"""Derive :math:`\sup\operatorname{softplus}''` and :math:`\sup|\operatorname{softplus}'''|` in SymPy (cached).

    With :math:`u=\sigma(y)` every derivative of softplus is a polynomial in :math:`u\in(0,1)`:
    :math:`\phi''=u(1-u)`, :math:`\phi'''=u(1-u)(1-2u)`; the suprema are at the roots of the next derivative.

    >>> c = softplus_constants()
    >>> round(c.max_second, 12), round(c.max_third * 18 / 3**0.5, 12)
    (0.25, 1.0)
    """
    import sympy as sp

    u = sp.symbols("u", positive=True)
    d2 = u * (1 - u)  # d/dy = u (1 - u) d/du for u = sigma(y)
    d3 = sp.expand(u * (1 - u) * sp.diff(d2, u))
    d4 = sp.expand(u * (1 - u) * sp.diff(d3, u))
    interior = [r for r in sp.solve(sp.diff(d2, u), u) if 0 < r < 1]
    max_second = max(d2.subs(u, r) for r in interior)
    peaks = [r for r in sp.solve(sp.factor(d4) / (u * (1 - u)), u) if 0 < r < 1]
    max_third = max(sp.Abs(d3.subs(u, r)) for r in peaks)
    peak = min(peaks)  # u < 1/2: the left peak, y_3 = logit(u) < 0; report |y_3|
    return ProfileConstants(float(sp.nsimplify(max_second)), float(sp.simplify(max_third)),
                            float(abs(sp.log(peak / (1 - peak)))))


def rotation(dim: int, angle: float, seed: int) -> np.ndarray:
    r"""The orthogonal matrix :math:`e^{\theta\mathbf K}`, :math:`\mathbf K` skew with unit spectral norm (seeded).

    >>> bool(np.allclose(rotation(3, 0.0, 1), np.eye(3)))
    True
    """
    if dim == 1 or angle == 0.0:
        return np.eye(dim)
    a = np.random.default_rng(seed).standard_normal((dim, dim))
    k = a - a.T
    k /= np.linalg.norm(k, 2)
    u = expm(angle * k)
    q, r = np.linalg.qr(u)  # re-orthogonalize to round-off (expm of a skew matrix is orthogonal in exact arithmetic)
    return q * np.sign(np.diag(r))


def _sigmoid(xp: object, t: Array) -> Array:
    return 0.5 * (1.0 + xp.tanh(0.5 * t))  # type: ignore[attr-defined]  # numpy and torch alike, overflow-free


def _softplus(xp: object, t: Array) -> Array:
    a = xp.abs(t)  # type: ignore[attr-defined]
    return 0.5 * (t + a) + xp.log1p(xp.exp(-a))  # type: ignore[attr-defined]


@final
class RotatedPieces(QuadraticPlusBoundedCurvature):
    """:math:`\\frac\\lambda2\\|\\mathbf x-\\mathbf x^*\\|^2+\\sum_{j\\le m}c\\,g((\\mathbf U(\\mathbf x-\\mathbf x^*))_j)` (module docstring).

    Args:
        dim: :math:`n`. strong_convexity: :math:`\\lambda>0`. curvature: :math:`c\\ge0` (so :math:`L=\\lambda+c`).
        width: :math:`w>0` of the softplus profile (ignored by ``"switch"``).
        shift: :math:`s`, in units of :math:`w` for softplus (0: curvature midpoint at the minimizer;
            :math:`\\pm y_3` of :func:`softplus_constants`: the third-derivative peak at the minimizer).
        pieces: :math:`m` (default ``dim``). angle, seed: the rotation :math:`\\mathbf U=e^{\\theta\\mathbf K}`.
        center: :math:`\\mathbf x^*`. profile: ``"softplus"`` or ``"switch"``.
    """

    def __init__(self, dim: int, strong_convexity: float = 0.5, curvature: float = 2.0, width: float = 1.0,
                 shift: float = 0.0, pieces: int | None = None, angle: float = 0.0, seed: int = 0,
                 center: np.ndarray | float = 0.0, profile: Profile = "softplus") -> None:
        where = "RotatedPieces"
        if int(dim) != dim or dim < 1:
            raise InvalidParameter("dim", ">= 1", dim, where)
        if not strong_convexity > 0:
            raise InvalidParameter("strong_convexity", "> 0", strong_convexity, where)
        if not curvature >= 0:
            raise InvalidParameter("curvature", ">= 0", curvature, where)
        if not width > 0:
            raise InvalidParameter("width", "> 0", width, where)
        if profile not in ("softplus", "switch"):
            raise InvalidParameter("profile", "be 'softplus' or 'switch'", profile, where)
        m = dim if pieces is None else int(pieces)
        if not 1 <= m <= dim:
            raise InvalidParameter("pieces", f"1 <= pieces <= dim = {dim}", pieces, where)
        self.dim, self.pieces, self.profile = int(dim), m, profile
        self.strong_convexity_, self.curvature, self.width = float(strong_convexity), float(curvature), float(width)
        self.shift, self.angle, self.seed = float(shift), float(angle), int(seed)
        self.center = np.broadcast_to(np.asarray(center, dtype=np.float64), (self.dim,)).copy()
        self.rotation = rotation(self.dim, self.angle, self.seed)
        self._rows_t = np.ascontiguousarray(self.rotation[:m].T)  # y = (x - x*) @ U[:m]^T
        self._rows = np.ascontiguousarray(self.rotation[:m])
        # Offset of the profile's argument: y - s, with s in absolute units.
        self._s = self.shift * self.width if profile == "softplus" else self.shift
        self._slope0 = self._d1(np, np.asarray(-self._s))  # phi'(-s): the removed linear part

    def __repr__(self) -> str:
        return (f"RotatedPieces(dim={self.dim}, strong_convexity={self.strong_convexity_}, curvature={self.curvature}, "
                f"width={self.width}, shift={self.shift}, pieces={self.pieces}, angle={self.angle}, seed={self.seed}, "
                f"profile={self.profile!r})")

    # -- the profile phi and its derivatives -------------------------------------------------------------------
    def _d0(self, xp: object, t: Array) -> Array:
        if self.profile == "switch":
            p = 0.5 * (t + xp.abs(t))  # type: ignore[attr-defined]
            return 0.5 * p * p
        w = self.width
        return 4.0 * w * w * _softplus(xp, t / w)

    def _d1(self, xp: object, t: Array) -> Array:
        if self.profile == "switch":
            return 0.5 * (t + xp.abs(t))  # type: ignore[attr-defined]
        return 4.0 * self.width * _sigmoid(xp, t / self.width)

    def _d2(self, t: np.ndarray) -> np.ndarray:
        if self.profile == "switch":
            return (t > 0).astype(np.float64)
        s = _sigmoid(np, t / self.width)
        return 4.0 * s * (1.0 - s)

    def _d3(self, t: np.ndarray) -> np.ndarray:
        if self.profile == "switch":
            return np.zeros_like(t)  # a Dirac mass at t = 0: Q is infinite
        s = _sigmoid(np, t / self.width)
        return 4.0 / self.width * s * (1.0 - s) * (1.0 - 2.0 * s)

    # -- the objective -----------------------------------------------------------------------------------------
    def _local(self, x: Array) -> tuple[Array, Array]:
        d = x - constant(self.center, like=x)
        return d, d @ constant(self._rows_t, like=x)

    def value(self, x: Array) -> Array:
        xp = namespace(x)
        d, y = self._local(x)
        g = self._d0(xp, y - self._s) - float(self._d0(np, np.asarray(-self._s))) - float(self._slope0) * y
        return 0.5 * self.strong_convexity_ * sum_last(d * d) + self.curvature * sum_last(g)

    def grad(self, x: Array) -> Array:
        xp = namespace(x)
        d, y = self._local(x)
        dg = self._d1(xp, y - self._s) - float(self._slope0)
        return self.strong_convexity_ * d + (self.curvature * dg) @ constant(self._rows, like=x)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        _, y = self._local(np.asarray(x, dtype=np.float64))
        h = self.curvature * self._d2(y - self._s)  # (..., m)
        u = self._rows
        return self.strong_convexity_ * np.eye(self.dim) + np.einsum("...j,ja,jb->...ab", h, u, u)

    def third_derivative(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\partial_a\\partial_b\\partial_c f=\\sum_j c\\,\\phi'''_j U_{ja}U_{jb}U_{jc}`, shape ``x.shape + (dim, dim)``."""
        _, y = self._local(np.asarray(x, dtype=np.float64))
        t = self.curvature * self._d3(y - self._s)
        u = self._rows
        return np.einsum("...j,ja,jb,jc->...abc", t, u, u, u)

    # -- exact constants (lambda, L, lambda_max: QuadraticPlusBoundedCurvature) ------------------------------
    @property
    def q(self) -> float:
        if self.curvature == 0:
            return 0.0
        if self.profile == "switch":
            return float("inf")
        m3 = 4.0 * softplus_constants().max_third / self.width
        return float(m3 * self.curvature * np.abs(self._rows).max())

    @property
    def minimizer(self) -> np.ndarray:
        return self.center.copy()

    def curvature_at_minimizer(self) -> np.ndarray:
        """Eigenvalues of :math:`\\nabla^2 f(\\mathbf x^*)` (how small the curvature is where the agents sit)."""
        return np.linalg.eigvalsh(self.hessian(self.center))
