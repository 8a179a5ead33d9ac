r"""Any algorithm as a linear system in (state, gradients), and the agent symmetries that block-diagonalize it.

With :math:`\mathbf x^*=0` and the gradients :math:`\mathbf u_i=\nabla f(\mathbf y^i)` treated as inputs, an
algorithm whose step is affine in its state and its gradients is, per coordinate,

.. math::
    \text{continuous: } \dot{\boldsymbol\xi}=\mathbf A\boldsymbol\xi+\mathbf B\mathbf u,\qquad
    \text{discrete: } \boldsymbol\xi_{t+1}=\mathbf A_s\boldsymbol\xi_t+\mathbf B_s(\mathbf u_t-\boldsymbol\zeta_t),
    \qquad \mathbf y=\mathbf C_s\boldsymbol\xi ,

with a phase :math:`s` for time-varying iterations of period :math:`H` (``period`` and ``clock_field``, see
:class:`quorumsgd.algorithms.LocalSGD`). :func:`agent_system` reads :math:`(\mathbf A,\mathbf B,\mathbf C)` off
the algorithm's own ``drift`` / ``apply`` with the one linearizer, :func:`~quorumsgd.algorithms.affine_map`,
applied to the joint map (state, gradients) :math:`\mapsto` (next state, gradient points).

**Symmetry.** A group :math:`G` of agent permutations under which :math:`\mathbf A,\mathbf B,\mathbf C` commute
(:func:`equivariant`) makes every certificate averageable over :math:`G`, hence :math:`G`-invariant without loss,
hence block diagonal in a basis of :math:`G`-isotypic modes (:func:`modes`):

* ``"permutation"`` (all of :math:`S_p`: QSGD, EASGD, local SGD): the consensus mode :math:`\mathbf 1/\sqrt p` and
  one representative of the :math:`p-1` equal disagreement modes;
* ``"circulant"`` (the dihedral group of a ring: gossip on a ring): the real Fourier modes
  :math:`\cos(2\pi jk/p)`, :math:`k=0..\lfloor p/2\rfloor`, each of multiplicity 2 but :math:`k=0, p/2`; the
  mixing matrix is diagonal there, with its eigenvalues on the diagonal, so the spectral gap is explicit;
* ``"spectral"`` (no symmetry, but every agent-by-agent block of the maps is symmetric and they commute, with
  :math:`\mathbf 1` a common eigenvector: gossip on any graph): their common eigenvectors as modes, with *one*
  multiplier for all agent-minimizer pairs and one for all agent-agent pairs. Not lossless like the two groups
  (the full problem may use a multiplier per pair) but valid: :math:`\sum_i\varphi(\mathbf z_i)` and
  :math:`\sum_{i<j}\varphi(\mathbf z_i-\mathbf z_j)=p\sum_i\varphi(\mathbf z_i-\bar{\mathbf z})` are
  diagonal in every orthonormal agent basis containing :math:`\mathbf 1/\sqrt p`;
* ``"none"``: the full system (a random regular graph has no symmetry).

Pairs of agents fall into classes (the orbits of :math:`G` on pairs); a class's interpolation inequalities sum to
:math:`\gamma_{k}` times the mode's own, :math:`\gamma_k=\sum_{(i,j)}(w_i-w_j)^2` (:attr:`Mode.pair_weights`).

Example:
    >>> from quorumsgd.algorithms import QSGD
    >>> sys = agent_system(QSGD(coupling=2.0), n_agents=3)      # d x = -u + k (x-bar - x): A = k (J - I)
    >>> sys.a[0].round(4).tolist(), sys.fields, detect_symmetry(sys)
    ([[-1.3333, 0.6667, 0.6667], [0.6667, -1.3333, 0.6667], [0.6667, 0.6667, -1.3333]], ('x',), 'permutation')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from quorumsgd.algorithms.base import ContinuousAlgorithm, DiscreteAlgorithm
from quorumsgd.algorithms.linearize import affine_map
from quorumsgd.algorithms.ops import SIM_OPS
from quorumsgd.errors import InvalidParameter

Symmetry = Literal["auto", "permutation", "circulant", "spectral", "none"]
SYMMETRIES = ("auto", "permutation", "circulant", "spectral", "none")
FULL_MAX_AGENTS = 16
"""``symmetry="auto"`` solves the full problem up to this many agents, beyond it the ``spectral`` restriction."""
_GRAD, _POINT = "__gradient__", "__gradient_point__"


@dataclass(frozen=True)
class AgentSystem:
    r"""The full linear system of an algorithm with ``n_agents`` agents, one entry per phase.

    Attributes:
        a, b, c: per phase ``(H, n, n)``, ``(H, n, p)``, ``(H, p, n)``.
        noise: ``(H, n, p)``, column i: how agent i's gradient noise enters (continuous: the noisy field; discrete:
            :math:`-\mathbf B`, the stochastic gradient being :math:`\nabla f-\boldsymbol\zeta`).
        coords: ``(field, agent or None)`` for each state coordinate; ``fields`` the kept fields, in order.
        discrete: a discrete iteration (else a drift). ``name``: the algorithm's class, for messages.
    """

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    noise: np.ndarray
    coords: tuple[tuple[str, int | None], ...]
    fields: tuple[str, ...]
    n_agents: int
    discrete: bool
    name: str

    @property
    def period(self) -> int:
        return self.a.shape[0]

    @property
    def n_state(self) -> int:
        return self.a.shape[1]

    def permutation(self, perm: np.ndarray) -> np.ndarray:
        """The state permutation matrix of an agent permutation (agent-free coordinates fixed)."""
        n = self.n_state
        index = {co: i for i, co in enumerate(self.coords)}
        out = np.zeros((n, n))
        for i, (f, agent) in enumerate(self.coords):
            out[index[(f, None if agent is None else int(perm[agent]))], i] = 1.0
        return out


def _period(alg: Any) -> tuple[int, str | None]:
    clock = getattr(alg, "clock_field", None)
    period = int(getattr(alg, "period", 1)) if clock is not None else 1
    if clock is not None and clock not in alg.state_fields:
        raise InvalidParameter("clock_field", f"one of the state fields {alg.state_fields}", clock, type(alg).__name__)
    return period, clock


def agent_system(
    alg: ContinuousAlgorithm | DiscreteAlgorithm, n_agents: int, keep: tuple[str, ...] = ("x",), where: str = "certify"
) -> AgentSystem:
    """Read the linear system off ``alg`` (see the module docstring); write-only fields not in ``keep`` are dropped.

    Raises:
        InvalidParameter: not an algorithm; fields whose shapes do not match the layout; a step that is not affine
            in (state, gradients), or not linear (x* = 0 not a fixed point); more than one gradient per step.
    """
    name = type(alg).__name__
    if not isinstance(alg, (ContinuousAlgorithm, DiscreteAlgorithm)):
        raise InvalidParameter("algorithm", "a ContinuousAlgorithm or DiscreteAlgorithm", name, where)
    if int(n_agents) != n_agents or n_agents < 1:
        raise InvalidParameter("n_agents", "an integer >= 1", n_agents, where)
    discrete = isinstance(alg, DiscreteAlgorithm)
    period, clock = _period(alg)
    if clock is not None and not discrete:
        raise InvalidParameter(
            "clock_field", "used by a discrete iteration only (a periodic drift is not supported)", clock, where
        )
    init = alg.init(np.zeros((1, n_agents, 1)), SIM_OPS)
    template: dict[str, np.ndarray] = {}
    for f in alg.state_fields:
        if f not in init or f == clock:
            continue
        shape = np.shape(init[f])
        if f in alg.agent_fields and shape != (1, n_agents, 1):
            raise InvalidParameter(
                f"state field {f!r}",
                f"shape (sims, agents, dim) = (1, {n_agents}, 1) as an agent field",
                shape,
                f"{where} ({name}.init)",
            )
        if f not in alg.agent_fields and shape != (1, 1):
            raise InvalidParameter(
                f"state field {f!r}",
                "shape (sims, dim) = (1, 1) as an agent-free field (or list it in agent_fields)",
                shape,
                f"{where} ({name}.init)",
            )
        template[f] = np.zeros(shape)
    fields = tuple(template)
    template[_GRAD] = np.zeros((1, n_agents, 1))
    template[_POINT] = np.zeros((1, n_agents, 1))
    maps = [
        affine_map(
            _joint_step(alg, fields, clock, s, discrete, where),
            template,
            where=f"{where}: {name} in (state, gradients)",
        )
        for s in range(period)
    ]
    layout = maps[0].layout
    sl = {f: layout.slices[f] for f in template}
    n = sum(sl[f].stop - sl[f].start for f in fields)
    a, b, c = (
        np.stack([mp.matrix[:n, :n] for mp in maps]),
        np.stack([mp.matrix[:n, sl[_GRAD]] for mp in maps]),
        np.stack([mp.matrix[sl[_POINT], :n] for mp in maps]),
    )
    for mp in maps:
        if np.any(np.abs(mp.offset) > 1e-12) or np.any(np.abs(mp.matrix[sl[_POINT], sl[_GRAD]]) > 1e-12):
            raise InvalidParameter(
                "algorithm",
                "linear in (state, gradients): x* = 0 with zero gradients must be a "
                "fixed point, and the gradient point must not depend on the gradient",
                name,
                where,
            )
    coords = tuple((f, (i if f in alg.agent_fields else None)) for f in fields for i in range(sl[f].stop - sl[f].start))
    if discrete:
        noise = -b
    else:
        noisy = getattr(alg, "noisy_field", "x")
        if noisy not in alg.agent_fields or noisy not in fields:
            raise InvalidParameter("noisy_field", f"an agent field of the state {fields}", noisy, f"{where} ({name})")
        noise = np.zeros_like(b)
        noise[:, sl[noisy], :] = np.eye(n_agents)
    system = AgentSystem(a, b, c, noise, coords, fields, int(n_agents), discrete, name)
    return _pruned(system, keep)


def _joint_step(alg: Any, fields: tuple[str, ...], clock: str | None, phase: int, discrete: bool, where: str) -> Any:
    name = type(alg).__name__

    def step(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        state = {f: s[f] for f in fields}
        u = s[_GRAD]
        if clock is not None:
            state[clock] = np.full((u.shape[0], 1), float(phase))
        seen: list[np.ndarray] = []
        if discrete:
            seen.append(alg.gradient_point(state))
            out = alg.apply(state, u, SIM_OPS)
        else:

            def grad(y: np.ndarray) -> np.ndarray:
                seen.append(y)
                return u

            out = alg.drift(state, grad, SIM_OPS, 0.0)
        if len(seen) != 1:
            raise InvalidParameter("algorithm", "one gradient evaluation per step", len(seen), f"{where} ({name})")
        missing = [f for f in fields if f not in out]
        if missing:
            raise InvalidParameter(
                f"{'apply' if discrete else 'drift'}()",
                f"return every state field ({missing} missing)",
                sorted(out),
                f"{where} ({name})",
            )
        res = {}
        for f in fields:
            value = np.asarray(out[f])
            if value.shape != state[f].shape:
                raise InvalidParameter(
                    f"{'apply' if discrete else 'drift'}()[{f!r}]",
                    f"shape {state[f].shape} (the field's own shape)",
                    value.shape,
                    f"{where} ({name})",
                )
            res[f] = value
        point = np.asarray(seen[0])
        if point.shape != u.shape:
            raise InvalidParameter(
                "gradient point", f"shape {u.shape} (one point per agent)", point.shape, f"{where} ({name})"
            )
        res[_GRAD] = 0 * u
        res[_POINT] = point
        return res

    return step


def _pruned(system: AgentSystem, keep: tuple[str, ...]) -> AgentSystem:
    """Drop fields that feed nothing (a velocity overwritten every step when the momentum is 0)."""
    kept = np.ones(system.n_state, dtype=bool)
    for f in system.fields:
        cols = np.array([co[0] == f for co in system.coords])
        feeds = np.any(system.a[:, :, cols] != 0) or np.any(system.c[:, :, cols] != 0)
        kept[cols] = bool(feeds or f in keep)
    idx = np.flatnonzero(kept)
    coords = tuple(system.coords[i] for i in idx)
    return AgentSystem(
        system.a[:, idx][:, :, idx],
        system.b[:, idx],
        system.c[:, :, idx],
        system.noise[:, idx],
        coords,
        tuple(f for f in system.fields if any(co[0] == f for co in coords)),
        system.n_agents,
        system.discrete,
        system.name,
    )


# --- symmetry --------------------------------------------------------------------------------------------------


def generators(symmetry: str, n_agents: int) -> list[np.ndarray]:
    """Permutations generating the group: S_p by a transposition and a p-cycle; the dihedral group by a shift and a reflection."""
    p = n_agents
    if p < 2:
        return []
    cycle = np.roll(np.arange(p), 1)
    if symmetry == "permutation":
        swap = np.arange(p)
        swap[[0, 1]] = [1, 0]
        return [swap, cycle]
    if symmetry == "circulant":
        return [cycle, (-np.arange(p)) % p]
    raise InvalidParameter("symmetry", f"one of {', '.join(SYMMETRIES)}", symmetry, "certify")


def equivariant(system: AgentSystem, symmetry: str, tol: float = 1e-10) -> bool:
    r"""Whether every phase's :math:`\mathbf A,\mathbf B,\mathbf C` commute with the group's agent permutations."""
    for perm in generators(symmetry, system.n_agents):
        ps = system.permutation(perm)
        pa = np.eye(system.n_agents)[perm].T  # column i -> row perm[i]
        scale = 1.0 + max(np.abs(system.a).max(), np.abs(system.b).max(), np.abs(system.c).max())
        for a, b, c in zip(system.a, system.b, system.c, strict=True):
            if not (
                np.allclose(ps @ a, a @ ps, atol=tol * scale)
                and np.allclose(ps @ b, b @ pa, atol=tol * scale)
                and np.allclose(pa @ c, c @ ps, atol=tol * scale)
            ):
                return False
    return True


def detect_symmetry(system: AgentSystem) -> str:
    """The largest group the system is equivariant under (``"permutation"``, ``"circulant"``); otherwise the full
    problem (``"none"``) up to :data:`FULL_MAX_AGENTS` agents and ``"spectral"`` beyond, where it applies."""
    if system.n_agents < 2:
        return "none"  # one agent: the full problem is the smallest
    for symmetry in ("permutation", "circulant"):
        if equivariant(system, symmetry):
            return symmetry
    if system.n_agents > FULL_MAX_AGENTS and spectral_basis(system) is not None:
        return "spectral"
    return "none"


def _agent_blocks(system: AgentSystem) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The (p, p) agent-by-agent blocks of every map, and the agent/agent-free coupling vectors (p,)."""
    agent = [f for f in system.fields if any(co[0] == f and co[1] is not None for co in system.coords)]
    rows = {f: [i for i, co in enumerate(system.coords) if co[0] == f] for f in system.fields}
    free = [i for i, co in enumerate(system.coords) if co[1] is None]
    squares, vectors = [], []
    for s in range(system.period):
        for f in agent:
            squares += [system.b[s][rows[f]], system.c[s][:, rows[f]]]
            vectors += [system.a[s][rows[f]][:, j] for j in free] + [system.a[s][j, rows[f]] for j in free]
            squares += [system.a[s][np.ix_(rows[f], rows[g])] for g in agent]
    return squares, vectors


def spectral_basis(system: AgentSystem, tol: float = 1e-9) -> np.ndarray | None:
    """An orthonormal agent basis ``(p, p)`` (first column the consensus vector) diagonalizing every agent block,
    or ``None`` when the blocks are not symmetric, do not commute, or do not keep the consensus vector."""
    p = system.n_agents
    squares, vectors = _agent_blocks(system)
    ones = np.full(p, 1 / np.sqrt(p))
    scale = 1.0 + max([np.abs(m).max() for m in squares] + [0.0])
    for m in squares:
        if not np.allclose(m, m.T, atol=tol * scale) or not np.allclose(
            m @ ones, (ones @ m @ ones) * ones, atol=tol * scale
        ):
            return None
    if any(not np.allclose(v, v.mean(), atol=tol * scale) for v in vectors):
        return None
    rng = np.random.default_rng(0)
    mix: np.ndarray = np.zeros((p, p))
    for m in squares:  # a random combination: its eigenbasis is common to all of them when one exists
        mix = mix + rng.standard_normal() * m
    q, _ = np.linalg.qr(np.column_stack([ones, np.eye(p)[:, : p - 1]]))
    perp = q[:, 1:]
    _, vecs = np.linalg.eigh(perp.T @ (0.5 * (mix + mix.T)) @ perp)
    basis = np.column_stack([ones, perp @ vecs])
    for m in squares:
        d = basis.T @ m @ basis
        if not np.allclose(d, np.diag(np.diag(d)), atol=1e-7 * scale):
            return None
    return basis


@dataclass(frozen=True)
class Mode:
    r"""One block of the reduction: the unit agent vector ``w`` (``(p,)``; ``None`` for the full system), its
    multiplicity, its label, the pair classes' weights :math:`\gamma`, the embedding ``e`` ``(n, n_k)``, and
    ``eigenvalue`` :math:`\mathbf w^{\mathsf T}\mathbf A_{xx}\mathbf w` (the first agent field's self-map on
    the mode: for gossip, the mixing matrix's eigenvalue, so the spectral gap reads off the blocks)."""

    label: str
    w: np.ndarray | None
    multiplicity: int
    pair_weights: np.ndarray
    embedding: np.ndarray
    inputs: np.ndarray
    eigenvalue: float = float("nan")
    copies: tuple[np.ndarray, ...] = ()
    """Orthonormal agent vectors of every copy of the mode (``multiplicity`` of them; the first is ``w``)."""


def pair_classes(symmetry: str, n_agents: int) -> list[list[tuple[int, int]]]:
    """Orbits of the group on unordered pairs of agents: one class (S_p), the cyclic distances (dihedral)."""
    pairs = [(i, j) for i in range(n_agents) for j in range(i + 1, n_agents)]
    if symmetry == "permutation":
        return [pairs] if pairs else []
    if symmetry == "circulant":
        dist: dict[int, list[tuple[int, int]]] = {d: [] for d in range(1, n_agents // 2 + 1)}
        for i, j in pairs:
            dist[min(j - i, n_agents - (j - i))].append((i, j))
        return [dist[d] for d in sorted(dist)]
    raise InvalidParameter("symmetry", "permutation or circulant for pair classes", symmetry, "certify")


def modes(system: AgentSystem, symmetry: str) -> list[Mode]:
    """The blocks of the symmetry reduction (``"none"``: one block, the full system)."""
    p, n = system.n_agents, system.n_state
    if symmetry == "none" or p < 2:
        return [Mode("full", None, 1, np.zeros(0), np.eye(n), np.eye(p), float("nan"))]
    if symmetry == "permutation":
        w = [np.full(p, 1 / np.sqrt(p)), np.r_[1.0, -1.0, np.zeros(p - 2)] / np.sqrt(2)]
        labels, mult = ["consensus", "disagreement"], [1, p - 1]
        q, _ = np.linalg.qr(np.column_stack([w[0], w[1], np.eye(p)[:, 2:]]))
        copies = [[w[0]], [w[1], *(q[:, j] for j in range(2, p))]]
    elif symmetry == "spectral":
        basis = spectral_basis(system)
        if basis is None:
            raise InvalidParameter(
                "symmetry",
                f"'spectral' only for maps whose agent blocks are symmetric, commute and "
                f"keep the consensus vector ({system.name}'s do not; use 'auto' or 'none')",
                symmetry,
                "certify",
            )
        w, labels, mult = list(basis.T), ["consensus", *(f"mode {k}" for k in range(1, p))], [1] * p
        copies = [[v] for v in w]
    elif symmetry == "circulant":
        w, labels, mult, copies = [], [], [], []
        for k in range(p // 2 + 1):
            v = np.cos(2 * np.pi * k * np.arange(p) / p)
            w.append(v / np.linalg.norm(v))
            labels.append("consensus" if k == 0 else f"fourier {k}")
            mult.append(1 if k == 0 or 2 * k == p else 2)
            sine = np.sin(2 * np.pi * k * np.arange(p) / p)
            copies.append([w[-1]] + ([sine / np.linalg.norm(sine)] if mult[-1] == 2 else []))
    else:
        raise InvalidParameter("symmetry", f"one of {', '.join(SYMMETRIES)}", symmetry, "certify")
    classes = pair_classes("permutation" if symmetry == "spectral" else symmetry, p)
    xs = [i for i, co in enumerate(system.coords) if co[0] == system.fields[0] and co[1] is not None]
    out = []
    for wk, label, m, cp in zip(w, labels, mult, copies, strict=True):
        # the first agent field's self-map on this mode, w^T A_xx w: a mixing eigenvalue for gossip
        eigenvalue = float(wk @ system.a[0][np.ix_(xs, xs)] @ wk) if xs else float("nan")
        gamma = np.array([sum((wk[i] - wk[j]) ** 2 for i, j in cl) for cl in classes])
        out.append(Mode(label, wk, m, gamma, embedding(system, wk), wk[:, None], eigenvalue, tuple(cp)))
    return out


def embedding(system: AgentSystem, w: np.ndarray) -> np.ndarray:
    """The state columns ``(n, n_k)`` of a mode with agent vector ``w``: one per agent field, plus the agent-free
    fields when ``w`` is the consensus vector (they only couple to it)."""
    n = system.n_state
    trivial = np.allclose(w, w[0])
    cols: list[np.ndarray] = []
    for f in system.fields:
        rows = [i for i, co in enumerate(system.coords) if co[0] == f]
        if system.coords[rows[0]][1] is None:
            if trivial:
                cols.extend(np.eye(n)[:, [r]] for r in rows)
            continue
        col = np.zeros((n, 1))
        for r in rows:
            col[r, 0] = w[system.coords[r][1]]
        cols.append(col)
    return np.hstack(cols)


def restrict(system: AgentSystem, mode: Mode, where: str = "certify") -> tuple[np.ndarray, ...]:
    r"""The mode's :math:`(\mathbf A_s,\mathbf B_s,\mathbf C_s,\mathbf E_s)` per phase; checks that the mode is invariant.

    Raises:
        InvalidParameter: the dynamics leave the mode (the coupling breaks the exchangeability it assumes).
    """
    e, u = mode.embedding, mode.inputs
    a = np.einsum("ij,sjk,kl->sil", e.T, system.a, e)
    b = np.einsum("ij,sjk,kl->sil", e.T, system.b, u)
    c = np.einsum("ij,sjk,kl->sil", u.T, system.c, e)
    noise = np.einsum("ij,sjk,kl->sil", e.T, system.noise, u)
    scale = 1.0 + max(np.abs(system.a).max(), np.abs(system.b).max(), np.abs(system.c).max())
    ok = (
        np.allclose(system.a @ e, e @ a, atol=1e-9 * scale)
        and np.allclose(system.b @ u, e @ b, atol=1e-9 * scale)
        and np.allclose(system.c @ e, u @ c, atol=1e-9 * scale)
    )
    if not ok:
        raise InvalidParameter(
            "symmetry",
            f"a group the coupling of {system.name} is equivariant under (its "
            f"{mode.label} mode is not invariant: the agents are not exchangeable that way; use "
            "symmetry='auto' or 'none')",
            None,
            where,
        )
    return a, b, c, noise


__all__ = [
    "FULL_MAX_AGENTS",
    "SYMMETRIES",
    "AgentSystem",
    "Mode",
    "Symmetry",
    "agent_system",
    "detect_symmetry",
    "embedding",
    "equivariant",
    "generators",
    "modes",
    "pair_classes",
    "restrict",
    "spectral_basis",
]
