r"""SDP certificates of the stationary second moment over the whole class :math:`\mathcal S(\lambda,L)`.

The paper's Theorems 5.1--5.3 bound :math:`\mathbb E\|\bar{\mathbf x}-\mathbf x^*\|` for every
:math:`\lambda`-strongly convex objective (with Assumption 2.1's :math:`Q`). This package certifies, for
*every* :math:`\lambda`-strongly convex and :math:`L`-smooth :math:`f` and every gradient noise with
:math:`\operatorname{tr}\boldsymbol\Sigma\le\sigma^2`, an upper bound on the second moment, by a quadratic
Lyapunov function and the S-procedure over the interpolation inequalities of every pair of agents and the
minimizer, reduced by permutation symmetry to two small blocks whatever the number of agents and the dimension.

* :mod:`~quorumsgd.bounds.sdp.system` — the algorithms as linear maps of (state, gradients), per mode;
* :mod:`~quorumsgd.bounds.sdp.interpolation` — the inequalities of :math:`\mathcal S(\lambda,L)`;
* :mod:`~quorumsgd.bounds.sdp.certificate` — the LMI, the symmetry reduction, solve and numpy verification;
* :mod:`~quorumsgd.bounds.sdp.problem` — the DPP-parametrized cvxpy problem (compiled once per shape);
* :mod:`~quorumsgd.bounds.sdp.theorems` — the paper's quantities (:func:`evaluate_sdp`);
* :mod:`~quorumsgd.bounds.sdp.table` — the certified bound next to the paper's and the exact quadratic value.

Example:
    >>> from quorumsgd import bounds
    >>> r = bounds.evaluate("thm5.1", method="sdp", n_agents=4, coupling=1.0, lr=0.1, batch_size=32,
    ...                     sigma2=4.0, strong_convexity=0.5, smoothness=2.0)
    >>> r.method, r.verified, round(r.value, 4)
    ('sdp', True, 0.0677)
"""

from quorumsgd.bounds.sdp.certificate import Certificate, SDPInfeasible, SDPSolverError
from quorumsgd.bounds.sdp.theorems import THEOREMS, certify_point, evaluate_sdp

__all__ = ["THEOREMS", "Certificate", "SDPInfeasible", "SDPSolverError", "certify_point", "evaluate_sdp"]
