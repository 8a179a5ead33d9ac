r"""The Sec. 6 algorithms as :class:`~quorumsgd.algorithms.QuorumIteration` instances, and their reported quorum.

All are the Nesterov scheme of Sec. 6 (Zhang et al.'s EAMSGD), applied to the stacked parameters of the agents:

.. math::
    \mathbf v^i_{t+1}=\delta\mathbf v^i_t-\eta_i\,\mathbf g^i(\mathbf x^i_t+\delta\mathbf v^i_t),\qquad
    \mathbf x^i_{t+1}=\mathbf x^i_t+\mathbf v^i_{t+1}+\text{pull}^i_t ,

=============  =========================================================  ===============================
``algo``       pull                                                       reported quorum
=============  =========================================================  ===============================
``msgd``       none (independent Nesterov SGD agents)                     the mean :math:`\bar{\mathbf x}`
``easgd``      :math:`\alpha(\tilde{\mathbf x}_t-\mathbf x^i_t)`,          :math:`\tilde{\mathbf x}`
               :math:`\tilde{\mathbf x}_{t+1}=\tilde{\mathbf x}_t+\beta(\bar{\mathbf x}_t-\tilde{\mathbf x}_t)`,
               :math:`\alpha=\eta k`, :math:`\beta=p\alpha`
``easgd-wm``   the same with :math:`\delta=0` (EASGD without momentum)    :math:`\tilde{\mathbf x}`
``qsgd``       :math:`\eta_i k(\bar{\mathbf x}_t-\mathbf x^i_t)`           EMA of :math:`\bar{\mathbf x}`
``sdqsgd``     :math:`\frac{\eta_i}{p}\sum_j k_j(t)(\mathbf x^j_t-\mathbf x^i_t)`, gains (60)--(61)   EMA of :math:`\bar{\mathbf x}`
=============  =========================================================  ===============================

The EMA :math:`\mathbf q_{t+1}=d\,\mathbf q_t+(1-d)\bar{\mathbf x}_{t+1}` is only reported, never fed back,
so QSGD stays distinct from EASGD (Sec. 6.1). EASGD's :math:`\alpha,\beta` are fixed by the *initial* rate
(the library's definition of :func:`~quorumsgd.algorithms.easgd_iteration`); per-agent plateau drops change
each agent's gradient step and, for QSGD / SD-QSGD, its pull :math:`\eta_i k`.

Example:
    >>> it = build_iteration("easgd", lr=0.1, momentum=0.9, coupling=0.5, n_agents=4)
    >>> it.alpha, it.beta, it.nesterov, quorum_kind("qsgd")
    (0.05, 0.2, True, 'ema')
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from quorumsgd.algorithms import (
    QuorumIteration,
    best_agent_gains,
    easgd_iteration,
    msgd_iteration,
    nesterov_qsgd_iteration,
    sdqsgd_iteration,
)

ALGORITHMS = ("msgd", "easgd", "easgd-wm", "qsgd", "sdqsgd")
DISPLAY_NAMES = {"msgd": "MSGD", "easgd": "EASGD", "easgd-wm": "EASGD-WM", "qsgd": "QSGD", "sdqsgd": "SD-QSGD"}
QuorumKind = Literal["elastic", "ema", "mean"]


def build_iteration(algo: str, lr: float, momentum: float, coupling: float, n_agents: int) -> QuorumIteration:
    """The update rule of ``algo`` (see the module table) from the library's named constructors."""
    if algo == "msgd":
        return msgd_iteration(lr, momentum)
    if algo == "easgd":
        return easgd_iteration(lr, coupling, n_agents, momentum=momentum, nesterov=True)
    if algo == "easgd-wm":
        return easgd_iteration(lr, coupling, n_agents, momentum=0.0)
    if algo == "qsgd":
        return nesterov_qsgd_iteration(lr, coupling, momentum)
    if algo == "sdqsgd":
        return sdqsgd_iteration(lr, momentum, nesterov=True)
    raise ValueError(f"unknown algorithm {algo!r}")


def quorum_kind(algo: str) -> QuorumKind:
    """What the run reports as its quorum: EASGD's filter state, an EMA of the mean, or the mean itself."""
    if algo in ("easgd", "easgd-wm"):
        return "elastic"
    if algo in ("qsgd", "sdqsgd"):
        return "ema"
    return "mean"


def sdqsgd_gain_table(
    coupling: float, n_agents: int, winner: int, n_batches: int, tau: float, magnification: float
) -> np.ndarray:
    r"""Gains (60)--(61) for every batch ``t = 0..n_batches-1`` of one epoch, shape ``(n_batches, n_agents)``.

    The clock restarts at each epoch with the new winner, which is how the gains are "reset to k at
    :math:`t=n_b`" (the discontinuity :math:`\approx k e^{-n_b/\tau}` of Sec. 6.1).
    """
    return np.stack(
        [best_agent_gains(coupling, n_agents, winner, float(t), tau, magnification) for t in range(n_batches)]
    )
