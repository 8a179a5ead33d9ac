r"""Exact oracles: on a quadratic the N-agent system is linear, so its law is Gaussian and known exactly.

For :math:`f=\tfrac12(\mathbf x-\mathbf c)^{\mathsf T}\mathbf A(\mathbf x-\mathbf c)` and constant noise, every
continuous algorithm (QSGD (6), EASGD (4)--(5), momentum (33)--(34), SGD) is the linear SDE

.. math:: d\mathbf X=(\mathbf M\mathbf X+\mathbf m)\,dt+\mathbf G\,d\mathbf W ,

and every discrete iteration ((41)--(43), (3)) is :math:`\mathbf X_{t+1}=\boldsymbol\Phi\mathbf X_t+\boldsymbol\varphi+\mathbf H\boldsymbol\zeta_t`.
:func:`linearize` extracts :math:`(\mathbf M,\mathbf m,\mathbf G)` *from the algorithm's own drift* (one
vectorized evaluation on the basis vectors: no second definition of any algorithm), then

* the exact transition over :math:`\Delta` is Gaussian with :math:`\boldsymbol\Phi=e^{\mathbf M\Delta}` and
  covariance :math:`\int_0^\Delta e^{\mathbf Ms}\mathbf G\mathbf G^{\mathsf T}e^{\mathbf M^{\mathsf T}s}ds`
  (Van Loan's block exponential);
* the stationary covariance solves :math:`\mathbf M\mathbf S+\mathbf S\mathbf M^{\mathsf T}+\mathbf G\mathbf G^{\mathsf T}=0`
  (Lyapunov), and for a discrete map :math:`\mathbf S=\boldsymbol\Phi\mathbf S\boldsymbol\Phi^{\mathsf T}+\mathbf Q`;
* the Euler--Maruyama chain of step :math:`dt` is itself the affine map
  :math:`(\mathbf I+\mathbf M\,dt,\ \mathbf m\,dt,\ \mathbf G\mathbf G^{\mathsf T}dt)`, so the engine can be
  tested against its own exact law (no discretization bias) and the weak error :math:`O(dt)` computed exactly.

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms import QSGD
    >>> from quorumsgd.objectives import GaussianNoise, Quadratic
    >>> sde = linearize(QSGD(coupling=2.0), Quadratic.isotropic(1, 1.0), n_agents=3,
    ...                 noise=GaussianNoise.isotropic(1, 1.0), lr=0.1, batch_size=1)
    >>> law = sde.stationary()
    >>> round(law.expected_spread(), 6)          # (p-1) eta tr(Sigma) / (2 b (k + h)), Lemma 3.1 (22)
    0.033333
    >>> round(float(law.center()[1][0, 0]), 6)   # C1: eta tr(Sigma) / (2 b p h)
    0.016667
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import integrate, linalg

from quorumsgd.algorithms.base import ContinuousAlgorithm, DiscreteAlgorithm
from quorumsgd.algorithms.layout import StateLayout
from quorumsgd.algorithms.linearize import affine_map
from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.algorithms.qsgd import noise_scale
from quorumsgd.errors import InvalidParameter
from quorumsgd.objectives.base import Objective
from quorumsgd.objectives.noise import NoiseModel
from quorumsgd.objectives.quadratic import Quadratic


def psd_factor(cov: np.ndarray) -> np.ndarray:
    """A factor :math:`\\mathbf L` with :math:`\\mathbf L\\mathbf L^{\\mathsf T}=` ``cov`` (Cholesky, or eigen for singular)."""
    cov = 0.5 * (cov + cov.T)
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        eig, vec = np.linalg.eigh(cov)
        return vec * np.sqrt(np.clip(eig, 0.0, None))


@dataclass(frozen=True)
class AffineGaussianMap:
    r""":math:`\mathbf X'=\boldsymbol\Phi\mathbf X+\boldsymbol\varphi+\boldsymbol\xi`, :math:`\boldsymbol\xi\sim\mathcal N(0,\mathbf Q)` independent of :math:`\mathbf X`."""

    matrix: np.ndarray
    offset: np.ndarray
    cov: np.ndarray

    def then(self, later: AffineGaussianMap) -> AffineGaussianMap:
        """This map followed by ``later``."""
        a = later.matrix
        return AffineGaussianMap(a @ self.matrix, a @ self.offset + later.offset, a @ self.cov @ a.T + later.cov)

    def power(self, n: int) -> AffineGaussianMap:
        """``n`` applications, by repeated squaring (``O(log n)`` matrix products)."""
        size = self.matrix.shape[0]
        result = AffineGaussianMap(np.eye(size), np.zeros(size), np.zeros((size, size)))
        base = self
        while n > 0:
            if n & 1:
                result = result.then(base)
            base = base.then(base)
            n >>= 1
        return result

    def push(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Law of :math:`\\mathbf X'` when :math:`\\mathbf X\\sim\\mathcal N(\\text{mean},\\text{cov})`."""
        return self.matrix @ mean + self.offset, self.matrix @ cov @ self.matrix.T + self.cov

    def spectral_radius(self) -> float:
        return float(np.max(np.abs(np.linalg.eigvals(self.matrix))))

    def stationary(self) -> tuple[np.ndarray, np.ndarray]:
        """Fixed point of :meth:`push` (requires spectral radius < 1)."""
        rho = self.spectral_radius()
        if not rho < 1:
            raise InvalidParameter("map", "spectral radius < 1 (a stationary law exists)", rho, "oracle")
        size = self.matrix.shape[0]
        mean = np.linalg.solve(np.eye(size) - self.matrix, self.offset)
        cov = linalg.solve_discrete_lyapunov(self.matrix, self.cov)
        return mean, 0.5 * (cov + cov.T)


@dataclass(frozen=True)
class LinearSDE:
    r""":math:`d\mathbf X=(\mathbf M\mathbf X+\mathbf m)dt+\mathbf G\,d\mathbf W` on the flat state of ``layout``."""

    drift_matrix: np.ndarray
    offset: np.ndarray
    diffusion: np.ndarray
    layout: StateLayout

    @property
    def size(self) -> int:
        return self.drift_matrix.shape[0]

    def transition(self, dt: float) -> AffineGaussianMap:
        """Exact law of :math:`\\mathbf X(t+dt)` given :math:`\\mathbf X(t)` (Van Loan, 1978).

        Van Loan's block matrix contains :math:`e^{-\\mathbf M dt}`, which overflows for long horizons, so a
        long step is split into :math:`2^j` short ones and recombined by squaring.
        """
        halvings = int(max(0, np.ceil(np.log2(max(np.abs(self.drift_matrix).sum(axis=0).max() * dt, 1e-300)
                                              / 0.5))))
        if halvings > 0:
            return self._van_loan(dt / 2**halvings).power(2**halvings)
        return self._van_loan(dt)

    def _van_loan(self, dt: float) -> AffineGaussianMap:
        n = self.size
        # Augment with a constant coordinate so the offset is part of the matrix exponential.
        m_aug = np.zeros((n + 1, n + 1))
        m_aug[:n, :n], m_aug[:n, n] = self.drift_matrix, self.offset
        gg = np.zeros((n + 1, n + 1))
        gg[:n, :n] = self.diffusion @ self.diffusion.T
        block = np.zeros((2 * (n + 1), 2 * (n + 1)))
        block[: n + 1, : n + 1], block[: n + 1, n + 1:], block[n + 1:, n + 1:] = -m_aug, gg, m_aug.T
        e = linalg.expm(block * dt)
        f = e[n + 1:, n + 1:].T
        q = f @ e[: n + 1, n + 1:]
        return AffineGaussianMap(f[:n, :n], f[:n, n], 0.5 * (q[:n, :n] + q[:n, :n].T))

    def euler(self, dt: float) -> AffineGaussianMap:
        """The Euler--Maruyama step of size ``dt`` as an affine Gaussian map (exact law of the EM chain)."""
        n = self.size
        return AffineGaussianMap(np.eye(n) + dt * self.drift_matrix, dt * self.offset,
                                 dt * self.diffusion @ self.diffusion.T)

    def stationary(self) -> GaussianLaw:
        """Stationary law: mean :math:`-\\mathbf M^{-1}\\mathbf m`, covariance from the Lyapunov equation."""
        eig = np.linalg.eigvals(self.drift_matrix)
        if not np.all(eig.real < 0):
            raise InvalidParameter("drift", "Hurwitz (all eigenvalues with negative real part)",
                                   float(eig.real.max()), "oracle")
        mean = -np.linalg.solve(self.drift_matrix, self.offset)
        cov = linalg.solve_continuous_lyapunov(self.drift_matrix, -self.diffusion @ self.diffusion.T)
        return GaussianLaw(mean, 0.5 * (cov + cov.T), self.layout)

    def law_at(self, t: float, x0: np.ndarray) -> GaussianLaw:
        """Exact law at time ``t`` from the deterministic flat state ``x0``."""
        mean, cov = self.transition(t).push(np.asarray(x0, dtype=np.float64), np.zeros((self.size,) * 2))
        return GaussianLaw(mean, cov, self.layout)

    def with_center_integral(self) -> LinearSDE:
        r"""Append :math:`\mathbf I(t)=\int_0^t\bar{\mathbf x}(s)ds` to the state (Lemma 5.5's :math:`t\,\hat{\mathbf x}`)."""
        n, dim = self.size, self.layout.shapes["x"][-1]
        c = center_selector(self.layout)
        m = np.zeros((n + dim, n + dim))
        m[:n, :n], m[n:, :n] = self.drift_matrix, c
        g = np.vstack([self.diffusion, np.zeros((dim, self.diffusion.shape[1]))])
        return LinearSDE(m, np.concatenate([self.offset, np.zeros(dim)]), g, self.layout)


def center_selector(layout: StateLayout) -> np.ndarray:
    r"""The matrix :math:`\mathbf C` with :math:`\bar{\mathbf x}=\mathbf C\mathbf X`, shape ``(dim, N)``."""
    idx = layout.index("x")  # (agents, dim)
    agents, dim = idx.shape
    c = np.zeros((dim, layout.size))
    for j in range(dim):
        c[j, idx[:, j]] = 1.0 / agents
    return c


@dataclass(frozen=True)
class GaussianLaw:
    """A Gaussian law of the flat N-agent state, with the paper's statistics in closed form."""

    mean: np.ndarray
    cov: np.ndarray
    layout: StateLayout

    def center(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Mean and covariance of the center of mass :math:`\bar{\mathbf x}`."""
        c = center_selector(self.layout)
        return c @ self.mean[: self.layout.size], c @ self.cov[: self.layout.size, : self.layout.size] @ c.T

    def marginal(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of one field (flattened)."""
        sl = self.layout.slices[name]
        return self.mean[sl], self.cov[sl, sl]

    def expected_spread(self) -> float:
        r""":math:`\mathbb E\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2=\operatorname{tr}(\mathbf P\mathbf S)+\mathbf m^{\mathsf T}\mathbf P\mathbf m`."""
        n = self.layout.size
        idx = self.layout.index("x").ravel()  # agent-major: row i * dim + j is agent i, coordinate j
        x_sel = np.zeros((idx.size, n))
        x_sel[np.arange(idx.size), idx] = 1.0
        proj = x_sel - np.tile(center_selector(self.layout), (self.layout.shapes["x"][0], 1))
        mean, cov = self.mean[:n], self.cov[:n, :n]  # augmented laws: the original state comes first
        m = proj @ mean
        return float(np.trace(proj @ cov @ proj.T) + m @ m)

    def expected_center_error_sq(self, x_star: np.ndarray) -> float:
        mean, cov = self.center()
        d = mean - np.asarray(x_star)
        return float(np.trace(cov) + d @ d)

    def expected_center_error(self, x_star: np.ndarray) -> float:
        r""":math:`\mathbb E\|\bar{\mathbf x}-\mathbf x^*\|` (Thm 5.1's left-hand side), by quadrature."""
        mean, cov = self.center()
        return expected_norm(mean - np.asarray(x_star), cov)


def expected_norm(mean: np.ndarray, cov: np.ndarray) -> float:
    r""":math:`\mathbb E\|\mathbf Y\|` for :math:`\mathbf Y\sim\mathcal N(\boldsymbol\mu,\mathbf S)`.

    Uses :math:`\sqrt a=\frac1{2\sqrt\pi}\int_0^\infty(1-e^{-ua})u^{-3/2}du` and the Gaussian Laplace transform
    :math:`\mathbb E e^{-u\|\mathbf Y\|^2}=\prod_j(1+2us_j)^{-1/2}\exp\!\big(-u\sum_j\frac{\mu_j^2}{1+2us_j}\big)`
    in the eigenbasis of :math:`\mathbf S`.

    Example:
        >>> round(expected_norm(np.zeros(1), np.eye(1)), 6) == round((2 / np.pi) ** 0.5, 6)
        True
    """
    eig, vec = np.linalg.eigh(0.5 * (np.asarray(cov) + np.asarray(cov).T))
    eig = np.clip(eig, 0.0, None)
    m2 = (vec.T @ np.asarray(mean, dtype=np.float64)) ** 2
    if not np.any(eig > 0):
        return float(np.sqrt(m2.sum()))

    def integrand(log_u: float) -> float:
        u = np.exp(log_u)
        # log L(u) in closed form, then 1 - L = -expm1(log L): no cancellation at small u.
        log_laplace = -0.5 * np.sum(np.log1p(2.0 * u * eig)) - u * np.sum(m2 / (1.0 + 2.0 * u * eig))
        return float(-np.expm1(log_laplace) * u**-0.5)  # (1 - L(u)) u^{-3/2} du with du = u dlog u

    # Split at the integrand's bulk (u ~ 1 / E|Y|^2) so each piece is smooth on its interval; the quadrature is
    # accurate to ~1e-9 relative, below which it reports harmless round-off warnings.
    peak = -float(np.log(np.sum(eig) + np.sum(m2)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value = sum(integrate.quad(integrand, lo, hi, limit=400, epsabs=0.0, epsrel=1e-10)[0]
                    for lo, hi in ((-60.0 + peak, peak), (peak, 60.0 + peak)))
    return float(value / (2.0 * np.sqrt(np.pi)))


def _check_linear_inputs(objective: Objective, noise: NoiseModel | None, where: str) -> None:
    if not isinstance(objective, Quadratic):
        raise InvalidParameter("objective", "a Quadratic (the system must be linear)", type(objective).__name__,
                               where)
    if noise is not None and noise.state_dependent:
        raise InvalidParameter("noise", "state independent (constant covariance)", type(noise).__name__, where)
    if noise is not None and noise.dim != objective.dim:
        raise InvalidParameter("noise.dim", f"== objective.dim = {objective.dim}", noise.dim, where)


def _per_agent(value: Any, n_agents: int, name: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n_agents,)) if np.ndim(value) <= 1 else None
    if arr is None or not np.all(arr > 0):
        raise InvalidParameter(name, f"> 0, a scalar or shape ({n_agents},)", value, "oracle")
    return arr


def linearize(algorithm: ContinuousAlgorithm, objective: Objective, n_agents: int,
              noise: NoiseModel | None, lr: float | np.ndarray = 1.0, batch_size: float | np.ndarray = 1.0
              ) -> LinearSDE:
    r"""The linear SDE of a continuous algorithm on a quadratic, read off the algorithm's own ``drift``.

    Noise :math:`\sqrt{\eta_i/b_i}\,\mathbf B\,d\mathbf W^i` enters the ``noisy_field`` of agent :math:`i`.
    """
    _check_linear_inputs(objective, noise, "linearize")
    template = algorithm.init(np.zeros((1, n_agents, objective.dim)), SIM_OPS)
    drift = affine_map(lambda s: algorithm.drift(s, objective.grad, SIM_OPS, 0.0), template)
    matrix, offset, layout = drift.matrix, drift.offset, drift.layout
    dim = objective.dim
    g = np.zeros((layout.size, n_agents * dim))
    if noise is not None:
        factor = psd_factor(noise.covariance())
        scale = noise_scale(_per_agent(lr, n_agents, "lr"), _per_agent(batch_size, n_agents, "batch_size"))
        idx = layout.index(algorithm.noisy_field)
        for i in range(n_agents):  # builds a (N x p n) matrix once; not a simulation loop
            g[idx[i], i * dim:(i + 1) * dim] = scale[i] * factor
    return LinearSDE(matrix, offset, g, layout)


def linearize_iteration(iteration: DiscreteAlgorithm, objective: Objective, n_agents: int,
                        noise: NoiseModel | None, batch_size: float | np.ndarray = 1.0,
                        lr: Any = None) -> tuple[AffineGaussianMap, StateLayout]:
    r"""One discrete iteration on a quadratic as an affine Gaussian map, read off the iteration's ``apply``.

    The stochastic gradient is :math:`\nabla f-\boldsymbol\zeta` with :math:`\operatorname{Cov}\boldsymbol\zeta^i=\boldsymbol\Sigma/b_i`.
    """
    _check_linear_inputs(objective, noise, "linearize_iteration")
    dim = objective.dim

    def step(state: dict[str, np.ndarray], zeta: np.ndarray | float = 0.0) -> dict[str, np.ndarray]:
        grad = objective.grad(iteration.gradient_point(state)) - zeta
        return iteration.apply(state, grad, SIM_OPS, lr)

    template = iteration.init(np.zeros((1, n_agents, dim)), SIM_OPS)
    noise_free = affine_map(step, template, where="linearize_iteration")
    matrix, offset, layout = noise_free.matrix, noise_free.offset, noise_free.layout
    zero = layout.unflatten(np.zeros((n_agents * dim, layout.size)))
    kicked = step(zero, np.eye(n_agents * dim).reshape(-1, n_agents, dim))  # one unit of noise per column
    h = (layout.flatten({k: kicked[k] for k in layout.shapes}) - offset).T  # (N, p n)
    cov = np.zeros((layout.size, layout.size))
    if noise is not None:
        b = _per_agent(batch_size, n_agents, "batch_size")
        zcov = linalg.block_diag(*[noise.covariance() / b[i] for i in range(n_agents)])
        cov = h @ zcov @ h.T
    return AffineGaussianMap(matrix, offset, 0.5 * (cov + cov.T)), layout


def time_average_law(sde: LinearSDE, t: float, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact mean and covariance of Lemma 5.5's :math:`\hat{\mathbf x}(t)=\frac1t\int_0^t\bar{\mathbf x}\,ds`."""
    aug = sde.with_center_integral()
    start = np.concatenate([np.asarray(x0, dtype=np.float64), np.zeros(aug.size - sde.size)])
    mean, cov = aug.transition(t).push(start, np.zeros((aug.size, aug.size)))
    sl = slice(sde.size, aug.size)
    return mean[sl] / t, cov[sl, sl] / t**2


def euler_time_average_law(sde: LinearSDE, dt: float, steps: int, x0: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    r"""Same for the Euler--Maruyama chain with the left Riemann sum :math:`\frac1{n}\sum_{k<n}\bar{\mathbf x}_k`."""
    n, dim = sde.size, sde.layout.shapes["x"][-1]
    em = sde.euler(dt)
    matrix = np.zeros((n + dim, n + dim))
    matrix[:n, :n], matrix[n:, :n], matrix[n:, n:] = em.matrix, center_selector(sde.layout), np.eye(dim)
    cov = np.zeros((n + dim, n + dim))
    cov[:n, :n] = em.cov
    step = AffineGaussianMap(matrix, np.concatenate([em.offset, np.zeros(dim)]), cov)
    start = np.concatenate([np.asarray(x0, dtype=np.float64), np.zeros(dim)])
    mean, c = step.power(steps).push(start, np.zeros((n + dim, n + dim)))
    return mean[n:] / steps, c[n:, n:] / steps**2
