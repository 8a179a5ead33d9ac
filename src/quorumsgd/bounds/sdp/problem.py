r"""One DPP-parametrized cvxpy SDP for every certificate: compiled once per shape, re-solved per point.

Every certificate of this package has the form

.. math::
    \min\ \sum_k\mathbf c_k^{\mathsf T}\mathbf y_k+\mathbf c_{\mu,k}^{\mathsf T}\boldsymbol\mu\quad\text{s.t.}\quad
    \mathbf M_k=\mathbf F_k+\mathbf G_k\mathbf y_k+\mathbf Q_k\boldsymbol\mu\preceq-\delta\mathbf I,\quad
    \mathbf P_k(\mathbf y_k)+\mu_{\rm last}\mathbf R_k\succeq\delta_P\mathbf I,\quad\boldsymbol\mu\ge0,

with one block k per symmetry mode (or one block for the full system): :math:`\mathbf y_k` are the entries of
the Lyapunov matrix :math:`\mathbf P_k` (upper triangle), :math:`\boldsymbol\mu` the S-procedure multipliers
and the weight of the function values in the Lyapunov function (the only one with a cost, and the only one that
enters the lower bound :math:`\mathbf P_k+\mu_{\rm last}\mathbf R_k\succeq0` of :math:`V`), shared between blocks. All the data :math:`(\mathbf F_k,\mathbf G_k,\mathbf Q_k,\mathbf c_k)` are
``cp.Parameter`` s, so the problem is DPP: cvxpy compiles it once per block shape and each new parameter point
only refills the solver's data. The margins :math:`\delta,\delta_P` keep the solver's small constraint
violations on the safe side of the numpy verification (:mod:`quorumsgd.bounds.sdp.certificate`).

Solvers: Clarabel (interior point, accurate, fast on small SDPs), SCS as a fallback.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

SOLVERS: tuple[str, ...] = ("CLARABEL", "SCS")
_OPTIONS: dict[str, dict[str, Any]] = {"CLARABEL": {}, "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 100_000}}


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


class _SDP:
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
        import cvxpy as cp

        for (f, g, q, c, c_mu, r), b in zip(self.params, blocks, strict=True):
            n = b.f.shape[0]
            f.value = b.f.reshape(n * n, order="F")
            g.value = b.g.reshape(-1, n * n).T
            q.value = b.q.reshape(-1, n * n).T
            c.value = b.c
            c_mu.value = b.c_mu
            r.value = b.r
        self.delta.value, self.delta_p.value = delta, delta_p
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "solution may be inaccurate": the status says it, numpy checks it
            try:
                self.problem.solve(solver=solver, **_OPTIONS[solver])
            except (cp.error.SolverError, ValueError, ArithmeticError, np.linalg.LinAlgError):
                return "solver_error", [], None
        status = str(self.problem.status)
        if self.mu.value is None or any(y.value is None for y in self.ys):
            return status, [], None
        return status, [np.asarray(y.value, dtype=float) for y in self.ys], np.asarray(self.mu.value, dtype=float)


@lru_cache(maxsize=64)
def compiled(shapes: tuple[tuple[int, int], ...], n_mu: int, solver: str) -> _SDP:
    """The problem for a block structure (cached: cvxpy keeps the DPP compilation with it)."""
    return _SDP(shapes, n_mu)
