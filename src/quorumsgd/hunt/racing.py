r"""Statistical racing: successive halving over rungs of increasing fidelity, with common random numbers.

Every candidate is measured once on rung 0 (few simulations, short window, coarse Euler step); the best
:math:`1/\eta` of each rung (asynchronous successive halving, ASHA) climbs to the next rung, where it is
measured with :math:`\eta\times` more simulations, a longer window and a finer step, with a *fresh* seed. All
candidates on one rung share that rung's seed: **common random numbers**, so that differences between
candidates are not noise differences. A rung-0 "violation" (lower confidence bound above the bound) is always
promoted: a violation is *confirmed* only on the top rung, on independent noise (screening + confirmation, so
that the many comparisons of a hunt do not produce false findings).

Example:
    >>> scores = [{0: (0.9, False), 1: (0.5, False), 2: (0.7, False), 3: (0.1, True)}, {}]
    >>> promotions(scores)
    [(0, 1), (3, 1)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from quorumsgd.hunt.cases import Fidelity

ETA = 4
"""Promotion ratio: the top quarter of a rung climbs."""


@dataclass(frozen=True)
class Rung:
    sims: int
    window: float
    steps_per_time: float


RUNGS: tuple[Rung, ...] = (Rung(16, 4.0, 10.0), Rung(48, 8.0, 20.0), Rung(192, 12.0, 20.0))
"""Rung 0 screens; the top rung is as thorough as ``quorumsgd verify`` (more simulations than its default)."""


def fidelity(rung: int, seed: int, rungs: tuple[Rung, ...] = RUNGS) -> Fidelity:
    """The settings of a rung; the seed depends only on the hunt's seed and the rung (common random numbers)."""
    r = rungs[rung]
    return Fidelity(sims=r.sims, window=r.window, steps_per_time=r.steps_per_time, seed=seed * 1000 + rung)


def promotions(scores: list[dict[int, tuple[float, bool]]]) -> list[tuple[int, int]]:
    """``(candidate, rung)`` pairs to evaluate next.

    ``scores[r]`` maps each candidate measured on rung ``r`` to ``(tightness, violated)``. On every rung but
    the last, the top ``floor(n_r / ETA)`` candidates (ties by id) and every flagged violation climb, unless
    already there. Deterministic: the same scores give the same promotions in any order of arrival.
    """
    out = []
    for r in range(len(scores) - 1):
        ranked = sorted(scores[r].items(), key=lambda kv: (-kv[1][0], kv[0]))
        top = {cand for cand, (score, _) in ranked[: len(ranked) // ETA] if score > -math.inf}
        flagged = {cand for cand, (_, violated) in ranked if violated}
        out += [(cand, r + 1) for cand in sorted(top | flagged) if cand not in scores[r + 1]]
    return out
