r"""The objective interface: a loss with the constants the paper's theorems need.

An objective acts on arrays whose *last* axis is the parameter dimension (``(sims, agents, dim)`` in the
Monte Carlo engine, ``(dim,)`` for one point) and works on numpy and torch arrays alike. Its constants are
the hypotheses of the theorems (Def 2.1, Def 2.2, Assumption 2.1, Thm 3.1):

* ``strong_convexity`` :math:`\lambda`: :math:`\nabla^2 f\succeq\lambda\mathbf I` (``None`` when nonconvex);
* ``smoothness`` :math:`L`: :math:`\nabla^2 f\preceq L\mathbf I` (``inf`` when unbounded);
* ``q`` :math:`Q`: :math:`\|\nabla^2(\partial_j f)\|_2\le Q` for every component :math:`j` (the two-sided form
  of Assumption 2.1);
* ``lambda_max``: :math:`\sup_{\mathbf x}\lambda_{\max}(-\nabla^2 f(\mathbf x))` (``-strong_convexity`` when
  strongly convex);
* ``minimizer`` :math:`\mathbf x^*` and ``minimum`` :math:`f(\mathbf x^*)`.

Example:
    >>> from quorumsgd.objectives import Quadratic
    >>> f = Quadratic.isotropic(dim=2, curvature=0.5)
    >>> f.strong_convexity, f.smoothness, f.q, f.lambda_max
    (0.5, 0.5, 0.0, -0.5)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from quorumsgd.types import Array


class Objective(ABC):
    """A differentiable loss :math:`f:\\mathbb R^n\\to\\mathbb R` with known constants (see module docstring)."""

    surrogate: ClassVar[bool] = False
    """True for the toolkit's stand-ins of the paper's unrecovered model losses (40) and (44)."""

    dim: int

    @abstractmethod
    def value(self, x: Array) -> Array:
        """:math:`f(\\mathbf x)` over the last axis: shape ``x.shape[:-1]``."""

    @abstractmethod
    def grad(self, x: Array) -> Array:
        """:math:`\\nabla f(\\mathbf x)`, same shape as ``x``."""

    @abstractmethod
    def hessian(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\nabla^2 f(\\mathbf x)` (numpy), shape ``x.shape + (dim,)``; used by tests and oracles."""

    @property
    @abstractmethod
    def strong_convexity(self) -> float | None: ...

    @property
    @abstractmethod
    def smoothness(self) -> float: ...

    @property
    @abstractmethod
    def q(self) -> float: ...

    @property
    @abstractmethod
    def lambda_max(self) -> float: ...

    @property
    @abstractmethod
    def minimizer(self) -> np.ndarray: ...

    @property
    def minimum(self) -> float:
        """:math:`f(\\mathbf x^*)`."""
        return float(self.value(self.minimizer))

    def smoothed_value(self, x: Array, half_width: float) -> Array:
        r""":math:`\mathbb E\,f(\mathbf x+\mathbf u)` with :math:`u_j\overset{iid}{\sim}\mathcal U(-a,a)`, ``a = half_width``.

        This is the "noise-convolved loss" of the model problems ((38) and footnote 5), where
        :math:`a=\eta w`. Objectives with a closed form override it.
        """
        raise NotImplementedError(f"{type(self).__name__} has no closed-form smoothed loss")

    def constants(self) -> dict[str, Any]:
        """The constants as a JSON-friendly dict (the toolkit's names)."""
        return {
            "dim": self.dim,
            "strong_convexity": self.strong_convexity,
            "smoothness": self.smoothness,
            "q": self.q,
            "lambda_max": self.lambda_max,
            "minimizer": np.asarray(self.minimizer).tolist(),
            "surrogate": self.surrogate,
        }


class QuadraticPlusBoundedCurvature(Objective):
    r"""Objectives :math:`f=\frac\lambda2\|\mathbf x-\mathbf c\|^2+c\,g` with :math:`0\preceq\nabla^2 g\preceq\mathbf I`.

    Such an :math:`f` lies in :math:`\mathcal S(\lambda,\lambda+c)`: its constants :math:`\lambda`, :math:`L` and
    ``lambda_max`` follow from ``strong_convexity_`` and ``curvature`` alone, written here once.
    """

    strong_convexity_: float
    curvature: float

    @property
    def strong_convexity(self) -> float:
        return self.strong_convexity_

    @property
    def smoothness(self) -> float:
        return self.strong_convexity_ + self.curvature

    @property
    def lambda_max(self) -> float:
        return -self.strong_convexity_
