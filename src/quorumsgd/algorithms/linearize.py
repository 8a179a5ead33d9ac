r"""Linearizing an algorithm: the one place where an algorithm becomes a matrix.

On a quadratic loss every algorithm of :mod:`quorumsgd.algorithms` is affine in its whole state (agents'
positions and velocities, the EASGD quorum): a drift :math:`\mathbf F(\mathbf X)=\mathbf M\mathbf X+\mathbf m`,
or one iteration :math:`\mathbf X'=\boldsymbol\Phi\mathbf X+\boldsymbol\varphi`. :func:`affine_map` reads
:math:`(\mathbf M,\mathbf m)` off the algorithm's *own* step function, evaluated once on a batch of states (the
zero state and the :math:`N` basis states, along the leading axis of the ``(sims, agents, dim)`` layout),
and checks that the step really is affine. Nothing is retyped: the matrix is the algorithm.

The same code serves numbers and symbols. With numpy floats it gives the exact oracles of
:mod:`quorumsgd.simulate.oracle` and the N-agent networks of :mod:`quorumsgd.contraction.network`; with
``symbolic=True`` the states are object arrays of SymPy integers, parameters may be SymPy symbols, and the
entries are SymPy expressions (the Jacobians of :mod:`quorumsgd.contraction.symbolic`, the discrete maps of
the stability analysis).

Example:
    >>> import numpy as np
    >>> from quorumsgd.algorithms import QSGD, SIM_OPS
    >>> alg = QSGD(coupling=2.0)
    >>> m = affine_map(lambda s: alg.drift(s, lambda x: 0.5 * x, SIM_OPS), alg.init(np.zeros((1, 2, 1)), SIM_OPS))
    >>> m.matrix.tolist(), m.offset.tolist()       # -(h + k) + k/p on the diagonal, k/p off it
    ([[-1.5, 1.0], [1.0, -1.5]], [0.0, 0.0])
    >>> import sympy
    >>> k, h = sympy.symbols("k h")
    >>> sym = affine_map(lambda s: QSGD(coupling=k).drift(s, lambda x: h * x, SIM_OPS),
    ...                  {"x": np.zeros((1, 2, 1), dtype=object)}, symbolic=True)
    >>> sympy.Matrix(sym.matrix)
    Matrix([
    [-h - k/2,      k/2],
    [     k/2, -h - k/2]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from quorumsgd.algorithms.base import State
from quorumsgd.algorithms.layout import StateLayout
from quorumsgd.algorithms.ops import AgentOps, Array, sum_axis
from quorumsgd.errors import InvalidParameter

Step = Callable[[State], State]
"""A batched step: a drift or one iteration, from a state ``{field: (sims, ...)}`` to the fields' images."""


@dataclass(frozen=True)
class AffineMap:
    r""":math:`\mathbf X\mapsto\mathbf M\mathbf X+\mathbf m` on the flat state of ``layout`` (float or SymPy entries)."""

    matrix: np.ndarray
    offset: np.ndarray
    layout: StateLayout

    def block(self, fields: tuple[str, ...]) -> np.ndarray:
        """The rows and columns of some fields (e.g. the mean mode's ``("x", "quorum")``)."""
        idx = np.concatenate([np.arange(self.layout.size)[self.layout.slices[f]] for f in fields])
        return self.matrix[np.ix_(idx, idx)]


def affine_map(step: Step, template: State, *, symbolic: bool = False, where: str = "linearize") -> AffineMap:
    r"""Read :math:`(\mathbf M,\mathbf m)` off ``step`` in one batched evaluation, and check it is affine.

    Args:
        step: the algorithm's drift or iteration as a function of a batched state (e.g.
            ``lambda s: alg.drift(s, grad, SIM_OPS)``); only the fields of ``template`` are read from its output.
        template: a state with a leading batch axis of size 1 (``alg.init(np.zeros((1, p, n)), SIM_OPS)``): its
            fields, their order and shapes define the flat state.
        symbolic: evaluate on object arrays of SymPy integers (parameters may be symbols; entries are SymPy).
        where: named in the error when the step is not affine.

    Raises:
        InvalidParameter: the step is not affine in the state (checked at random states, exactly when symbolic).
    """
    layout = StateLayout.of({name: np.asarray(value) for name, value in template.items()})
    n = layout.size
    states = np.vstack([np.zeros((1, n)), np.eye(n)])
    if symbolic:
        import sympy

        states = np.vectorize(sympy.Integer, otypes=[object])(states.astype(int))
    flat = _flat_step(step, layout)
    images = flat(states)
    offset = images[0]
    matrix = (images[1:] - offset).T
    rng = np.random.default_rng(12345)
    probes = rng.integers(-3, 4, size=(2, n)) if symbolic else rng.standard_normal((3, n))
    if symbolic:
        probes = np.vectorize(sympy.Integer, otypes=[object])(probes)
        residual = flat(probes) - (probes @ matrix.T + offset)
        affine = all(sympy.expand(r) == 0 for r in residual.ravel())
    else:
        want = probes @ matrix.T + offset
        affine = bool(np.allclose(flat(probes), want, rtol=1e-9, atol=1e-9 * (1 + np.abs(want).max())))
    if not affine:
        raise InvalidParameter("algorithm", "affine in the state on this objective (a linear system)", None, where)
    return AffineMap(matrix, offset, layout)


def _flat_step(step: Step, layout: StateLayout) -> Callable[[np.ndarray], np.ndarray]:
    def flat(states: np.ndarray) -> np.ndarray:
        out = step(layout.unflatten(states))
        return layout.flatten({f: out[f] for f in layout.shapes})

    return flat


@dataclass(frozen=True)
class RepresentativeOps(AgentOps):
    r"""Agents stored once per group of equal agents: slot k stands for ``multiplicity[k]`` agents.

    A state on a symmetric mode of an exchangeable ensemble takes only a few distinct agent values (all equal on
    the consensus mode; :math:`+a, -a, 0,\dots,0` on a disagreement mode), so the ensemble's quorum is a weighted
    sum over a few slots, and an algorithm written with :class:`AgentOps` runs on it unchanged, without an array
    of the real number of agents (which may be :math:`10^{15}`).

    Example:
        >>> import numpy as np
        >>> ops = RepresentativeOps(multiplicity=(1.0, 1.0, 1e15 - 2))
        >>> ops.n_agents(np.zeros((1, 3, 1))), float(ops.mean(np.array([[[1.0], [-1.0], [0.0]]]))[0, 0])
        (1000000000000000, 0.0)
    """

    multiplicity: tuple[float, ...] = (1.0,)

    def n_agents(self, x: Array) -> int:
        return round(sum(self.multiplicity))

    def sum(self, x: Array) -> Array:
        shape = [1] * np.ndim(x)
        shape[self.axis] = len(self.multiplicity)
        return sum_axis(x * np.asarray(self.multiplicity).reshape(shape), self.axis)

    def mean(self, x: Array) -> Array:
        return self.sum(x) / float(sum(self.multiplicity))


__all__ = ["AffineMap", "RepresentativeOps", "Step", "affine_map"]
