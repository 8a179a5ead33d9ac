r"""One DPP-parametrized block SDP for every certificate: scaled, compiled once per shape, re-solved per point.

The problem (one block k per symmetry mode, or one block for a full system):

.. math::
    \min\ \sum_k\mathbf c_k^{\mathsf T}\mathbf y_k+\mathbf c_{\mu}^{\mathsf T}\boldsymbol\mu\quad\text{s.t.}\quad
    \mathbf M_k=\mathbf F_k+\mathbf G_k\mathbf y_k+\mathbf Q_k\boldsymbol\mu\preceq-\delta\mathbf I,\quad
    \mathbf P_k(\mathbf y_k)+\mu_{\rm last}\mathbf R_k\succeq\delta_P\mathbf I,\quad\boldsymbol\mu\ge0,

:math:`\mathbf y_k` the upper-triangle entries of a symmetric :math:`s_k\times s_k` matrix :math:`\mathbf P_k`
(:func:`sym_basis`), :math:`\boldsymbol\mu` multipliers shared between blocks. All data are ``cp.Parameter`` s,
so cvxpy compiles the problem once per block structure and a new point only refills them.

**Scaling** (:func:`balance`), exact transformations of the same problem, so that the margins
:math:`\delta,\delta_P` and the solver's tolerances mean the same thing whatever the units of the data:

* a diagonal congruence :math:`\mathbf D_k\mathbf M_k\mathbf D_k` on the coordinates that are not in
  :math:`\mathbf P_k` (the inputs, e.g. the gradients), which balances the diagonal of the multiplied forms
  between the two groups of coordinates (for the interpolation inequalities of :math:`\mathcal S(\lambda,L)`
  this normalizes a gradient by :math:`\sqrt{\lambda L}`);
* :math:`\mathbf y_k\to\mathbf y_k/\tau_k` with :math:`\tau_k=1/\max|\mathbf G_k|`, and
  :math:`\mu_c\to\mu_c/\max_k|\mathbf Q_{k,c}|`;
* :math:`\mathbf F` and the objective divided by their largest entry (the LMI is homogeneous in
  :math:`(\mathbf F,\mathbf y,\boldsymbol\mu)`; the value is multiplied back).

Solutions are mapped back to the original variables; the caller verifies them (in numpy, against its own data).

Example:
    >>> import numpy as np
    >>> # min p s.t. [[1 - 2 p]] <= -delta, p >= delta_P: the smallest p with 2 p >= 1, i.e. p = 1/2
    >>> blk = Block(f=np.ones((1, 1)), g=-2 * np.ones((1, 1, 1)), q=np.zeros((1, 1, 1)), c=np.ones(1), s=1,
    ...             c_mu=np.zeros(1), r=np.zeros((1, 1)))
    >>> sol = solve_blocks([blk], margin=0.0)
    >>> sol.status, round(float(sol.ys[0][0]), 6)
    ('optimal', 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from quorumsgd.conic.solvers import INFEASIBLE, SOLVERS, check_solver, compiled_once, solve_status


def sym_basis(s: int) -> np.ndarray:
    r"""Basis of symmetric :math:`s\times s` matrices, shape ``(s(s+1)/2, s, s)``: :math:`P=\sum_j y_jE_j`
    with :math:`y` the upper-triangle entries of :math:`P`."""
    rows, cols = np.triu_indices(s)
    out = np.zeros((rows.size, s, s))
    out[np.arange(rows.size), rows, cols] = 1.0
    out[np.arange(rows.size), cols, rows] = 1.0
    return out


@dataclass(frozen=True)
class Block:
    """Numeric data of one block: ``f (n,n)``, ``g (n_y,n,n)`` (the images of :func:`sym_basis`), ``q (n_mu,n,n)``,
    ``c (n_y,)``, ``c_mu (n_mu,)``, ``r (s,s)``; the Lyapunov block has size ``s``."""

    f: np.ndarray
    g: np.ndarray
    q: np.ndarray
    c: np.ndarray
    s: int
    c_mu: np.ndarray
    r: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.f.shape[0], self.s


class BlockProgram:
    """The DPP-parametrized cvxpy problem of one block structure (see the module docstring)."""

    def __init__(self, shapes: tuple[tuple[int, int], ...], n_mu: int):
        import cvxpy as cp

        self.mu = cp.Variable(n_mu, nonneg=True)
        self.delta = cp.Parameter(nonneg=True)
        self.delta_p = cp.Parameter(nonneg=True)
        self.ys, self.params = [], []
        constraints, objective = [], 0
        for n, s in shapes:
            n_y = s * (s + 1) // 2
            y = cp.Variable(n_y)
            f, g, q, c, c_mu = (cp.Parameter((n * n,)), cp.Parameter((n * n, n_y)), cp.Parameter((n * n, n_mu)),
                                cp.Parameter(n_y), cp.Parameter(n_mu))
            r = cp.Parameter((s, s), symmetric=True)
            m = cp.reshape(f + g @ y + q @ self.mu, (n, n), order="F")
            p = cp.reshape(sym_basis(s).reshape(n_y, s * s).T @ y, (s, s), order="F")
            constraints += [-m - self.delta * np.eye(n) >> 0, p + self.mu[n_mu - 1] * r - self.delta_p * np.eye(s) >> 0]
            objective = objective + c @ y + c_mu @ self.mu
            self.ys.append(y)
            self.params.append((f, g, q, c, c_mu, r))
        self.problem = cp.Problem(cp.Minimize(objective), constraints)

    def solve(self, blocks: list[Block], delta: float, delta_p: float, solver: str) -> tuple[str, list, Any]:
        """Refill the parameters and solve: ``(status, ys, mu)`` (empty / None without a solution)."""
        for (f, g, q, c, c_mu, r), b in zip(self.params, blocks, strict=True):
            n = b.f.shape[0]
            f.value = b.f.reshape(n * n, order="F")
            g.value = b.g.reshape(-1, n * n).T
            q.value = b.q.reshape(-1, n * n).T
            c.value = b.c
            c_mu.value = b.c_mu
            r.value = b.r
        self.delta.value, self.delta_p.value = delta, delta_p
        status = solve_status(self.problem, solver)
        if status == "solver_error" or self.mu.value is None or any(y.value is None for y in self.ys):
            return status, [], None
        return status, [np.asarray(y.value, dtype=float) for y in self.ys], np.asarray(self.mu.value, dtype=float)


@compiled_once
def compiled(shapes: tuple[tuple[int, int], ...], n_mu: int, solver: str) -> BlockProgram:
    """The problem for a block structure (cached: cvxpy keeps the DPP compilation with it)."""
    return BlockProgram(shapes, n_mu)


# --- scaling -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaling:
    """The exact change of variables of :func:`balance`: per block the input congruence ``d`` and ``tau``
    (``y = tau * y'``), the multiplier factors ``m`` (``mu = m * mu'``), the target and objective factors."""

    d: tuple[np.ndarray, ...]
    tau: tuple[float, ...]
    m: np.ndarray
    target: float
    objective: float

    def unscale(self, ys: list[np.ndarray], mu: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """The solution of the original problem from that of the balanced one."""
        return [self.target * t * y for t, y in zip(self.tau, ys, strict=True)], self.target * self.m * mu


def _largest(a: np.ndarray) -> float:
    return float(np.max(np.abs(a))) if a.size else 0.0


def balance(blocks: list[Block]) -> tuple[list[Block], Scaling]:
    """Balanced data of the same problem (see the module docstring) and the scaling that maps solutions back."""
    ds, taus, staged = [], [], []
    for b in blocks:
        n, s = b.f.shape[0], b.s
        d = np.ones(n)
        if n > s and b.q.size:
            # balance each form's diagonal between the Lyapunov coordinates and the input, per input: the
            # geometric mean over the forms that weigh both (for the interpolation inequalities: sqrt(lambda L))
            state_diag = np.max(np.abs(np.diagonal(b.q, axis1=1, axis2=2)[:, :s]), axis=1)
            for i in range(s, n):
                inp = np.abs(b.q[:, i, i])
                both = (state_diag > 0) & (inp > 0)
                if np.any(both):
                    d[i] = float(np.exp(0.5 * np.mean(np.log(state_diag[both] / inp[both]))))
        dd = np.outer(d, d)
        g, q, f = b.g * dd, b.q * dd, b.f * dd
        tau = 1.0 / (_largest(g) or 1.0)
        ds.append(d)
        taus.append(tau)
        staged.append(replace(b, f=f, g=g * tau, q=q, c=b.c * tau, r=b.r / tau))  # P' = P / tau, so R / tau
    n_mu = blocks[0].q.shape[0]
    scale_mu = np.array([max(_largest(b.q[c]) for b in staged) for c in range(n_mu)])
    if n_mu:
        scale_mu[-1] = max(scale_mu[-1], max(_largest(b.r) for b in staged))
    m = np.where(scale_mu > 0, 1.0 / np.where(scale_mu > 0, scale_mu, 1.0), 1.0)
    target = max(_largest(b.f) for b in staged) or 1.0
    staged = [replace(b, f=b.f / target, q=b.q * m[:, None, None], c_mu=b.c_mu * m, r=b.r * m[-1]) for b in staged]
    objective = max(max(_largest(b.c), _largest(b.c_mu)) for b in staged) or 1.0
    staged = [replace(b, c=b.c / objective, c_mu=b.c_mu / objective) for b in staged]
    return staged, Scaling(tuple(ds), tuple(taus), m, target, objective)


# --- solve ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Solution:
    """One solver answer in the original variables (``ys`` empty when there is none)."""

    solver: str
    status: str
    ys: list[np.ndarray]
    mu: np.ndarray | None
    margin: float


def solve_blocks(blocks: list[Block], *, solver: str = "CLARABEL", margin: float = 1e-7,
                 fallback: bool = True) -> Solution:
    """Balance, solve with the margins ``margin`` (on the NSD blocks) and ``margin / 100`` (on P), map back.

    One attempt; :func:`attempts` is the sequence of attempts (larger margins, the other solver) that the
    certificates use.
    """
    name = check_solver(solver)
    scaled, scaling = balance(blocks)
    sdp = compiled(tuple(b.shape for b in scaled), scaled[0].q.shape[0], name)
    status, ys, mu = sdp.solve(scaled, margin, margin * 1e-2, name)
    if not ys:
        return Solution(name, status, [], None, margin)
    ys, mu = scaling.unscale(ys, mu)
    return Solution(name, status, ys, mu, margin)


def attempts(solver: str, margin: float) -> list[tuple[str, float]]:
    """(solver, margin) pairs in the order to try: the margin, 100x it, then the same with the other solver."""
    first = check_solver(solver)
    return [(name, margin * factor) for name in (first, *[s for s in SOLVERS if s != first])
            for factor in (1.0, 100.0)]


def is_infeasible(status: str) -> bool:
    return status in INFEASIBLE
