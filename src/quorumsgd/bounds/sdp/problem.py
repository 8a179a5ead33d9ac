r"""The block SDP of the certificates: now in the one conic layer, :mod:`quorumsgd.conic.program`.

Kept so that ``quorumsgd.bounds.sdp.problem.Block`` / ``sym_basis`` / ``compiled`` / ``SOLVERS`` keep working;
the problem, its scaling and its solve live in :mod:`quorumsgd.conic`.

Example:
    >>> from quorumsgd import conic
    >>> Block is conic.Block and SOLVERS == conic.SOLVERS
    True
"""

from __future__ import annotations

from quorumsgd.conic.program import Block, BlockProgram, compiled, sym_basis
from quorumsgd.conic.solvers import SOLVER_OPTIONS, SOLVERS

_SDP = BlockProgram  # the name the tests patch to simulate a failing solver

__all__ = ["SOLVERS", "SOLVER_OPTIONS", "Block", "BlockProgram", "compiled", "sym_basis"]
