r"""Certify *your own* algorithm over :math:`\mathcal S(\lambda,L)`: one call, any affine coupling, any number of agents.

:func:`certify` takes any :class:`~quorumsgd.algorithms.ContinuousAlgorithm` or
:class:`~quorumsgd.algorithms.DiscreteAlgorithm` whose step is affine in its state and its gradients (with
:math:`\mathbf x^*=0`), reads its linear system off its own definition
(:func:`quorumsgd.algorithms.agent_system.agent_system`), and solves the SDP of
:mod:`quorumsgd.bounds.sdp.certificate` for it: a quadratic Lyapunov function :math:`V=\boldsymbol\xi^{\mathsf T}
\mathbf P\boldsymbol\xi` and the S-procedure over the interpolation inequalities
(:func:`quorumsgd.bounds.sdp.interpolation.pair_forms`) of every pair of agents and the minimizer, so that

.. math::
    \limsup_{T\to\infty}\frac1T\sum_{t<T}\mathbb E\,\boldsymbol\xi_t^{\mathsf T}\mathbf W\boldsymbol\xi_t
    \ \le\ \frac{\sigma^2}{b}\,\frac1H\sum_{s<H}\operatorname{tr}(\mathbf B_s^{\mathsf T}\mathbf P_{s+1}\mathbf B_s)
    \quad\text{(discrete; continuous: } \tfrac{\eta\sigma^2}{b}\operatorname{tr}(\mathbf E^{\mathsf T}\mathbf P\mathbf E))

for every :math:`f\in\mathcal S(\lambda,L)` and every gradient noise with :math:`\operatorname{tr}\boldsymbol\Sigma\le
\sigma^2`. A time-varying iteration of period :math:`H` (``period``, ``clock_field``) gets one Lyapunov matrix per
phase (:math:`\mathbf P_H=\mathbf P_0`): the certificate of the :math:`H`-step map, with the noise of every step.

The symmetry reduction is used only where it is valid: ``symmetry="auto"`` tests whether the linear map commutes
with all agent permutations (two blocks, any :math:`p`), else with the rotations and reflections of a ring (one
block per Fourier mode: the mixing matrix's eigenvalues, hence the spectral gap, appear block by block), else solves
the full problem. Asking for a symmetry the algorithm does not have is an error, not a wrong bound.

Example:
    >>> from quorumsgd.algorithms import GossipIteration, ring_mixing
    >>> cert = certify(GossipIteration(lr=0.1, mixing=ring_mixing(8)), "center", strong_convexity=0.5,
    ...                smoothness=2.0, n_agents=8, sigma2=1.0)
    >>> cert.symmetry, cert.verified, round(cert.second_moment, 5), [m for m, _ in cert.modes][:3]
    ('circulant', True, 0.02041, ['consensus', 'fourier 1', 'fourier 2'])
    >>> [round(e, 4) for e in cert.mode_eigenvalues][:3]        # the ring's mixing eigenvalues: 1 - gap = 0.8047
    [1.0, 0.8047, 0.3333]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from quorumsgd.algorithms.agent_system import (
    SYMMETRIES,
    AgentSystem,
    Mode,
    agent_system,
    detect_symmetry,
    embedding,
    equivariant,
    modes,
    pair_classes,
    restrict,
)
from quorumsgd.bounds.sdp.certificate import SDPInfeasible, SDPSolverError
from quorumsgd.bounds.sdp.interpolation import pair_forms
from quorumsgd.errors import HypothesisViolation, InvalidParameter

QUANTITIES: dict[str, str] = {
    "center": r"\|\bar{\mathbf x}\|^2",
    "spread": r"\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2",
    "mean_square": r"\frac1p\sum_i\|\mathbf x^i\|^2",
    "quorum": r"\|\tilde{\mathbf x}\|^2",
}
"""The second moments :func:`certify` bounds (:math:`\\mathbf x^*=0`); a tuple of names is their sum."""

_FIRST_MOMENT = {"center", "quorum"}
SOLVERS = ("CLARABEL", "SCS")
PAIRS = ("all", "minimizer")


@dataclass(frozen=True, eq=False)
class AlgorithmCertificate:
    r"""A verified bound on a long-run second moment of an algorithm over :math:`\mathcal S(\lambda,L)`.

    Attributes:
        algorithm, quantity: what was certified.
        second_moment: the certified bound; ``value``: its square root for the first-moment quantities
            (:math:`\mathbb E\|\bar{\mathbf x}\|\le\sqrt{\cdot}`, Jensen), else the second moment.
        symmetry: the reduction used (``"permutation"``, ``"circulant"``, ``"none"``).
        modes: ``(label, share of the bound)`` per block (multiplicity included); ``mode_eigenvalues``: per block
            :math:`\mathbf w^{\mathsf T}\mathbf A_{xx}\mathbf w` (for gossip the mixing eigenvalue: the block with
            :math:`1-\delta` is the slowest disagreement mode, :math:`\delta` the spectral gap).
        lyapunov: per block, the phases' :math:`\mathbf P_s` ``(H, n_k, n_k)``; ``multipliers``: :math:`\mu`.
        max_eigenvalue, min_lyapunov_eigenvalue: the numpy check (<= 0 and >= 0).
        period: :math:`H`; ``solver``, ``status``; ``verified`` is True for every returned certificate.
        full_check: largest eigenvalue of the full N-agent LMI assembled from a reduced certificate (``<= 0``; run
            up to :data:`FULL_CHECK_MAX_AGENTS` agents, ``nan`` otherwise or for the full problem itself).
    """

    algorithm: str
    quantity: tuple[str, ...]
    second_moment: float
    value: float
    symmetry: str
    modes: tuple[tuple[str, float], ...]
    lyapunov: tuple[np.ndarray, ...] = field(repr=False)
    multipliers: np.ndarray = field(repr=False)
    max_eigenvalue: float
    min_lyapunov_eigenvalue: float
    period: int
    solver: str
    status: str
    verified: bool
    parameters: dict[str, float] = field(default_factory=dict)
    mode_eigenvalues: tuple[float, ...] = ()
    full_check: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "quantity": list(self.quantity),
            "second_moment": self.second_moment,
            "value": self.value,
            "symmetry": self.symmetry,
            "modes": [list(m) for m in self.modes],
            "mode_eigenvalues": list(self.mode_eigenvalues),
            "max_eigenvalue": self.max_eigenvalue,
            "min_lyapunov_eigenvalue": self.min_lyapunov_eigenvalue,
            "period": self.period,
            "full_check": self.full_check,
            "solver": self.solver,
            "status": self.status,
            "verified": self.verified,
            "parameters": self.parameters,
        }


# --- data ------------------------------------------------------------------------------------------------------


def quantity_matrix(quantity: tuple[str, ...], system: AgentSystem) -> np.ndarray:
    """:math:`\\mathbf W` on the full state (per coordinate), from the named quantities."""
    n, p = system.n_state, system.n_agents
    w = np.zeros((n, n))
    xs = [i for i, co in enumerate(system.coords) if co[0] == "x"]
    for name in quantity:
        if name not in QUANTITIES:
            raise InvalidParameter("quantity", f"one of {', '.join(QUANTITIES)} (or a tuple of them)", name, "certify")
        if name == "quorum":
            idx = [i for i, co in enumerate(system.coords) if co[0] == "quorum"]
            if not idx:
                raise InvalidParameter(
                    "quantity", f"a quantity of {system.name} (it has no 'quorum' field)", name, "certify"
                )
            w[np.ix_(idx, idx)] += np.eye(len(idx))
            continue
        if len(xs) != p:
            raise InvalidParameter(
                "quantity", f"a quantity of {system.name} (it needs the agent field 'x')", name, "certify"
            )
        sub = {
            "center": np.full((p, p), 1.0 / p**2),
            "spread": np.eye(p) - np.full((p, p), 1.0 / p),
            "mean_square": np.eye(p) / p,
        }[name]
        w[np.ix_(xs, xs)] += sub
    return w


@dataclass
class _Block:
    mode: Mode
    a: np.ndarray  # (H, n, n)
    b: np.ndarray  # (H, n, m)
    c: np.ndarray  # (H, m, n)
    noise: np.ndarray  # (H, n, m)
    w: np.ndarray  # (n, n)
    forms: list[sp.csr_matrix]  # per phase: (n_mu_phase, (n+m)^2), sparse vectorized forms
    energy: np.ndarray  # (H, n+m, n+m)
    energy_noise: np.ndarray  # (H,)
    floor: np.ndarray  # (n, n)


def _scatter(local: np.ndarray, index: np.ndarray, size: int) -> sp.csr_matrix:
    """A form on a few coordinates as one sparse row of the vectorized ``size x size`` matrix."""
    rows, cols = np.meshgrid(index, index, indexing="ij")
    keep = local != 0
    flat = (rows * size + cols)[keep]
    return sp.csr_matrix((local[keep], (np.zeros(flat.size, dtype=int), flat)), shape=(1, size * size))


def _interpolation_forms(
    c: np.ndarray, n: int, pairs: list[tuple[int, int | None]], coeff: list[np.ndarray] | None, lam: float, big_l: float
) -> sp.csr_matrix:
    r"""Sparse rows of :math:`\varphi,\psi` (``pair_forms``) for each pair, on :math:`(\boldsymbol\xi,\mathbf u)`.

    Each pair's forms involve only the state coordinates its two gradient points read and its two inputs, so
    ``pair_forms`` is evaluated on that small support and scattered (the full problem of a 64-agent graph has
    4160 multipliers: dense forms would need gigabytes).
    """
    m = c.shape[0]
    size = n + m
    rows = []
    for i, j in pairs:
        agents = [i] if j is None else [i, j]
        support = np.flatnonzero(np.any(c[agents] != 0, axis=0))
        local_c = c[np.ix_(agents, support)]
        phi, psi = pair_forms(local_c, 0, None if j is None else 1, strong_convexity=lam, smoothness=big_l)
        index = np.r_[support, n + np.asarray(agents)]
        rows += [_scatter(phi, index, size), _scatter(psi, index, size)]
    out = sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, size * size))
    return out


def _energy(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, noise: np.ndarray, discrete: bool, lam: float, big_l: float
) -> tuple[np.ndarray, float, np.ndarray]:
    r"""The function-value part :math:`c\sum_i(f(\mathbf y^i)-f^*)` of :math:`V` (continuous time only): its drift
    form, Itô cost and floor, as in :mod:`quorumsgd.bounds.sdp.certificate` (``energy_form``, ``energy_noise``,
    ``energy_floor``)."""
    from quorumsgd.bounds.sdp.certificate import energy_floor, energy_form, energy_noise
    from quorumsgd.bounds.sdp.system import LinearSystem

    sys_ = LinearSystem(a, b, c, noise, tuple(str(i) for i in range(a.shape[0])), discrete)
    return energy_form(sys_), energy_noise(sys_, big_l), energy_floor(sys_, lam)


def _blocks(
    system: AgentSystem, symmetry: str, quantity: tuple[str, ...], lam: float, big_l: float, pairs: str
) -> list[_Block]:
    w_full = quantity_matrix(quantity, system)
    p = system.n_agents
    single = big_l - lam <= 1e-12 * big_l
    out = []
    for mode in modes(system, symmetry):
        a, b, c, noise = restrict(system, mode)
        e = mode.embedding
        w = e.T @ w_full @ e
        if not np.allclose(w_full @ e, e @ w, atol=1e-12):
            raise InvalidParameter("quantity", f"invariant under the {symmetry} symmetry", quantity, "certify")
        if single:
            # lambda = L: the class is the one quadratic L/2 |x|^2; substitute u = L y (an equality, no cone)
            a, b, c = a + big_l * b @ c, b[:, :, :0], c[:, :0]
        n, m = a.shape[1], b.shape[2]
        forms = []
        for s in range(system.period):
            if single:
                forms.append(sp.csr_matrix((0, (n + m) ** 2)))
                continue
            if mode.w is None:  # the full problem: every pair
                agent_pairs: list[tuple[int, int | None]] = [(i, None) for i in range(p)]
                if pairs == "all":
                    agent_pairs += [(i, j) for i in range(p) for j in range(i + 1, p)]
                forms.append(_interpolation_forms(c[s], n, agent_pairs, None, lam, big_l))
            else:  # one mode: its own (point, gradient) against the minimizer, scaled per pair class
                base = _interpolation_forms(c[s], n, [(0, None)], None, lam, big_l)
                rows = [base]
                if pairs == "all":
                    rows += [g * base for g in mode.pair_weights]
                forms.append(sp.vstack(rows, format="csr"))
        en = [_energy(a[s], b[s], c[s], noise[s], system.discrete, lam, big_l) for s in range(system.period)]
        out.append(
            _Block(mode, a, b, c, noise, w, forms, np.stack([x[0] for x in en]), np.array([x[1] for x in en]), en[0][2])
        )
    return out


# --- solve and verify --------------------------------------------------------------------------------------------


def _lyapunov_form(blk: _Block, s: int, p_now: Any, p_next: Any, discrete: bool, cvx: bool) -> Any:
    n, m = blk.a.shape[1], blk.b.shape[2]
    k = np.hstack([blk.a[s], blk.b[s]])
    j = np.hstack([np.eye(n), np.zeros((n, m))])
    if discrete:
        return k.T @ p_next @ k - j.T @ p_now @ j
    pk = j.T @ p_now @ k
    return pk + pk.T


def _mu_layout(blocks: list[_Block], period: int) -> tuple[list[int], int]:
    """Offsets of each phase's interpolation multipliers (shared by the blocks), plus the energy weight (last)."""
    sizes = [blocks[0].forms[s].shape[0] for s in range(period)]
    offsets = list(np.cumsum([0, *sizes]))
    return offsets, int(offsets[-1]) + 1


def _solve(
    blocks: list[_Block], discrete: bool, period: int, noise_scale: float, solver: str, margin: float
) -> tuple[str, list[np.ndarray], np.ndarray] | None:
    import cvxpy as cp

    offsets, n_mu = _mu_layout(blocks, period)
    mu = cp.Variable(n_mu, nonneg=True)
    cons, objective, ps = [], 0, []
    w_scale = max(float(np.abs(b.w).max()) for b in blocks) or 1.0
    for blk in blocks:
        n, m = blk.a.shape[1], blk.b.shape[2]
        phases = [cp.Variable((n, n), symmetric=True) for _ in range(period)]
        ps.append(phases)
        for s in range(period):
            p_now, p_next = phases[s], phases[(s + 1) % period]
            lyap = _lyapunov_form(blk, s, p_now, p_next, discrete, True)
            f = np.zeros((n + m, n + m))
            f[:n, :n] = blk.w / w_scale
            forms = blk.forms[s]
            total = f + lyap
            if forms.shape[0]:
                total = total + cp.reshape(
                    cp.Constant(forms.T.tocsc()) @ mu[offsets[s] : offsets[s + 1]], (n + m, n + m), order="C"
                )
            if not discrete:
                total = total + mu[n_mu - 1] * blk.energy[s]
            total = 0.5 * (total + total.T)
            cons.append(-total - margin * np.eye(n + m) >> 0)
            noise = blk.noise[s]
            weight = noise_scale * blk.mode.multiplicity / period
            objective = objective + weight * cp.trace(noise.T @ (p_next if discrete else p_now) @ noise)
            if not discrete:
                objective = objective + weight * blk.energy_noise[s] * mu[n_mu - 1]
            cons.append(p_now + mu[n_mu - 1] * blk.floor - 1e-2 * margin * np.eye(n) >> 0)
    if discrete:
        cons.append(mu[n_mu - 1] == 0)
    o_scale = max(noise_scale, 1e-300)
    problem = cp.Problem(cp.Minimize(objective / o_scale), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            options = {"SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 100_000}}.get(solver, {})
            problem.solve(solver=solver, **options)
        except (cp.error.SolverError, ValueError, ArithmeticError, np.linalg.LinAlgError):
            return "solver_error", [], np.zeros(0)
    if mu.value is None or any(x.value is None for ph in ps for x in ph):
        return str(problem.status), [], np.zeros(0)
    lyap = [w_scale * np.stack([np.asarray(x.value, dtype=float) for x in ph]) for ph in ps]
    return str(problem.status), lyap, w_scale * np.clip(np.asarray(mu.value, dtype=float), 0.0, None)


def _verify(
    blocks: list[_Block], discrete: bool, period: int, lyap: list[np.ndarray], mu: np.ndarray
) -> tuple[float, float]:
    """Independent numpy check of every LMI and of V >= 0, rebuilt from the systems (not the solver's data)."""
    offsets, n_mu = _mu_layout(blocks, period)
    worst_m, worst_p = -np.inf, np.inf
    for blk, ph in zip(blocks, lyap, strict=True):
        n, m = blk.a.shape[1], blk.b.shape[2]
        for s in range(period):
            p_now, p_next = 0.5 * (ph[s] + ph[s].T), 0.5 * (ph[(s + 1) % period] + ph[(s + 1) % period].T)
            total = _lyapunov_form(blk, s, p_now, p_next, discrete, False)
            total[:n, :n] += blk.w
            if blk.forms[s].shape[0]:
                total += (blk.forms[s].T @ mu[offsets[s] : offsets[s + 1]]).reshape(n + m, n + m)
            if not discrete:
                total += mu[n_mu - 1] * blk.energy[s]
            worst_m = max(worst_m, float(np.linalg.eigvalsh(0.5 * (total + total.T))[-1]))
            worst_p = min(worst_p, float(np.linalg.eigvalsh(p_now + mu[n_mu - 1] * blk.floor)[0]))
    return worst_m, worst_p


def _value(
    blocks: list[_Block], discrete: bool, period: int, noise_scale: float, lyap: list[np.ndarray], mu: np.ndarray
) -> tuple[float, list[float]]:
    shares = []
    for blk, ph in zip(blocks, lyap, strict=True):
        total = 0.0
        for s in range(period):
            p = ph[(s + 1) % period] if discrete else ph[s]
            total += float(np.trace(blk.noise[s].T @ p @ blk.noise[s]))
            if not discrete:
                total += blk.energy_noise[s] * float(mu[-1])
        shares.append(noise_scale * blk.mode.multiplicity * total / period)
    return float(sum(shares)), shares


FULL_CHECK_MAX_AGENTS = 8
"""Up to this many agents a reduced certificate is also checked on the assembled full N-agent LMI."""


def full_check(
    system: AgentSystem,
    symmetry: str,
    blocks: list[_Block],
    lyap: list[np.ndarray],
    mu: np.ndarray,
    quantity: tuple[str, ...],
    lam: float,
    big_l: float,
    pairs: str,
) -> float:
    r"""Largest eigenvalue of the *full* N-agent LMI rebuilt from a reduced certificate: :math:`\mathbf P` summed over
    every copy of every mode, each pair of agents given its class's multiplier. <= 0 when the reduction is exact."""
    full = _blocks(system, "none", quantity, lam, big_l, pairs)
    period = system.period
    p_full = np.zeros((period, system.n_state, system.n_state))
    for blk, ph in zip(blocks, lyap, strict=True):
        for w in blk.mode.copies:
            e = embedding(system, w)
            p_full += np.einsum("ij,sjk,lk->sil", e, ph, e)
    p = system.n_agents
    classes = pair_classes("permutation" if symmetry == "spectral" else symmetry, p)
    class_of = {pair: c for c, members in enumerate(classes) for pair in members}
    offsets, _ = _mu_layout(blocks, period)
    full_mu: list[float] = []
    for s in range(period):
        red = mu[offsets[s] : offsets[s + 1]]
        if red.size == 0:
            continue
        full_mu += [red[0], red[1]] * p
        if pairs == "all":
            for i in range(p):
                for j in range(i + 1, p):
                    c = class_of[(i, j)]
                    full_mu += [red[2 + 2 * c], red[3 + 2 * c]]
    full_mu.append(float(mu[-1]))
    worst_m, _ = _verify(full, system.discrete, period, [p_full], np.asarray(full_mu))
    return worst_m


def _check_class(strong_convexity: Any, smoothness: Any, where: str) -> tuple[float, float]:
    lam, big_l = float(strong_convexity), float(smoothness)
    if not np.isfinite(lam) or lam <= 0:
        raise InvalidParameter("strong_convexity", "be > 0 (a strongly convex class)", strong_convexity, where)
    if not np.isfinite(big_l) or big_l <= 0:
        raise InvalidParameter("smoothness", "be > 0 (the class S(lambda, L) needs L)", smoothness, where)
    if lam > big_l:
        raise HypothesisViolation(
            where,
            "strong_convexity <= smoothness (a nonempty class S(lambda, L))",
            "Def 2.1-2.2",
            f"strong_convexity={lam:.6g}, smoothness={big_l:.6g}",
        )
    return lam, big_l


def resolve_symmetry(system: AgentSystem, symmetry: str, where: str = "certify") -> str:
    """``auto``: the largest valid group; an explicit group is checked (one clear error if the coupling breaks it)."""
    if symmetry not in SYMMETRIES:
        raise InvalidParameter("symmetry", f"one of {', '.join(SYMMETRIES)}", symmetry, where)
    if symmetry == "auto" or system.n_agents < 2:
        return detect_symmetry(system)
    if symmetry in ("permutation", "circulant") and not equivariant(system, symmetry):
        raise InvalidParameter(
            "symmetry",
            f"a group {system.name}'s linear map commutes with ({symmetry!r} assumes "
            "the agents exchangeable that way, and its coupling is not; use 'auto' or 'none')",
            symmetry,
            where,
        )
    return symmetry


def certify(
    alg: Any,
    quantity: str | tuple[str, ...] = "center",
    *,
    strong_convexity: float,
    smoothness: float,
    n_agents: int,
    sigma2: float,
    batch_size: float = 1.0,
    lr: float | None = None,
    symmetry: str = "auto",
    pairs: str = "all",
    solver: str = "CLARABEL",
) -> AlgorithmCertificate:
    r"""The SDP certificate of ``quantity`` for ``alg`` over :math:`\mathcal S(\lambda,L)` (module docstring).

    Args:
        alg: an algorithm object (continuous drift or discrete iteration), affine in (state, gradients).
        quantity: a name of :data:`QUANTITIES` or a tuple of them (their sum).
        strong_convexity, smoothness: :math:`\lambda\le L`. n_agents: :math:`p`.
        sigma2, batch_size: the gradient noise :math:`\operatorname{tr}\boldsymbol\Sigma\le\sigma^2` per sample and the
            batch :math:`b`; ``lr``: :math:`\eta` of the SDE noise :math:`\sqrt{\eta/b}` (continuous algorithms only;
            a discrete iteration carries its own step).
        symmetry: ``"auto"``, ``"permutation"``, ``"circulant"`` or ``"none"`` (see the module docstring).
        pairs: ``"all"`` (every pair of agents and the minimizer) or ``"minimizer"`` (agent-minimizer pairs only:
            fewer multipliers, a valid but weaker certificate).
        solver: ``"CLARABEL"`` (SCS is tried next).

    Raises:
        InvalidParameter: a bad parameter, a step not affine in (state, gradients), mismatched shapes, a symmetry the
            coupling breaks, a quantity the algorithm does not have.
        HypothesisViolation: ``strong_convexity > smoothness``.
        SDPInfeasible: no quadratic certificate (the iteration is not mean-square stable on the whole class).
        SDPSolverError: no solver produced a certificate that passes the numpy check.
    """
    where = f"certify({type(alg).__name__})"
    lam, big_l = _check_class(strong_convexity, smoothness, where)
    quantity = (quantity,) if isinstance(quantity, str) else tuple(quantity)
    if not quantity:
        raise InvalidParameter("quantity", "at least one name", quantity, where)
    if not float(sigma2) > 0:
        raise InvalidParameter("sigma2", "be > 0", sigma2, where)
    if not float(batch_size) > 0:
        raise InvalidParameter("batch_size", "be > 0", batch_size, where)
    if pairs not in PAIRS:
        raise InvalidParameter("pairs", f"one of {', '.join(PAIRS)}", pairs, where)
    if solver.upper() not in SOLVERS:
        raise InvalidParameter("solver", f"one of {', '.join(SOLVERS)}", solver, where)
    keep = tuple({"quorum": "quorum"}.get(q, "x") for q in quantity)
    system = agent_system(alg, n_agents, keep=keep, where=where)
    if system.discrete:
        if lr is not None:
            raise InvalidParameter("lr", "None for a discrete iteration (it carries its own step)", lr, where)
        noise_scale = float(sigma2) / float(batch_size)
    else:
        if lr is None or not float(lr) > 0:
            raise InvalidParameter(
                "lr", "be > 0 for a continuous algorithm (the SDE noise sqrt(lr / batch_size))", lr, where
            )
        noise_scale = float(lr) * float(sigma2) / float(batch_size)
    used = resolve_symmetry(system, symmetry, where)
    blocks = _blocks(system, used, quantity, lam, big_l, pairs)
    statuses = []
    for name in (solver.upper(), *[s for s in SOLVERS if s != solver.upper()]):
        for margin in (1e-7, 1e-5):
            status, lyap, mu = _solve(blocks, system.discrete, system.period, noise_scale, name, margin)
            statuses.append(f"{name}:{status}")
            if status in ("infeasible", "infeasible_inaccurate") and margin == 1e-7:
                status0, _, _ = _solve(blocks, system.discrete, system.period, noise_scale, name, 0.0)
                if status0 in ("infeasible", "infeasible_inaccurate"):
                    raise SDPInfeasible(
                        f"{where}: no quadratic certificate exists (solver status infeasible): the "
                        "algorithm is not mean-square stable for some f in S(strong_convexity, "
                        f"smoothness) with these parameters ({system.name}, p={n_agents}, "
                        f"lambda={lam:g}, L={big_l:g})"
                    )
                break
            if not lyap:
                continue
            worst_m, worst_p = _verify(blocks, system.discrete, system.period, lyap, mu)
            if worst_m <= 0.0 and worst_p >= 0.0:
                check = float("nan")
                if used != "none" and n_agents <= FULL_CHECK_MAX_AGENTS:
                    check = full_check(system, used, blocks, lyap, mu, quantity, lam, big_l, pairs)
                    if check > 1e-8 * max(1.0, max(float(np.abs(ph).max()) for ph in lyap)):
                        # the reductions are exact (tested): reaching this is a defect, never a reported bound
                        raise SDPSolverError(
                            f"{where}: the {used}-reduced certificate fails the full {n_agents}-agent "
                            f"LMI (largest eigenvalue {check:.3g}); this is a defect in quorumsgd"
                        )
                second, shares = _value(blocks, system.discrete, system.period, noise_scale, lyap, mu)
                first = all(q in _FIRST_MOMENT for q in quantity)
                return AlgorithmCertificate(
                    algorithm=system.name,
                    quantity=quantity,
                    second_moment=second,
                    value=float(np.sqrt(second)) if first else second,
                    symmetry=used,
                    modes=tuple((b.mode.label, sh) for b, sh in zip(blocks, shares, strict=True)),
                    lyapunov=tuple(lyap),
                    multipliers=mu,
                    max_eigenvalue=worst_m,
                    min_lyapunov_eigenvalue=worst_p,
                    period=system.period,
                    solver=name,
                    status=status,
                    verified=True,
                    parameters={
                        "strong_convexity": lam,
                        "smoothness": big_l,
                        "n_agents": float(n_agents),
                        "sigma2": float(sigma2),
                        "batch_size": float(batch_size),
                        **({} if lr is None else {"lr": float(lr)}),
                    },
                    mode_eigenvalues=tuple(b.mode.eigenvalue for b in blocks),
                    full_check=check,
                )
    raise SDPSolverError(f"{where}: no verified certificate (solver attempts: {', '.join(statuses)})")


__all__ = [
    "FULL_CHECK_MAX_AGENTS",
    "PAIRS",
    "QUANTITIES",
    "AlgorithmCertificate",
    "certify",
    "full_check",
    "quantity_matrix",
    "resolve_symmetry",
]
