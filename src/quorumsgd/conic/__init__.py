r"""The one conic-optimization layer: every LMI and SDP of the toolkit goes through it.

* :mod:`~quorumsgd.conic.solvers` — the solver table and options (:data:`SOLVERS`, :data:`SOLVER_OPTIONS`),
  the one call that solves a cvxpy problem, the compile-once cache of DPP-parametrized problems, the errors;
* :mod:`~quorumsgd.conic.program` — the block SDP of the worst-case certificates, its exact scaling
  (:func:`balance`) and its solve;
* :mod:`~quorumsgd.conic.verification` — the numpy post-solve check with a tolerance relative to the
  problem's scale (:func:`check_inequalities`) and the result type every certificate shares
  (:class:`ConicResult`: ``solver``, ``status``, ``verified``).

Users: :mod:`quorumsgd.contraction.lmi` (contraction metrics, also behind :mod:`quorumsgd.bounds.lmi_metric`)
and :mod:`quorumsgd.bounds.sdp` (certificates over :math:`\mathcal S(\lambda,L)`).

Internal failures (a solver that fails on a problem that has a solution, a solution that does not verify)
raise :class:`ConicSolverError`, a :class:`quorumsgd.errors.NumericalFailure`, not a ``ValueError``: the
command line exits with code 3 for them, 2 for bad input.

Example:
    >>> from quorumsgd import conic
    >>> conic.SOLVER_OPTIONS["SCS"]["max_iters"]
    200000
    >>> issubclass(conic.ConicSolverError, ValueError)
    False
"""

from quorumsgd.conic.program import Block, BlockProgram, Scaling, Solution, balance, compiled, solve_blocks, sym_basis
from quorumsgd.conic.solvers import (
    INFEASIBLE,
    SOLVER_OPTIONS,
    SOLVERS,
    USABLE,
    ConicSolverError,
    SolverUnavailable,
    check_solver,
    compiled_once,
    installed_solvers,
    require_installed,
    solve_status,
)
from quorumsgd.conic.verification import ConicResult, Verification, check_inequalities, rounding_tolerance

__all__ = [
    "INFEASIBLE", "SOLVERS", "SOLVER_OPTIONS", "USABLE", "Block", "BlockProgram", "ConicResult", "ConicSolverError",
    "Scaling", "Solution", "SolverUnavailable", "Verification", "balance", "check_inequalities", "check_solver",
    "compiled", "compiled_once", "installed_solvers", "require_installed", "rounding_tolerance", "solve_blocks",
    "solve_status", "sym_basis",
]
