r"""The worst case over :math:`\mathcal S(\lambda,L)` pinned between a certificate and an explicit member.

:func:`bracket` at one point, :func:`bracket_table` on the issue's grid (cached), ``quorumsgd bracket`` on
the command line. Modules: :mod:`~quorumsgd.bounds.worst_case.exact` (Gibbs quadrature),
:mod:`~quorumsgd.bounds.worst_case.search` (adversarial profiles), :mod:`~quorumsgd.bounds.worst_case.certificate`
(the moment-interpolation certificate), :mod:`~quorumsgd.bounds.worst_case.table`.
"""

from quorumsgd.bounds.worst_case.table import Bracket, bracket, bracket_grid, bracket_table, report_section

__all__ = ["Bracket", "bracket", "bracket_grid", "bracket_table", "report_section"]
