r"""Time schedules: burn-in from the theorems' transient rates, learning-rate schedules, SD-QSGD gains.

A theorem's bound holds "after exponential transients of rates :math:`r_1, r_2, \dots`" (e.g. :math:`\lambda` and
:math:`k+\lambda` for Thm 5.1; Lemma 3.1's second moments relax at :math:`2(k-\lambda_{\max})`). The slowest
transient :math:`e^{-r_{\min}t}` has fallen below a relative ``tolerance`` after
:math:`t_{\rm burn}=\ln(\text{gap}/\text{tolerance})/r_{\min}`.

Example:
    >>> burn_in_steps(rates=[0.5, 2.5], dt=0.01, tolerance=1e-3)   # ln(1000) / 0.5 / 0.01
    1382
    >>> sched = halving_schedule(lr=0.1, period=100, floor=0.02)
    >>> [sched(0), sched(100), sched(250), sched(10_000)]
    [0.1, 0.05, 0.025, 0.02]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quorumsgd.algorithms.sdqsgd import best_agent_gains
from quorumsgd.errors import InvalidParameter


def burn_in_time(rates: Sequence[float], tolerance: float = 1e-3, gap: float = 1.0) -> float:
    """Time after which :math:`\\text{gap}\\cdot e^{-r_{\\min}t}\\le\\text{tolerance}` for the slowest rate."""
    rates = [float(r) for r in rates]
    if not rates or min(rates) <= 0:
        raise InvalidParameter("rates", "non-empty and all > 0 (exponential transients)", rates, "burn_in")
    if not 0 < tolerance < 1 or not gap > 0:
        raise InvalidParameter("tolerance", "0 < tolerance < 1 and gap > 0", (tolerance, gap), "burn_in")
    return max(0.0, math.log(gap / tolerance) / min(rates))


def burn_in_steps(rates: Sequence[float], dt: float, tolerance: float = 1e-3, gap: float = 1.0) -> int:
    """:func:`burn_in_time` in steps of ``dt`` (for a discrete iteration, ``dt`` is the learning rate)."""
    if not dt > 0:
        raise InvalidParameter("dt", "> 0", dt, "burn_in")
    return math.ceil(burn_in_time(rates, tolerance, gap) / dt)


def halving_schedule(lr: float, period: int, floor: float) -> Callable[[int], float]:
    """Fig. 2's schedule: halve the learning rate every ``period`` iterations until it reaches ``floor``."""
    if not (lr > 0 and period >= 1 and 0 < floor <= lr):
        raise InvalidParameter("schedule", "lr > 0, period >= 1, 0 < floor <= lr", (lr, period, floor),
                               "halving_schedule")

    def schedule(step: int) -> float:
        return max(floor, lr * 0.5 ** (step // period))

    return schedule


@dataclass(frozen=True)
class BestAgentGains:
    r"""SD-QSGD gains (60)--(61) for the discrete iteration, one winner per simulation.

    Every ``period`` iterations ("epoch") each simulation's winner :math:`i^*` is its agent with the lowest
    loss; the clock restarts and :math:`k_{i^*}=k(1+A_{\rm mag}e^{-t/\tau})`, :math:`k_{j\ne i^*}=k(1-e^{-t/\tau})`.
    Called by the engine before each iteration; returns gains shaped ``(sims, agents, 1)``.
    """

    coupling: float
    tau: float
    magnification: float
    period: int
    objective: Any

    def __call__(self, state: dict[str, Any], step: int, winners: dict[str, Any]) -> Any:
        t = step % self.period
        if t == 0 or "winner" not in winners:
            values = self.objective.value(state["x"])  # (sims, agents)
            winners["winner"] = (values.argmin(dim=-1).cpu().numpy() if hasattr(values, "cpu")
                                 else np.argmin(values, axis=-1))
        winner = winners["winner"]
        gains = best_agent_gains(self.coupling, state["x"].shape[-2], winner, float(t), self.tau,
                                 self.magnification)
        return gains[..., None]
