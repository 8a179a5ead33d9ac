r"""The conic solvers: which ones, with which options, and the one place a cvxpy problem is solved.

Every SDP of the toolkit (the contraction metrics of :mod:`quorumsgd.contraction.lmi`, the worst-case
certificates of :mod:`quorumsgd.bounds.sdp`) goes through :func:`solve_status`, so the solver table and its
options exist once. Clarabel (interior point, accurate, fast on small SDPs) is the default; SCS (first order)
is the fallback, asked for tighter tolerances than its defaults because the numpy verification
(:mod:`quorumsgd.conic.verification`) decides what a solution is worth in any case.

Example:
    >>> SOLVERS
    ('CLARABEL', 'SCS')
    >>> check_solver("clarabel", where="demo")
    'CLARABEL'
    >>> check_solver("nope", where="demo")
    Traceback (most recent call last):
    ...
    quorumsgd.errors.InvalidParameter: demo: parameter solver must satisfy one of CLARABEL, SCS (got 'nope')
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from quorumsgd.errors import InvalidParameter, NumericalFailure, QuorumSGDError

SOLVERS: tuple[str, ...] = ("CLARABEL", "SCS")
"""Conic solvers that handle the toolkit's SDPs, the default first."""

SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {},
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000},
}
"""Options passed to cvxpy's ``solve`` for each solver (one table for every SDP of the toolkit)."""

USABLE: tuple[str, ...] = ("optimal", "optimal_inaccurate")
"""Statuses whose solution is worth verifying."""
INFEASIBLE: tuple[str, ...] = ("infeasible", "infeasible_inaccurate")
"""Statuses that say no solution exists."""

P = TypeVar("P")


class ConicSolverError(NumericalFailure):
    """A conic solver failed on a problem that has a solution, or no solution passed the numpy verification.

    An internal numerical failure, not bad input: never a ``ValueError``; the CLI exits with code 3.
    """

    def __init__(self, message: str, solver: str = "", status: str = ""):
        self.solver, self.status = solver, status
        super().__init__(message)


class SolverUnavailable(QuorumSGDError):
    """The requested solver is not installed (the user can install it: a user error, exit code 2)."""

    def __init__(self, solver: str, installed: Sequence[str], where: str = "LMI"):
        self.solver, self.status = solver, "not_installed"
        super().__init__(
            f"{where} solver {solver} is not installed (status not_installed; installed: {', '.join(installed)})"
        )


@lru_cache(maxsize=1)
def installed_solvers() -> tuple[str, ...]:
    """cvxpy's installed solvers, probed once (the probe imports every known solver package)."""
    import cvxpy as cp

    return tuple(cp.installed_solvers())


def check_solver(solver: str, where: str = "conic") -> str:
    """The solver's canonical name; :class:`InvalidParameter` if it is not one of :data:`SOLVERS`."""
    name = str(solver).upper()
    if name not in SOLVERS:
        raise InvalidParameter("solver", f"one of {', '.join(SOLVERS)}", solver, where=where)
    return name


def require_installed(solver: str, installed: Callable[[], tuple[str, ...]] = installed_solvers,
                      where: str = "LMI") -> str:
    """:func:`check_solver`, then :class:`SolverUnavailable` if cvxpy does not have it."""
    have = installed()
    if solver not in have:
        raise SolverUnavailable(solver, have, where)
    return solver


def solve_status(problem: Any, solver: str) -> str:
    """Solve a cvxpy problem with the table's options; the cvxpy status, or ``"solver_error"`` if it raised."""
    import cvxpy as cp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "solution may be inaccurate": the status says it, numpy checks it
        try:
            problem.solve(solver=solver, **SOLVER_OPTIONS.get(solver, {}))
        except (cp.error.SolverError, ValueError, ArithmeticError, np.linalg.LinAlgError):
            return "solver_error"
    return str(problem.status)


def compiled_once(build: Callable[..., P]) -> Callable[..., P]:
    """Cache a builder of DPP-parametrized problems by its (hashable) shape arguments: cvxpy keeps the
    compilation with the problem object, so each shape is compiled once and every later point only refills
    the parameters."""
    return lru_cache(maxsize=64)(build)  # type: ignore[return-value]
