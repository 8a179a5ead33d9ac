r"""Coupling forces through a quorum: the one place where agents talk to each other.

Every distributed algorithm of the paper pulls agent :math:`i` towards a common signal :math:`\mathbf u`:

* QSGD (6): :math:`k(\bar{\mathbf x}-\mathbf x^i)`, the quorum is the agents' mean;
* EASGD (4): :math:`k(\tilde{\mathbf x}-\mathbf x^i)`, the quorum is a low-pass filter (5) of the mean;
* SD-QSGD (55): :math:`\frac1p\sum_j k_j(\mathbf x^j-\mathbf x^i) = \bar k(\mathbf x_w-\mathbf x^i)` (57).

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms.ops import SIM_OPS
    >>> x = np.array([[[0.0], [2.0]]])               # one simulation, two agents, dim 1
    >>> mean_pull(x, SIM_OPS, coupling=1.0)[0, :, 0].tolist()
    [1.0, -1.0]
"""

from __future__ import annotations

from quorumsgd.algorithms.ops import AgentOps, Array


def common_input_pull(x: Array, u: Array, ops: AgentOps, coupling: Array | float) -> Array:
    r""":math:`k(\mathbf u-\mathbf x^i)` for an agent-free common input :math:`\mathbf u` (Thm 3.1, (19))."""
    return coupling * (ops.expand(u) - x)


def mean_pull(x: Array, ops: AgentOps, coupling: Array | float) -> Array:
    r"""QSGD's coupling :math:`k(\bar{\mathbf x}-\mathbf x^i)`, eq. (6). It sums to zero over the agents."""
    return common_input_pull(x, ops.mean(x), ops, coupling)


def state_dependent_pull(x: Array, gains: Array, ops: AgentOps) -> Array:
    r"""SD-QSGD's coupling :math:`\frac1p\sum_j k_j(\mathbf x^j-\mathbf x^i)`, eq. (55).

    Written as :math:`\overline{k\mathbf x}-\bar k\,\mathbf x^i` so that it costs two means, not a
    :math:`p\times p` sum. ``gains`` carries the agent axis (e.g. shape ``(sims, agents, 1)``).
    """
    return ops.expand(ops.mean(gains * x)) - ops.expand(ops.mean(gains + x * 0)) * x


def quorum_relaxation(quorum: Array, x: Array, ops: AgentOps, rate: Array | float) -> Array:
    r"""EASGD's quorum drift :math:`kp(\bar{\mathbf x}-\tilde{\mathbf x})`, eq. (5) with ``rate`` = kp."""
    return rate * (ops.mean(x) - quorum)
