r"""The N-agent algorithms as linear maps of (state, gradients), read off their own definitions.

With :math:`\mathbf x^*=0` and the gradients :math:`\mathbf u_i=\nabla f(\mathbf y^i)` treated as *inputs*,
every algorithm of :mod:`quorumsgd.algorithms` is linear (per coordinate, the same for every coordinate):

.. math::
    \text{continuous: } d\boldsymbol\xi=(\mathbf A\boldsymbol\xi+\mathbf B\mathbf u)\,dt+\text{noise},\qquad
    \text{discrete: } \boldsymbol\xi_{t+1}=\mathbf A\boldsymbol\xi_t+\mathbf B(\mathbf u_t-\boldsymbol\zeta_t),

where :math:`\mathbf y=\mathbf C\boldsymbol\xi` are the points at which the gradients are taken (the positions,
or Nesterov's look-ahead). :func:`mode_system` obtains :math:`(\mathbf A,\mathbf B,\mathbf C)` with the one
linearizer, :func:`quorumsgd.algorithms.linearize.affine_map`, applied to the map
:math:`(\boldsymbol\xi,\mathbf u)\mapsto(\text{next state or drift},\ \text{gradient points})` built from the
algorithm's own ``drift`` / ``apply`` (the gradient function records where it is called and returns the
prescribed input), so no dynamics are retyped here.

A mode is evaluated on *representative agents* (:class:`~quorumsgd.algorithms.linearize.RepresentativeOps`):
the consensus mode on one slot standing for all :math:`p` agents, a disagreement mode on three slots (agent 1,
agent 2, the other :math:`p-2`), so no array has the size of :math:`p` and the reduced SDP costs the same for
:math:`p=2` and :math:`p=10^{15}`.

A *mode* is a subspace that the dynamics leave invariant because the agents are exchangeable: every agent
field equal to :math:`\mathbf w\otimes\mathbf a` for a fixed unit vector :math:`\mathbf w\in\mathbb R^p`
(plus the quorum fields when :math:`\mathbf w=\mathbf 1/\sqrt p`). The consensus mode
:math:`\mathbf w=\mathbf 1/\sqrt p` and each of the :math:`p-1` disagreement modes
:math:`\mathbf w\perp\mathbf 1` (all alike, so one representative :math:`(\mathbf e_1-\mathbf e_2)/\sqrt2`)
give the blocks of the symmetry-reduced SDP; the identity embedding gives the full system.

Example:
    >>> from quorumsgd.algorithms import QSGD
    >>> sys = mode_system(QSGD(coupling=2.0), n_agents=4, mode="disagreement")
    >>> [m.round(12).tolist() for m in (sys.a, sys.b, sys.c)]     # d x = -k x - u along x^1 - x^2
    [[[-2.0]], [[-1.0]], [[1.0]]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from quorumsgd.algorithms import ContinuousAlgorithm, DiscreteAlgorithm
from quorumsgd.algorithms.linearize import RepresentativeOps, affine_map
from quorumsgd.errors import InvalidParameter

Mode = Literal["consensus", "disagreement", "full"]
Algorithm = ContinuousAlgorithm | DiscreteAlgorithm


@dataclass(frozen=True)
class LinearSystem:
    r"""One mode (or the full system) of an algorithm: :math:`\mathbf A,\mathbf B,\mathbf C` and the noise input.

    Attributes:
        a, b, c: state map ``(n, n)``, gradient input ``(n, m)``, gradient points ``(m, n)``.
        noise: ``(n, m)``; column i is how agent i's gradient noise enters (continuous: the ``noisy_field``,
            discrete: :math:`-\mathbf B`, since the stochastic gradient is :math:`\nabla f-\boldsymbol\zeta`).
        coords: names of the state coordinates: the field (``"x"``, ``"v"``, ``"quorum"``) of a mode, with the
            agent index for ``full`` (``"x[2]"``).
        discrete: a discrete iteration (else an SDE drift).
    """

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    noise: np.ndarray
    coords: tuple[str, ...]
    discrete: bool

    @property
    def n_state(self) -> int:
        return self.a.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.b.shape[1]

    def closed_loop(self, curvature: float) -> LinearSystem:
        r"""Substitute :math:`\mathbf u=h\,\mathbf C\boldsymbol\xi` (the one quadratic :math:`\frac h2\|\mathbf x\|^2`):
        a system without gradient inputs. Used when :math:`\lambda=L`, where the class is that quadratic and the
        S-procedure would need unbounded multipliers to express the equality."""
        return LinearSystem(self.a + curvature * self.b @ self.c, self.b[:, :0], self.c[:0], self.noise, self.coords,
                            self.discrete)

    def select(self, keep: np.ndarray) -> LinearSystem:
        """The system on a subset of the state coordinates (those that matter, see :func:`mode_system`)."""
        idx = np.flatnonzero(keep)
        return LinearSystem(self.a[np.ix_(idx, idx)], self.b[idx], self.c[:, idx], self.noise[idx],
                            tuple(self.coords[i] for i in idx), self.discrete)


def _slots(n_agents: int, mode: Mode) -> tuple[np.ndarray, np.ndarray]:
    """Slot values of the mode's unit agent vector ``(slots, 1)`` and the slots' multiplicities (their agents)."""
    if mode == "consensus":
        return np.array([[1 / np.sqrt(n_agents)]]), np.array([float(n_agents)])
    if mode == "disagreement":
        if n_agents < 2:
            raise InvalidParameter("n_agents", ">= 2 for a disagreement mode", n_agents, "sdp")
        w = np.array([[1 / np.sqrt(2)], [-1 / np.sqrt(2)], [0.0]])
        mult = np.array([1.0, 1.0, float(n_agents - 2)])
        return (w, mult) if n_agents > 2 else (w[:2], mult[:2])
    if mode == "full":
        return np.eye(n_agents), np.ones(n_agents)
    raise InvalidParameter("mode", "consensus, disagreement or full", mode, "sdp")


def _fields(alg: Algorithm, ops: RepresentativeOps) -> tuple[list[str], list[str]]:
    slots = len(ops.multiplicity)
    template = alg.init(np.zeros((1, slots, 1)), ops)
    agent = [f for f in alg.state_fields if f in template and np.shape(template[f]) == (1, slots, 1)]
    quorum = [f for f in alg.state_fields if f in template and f not in agent]
    return agent, quorum


def mode_system(alg: Algorithm, n_agents: int, mode: Mode = "full", prune: bool = True,
                keep: tuple[str, ...] = ()) -> LinearSystem:
    r"""The linear maps of ``alg`` on one mode (see the module docstring), from its own definition.

    ``prune`` drops state fields that influence nothing (a velocity that is overwritten every step when the
    momentum is 0), except the fields named in ``keep`` (those a target reads). Raises :class:`InvalidParameter`
    if the algorithm is not linear in (state, gradients) or does not leave the mode invariant (it would not be
    permutation-equivariant). ``full`` builds the :math:`p`-agent system (small :math:`p` only).
    """
    n_agents = int(n_agents)
    discrete = isinstance(alg, DiscreteAlgorithm)
    w, mult = _slots(n_agents, mode)
    ops = RepresentativeOps(axis=-2, multiplicity=tuple(mult.tolist()))
    agent, quorum = _fields(alg, ops)
    n_w = w.shape[1]
    with_quorum = mode != "disagreement"  # the quorum is agent-free: it lives on the consensus mode only
    n_q = len(quorum) if with_quorum else 0
    n = len(agent) * n_w + n_q
    m = n_w  # one gradient input per column of w
    if mode == "full":
        coords = tuple(f"{f}[{i}]" for f in agent for i in range(n_agents)) + tuple(quorum)
    else:
        coords = tuple(agent) + (tuple(quorum) if with_quorum else ())
    name = type(alg).__name__

    def states(z: np.ndarray) -> dict[str, np.ndarray]:
        """Batch of mode coordinates ``(batch, n)`` -> algorithm states on the slots."""
        out: dict[str, np.ndarray] = {f: (z[:, i * n_w:(i + 1) * n_w] @ w.T)[:, :, None] for i, f in enumerate(agent)}
        for j, f in enumerate(quorum):
            out[f] = z[:, len(agent) * n_w + j:len(agent) * n_w + j + 1] if with_quorum else np.zeros((z.shape[0], 1))
        return out

    def project(values: np.ndarray) -> np.ndarray:
        """Slot values ``(batch, slots, 1)`` -> mode coefficients ``(batch, n_w)``; checks it stays in the mode."""
        flat = np.asarray(values, dtype=float)[:, :, 0]
        coef = (flat * mult) @ w  # the agents' inner product, each slot counted for its agents
        if not np.allclose(coef @ w.T, flat, rtol=1e-10, atol=1e-10 * max(1.0, float(np.abs(flat).max()))):
            raise InvalidParameter("algorithm", "permutation-equivariant dynamics (the mode is not invariant)",
                                   name, "sdp")
        return coef

    def step(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """(xi, u) -> (next state or drift, gradient points), in mode coordinates: the map the linearizer reads."""
        state, inputs = states(s["xi"]), (s["u"] @ w.T)[:, :, None]
        seen: list[np.ndarray] = []
        if discrete:
            seen.append(np.asarray(alg.gradient_point(state), dtype=float))
            out = alg.apply(state, inputs, ops)
        else:
            def grad(y: np.ndarray) -> np.ndarray:
                seen.append(np.asarray(y, dtype=float))
                return inputs
            out = alg.drift(state, grad, ops, 0.0)
        if len(seen) != 1:
            raise InvalidParameter("algorithm", "one gradient evaluation per step", len(seen), "sdp")
        parts = [project(out[f]) for f in agent]
        if n_q:
            parts.append(np.column_stack([np.asarray(out[f], dtype=float).reshape(-1) for f in quorum]))
        return {"xi": np.concatenate(parts, axis=1), "u": project(seen[0])}

    try:
        lin = affine_map(step, {"xi": np.zeros((1, n)), "u": np.zeros((1, m))}, where="sdp")
    except InvalidParameter:
        raise InvalidParameter("algorithm", "linear in (state, gradients)", name, "sdp") from None
    full_map = lin.matrix
    a, b = full_map[:n, :n], full_map[:n, n:]
    c, c_u = full_map[n:, :n], full_map[n:, n:]
    if np.any(lin.offset != 0) or np.any(c_u != 0):
        raise InvalidParameter("algorithm", "linear in (state, gradients) with x* = 0, gradient points free of "
                               "the gradients", name, "sdp")
    if discrete:
        noise = -b
    else:
        noise = np.zeros((n, m))
        k = agent.index(alg.noisy_field)
        noise[k * n_w:(k + 1) * n_w] = np.eye(n_w)
    system = LinearSystem(a, b, c, noise, coords, discrete)
    if prune:
        # A coordinate matters if it feeds the dynamics or a gradient point; others are write-only.
        names = agent + quorum[:n_q]
        width = [n_w] * len(agent) + [1] * n_q
        kept = np.zeros(n, dtype=bool)
        start = 0
        for fld, size in zip(names, width, strict=True):
            cols = slice(start, start + size)
            kept[cols] = bool(np.any(a[:, cols] != 0) or np.any(c[:, cols] != 0) or fld in keep)
            start += size
        system = system.select(kept)
    return system
