r"""The coefficients a fused kernel applies, read off the algorithm's drift (no second copy of the dynamics).

On a quadratic every continuous algorithm of :mod:`quorumsgd.algorithms` is affine in its state
(:func:`~quorumsgd.algorithms.affine_map`), and every one of them treats its agents alike: stacking agent
:math:`i`'s fields as :math:`\mathbf u_i` (positions, velocities) and the agent-free fields as :math:`\mathbf g`
(EASGD's quorum), the drift has the *agent-symmetric* form

.. math::
    \dot{\mathbf u}_i=\mathbf D\mathbf u_i+\mathbf C\bar{\mathbf u}+\mathbf E\mathbf g+\mathbf c,\qquad
    \dot{\mathbf g}=\mathbf F\bar{\mathbf u}+\mathbf H\mathbf g+\mathbf h,\qquad
    \bar{\mathbf u}=\tfrac1p\textstyle\sum_j\mathbf u_j .

:meth:`AgentSymmetricMap.read` extracts :math:`(\mathbf D,\mathbf C,\mathbf E,\mathbf c,\mathbf F,\mathbf H,\mathbf h)`
from the :math:`N\times N` matrix of :func:`~quorumsgd.algorithms.affine_map` and checks that they rebuild it
exactly; a kernel then costs :math:`O(pK^2)` per step instead of :math:`O(N^2)` (:math:`K` = agent fields x dim).

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms import QSGD, SIM_OPS, affine_map
    >>> alg, p = QSGD(coupling=2.0), 3
    >>> m = affine_map(lambda s: alg.drift(s, lambda x: 0.5 * x, SIM_OPS), alg.init(np.zeros((1, p, 1)), SIM_OPS))
    >>> sym = AgentSymmetricMap.read(m.layout, m.matrix, m.offset, p)
    >>> sym.D.tolist(), sym.C.tolist()                    # -(h + k) per agent, +k times the mean
    ([[-2.5]], [[2.0]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quorumsgd.algorithms.layout import StateLayout


@dataclass(frozen=True)
class AgentSymmetricMap:
    """The drift in agent-symmetric form (see the module docstring); arrays are float64."""

    agent_fields: tuple[str, ...]
    global_fields: tuple[str, ...]
    n_agents: int
    dim: int
    D: np.ndarray  # (K, K)
    C: np.ndarray  # (K, K)
    E: np.ndarray  # (K, G)
    c: np.ndarray  # (K,)
    F: np.ndarray  # (G, K)
    H: np.ndarray  # (G, G)
    h: np.ndarray  # (G,)

    @property
    def agent_size(self) -> int:
        return self.D.shape[0]

    @property
    def global_size(self) -> int:
        return self.H.shape[0]

    @staticmethod
    def _indices(layout: StateLayout, n_agents: int) -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray,
                                                              np.ndarray] | None:
        agent, glob = [], []
        for name, shape in layout.shapes.items():
            if len(shape) == 2 and shape[0] == n_agents:
                agent.append(name)
            elif len(shape) == 1:
                glob.append(name)
            else:
                return None
        if not agent:
            return None
        u = np.concatenate([layout.index(f) for f in agent], axis=1)  # (p, K)
        g = (np.concatenate([layout.index(f) for f in glob]) if glob else np.zeros(0, dtype=int))
        return tuple(agent), tuple(glob), u, g

    @classmethod
    def read(cls, layout: StateLayout, matrix: np.ndarray, offset: np.ndarray, n_agents: int
             ) -> AgentSymmetricMap | None:
        """The coefficients of ``X' = M X + m`` in agent-symmetric form, or ``None`` if ``M`` has no such form."""
        found = cls._indices(layout, n_agents)
        if found is None:
            return None
        agent, glob, u, g = found
        p = n_agents
        m = np.asarray(matrix, dtype=np.float64)
        off = np.asarray(offset, dtype=np.float64)
        if p > 1:
            c_mat = p * m[np.ix_(u[0], u[1])]
        else:
            c_mat = np.zeros((u.shape[1], u.shape[1]))
        d_mat = m[np.ix_(u[0], u[0])] - c_mat / p
        e_mat = m[np.ix_(u[0], g)]
        f_mat = p * m[np.ix_(g, u[0])]
        h_mat = m[np.ix_(g, g)]
        dim = layout.shapes[agent[0]][1]
        sym = cls(agent, glob, p, dim, d_mat, c_mat, e_mat, off[u[0]], f_mat, h_mat, off[g])
        rebuilt_m, rebuilt_off = sym.rebuild(layout)
        scale = 1.0 + np.abs(m).max()
        if not (np.allclose(rebuilt_m, m, rtol=0, atol=1e-12 * scale)
                and np.allclose(rebuilt_off, off, rtol=0, atol=1e-12 * (1.0 + np.abs(off).max()))):
            return None
        return sym

    def rebuild(self, layout: StateLayout) -> tuple[np.ndarray, np.ndarray]:
        """The full ``(M, m)`` these coefficients stand for (the check that nothing was lost)."""
        found = self._indices(layout, self.n_agents)
        assert found is not None
        _, _, u, g = found
        p = self.n_agents
        m = np.zeros((layout.size, layout.size))
        off = np.zeros(layout.size)
        for i in range(p):  # builds an (N, N) matrix once; not a simulation loop
            for j in range(p):
                m[np.ix_(u[i], u[j])] = self.C / p + (self.D if i == j else 0.0)
            m[np.ix_(u[i], g)] = self.E
            m[np.ix_(g, u[i])] = self.F / p
            off[u[i]] = self.c
        m[np.ix_(g, g)] = self.H
        off[g] = self.h
        return m, off

    def euler(self, dt: float) -> tuple[np.ndarray, ...]:
        r"""The Euler step's matrices: :math:`\mathbf u_i'=\mathbf A_1\mathbf u_i+\mathbf A_2\bar{\mathbf u}+\mathbf A_3
        \mathbf g+\mathbf a`, :math:`\mathbf g'=\mathbf G_1\bar{\mathbf u}+\mathbf G_2\mathbf g+\mathbf g_0`."""
        k, gs = self.agent_size, self.global_size
        return (np.eye(k) + dt * self.D, dt * self.C, dt * self.E, dt * self.c,
                dt * self.F, np.eye(gs) + dt * self.H, dt * self.h)

    def to_blocks(self, flat: np.ndarray, layout: StateLayout) -> tuple[np.ndarray, np.ndarray]:
        """``(sims, N)`` -> agent block ``(sims, p, K)`` and global block ``(sims, G)``."""
        found = self._indices(layout, self.n_agents)
        assert found is not None
        _, _, u, g = found
        return np.ascontiguousarray(flat[:, u]), np.ascontiguousarray(flat[:, g])

    def from_blocks(self, u_block: np.ndarray, g_block: np.ndarray, layout: StateLayout) -> np.ndarray:
        found = self._indices(layout, self.n_agents)
        assert found is not None
        _, _, u, g = found
        flat = np.empty((u_block.shape[0], layout.size), dtype=u_block.dtype)
        flat[:, u] = u_block
        flat[:, g] = g_block
        return flat
