"""One definition of every algorithm of the paper, backend-agnostic (numpy, torch, SymPy).

Continuous time (SDE drifts): :class:`SGD`, :class:`QSGD` (6), :class:`EASGD` (4)--(5),
:class:`QuorumFilterSGD` (65), :class:`MomentumQSGD` (33)--(34), :class:`MomentumEASGD` (continuous EAMSGD), :class:`SDQSGD` (55), and the virtual
system :class:`CommonInputAgents` (19). Discrete time: :class:`QuorumIteration` and its named forms
(41), (42)--(43), (3), and the Nesterov CNN algorithms of Sec. 6. On a quadratic every one of them is affine
in its state: :func:`affine_map` reads the matrix off it (the one linearization the package has).

Beyond the paper (worked examples of "your own algorithm", each certified, simulated, hunted and trained):
:class:`GossipIteration` / :class:`Gossip` (a mixing matrix instead of the quorum), :class:`LocalSGD` (periodic
averaging, time-varying), :class:`StaleEASGD` (EASGD with a centre variable one step late). Any class written the
same way goes through :func:`quorumsgd.bounds.own_algorithm.certify` and the rest of the toolkit.
"""

from quorumsgd.algorithms.base import ContinuousAlgorithm, DiscreteAlgorithm, GradFn, State
from quorumsgd.algorithms.discrete import (
    QuorumIteration,
    easgd_iteration,
    momentum_qsgd_iteration,
    msgd_iteration,
    nesterov_qsgd_iteration,
    qsgd_iteration,
    sdqsgd_iteration,
    sgd_iteration,
)
from quorumsgd.algorithms.easgd import EASGD, QuorumFilterSGD
from quorumsgd.algorithms.gossip import (
    Gossip,
    GossipIteration,
    random_regular_mixing,
    ring_mixing,
    spectral_gap,
)
from quorumsgd.algorithms.layout import StateLayout
from quorumsgd.algorithms.linearize import AffineMap, affine_map
from quorumsgd.algorithms.local_sgd import LocalSGD
from quorumsgd.algorithms.momentum import MomentumEASGD, MomentumQSGD
from quorumsgd.algorithms.ops import SIM_OPS, STACKED_OPS, ZERO_MEAN_OPS, AgentOps, ZeroMeanOps
from quorumsgd.algorithms.qsgd import QSGD, SGD, CommonInputAgents, noise_scale
from quorumsgd.algorithms.sdqsgd import SDQSGD, best_agent_gains
from quorumsgd.algorithms.stale_easgd import StaleEASGD

__all__ = [
    "EASGD",
    "QSGD",
    "SDQSGD",
    "SGD",
    "SIM_OPS",
    "STACKED_OPS",
    "ZERO_MEAN_OPS",
    "AffineMap",
    "AgentOps",
    "CommonInputAgents",
    "ContinuousAlgorithm",
    "DiscreteAlgorithm",
    "Gossip",
    "GossipIteration",
    "GradFn",
    "LocalSGD",
    "MomentumEASGD",
    "MomentumQSGD",
    "QuorumFilterSGD",
    "QuorumIteration",
    "StaleEASGD",
    "State",
    "StateLayout",
    "ZeroMeanOps",
    "affine_map",
    "best_agent_gains",
    "easgd_iteration",
    "momentum_qsgd_iteration",
    "msgd_iteration",
    "nesterov_qsgd_iteration",
    "noise_scale",
    "qsgd_iteration",
    "random_regular_mixing",
    "ring_mixing",
    "sdqsgd_iteration",
    "sgd_iteration",
    "spectral_gap",
]
