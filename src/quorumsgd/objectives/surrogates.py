r"""SURROGATES of the paper's nonconvex model losses (40) and (44) — NOT the paper's formulas.

The paper's formulas (40) and (44) could not be recovered from the paper. These stand-ins follow its
prose and are the toolkit's choice; every experiment keeps the loss pluggable (any :class:`Objective`).

* :class:`NonconvexSurrogate1D` for (40): a tilted double well (two deep, wide basins, the right one deeper)
  plus high-frequency sinusoids that create sharp spurious minima, times a small constant factor:

  .. math:: f(x)=c\Big[\tfrac18(x^2-4)^2-\tau x+\textstyle\sum_m a_m\sin(\omega_m x)\Big],\quad
     c=0.2,\ \tau=0.3,\ (a,\omega)=\{(0.5,8),(0.3,15)\}.

* :class:`CoupledDoubleWellSurrogate` for (44): a separable sum of tilted double wells (minima near the
  :math:`2^n` corners, deepest at the all-negative corner) with pairwise sinusoidal coupling:

  .. math:: f(\mathbf x)=\sum_i\big[(x_i^2-1)^2+\tau x_i\big]+\frac cn\sum_{i<j}\sin(\omega x_i)\sin(\omega x_j).

Both have closed-form losses smoothed by uniform noise (the figures' "convolved loss").

Example:
    >>> f = NonconvexSurrogate1D()
    >>> f.surrogate, f.dim, round(float(f.minimizer[0]), 2) > 0     # the deeper basin is on the right
    (True, 1, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import final

import numpy as np
from scipy import optimize

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.arrays import Array, namespace, sum_last
from quorumsgd.objectives.base import Objective


def _sinc(z: np.ndarray | float) -> np.ndarray | float:
    """:math:`\\sin z/z`, the factor by which a uniform average of half-width ``a`` damps :math:`\\sin(\\omega x)`."""
    return np.sinc(np.asarray(z) / np.pi)


@final
class NonconvexSurrogate1D(Objective):
    """SURROGATE of the paper's 1-D model loss (40); see the module docstring for the formula."""

    surrogate = True

    def __init__(self, scale: float = 0.2, tilt: float = 0.3,
                 amplitudes: Sequence[float] = (0.5, 0.3), frequencies: Sequence[float] = (8.0, 15.0)) -> None:
        if not scale > 0:
            raise InvalidParameter("scale", "> 0", scale, "NonconvexSurrogate1D")
        if len(amplitudes) != len(frequencies):
            raise InvalidParameter("amplitudes", "the same length as frequencies",
                                   (len(amplitudes), len(frequencies)), "NonconvexSurrogate1D")
        self.dim = 1
        self.scale, self.tilt = float(scale), float(tilt)
        self.amplitudes = np.asarray(amplitudes, dtype=np.float64)
        self.frequencies = np.asarray(frequencies, dtype=np.float64)

    def __repr__(self) -> str:
        return (f"NonconvexSurrogate1D(scale={self.scale}, tilt={self.tilt}, "
                f"amplitudes={self.amplitudes.tolist()}, frequencies={self.frequencies.tolist()})")

    def _sines(self, x: Array, derivative: int) -> Array:
        xp = namespace(x)
        total = 0.0 * x
        for a, w in zip(self.amplitudes.tolist(), self.frequencies.tolist(), strict=True):
            if derivative == 0:
                total = total + a * xp.sin(w * x)
            elif derivative == 1:
                total = total + a * w * xp.cos(w * x)
            else:
                total = total - a * w * w * xp.sin(w * x)
        return total

    def value(self, x: Array) -> Array:
        y = (x * x - 4.0) ** 2 / 8.0 - self.tilt * x + self._sines(x, 0)
        return self.scale * y[..., 0]

    def grad(self, x: Array) -> Array:
        return self.scale * (x * (x * x - 4.0) / 2.0 - self.tilt + self._sines(x, 1))

    def hessian(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return (self.scale * ((3.0 * x * x - 4.0) / 2.0 + self._sines(x, 2)))[..., None]

    def smoothed_value(self, x: Array, half_width: float) -> Array:
        a2 = half_width**2
        quartic = (x**4 + 2.0 * a2 * x * x + a2 * a2 / 5.0 - 8.0 * (x * x + a2 / 3.0) + 16.0) / 8.0
        xp = namespace(x)
        sines = 0.0 * x
        for a, w in zip(self.amplitudes.tolist(), self.frequencies.tolist(), strict=True):
            sines = sines + a * float(_sinc(w * half_width)) * xp.sin(w * x)
        return self.scale * (quartic - self.tilt * x + sines)[..., 0]

    @property
    def strong_convexity(self) -> None:
        return None

    @property
    def smoothness(self) -> float:
        return float("inf")  # the quartic's curvature is unbounded

    @property
    def q(self) -> float:
        return float("inf")

    @cached_property
    def _lambda_max(self) -> float:
        # -f'' <= scale*(2 + sum a w^2) everywhere and -f'' < 0 once (3x^2-4)/2 exceeds sum a w^2, so a grid on
        # that interval, finer than the fastest period, then a local refinement gives the supremum.
        bump = float(np.sum(self.amplitudes * self.frequencies**2))
        radius = np.sqrt((2.0 * bump + 4.0) / 3.0)
        grid = np.linspace(-radius, radius, 200_001)[:, None]
        neg = -self.hessian(grid)[:, 0, 0]
        x0 = float(grid[np.argmax(neg), 0])
        step = 2 * radius / 200_000
        res = optimize.minimize_scalar(lambda z: float(self.hessian(np.array([[z]]))[0, 0, 0]),
                                       bounds=(x0 - step, x0 + step), method="bounded")
        return float(max(neg.max(), -res.fun))

    @property
    def lambda_max(self) -> float:
        return self._lambda_max

    @cached_property
    def _minimizer(self) -> np.ndarray:
        grid = np.linspace(-4.0, 4.0, 400_001)[:, None]
        x0 = float(grid[np.argmin(self.value(grid)), 0])
        step = 8.0 / 400_000
        res = optimize.minimize_scalar(lambda z: float(self.value(np.array([z]))),
                                       bounds=(x0 - step, x0 + step), method="bounded",
                                       options={"xatol": 1e-12})
        return np.array([res.x])

    @property
    def minimizer(self) -> np.ndarray:
        return self._minimizer.copy()


@final
class CoupledDoubleWellSurrogate(Objective):
    """SURROGATE of the paper's high-dimensional model loss (44); see the module docstring for the formula."""

    surrogate = True

    def __init__(self, dim: int = 10, tilt: float = 0.25, coupling: float = 1.0, frequency: float = 6.0) -> None:
        if dim < 2:
            raise InvalidParameter("dim", ">= 2", dim, "CoupledDoubleWellSurrogate")
        self.dim = int(dim)
        self.tilt, self.coupling, self.frequency = float(tilt), float(coupling), float(frequency)

    def __repr__(self) -> str:
        return (f"CoupledDoubleWellSurrogate(dim={self.dim}, tilt={self.tilt}, coupling={self.coupling}, "
                f"frequency={self.frequency})")

    def _pair_sum(self, s: Array) -> Array:
        # sum_{i<j} s_i s_j = ((sum s)^2 - sum s^2) / 2: O(n) instead of O(n^2).
        total = sum_last(s)
        return 0.5 * (total * total - sum_last(s * s))

    def value(self, x: Array) -> Array:
        xp = namespace(x)
        wells = sum_last((x * x - 1.0) ** 2 + self.tilt * x)
        return wells + self.coupling / self.dim * self._pair_sum(xp.sin(self.frequency * x))

    def grad(self, x: Array) -> Array:
        xp = namespace(x)
        s = xp.sin(self.frequency * x)
        others = sum_last(s)[..., None] - s
        pair = (self.coupling / self.dim * self.frequency) * xp.cos(self.frequency * x) * others
        return 4.0 * x * (x * x - 1.0) + self.tilt + pair

    def hessian(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        w, g = self.frequency, self.coupling / self.dim
        s, c = np.sin(w * x), np.cos(w * x)
        others = s.sum(axis=-1, keepdims=True) - s
        h = g * w * w * c[..., :, None] * c[..., None, :]
        diag = 12.0 * x * x - 4.0 - g * w * w * s * others
        idx = np.arange(self.dim)
        h[..., idx, idx] = diag
        return h

    def smoothed_value(self, x: Array, half_width: float) -> Array:
        xp = namespace(x)
        a2 = half_width**2
        wells = x**4 + 2.0 * a2 * x * x + a2 * a2 / 5.0 - 2.0 * (x * x + a2 / 3.0) + 1.0 + self.tilt * x
        damp = float(_sinc(self.frequency * half_width)) ** 2  # independent coordinates: one sinc each
        return sum_last(wells) + damp * self.coupling / self.dim * self._pair_sum(xp.sin(self.frequency * x))

    def cross_section(self, u: np.ndarray, v: np.ndarray, rest: float | np.ndarray,
                      half_width: float | None = None) -> np.ndarray:
        """Loss on the plane :math:`(x_1,x_2)=(u,v)` with :math:`x_{3..n}` fixed at ``rest`` (Fig. 4(a)/(b))."""
        uu, vv = np.meshgrid(u, v, indexing="xy")
        pts = np.empty((*uu.shape, self.dim))
        pts[..., 0], pts[..., 1] = uu, vv
        pts[..., 2:] = rest
        return self.value(pts) if half_width is None else self.smoothed_value(pts, half_width)

    @property
    def strong_convexity(self) -> None:
        return None

    @property
    def smoothness(self) -> float:
        return float("inf")

    @property
    def q(self) -> float:
        return float("inf")

    @property
    def lambda_max(self) -> float:
        """An upper bound: :math:`-(12x^2-4)\\le4` plus Gershgorin on the coupling, :math:`2c\\omega^2(n-1)/n`."""
        return 4.0 + 2.0 * self.coupling * self.frequency**2 * (self.dim - 1) / self.dim

    @cached_property
    def _minimizer(self) -> np.ndarray:
        # Numerical estimate: the best of local minimizations started at the all-negative corner (the
        # uncorrupted loss's global minimum) and at a few deterministic random points.
        rng = np.random.default_rng(0)
        starts = [np.full(self.dim, -1.0), *rng.uniform(-1.5, 1.5, size=(16, self.dim))]
        best = None
        for x0 in starts:
            res = optimize.minimize(lambda z: float(self.value(z)), x0, jac=lambda z: self.grad(z),
                                    method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15})
            if best is None or res.fun < best.fun:
                best = res
        return np.asarray(best.x)

    @property
    def minimizer(self) -> np.ndarray:
        return self._minimizer.copy()

    def corner_minima_center(self) -> np.ndarray:
        """Location of the uncorrupted double well's minima, :math:`\\pm` the roots of :math:`4x^3-4x+\\tau=0`."""
        roots = np.roots([4.0, 0.0, -4.0, self.tilt])
        real = np.sort(roots[np.abs(roots.imag) < 1e-12].real)
        return np.array([real[0], real[-1]])

