r"""One-dimensional objectives with a piecewise-constant curvature profile: the extreme members of :math:`\mathcal S(\lambda,L)`.

With switch points :math:`t_1<\dots<t_m` and curvatures :math:`c_0,\dots,c_m\in[\lambda,L]`,
:math:`f''(x)=c_0+\sum_i(c_i-c_{i-1})\,[x>t_i]`, normalized by :math:`f(0)=f'(0)=0` (so :math:`x^*=0`):

.. math::
    f'(x)=c_0x+\sum_i\Delta_i\big((x-t_i)_+-(-t_i)_+\big),\qquad
    f(x)=\tfrac{c_0}2x^2+\sum_i\Delta_i\Big(\tfrac{(x-t_i)_+^2-(-t_i)_+^2}2-(-t_i)_+\,x\Big),
    \quad \Delta_i=c_i-c_{i-1}.

The worst cases of the stationary second moment are of this bang-bang form (curvature :math:`\lambda` or
:math:`L` on intervals; see :mod:`quorumsgd.bounds.worst_case`). :math:`Q=\infty` (the curvature jumps), so
Assumption 2.1 fails and the paper's (47)/(51)/(54) do not apply to these members.

Example:
    >>> f = CurvatureProfile(switches=[0.0], curvatures=[0.5, 2.0])
    >>> [float(v) for v in f.value(np.array([[-2.0], [1.0]]))], f.strong_convexity, f.smoothness
    ([1.0, 1.0], 0.5, 2.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.base import Array, Objective


def _relu(x: Array) -> Array:
    return x.clamp(min=0) if hasattr(x, "clamp") else np.maximum(x, 0.0)


class CurvatureProfile(Objective):
    """:math:`f:\\mathbb R\\to\\mathbb R` with :math:`f''` piecewise constant (see the module docstring), :math:`x^*=0`."""

    def __init__(self, switches: Any, curvatures: Any):
        t = np.asarray(switches, dtype=np.float64).reshape(-1)
        c = np.asarray(curvatures, dtype=np.float64).reshape(-1)
        if c.size != t.size + 1:
            raise InvalidParameter("curvatures", f"one more value than switches ({t.size + 1})", c.size,
                                   "CurvatureProfile")
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
            raise InvalidParameter("switches", "finite and ascending", t.tolist(), "CurvatureProfile")
        if not np.all(np.isfinite(c)) or np.any(c <= 0):
            raise InvalidParameter("curvatures", "finite and > 0", c.tolist(), "CurvatureProfile")
        self.switches, self.curvatures, self.dim = t, c, 1
        self._delta = np.diff(c)
        self._neg = np.maximum(-t, 0.0)

    def __repr__(self) -> str:
        return f"CurvatureProfile(switches={self.switches.tolist()}, curvatures={self.curvatures.tolist()})"

    def to_dict(self) -> dict[str, Any]:
        """The witness form: ``{"family": "curvature_profile", "switches": [...], "curvatures": [...]}``."""
        return {"family": "curvature_profile", "switches": self.switches.tolist(),
                "curvatures": self.curvatures.tolist()}

    def scalar_value(self, x: Array) -> Array:
        """:math:`f` on an array of scalars (any shape)."""
        out = self.curvatures[0] * x * x / 2
        for d, t, n in zip(self._delta, self.switches, self._neg, strict=True):
            out = out + d * ((_relu(x - t) ** 2 - n * n) / 2 - n * x)
        return out

    def scalar_grad(self, x: Array) -> Array:
        """:math:`f'` on an array of scalars."""
        out = self.curvatures[0] * x
        for d, t, n in zip(self._delta, self.switches, self._neg, strict=True):
            out = out + d * (_relu(x - t) - n)
        return out

    def value(self, x: Array) -> Array:
        return self.scalar_value(x[..., 0])

    def grad(self, x: Array) -> Array:
        return self.scalar_grad(x)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        h = np.full(np.shape(x)[:-1], self.curvatures[0])
        for d, t in zip(self._delta, self.switches, strict=True):
            h = h + d * (x[..., 0] > t)
        return h[..., None, None]

    @property
    def strong_convexity(self) -> float:
        return float(self.curvatures.min())

    @property
    def smoothness(self) -> float:
        return float(self.curvatures.max())

    @property
    def q(self) -> float:
        return 0.0 if self._delta.size == 0 or not np.any(self._delta) else float("inf")

    @property
    def lambda_max(self) -> float:
        return -self.strong_convexity

    @property
    def minimizer(self) -> np.ndarray:
        return np.zeros(1)
