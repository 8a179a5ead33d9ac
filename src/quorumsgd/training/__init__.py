r"""N-agent training of the paper's CNN (Sec. 6): MSGD, EASGD, EASGD-WM, QSGD and SD-QSGD.

The update rules are the library's :class:`~quorumsgd.algorithms.QuorumIteration` (Sec. 6), applied to
the agents' parameters stacked in one ``(agents, n_params)`` buffer:

.. math::
    \mathbf v^i_{t+1}=\delta\mathbf v^i_t-\eta_i\,\mathbf g^i(\mathbf x^i_t+\delta\mathbf v^i_t),\qquad
    \mathbf x^i_{t+1}=\mathbf x^i_t+\mathbf v^i_{t+1}+\text{pull}^i_t .

Modules: :mod:`~quorumsgd.training.network` (the CNN), :mod:`~quorumsgd.training.data` (CIFAR-10, digits),
:mod:`~quorumsgd.training.batching` (N networks as one computation: vmap or grouped convolutions),
:mod:`~quorumsgd.training.recipes` (algorithms and reported quorums), :mod:`~quorumsgd.training.schedule`
(per-agent plateau rule), :mod:`~quorumsgd.training.engine` (the loop, measurements, checkpoints),
:mod:`~quorumsgd.training.distributed` (torch.distributed), :mod:`~quorumsgd.training.table1` (Table 1),
:mod:`~quorumsgd.training.rng` (counter-based per-agent randomness), :mod:`~quorumsgd.training.study` (the
whole Sec. 6 study, resumable) and :mod:`~quorumsgd.training.claims_cnn` (claims C13--C18 from its runs).

Example:
    >>> from quorumsgd.training import TrainConfig, train
    >>> cfg = TrainConfig(algo="easgd", n_agents=2, epochs=1, widths=(4, 8, 8), batch_size=32,
    ...                   max_train=64, max_eval=64, image_size=16)
    >>> results = train(cfg)
    >>> results["status"], sorted(results["history"][1])[:4]
    ('completed', ['active', 'agents', 'epoch', 'lr'])
"""

from quorumsgd.training.batching import BatchedNetwork, GroupedNetwork, VmapNetwork, batched_network
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.data import DataSplits, load_dataset
from quorumsgd.training.distributed import train_distributed
from quorumsgd.training.engine import Trainer, train
from quorumsgd.training.network import NetworkConfig, PaperCNN
from quorumsgd.training.recipes import ALGORITHMS, build_iteration, quorum_kind
from quorumsgd.training.schedule import PlateauSchedule
from quorumsgd.training.table1 import format_table1, run_table1
from quorumsgd.training.topology import Topology

__all__ = [
    "ALGORITHMS",
    "BatchedNetwork",
    "DataSplits",
    "GroupedNetwork",
    "NetworkConfig",
    "PaperCNN",
    "PlateauSchedule",
    "Topology",
    "TrainConfig",
    "Trainer",
    "VmapNetwork",
    "batched_network",
    "build_iteration",
    "format_table1",
    "load_dataset",
    "quorum_kind",
    "run_table1",
    "train",
    "train_distributed",
]
