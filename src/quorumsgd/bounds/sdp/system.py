r"""The N-agent algorithms as linear maps of (state, gradients), read off their own definitions.

With :math:`\mathbf x^*=0` and the gradients :math:`\mathbf u_i=\nabla f(\mathbf y^i)` treated as *inputs*,
every algorithm of :mod:`quorumsgd.algorithms` is linear (per coordinate, the same for every coordinate):

.. math::
    \text{continuous: } d\boldsymbol\xi=(\mathbf A\boldsymbol\xi+\mathbf B\mathbf u)\,dt+\text{noise},\qquad
    \text{discrete: } \boldsymbol\xi_{t+1}=\mathbf A\boldsymbol\xi_t+\mathbf B(\mathbf u_t-\boldsymbol\zeta_t),

where :math:`\mathbf y=\mathbf C\boldsymbol\xi` are the points at which the gradients are taken (the positions,
or Nesterov's look-ahead). :func:`mode_system` obtains :math:`(\mathbf A,\mathbf B,\mathbf C)` by applying the
algorithm's ``drift`` / ``apply`` to basis states and basis gradients (the gradient function records where it
is called and returns the prescribed input), so no dynamics are retyped here.

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
from quorumsgd.algorithms.ops import SIM_OPS
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


def _fields(alg: Algorithm, n_agents: int) -> tuple[list[str], list[str]]:
    template = alg.init(np.zeros((1, n_agents, 1)), SIM_OPS)
    agent = [f for f in alg.state_fields if f in template and np.shape(template[f]) == (1, n_agents, 1)]
    quorum = [f for f in alg.state_fields if f in template and f not in agent]
    return agent, quorum


def _embedding(n_agents: int, mode: Mode, agent: list[str], quorum: list[str]
               ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Unit agent vectors of the mode's columns ``(p, cols)`` and the quorum columns, per coordinate."""
    if mode == "full":
        w = np.eye(n_agents)
        coords = tuple(f"{f}[{i}]" for f in agent for i in range(n_agents)) + tuple(quorum)
    else:
        if mode == "consensus":
            w = np.full((n_agents, 1), 1 / np.sqrt(n_agents))
        elif mode == "disagreement":
            if n_agents < 2:
                raise InvalidParameter("n_agents", ">= 2 for a disagreement mode", n_agents, "sdp")
            w = np.zeros((n_agents, 1))
            w[0, 0], w[1, 0] = 1 / np.sqrt(2), -1 / np.sqrt(2)
        else:
            raise InvalidParameter("mode", "consensus, disagreement or full", mode, "sdp")
        coords = tuple(agent) + (tuple(quorum) if mode == "consensus" else ())
    return w, np.eye(len(quorum)) if mode != "disagreement" else np.zeros((len(quorum), 0)), coords


def mode_system(alg: Algorithm, n_agents: int, mode: Mode = "full", prune: bool = True,
                keep: tuple[str, ...] = ()) -> LinearSystem:
    r"""The linear maps of ``alg`` on one mode (see the module docstring), from its own definition.

    ``prune`` drops state fields that influence nothing (a velocity that is overwritten every step when the
    momentum is 0), except the fields named in ``keep`` (those a target reads). Raises :class:`InvalidParameter` if the algorithm is not linear in (state, gradients) or
    does not leave the mode invariant (it would not be permutation-equivariant).
    """
    discrete = isinstance(alg, DiscreteAlgorithm)
    agent, quorum = _fields(alg, n_agents)
    w, wq, coords = _embedding(n_agents, mode, agent, quorum)
    n_w = w.shape[1]
    n = len(agent) * n_w + wq.shape[1]
    m = n_w  # one gradient input per column of w

    def states(z: np.ndarray) -> dict[str, np.ndarray]:
        """Batch of mode coordinates ``(batch, n)`` -> algorithm states ``(batch, p, 1)`` / ``(batch, 1)``."""
        out: dict[str, np.ndarray] = {}
        for i, f in enumerate(agent):
            out[f] = (z[:, i * n_w:(i + 1) * n_w] @ w.T)[:, :, None]
        zq = z[:, len(agent) * n_w:] @ wq.T if wq.shape[1] else np.zeros((z.shape[0], len(quorum)))
        for j, f in enumerate(quorum):
            out[f] = zq[:, j:j + 1]
        return out

    def project(field_values: np.ndarray) -> np.ndarray:
        """Agent array ``(batch, p, 1)`` -> mode coefficients ``(batch, n_w)``; checks it stays in the mode."""
        flat = field_values[:, :, 0]
        coef = flat @ w
        if not np.allclose(coef @ w.T, flat, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(flat).max())):
            raise InvalidParameter("algorithm", "permutation-equivariant dynamics (the mode is not invariant)",
                                   type(alg).__name__, "sdp")
        return coef

    def evaluate(z: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(next state or drift, gradient points), both in mode coordinates."""
        state = states(z)
        inputs = (u @ w.T)[:, :, None]
        seen: list[np.ndarray] = []
        if discrete:
            seen.append(np.asarray(alg.gradient_point(state), dtype=float))
            out = alg.apply(state, inputs, SIM_OPS)
        else:
            def grad(y: np.ndarray) -> np.ndarray:
                seen.append(np.asarray(y, dtype=float))
                return inputs
            out = alg.drift(state, grad, SIM_OPS, 0.0)
        if len(seen) != 1:
            raise InvalidParameter("algorithm", "one gradient evaluation per step", len(seen), "sdp")
        parts = [project(np.asarray(out[f], dtype=float)) for f in agent]
        if wq.shape[1]:
            parts.append(np.column_stack([np.asarray(out[f], dtype=float).reshape(z.shape[0]) for f in quorum])
                         @ wq)
        return np.concatenate(parts, axis=1), project(seen[0])

    # rows: zero, each state basis vector, each input basis vector; plus random probes for linearity
    z = np.vstack([np.zeros((1, n)), np.eye(n), np.zeros((m, n))])
    u = np.vstack([np.zeros((1 + n, m)), np.eye(m)])
    nxt, pts = evaluate(z, u)
    if np.any(np.abs(nxt[0]) > 0) or np.any(np.abs(pts[0]) > 0):
        raise InvalidParameter("algorithm", "linear in (state, gradients) with x* = 0", type(alg).__name__, "sdp")
    a, b = nxt[1:1 + n].T, nxt[1 + n:].T
    c = pts[1:1 + n].T
    rng = np.random.default_rng(0)
    zp, up = rng.standard_normal((2, n)), rng.standard_normal((2, m))
    got, got_pts = evaluate(zp, up)
    if not (np.allclose(got, zp @ a.T + up @ b.T, rtol=1e-9, atol=1e-9)
            and np.allclose(got_pts, zp @ c.T, rtol=1e-9, atol=1e-9)):
        raise InvalidParameter("algorithm", "linear in (state, gradients)", type(alg).__name__, "sdp")
    if discrete:
        noise = -b
    else:
        noise = np.zeros((n, m))
        k = agent.index(alg.noisy_field)
        noise[k * n_w:(k + 1) * n_w] = np.eye(n_w)
    system = LinearSystem(a, b, c, noise, coords, discrete)
    if prune:
        # A coordinate matters if it feeds the dynamics or a gradient point; others are write-only.
        names = agent + quorum[: wq.shape[1]]
        width = [n_w] * len(agent) + [1] * wq.shape[1]
        kept = np.zeros(n, dtype=bool)
        start = 0
        for name, size in zip(names, width, strict=True):
            cols = slice(start, start + size)
            kept[cols] = bool(np.any(a[:, cols] != 0) or np.any(c[:, cols] != 0) or name in keep)
            start += size
        system = system.select(kept)
    return system
