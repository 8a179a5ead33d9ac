r"""Control variates from the exact oracle: the linearized system, driven by the same noise, beside the real one.

Near its minimizer :math:`\mathbf x^*` every continuous algorithm on a smooth objective is close to its
linearization: the same algorithm on the quadratic
:math:`\tfrac12(\mathbf x-\mathbf x^*)^{\mathsf T}\nabla^2f(\mathbf x^*)(\mathbf x-\mathbf x^*)` with the constant noise
factor :math:`\mathbf B(\mathbf x^*)`, an Ornstein--Uhlenbeck process :math:`\mathbf Y` whose stationary law is
Gaussian and known exactly (Lyapunov, :mod:`quorumsgd.simulate.oracle`). Simulating :math:`\mathbf Y` with the
*same* increments as :math:`\mathbf X` makes :math:`g(\mathbf X_n)` and :math:`g(\mathbf Y_n)` strongly
correlated, so

.. math:: \hat\mu=\frac1n\sum_n\big(g(\mathbf X_n)-g(\mathbf Y_n)\big)+\mathbb E\,g(\mathbf Y)

has the mean of :math:`g(\mathbf X)` and a far smaller variance. The coefficient is 1: on a quadratic
:math:`\mathbf X\equiv\mathbf Y` and 1 is optimal, it keeps the estimator exactly unbiased (a fitted coefficient
would not), and its standard error is the plain one of the per-simulation differences.

:math:`\mathbf Y` starts from the stationary law of the Euler--Maruyama chain it follows, so
:math:`\mathbb E\,g(\mathbf Y_n)` is that law's value at every step. Two targets for
:math:`\mathbb E\,g(\mathbf Y)`:

* ``"euler"``: the Euler chain's stationary law. :math:`\hat\mu` is then exactly unbiased for the plain
  Euler--Maruyama estimate at the same ``dt`` (scheme ``"euler_cv"``);
* ``"continuous"``: the SDE's stationary law (Lyapunov). This also removes the step bias of the linear part,
  :math:`\mathbb E g(\mathbf X_{dt})-\mathbb E g(\mathbf Y_{dt})+\mathbb E g(\mathbf Y)`: what remains is the
  step bias of the nonlinear remainder only (scheme ``"cv"``; on a quadratic the estimate is exact at any
  ``dt``).

Statistics with a closed form under a Gaussian law (:data:`GAUSSIAN_FORMS`: norms and squared norms of linear
images of the state) are controlled; others (e.g. ``disturbance``, which vanishes on a quadratic) stay plain.

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms import QSGD
    >>> from quorumsgd.objectives import GaussianNoise, LogCosh
    >>> f = LogCosh(2, strong_convexity=0.5, curvature=1.0, shift=0.5)
    >>> c = LinearizedControl.build(QSGD(coupling=1.0), f, GaussianNoise.isotropic(2, 1.0), n_agents=3,
    ...                             lr=0.1, batch_size=1.0, dt=0.01, minimizer=f.minimizer)
    >>> sorted(c.expectations(["center_error", "disturbance"], "continuous"))
    ['center_error']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.base import Objective
from quorumsgd.objectives.noise import GaussianNoise, NoiseModel
from quorumsgd.objectives.quadratic import Quadratic
from quorumsgd.simulate.layout import StateLayout

# The one import of the exact oracle (linearization and Gaussian laws): keep it here.
from quorumsgd.simulate.oracle import GaussianLaw, LinearSDE, center_selector, expected_norm, linearize, psd_factor

TARGETS = ("continuous", "euler")


def _rows(layout: StateLayout, name: str) -> np.ndarray:
    """Selector of one field, ``(field size, N)``."""
    idx = layout.index(name).ravel()
    sel = np.zeros((idx.size, layout.size))
    sel[np.arange(idx.size), idx] = 1.0
    return sel


def _center(layout: StateLayout, name: str) -> np.ndarray:
    """Selector of the agents' mean of one agent field, ``(dim, N)``."""
    idx = layout.index(name)  # (agents, dim)
    agents, dim = idx.shape
    c = np.zeros((dim, layout.size))
    for j in range(dim):  # dim rows, built once per run
        c[j, idx[:, j]] = 1.0 / agents
    return c


# A form is (kind, builder): builder(layout, x_star) -> (L, offset), the statistic being |L X - offset| ("norm")
# or |L X - offset|^2 ("sq") for the flat state X.
Form = tuple[str, Callable[[StateLayout, np.ndarray], tuple[np.ndarray, np.ndarray]]]


def _spread(layout: StateLayout, x_star: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    agents = layout.shapes["x"][0]
    proj = _rows(layout, "x") - np.tile(center_selector(layout), (agents, 1))
    return proj, np.zeros(proj.shape[0])


def _stack(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


GAUSSIAN_FORMS: dict[str, Form] = {
    "center_error": ("norm", lambda lay, xs: (_center(lay, "x"), xs)),
    "center_error_sq": ("sq", lambda lay, xs: (_center(lay, "x"), xs)),
    "spread": ("sq", _spread),
    "quorum_error": ("norm", lambda lay, xs: (_rows(lay, "quorum"), xs)),
    "center_quorum_error": ("norm", lambda lay, xs: _stack((_center(lay, "x"), xs), (_rows(lay, "quorum"), xs))),
    "center_velocity_error": ("norm", lambda lay, xs: _stack((_center(lay, "x"), xs),
                                                             (_center(lay, "v"), np.zeros_like(xs)))),
}
for _name in ("center_quorum_error", "center_velocity_error"):  # their squares: the same rows, kind "sq"
    GAUSSIAN_FORMS[_name + "_sq"] = ("sq", GAUSSIAN_FORMS[_name][1])
"""Statistics whose expectation under a Gaussian law of the flat state is known in closed form (or by the
one-dimensional quadrature of :func:`~quorumsgd.simulate.oracle.expected_norm`)."""


def gaussian_expectation(name: str, law: GaussianLaw, x_star: np.ndarray) -> float | None:
    r""":math:`\mathbb E\,g(\mathbf Y)` for ``Y ~ law`` and the statistic ``name`` (``None`` without a closed form)."""
    form = GAUSSIAN_FORMS.get(name)
    if form is None:
        return None
    kind, build = form
    try:
        sel, off = build(law.layout, np.asarray(x_star, dtype=np.float64))
    except KeyError:  # the algorithm has no such field
        return None
    n = law.layout.size
    mean, cov = sel @ law.mean[:n] - off, sel @ law.cov[:n, :n] @ sel.T
    if kind == "sq":
        return float(np.trace(cov) + mean @ mean)
    return expected_norm(mean, cov)


def noise_factor_at(noise: NoiseModel, x: np.ndarray) -> np.ndarray:
    r"""The matrix :math:`\mathbf B(\mathbf x)` of ``noise.apply(x, z)`` at one point (columns ``B e_j``)."""
    dim = noise.dim
    cols = noise.apply(np.broadcast_to(np.asarray(x, dtype=np.float64), (dim, dim)).copy(), np.eye(dim))
    return np.asarray(cols, dtype=np.float64).T


AFFINE_MAX_SIZE = 64
"""Largest flat state for which one dense ``(N, N)`` product per step beats the algorithm's own array operations
(they cost ``O(N)`` work but a dozen calls per step; the product costs ``O(N^2)`` work in one call)."""


def affine_drift(algorithm: Any, objective: Objective, n_agents: int
                 ) -> tuple[StateLayout, np.ndarray, np.ndarray] | None:
    r"""``(layout, M, m)`` with drift :math:`\mathbf M\mathbf X+\mathbf m` read off the algorithm's ``drift``,
    when it is affine in the state and independent of time (a quadratic objective), else ``None``."""
    if not isinstance(objective, Quadratic):
        return None
    try:
        sde = linearize(algorithm, objective, n_agents, None)
    except InvalidParameter:
        return None
    layout = sde.layout
    pts = np.random.default_rng(7).standard_normal((3, layout.size))
    from quorumsgd.algorithms.ops import SIM_OPS

    later = layout.flatten(algorithm.drift(layout.unflatten(pts), objective.grad, SIM_OPS, 7.3))
    if not np.allclose(later, pts @ sde.drift_matrix.T + sde.offset, rtol=1e-9, atol=1e-9):
        return None  # time dependent (e.g. gains or a common input that change with t)
    return layout, sde.drift_matrix, sde.offset


@dataclass(frozen=True)
class LinearizedControl:
    """The linearized system of a run: its objective, noise, SDE and exact stationary laws."""

    objective: Quadratic
    noise: GaussianNoise | None
    sde: LinearSDE
    continuous_law: GaussianLaw
    euler_law: GaussianLaw
    x_star: np.ndarray

    @classmethod
    def build(cls, algorithm: Any, objective: Objective, noise: NoiseModel | None, n_agents: int,
              lr: Any, batch_size: Any, dt: float, minimizer: np.ndarray | None = None) -> LinearizedControl:
        """Linearize ``algorithm`` on ``objective`` at its minimizer; errors name what is missing."""
        if noise is not None and noise.distribution != "normal":
            # The twin's exact law (Lyapunov) is Gaussian only when its increments are: with uniform base variates
            # (variance 1/3, other higher moments) E g(Y) of a norm would be wrong, and the estimate biased.
            raise InvalidParameter("scheme", "'euler' (the control variate needs Gaussian base variates; the noise "
                                   f"draws {noise.distribution} ones)", "cv", "run_ensemble")
        x_star = np.asarray(objective.minimizer if minimizer is None else minimizer, dtype=np.float64)
        try:
            hess = np.asarray(objective.hessian(x_star), dtype=np.float64)
        except NotImplementedError:
            raise InvalidParameter("scheme", "'euler' (the objective has no Hessian for the control variate)",
                                   "cv", "run_ensemble") from None
        quad = Quadratic(0.5 * (hess + hess.T), center=x_star)
        lin_noise = None if noise is None else GaussianNoise(noise.dim, factor=noise_factor_at(noise, x_star))
        lr_arr = np.ravel(np.asarray(1.0 if lr is None else lr, dtype=np.float64))
        b_arr = np.ravel(np.asarray(batch_size, dtype=np.float64))
        lr_v = float(lr_arr[0]) if lr_arr.size == 1 else lr_arr
        b_v = float(b_arr[0]) if b_arr.size == 1 else b_arr
        sde = linearize(algorithm, quad, n_agents, lin_noise, lr_v, b_v)
        cont = sde.stationary()
        euler = sde.euler(dt)
        if not euler.spectral_radius() < 1:
            raise InvalidParameter("dt", "small enough for a stable Euler chain of the linearized system",
                                   dt, "run_ensemble")
        return cls(quad, lin_noise, sde, cont, GaussianLaw(*euler.stationary(), sde.layout), x_star)

    @property
    def layout(self) -> StateLayout:
        return self.sde.layout

    def expectations(self, names: Sequence[str], target: str) -> dict[str, float]:
        """Exact :math:`\\mathbb E g(\\mathbf Y)` of each controllable statistic under ``target``'s law."""
        if target not in TARGETS:
            raise InvalidParameter("target", f"one of {TARGETS}", target, "control variate")
        law = self.continuous_law if target == "continuous" else self.euler_law
        out = {}
        for name in names:
            value = gaussian_expectation(name, law, self.x_star)
            if value is not None:
                out[name] = value
        return out

    def draw_start(self, sims: int, seed: int) -> np.ndarray:
        """``sims`` flat states from the Euler chain's stationary law (so every step of Y is stationary)."""
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
        factor = psd_factor(self.euler_law.cov)
        return self.euler_law.mean + rng.standard_normal((sims, self.layout.size)) @ factor.T
