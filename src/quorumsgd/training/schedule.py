r"""The paper's per-agent plateau learning-rate schedule (Sec. 6.1, footnote 11).

Each agent :math:`i` keeps a reference validation loss :math:`r_i`, starting with its loss after the first
epoch. After every later epoch with loss :math:`v_i`:

.. math::
    |v_i-r_i| > \theta\,|r_i| \;\Rightarrow\; r_i\leftarrow v_i,\ s_i\leftarrow 0;
    \qquad\text{otherwise } s_i\leftarrow s_i+1 ,

and when the reference has stayed unchanged for ``patience`` (five) epochs, :math:`s_i=5`, the agent's
rate is divided by the next factor of ``(5, 2, 2)`` and the counter restarts (with :math:`r_i\leftarrow v_i`).
After the third drop the rate stays. The threshold :math:`\theta` was lost from the paper: default 1 %.

Agents' schedules are independent ("the agents are allowed to maintain different learning rates").

Example:
    >>> import numpy as np
    >>> s = PlateauSchedule(np.array([0.1, 0.1]), patience=2)
    >>> for v in ([1.0, 1.0], [0.5, 1.0], [0.25, 1.0], [0.1, 1.0]):
    ...     _ = s.observe(np.array(v))
    >>> s.lr.round(4).tolist(), s.drops.tolist()          # agent 1 stalled twice: divided by 5
    ([0.1, 0.02], [0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PAPER_DROP_FACTORS = (5.0, 2.0, 2.0)


@dataclass
class PlateauSchedule:
    """Per-agent state of the plateau rule; arrays are indexed by global agent id."""

    lr: np.ndarray
    threshold: float = 0.01
    patience: int = 5
    factors: Sequence[float] = PAPER_DROP_FACTORS
    reference: np.ndarray = field(default=None)  # type: ignore[assignment]
    stalled: np.ndarray = field(default=None)  # type: ignore[assignment]
    drops: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.lr = np.asarray(self.lr, dtype=np.float64).copy()
        n = self.lr.shape[0]
        if self.reference is None:
            self.reference = np.full(n, np.nan)
        if self.stalled is None:
            self.stalled = np.zeros(n, dtype=np.int64)
        if self.drops is None:
            self.drops = np.zeros(n, dtype=np.int64)

    def observe(self, val_loss: np.ndarray) -> list[int]:
        """Feed one epoch's validation losses; returns the agents whose rate was dropped.

        Non-finite losses (diverged or removed agents) leave that agent's state untouched.
        """
        dropped: list[int] = []
        for i, v in enumerate(np.asarray(val_loss, dtype=np.float64)):
            if not np.isfinite(v):
                continue
            ref = self.reference[i]
            if not np.isfinite(ref) or abs(v - ref) > self.threshold * abs(ref):
                self.reference[i], self.stalled[i] = v, 0
                continue
            self.stalled[i] += 1
            if self.stalled[i] >= self.patience and self.drops[i] < len(self.factors):
                self.lr[i] /= self.factors[self.drops[i]]
                self.drops[i] += 1
                self.stalled[i] = 0
                self.reference[i] = v
                dropped.append(i)
        return dropped

    def state_dict(self) -> dict[str, list]:
        return {
            "lr": self.lr.tolist(), "reference": self.reference.tolist(),
            "stalled": self.stalled.tolist(), "drops": self.drops.tolist(),
        }

    def load_state_dict(self, state: dict[str, list]) -> None:
        self.lr = np.asarray(state["lr"], dtype=np.float64)
        self.reference = np.asarray(state["reference"], dtype=np.float64)
        self.stalled = np.asarray(state["stalled"], dtype=np.int64)
        self.drops = np.asarray(state["drops"], dtype=np.int64)
