r"""The certificate: a quadratic Lyapunov function, the S-procedure, the symmetry reduction, and the check.

**Continuous time.** :math:`V=\boldsymbol\xi^{\mathsf T}(\mathbf P\otimes\mathbf I_d)\boldsymbol\xi` with
:math:`\mathbf P\succeq0` (or :math:`V\ge0`, see below). Itô's formula gives
:math:`\mathcal LV=2\boldsymbol\xi^{\mathsf T}\mathbf P(\mathbf A\boldsymbol\xi+\mathbf B\mathbf u)
+\frac\eta b\sum_i(\mathbf E^{\mathsf T}\mathbf P\mathbf E)_{ii}\operatorname{tr}\boldsymbol\Sigma(\mathbf x^i)`,
where column i of :math:`\mathbf E` is where agent i's noise enters. If, for multipliers :math:`\mu_c\ge0` and
the interpolation forms :math:`q_c\ge0` of :mod:`quorumsgd.bounds.sdp.interpolation`,

.. math::
    \boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi+2\boldsymbol\xi^{\mathsf T}\mathbf P(\mathbf A\boldsymbol\xi+\mathbf B\mathbf u)
    +\sum_c\mu_cq_c(\boldsymbol\xi,\mathbf u)\le0\quad\forall(\boldsymbol\xi,\mathbf u)
    \qquad(\text{a matrix inequality } \mathbf M\preceq0;\ d\text{ factors out}),

then :math:`\mathcal LV\le-\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi+\frac\eta b\sigma^2\operatorname{tr}(\mathbf E^{\mathsf T}\mathbf P\mathbf E)`
along every trajectory of every :math:`f\in\mathcal S(\lambda,L)` (with :math:`\operatorname{tr}\boldsymbol\Sigma\le\sigma^2`),
and since :math:`V\ge0`, integrating gives for the time-averaged (in particular the stationary) second moment

.. math:: \mathbb E\,\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi\ \le\ \frac{\eta\sigma^2}{b}\operatorname{tr}(\mathbf E^{\mathsf T}\mathbf P\mathbf E).

**Function values (continuous time).** :math:`V` may also carry :math:`c\sum_i(f(\mathbf x^i)-f^*)`, :math:`c\ge0`
(the energy of heavy-ball momentum): its drift :math:`c\sum_i\langle\mathbf u_i,\dot{\mathbf x}^i\rangle` is
quadratic in :math:`(\boldsymbol\xi,\mathbf u)` and its Itô term at most :math:`c\frac L2\frac\eta b\sigma^2` per
agent whose noise enters the positions; :math:`c` is the last entry of the multipliers (it costs noise). Since
:math:`f(\mathbf x)-f^*\ge\frac\lambda2\|\mathbf x-\mathbf x^*\|^2`, :math:`V\ge0` needs only
:math:`\mathbf P+c\frac\lambda2\mathbf C^{\mathsf T}\mathbf C\succeq0`.

**Discrete time** replaces :math:`\mathcal LV` by :math:`\mathbb E[V(\boldsymbol\xi_{t+1})-V(\boldsymbol\xi_t)]`:
:math:`(\mathbf A\boldsymbol\xi+\mathbf B\mathbf u)^{\mathsf T}\mathbf P(\mathbf A\boldsymbol\xi+\mathbf B\mathbf u)
-\boldsymbol\xi^{\mathsf T}\mathbf P\boldsymbol\xi` and the noise term
:math:`\frac{\sigma^2}b\operatorname{tr}(\mathbf B^{\mathsf T}\mathbf P\mathbf B)` (:math:`\mathbf B` carries the step).

**Why** :math:`V\ge0` (:math:`\mathbf P\succeq0`): stationarity alone would allow an indefinite :math:`\mathbf P`,
but an indefinite :math:`\mathbf P` with :math:`\mathbf M\preceq0` can "certify" an unstable system (inertia
theorem), for which there is no stationary law. With :math:`V\ge0` the bound needs no stationarity assumption
(it bounds the Cesàro limit of the second moment from any start) and, on the quadratics of the class, the
optimal :math:`\mathbf P` (the Lyapunov solution) is PSD anyway; at the points we compared (QSGD, EASGD,
momentum; SDE and discrete; p up to 64) dropping the constraint changes the certificate by < 1e-6 relative.

**Symmetry.** The agents are exchangeable and all share one :math:`f`, so averaging a certificate over the
permutations of the agents gives one that is permutation invariant with the same value: without loss,
:math:`\mathbf P` and the multipliers are invariant (one multiplier per pair type: agent-minimizer and
agent-agent). In the orthonormal basis of modes (consensus :math:`\mathbf 1/\sqrt p` and the :math:`p-1`
disagreement directions) :math:`\mathbf M` is then block diagonal: one consensus block and :math:`p-1` equal
disagreement blocks. The agent-agent sum is :math:`\sum_{i<j}\varphi(\mathbf z_i-\mathbf z_j)=p\sum_i\varphi(\mathbf z_i-\bar{\mathbf z})`,
which lives on the disagreement blocks only; the agent-minimizer sum lives on all. So the reduced SDP has two
small blocks, whatever :math:`p` and :math:`d`, and :math:`p` enters only as data (the mode dynamics, the
target, the multiplicity :math:`p-1` of the noise of the disagreement modes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from quorumsgd.bounds.sdp.interpolation import mode_forms, pair_forms
from quorumsgd.bounds.sdp.system import Algorithm, LinearSystem, mode_system
from quorumsgd.conic import Block, ConicResult, ConicSolverError, check_inequalities, solve_blocks, sym_basis
from quorumsgd.conic.program import attempts, is_infeasible
from quorumsgd.errors import InvalidParameter, QuorumSGDError

TARGETS: tuple[str, ...] = ("center", "quorum", "center_velocity", "spread")
r"""Named second moments: :math:`\|\bar{\mathbf x}\|^2`, :math:`\|\tilde{\mathbf x}\|^2`, :math:`\|\bar{\mathbf v}\|^2`,
:math:`\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2` (with :math:`\mathbf x^*=0`); a target is a tuple of them (summed)."""

_TARGET_FIELD = {"center": "x", "quorum": "quorum", "center_velocity": "v", "spread": "x"}


class SDPSolverError(ConicSolverError):
    """The conic solvers failed, or no solution passed the numpy verification (never reported as a bound).
    An internal numerical failure (exit code 3), not bad input."""


class SDPInfeasible(QuorumSGDError):
    """No quadratic certificate exists: the algorithm is not stable for every f in S(lambda, L), or a quadratic
    Lyapunov function with these interpolation inequalities is too weak to show it (the S-procedure is
    conservative for heavy-ball momentum, Lessard, Recht & Packard 2016)."""


@dataclass(frozen=True, eq=False)
class Certificate(ConicResult):
    r"""A verified certificate of :math:`\mathbb E\,\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi\le` ``second_moment``.

    Attributes:
        second_moment: the certified bound.
        lyapunov: the blocks of :math:`\mathbf P` (consensus, disagreement) or the full :math:`\mathbf P`.
        multipliers: :math:`\mu` (reduced: agent-minimizer :math:`\varphi,\psi`, agent-agent :math:`\varphi,\psi`; last:
            the weight :math:`c` of the function values in :math:`V`).
        max_eigenvalue: largest eigenvalue of the LMIs (<= 0), computed in numpy.
        min_lyapunov_eigenvalue: smallest eigenvalue of the blocks of :math:`\mathbf P+c\mathbf R` (>= 0, so
            :math:`V\ge0`).
        full_check: largest eigenvalue of the assembled full N-agent LMI (small N only; ``nan`` if not run).
        solver, status: the SDP solver and its status; ``verified`` is always True for a returned certificate.
    """

    second_moment: float
    lyapunov: tuple[np.ndarray, ...]
    multipliers: np.ndarray
    max_eigenvalue: float
    min_lyapunov_eigenvalue: float
    full_check: float = float("nan")
    tolerance: float = 0.0
    systems: tuple[LinearSystem, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"second_moment": self.second_moment, "solver": self.solver, "status": self.status,
                "verified": self.verified, "max_eigenvalue": self.max_eigenvalue,
                "min_lyapunov_eigenvalue": self.min_lyapunov_eigenvalue, "full_check": self.full_check,
                "tolerance": self.tolerance,
                "multipliers": self.multipliers.tolist(), "lyapunov": [p.tolist() for p in self.lyapunov]}


# --- data ----------------------------------------------------------------------------------------------------


def target_matrix(target: tuple[str, ...], system: LinearSystem, mode: str, n_agents: int) -> np.ndarray:
    """:math:`\\mathbf W` on the state coordinates of one mode (or of the full system)."""
    n = system.n_state
    w = np.zeros((n, n))
    for name in target:
        if name not in TARGETS:
            raise InvalidParameter("target", f"one of {', '.join(TARGETS)}", name, "sdp")
        fld = _TARGET_FIELD[name]
        if mode == "full":
            idx = [i for i, c in enumerate(system.coords) if c.split("[")[0] == fld]
            if not idx:
                raise InvalidParameter("target", f"a field of the algorithm ({fld} missing)", name, "sdp")
            sub = np.eye(len(idx)) if name == "quorum" else np.full((len(idx),) * 2, 1.0 / len(idx) ** 2)
            if name == "spread":
                sub = np.eye(len(idx)) - np.full((len(idx),) * 2, 1.0 / len(idx))
            w[np.ix_(idx, idx)] += sub
            continue
        in_mode = (mode == "disagreement") == (name == "spread")
        if not in_mode:
            continue
        if fld not in system.coords:
            raise InvalidParameter("target", f"a field of the algorithm ({fld} missing)", name, "sdp")
        i = system.coords.index(fld)
        w[i, i] += 1.0 if name in ("quorum", "spread") else 1.0 / n_agents
    return w


def _fields_read(target: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_TARGET_FIELD[t] for t in target if t in _TARGET_FIELD)


def lyapunov_images(system: LinearSystem, p: np.ndarray) -> np.ndarray:
    r"""The form of :math:`\mathcal LV` (continuous) or :math:`V(\boldsymbol\xi_{t+1})-V(\boldsymbol\xi)` (discrete)
    without noise, over :math:`(\boldsymbol\xi,\mathbf u)`; ``p`` may be a stack ``(k, n, n)``."""
    n = system.n_state
    k = np.hstack([system.a, system.b])  # xi' (or its drift) = K z
    j = np.hstack([np.eye(n), np.zeros((n, system.n_inputs))])
    if system.discrete:
        return np.swapaxes(k, -1, -2) @ p @ k - j.T @ p @ j
    pk = j.T @ p @ k
    return pk + np.swapaxes(pk, -1, -2)


def energy_form(system: LinearSystem) -> np.ndarray:
    r"""The form of :math:`\frac{d}{dt}\sum_i f(\mathbf y^i)=\sum_i\langle\mathbf u_i,\dot{\mathbf y}^i\rangle` over
    :math:`(\boldsymbol\xi,\mathbf u)` (continuous time; zero for a discrete iteration, whose next points would
    need a lifted set of interpolation points)."""
    n, m = system.n_state, system.n_inputs
    if system.discrete or m == 0:
        return np.zeros((n + m, n + m))
    k = np.hstack([system.a, system.b])
    j_u = np.hstack([np.zeros((m, n)), np.eye(m)])
    half = j_u.T @ system.c @ k
    return 0.5 * (half + half.T)


def energy_noise(system: LinearSystem, smoothness: float) -> float:
    r"""Itô term of :math:`\sum_i f(\mathbf y^i)` per unit noise scale: :math:`\frac12\sum_i\operatorname{tr}(\nabla^2f\,
    \mathrm{Cov}\,d\mathbf y^i)\le\frac L2\sigma^2\|\mathbf C\mathbf E\|_F^2` (zero when the noise enters the
    velocities only)."""
    if system.discrete or system.n_inputs == 0:
        return 0.0
    return 0.5 * smoothness * float(np.sum((system.c @ system.noise) ** 2))


def _block(system: LinearSystem, w: np.ndarray, forms: np.ndarray, noise_weight: float, strong_convexity: float,
           smoothness: float) -> Block:
    n, m = system.n_state, system.n_inputs
    basis = sym_basis(n)
    f = np.zeros((n + m, n + m))
    f[:n, :n] = w
    nn = system.noise @ system.noise.T
    c = noise_weight * np.einsum("ij,kji->k", nn, basis)
    # the last multiplier is the weight of sum_i f(y^i) - f* in V: its form and its Itô cost
    q = np.concatenate([forms, energy_form(system)[None]])
    c_mu = np.zeros(q.shape[0])
    c_mu[-1] = noise_weight * energy_noise(system, smoothness)
    return Block(f=f, g=lyapunov_images(system, basis), q=q, c=c, s=n, c_mu=c_mu, r=energy_floor(system, strong_convexity))


def energy_floor(system: LinearSystem, strong_convexity: float) -> np.ndarray:
    r""":math:`\mathbf R` with :math:`\sum_i(f(\mathbf y^i)-f^*)\ge\boldsymbol\xi^{\mathsf T}\mathbf R\boldsymbol\xi`, i.e.
    :math:`\frac\lambda2\mathbf C^{\mathsf T}\mathbf C` (strong convexity), where the function values are in :math:`V`;
    :math:`V\ge0` then needs only :math:`\mathbf P+c\mathbf R\succeq0`, not :math:`\mathbf P\succeq0`."""
    if system.discrete or system.n_inputs == 0:
        return np.zeros((system.n_state,) * 2)
    return 0.5 * strong_convexity * system.c.T @ system.c


def reduced_blocks(alg: Algorithm, n_agents: int, target: tuple[str, ...], strong_convexity: float,
                   smoothness: float, noise_scale: float) -> tuple[list[Block], list[LinearSystem]]:
    """The symmetry-reduced data: a consensus block and (for p >= 2) one disagreement block; 4 multipliers."""
    cls = dict(strong_convexity=strong_convexity, smoothness=smoothness)
    blocks, systems = [], []
    for mode in ("consensus", "disagreement")[: 1 + (n_agents >= 2)]:
        sys_ = mode_system(alg, n_agents, mode, keep=_fields_read(target))  # type: ignore[arg-type]
        w = target_matrix(target, sys_, mode, n_agents)
        if _single_quadratic(strong_convexity, smoothness):
            sys_ = sys_.closed_loop(smoothness)
            forms = np.zeros((4, sys_.n_state, sys_.n_state))
        else:
            phi, psi = mode_forms(sys_.c, **cls)
            # agent-minimizer pairs act on every mode; agent-agent pairs only on the disagreement modes
            forms = np.stack([phi, psi, phi, psi]) if mode == "disagreement" else np.stack([phi, psi, 0 * phi, 0 * psi])
        weight = noise_scale * (1 if mode == "consensus" else n_agents - 1)
        blocks.append(_block(sys_, w, forms, weight, strong_convexity, smoothness))
        systems.append(sys_)
    return blocks, systems


def _single_quadratic(strong_convexity: float, smoothness: float) -> bool:
    """lambda = L: S(lambda, L) is the one quadratic L/2 |x|^2 (the gradient is an equality, not a cone)."""
    return bool(smoothness - strong_convexity <= 1e-12 * smoothness)


def full_forms(c: np.ndarray, strong_convexity: float, smoothness: float) -> np.ndarray:
    """Every pair among the agents' gradient points and the minimizer: (i, *) then (i, j), i < j; phi, psi each."""
    m = c.shape[0]
    pairs = [(i, None) for i in range(m)] + [(i, j) for i in range(m) for j in range(i + 1, m)]
    return np.stack([f for i, j in pairs
                     for f in pair_forms(c, i, j, strong_convexity=strong_convexity, smoothness=smoothness)])


def full_blocks(alg: Algorithm, n_agents: int, target: tuple[str, ...], strong_convexity: float, smoothness: float,
                noise_scale: float) -> tuple[list[Block], list[LinearSystem]]:
    """The unreduced SDP: one block, a multiplier per pair and inequality (the reference for the reduction)."""
    full = mode_system(alg, n_agents, "full", keep=_fields_read(target))
    forms = full_forms(full.c, strong_convexity, smoothness)
    w = target_matrix(target, full, "full", n_agents)
    if _single_quadratic(strong_convexity, smoothness):
        full = full.closed_loop(smoothness)
        forms = np.zeros((forms.shape[0], full.n_state, full.n_state))
    return [_block(full, w, forms, noise_scale, strong_convexity, smoothness)], [full]


# --- solve and verify ----------------------------------------------------------------------------------------


def _unpack(y: np.ndarray, s: int) -> np.ndarray:
    return np.einsum("k,kij->ij", y, sym_basis(s))


def _verify(blocks: list[Block], systems: list[LinearSystem], ys: list[np.ndarray], mu: np.ndarray
            ) -> tuple[bool, float, float, float, list[np.ndarray], np.ndarray]:
    """Independent numpy check: rebuild each LMI from (A, B, C, W, P, mu), not from the solver's data, with the
    tolerance of :func:`quorumsgd.conic.check_inequalities` (rounding, relative to the terms' scale)."""
    mu = np.clip(mu, 0.0, None)  # clipping tiny negative multipliers is itself a valid certificate change
    ps = [_unpack(y, b.s) for y, b in zip(ys, blocks, strict=True)]
    nsd, psd = [], []
    for b, sys_, p in zip(blocks, systems, ps, strict=True):
        nsd.append([b.f, lyapunov_images(sys_, p), *(m * q for m, q in zip(mu, b.q, strict=True) if m)])
        psd.append([p, mu[-1] * b.r])
    check = check_inequalities(nsd, psd)
    return check.passed, check.max_eigenvalue, check.min_eigenvalue, check.tolerance, ps, mu


def solve(blocks: list[Block], systems: list[LinearSystem], *, solver: str = "CLARABEL",
          margin: float = 1e-7) -> Certificate:
    """Solve (through :mod:`quorumsgd.conic`: balanced, compiled once), verify in numpy; raise
    :class:`SDPInfeasible` / :class:`SDPSolverError` rather than return an unverified certificate. Retries with
    larger margins, then with the other solver; a fully accurate answer is preferred to an inaccurate one."""
    statuses: list[str] = []
    inaccurate: Certificate | None = None
    for k, (name, delta) in enumerate(attempts(solver, margin)):
        sol = solve_blocks(blocks, solver=name, margin=delta)
        statuses.append(f"{name}:{sol.status}")
        if is_infeasible(sol.status) and k == 0:
            # confirm without margins: infeasibility must not be an artefact of the margin
            if is_infeasible(solve_blocks(blocks, solver=name, margin=0.0).status):
                raise SDPInfeasible(
                    "sdp: no quadratic certificate exists (solver status infeasible): either the algorithm is "
                    "not mean-square stable for some f in S(strong_convexity, smoothness) with these "
                    "parameters (a discrete step too large: reduce lr or the coupling), or a quadratic "
                    "Lyapunov function cannot prove it (heavy-ball momentum close to 1)")
            continue
        if not sol.ys or sol.mu is None:
            continue
        ok, worst_m, worst_p, tol, ps, mu_ok = _verify(blocks, systems, sol.ys, sol.mu)
        if not ok:
            statuses[-1] += "(not verified)"
            continue
        value = sum(float(b.c @ y + b.c_mu @ mu_ok) for b, y in zip(blocks, sol.ys, strict=True))
        cert = Certificate(second_moment=value, lyapunov=tuple(ps), multipliers=mu_ok, max_eigenvalue=worst_m,
                           min_lyapunov_eigenvalue=worst_p, tolerance=tol, solver=name, status=sol.status,
                           verified=True, systems=tuple(systems))
        if sol.status == "optimal":
            return cert
        inaccurate = inaccurate or cert
    if inaccurate is not None:
        return inaccurate  # verified (a valid bound), but its status says the solver was not fully accurate
    raise SDPSolverError(f"sdp: no verified certificate (solver attempts: {', '.join(statuses)})")


MAX_CONDITION = 1e8
r"""Largest :math:`L/\lambda` certified: beyond it the interpolation inequalities' own conditioning
(:math:`\lambda/L` next to 1 in every balanced form) leaves float64 SDP solvers too little accuracy, and
certificates drift upwards (measured: credible up to 1e8, 17% high at 1e16), so they are refused, not reported."""


MAX_STIFFNESS = 1e5
r"""Largest ratio of an SDE's fastest rate :math:`\|\mathbf A\|_2` to :math:`\lambda` certified (EASGD's quorum
relaxes at coupling :math:`\times p`): measured, thm5.2's certificate is stable to 2% up to 1e5 and drifts
upwards beyond (+25% at 1e6), so stiffer systems are refused."""


def certify(alg: Algorithm, n_agents: int, target: tuple[str, ...], *, strong_convexity: float, smoothness: float,
            noise: float = 1.0, noise_factors: dict[str, tuple[float, int]] | None = None, full: bool = False,
            solver: str = "CLARABEL", where: str = "sdp", stiffness_names: str = "algorithm") -> Certificate:
    r"""The verified certificate of :math:`\mathbb E\,\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi` for any
    algorithm that is linear in (state, gradients) and permutation-equivariant (``full=True``: the unreduced
    SDP, for any linear algorithm on small ``n_agents``), over :math:`\mathcal S(\lambda,L)`.

    The certificate is homogeneous in the noise power: it is solved for unit noise and multiplied by ``noise``
    (:math:`\eta\sigma^2/b` for an SDE, :math:`\sigma^2/b` for an iteration, whose step is in its matrices),
    so the SDP never sees a 1e308. ``noise_factors`` (``name -> (value, exponent)``, e.g.
    ``{"lr": (0.1, 1), "batch_size": (32, -1)}``) name the parameter to blame when the certified second moment
    is not a normal float64.

    Raises:
        InvalidParameter: non-finite or non-positive class constants or noise, :math:`L/\lambda` above
            :data:`MAX_CONDITION`, an SDE stiffer than :data:`MAX_STIFFNESS`, or a second moment outside float64's normal range (names the parameter).
        SDPInfeasible, SDPSolverError: as :func:`solve`.

    Example:
        >>> from quorumsgd.algorithms import SGD
        >>> cert = certify(SGD(), 1, ("center",), strong_convexity=0.5, smoothness=2.0, noise=0.0125)
        >>> round(cert.second_moment, 6), cert.verified, cert.status       # eta sigma^2 / (2 b lambda)
        (0.0125, True, 'optimal')
    """
    lam, big_l, noise = float(strong_convexity), float(smoothness), float(noise)
    for key, value in (("strong_convexity", lam), ("smoothness", big_l)):
        if not (np.isfinite(value) and value > 0):
            raise InvalidParameter(key, "be a finite number > 0", value, where)
    if big_l < lam:
        raise InvalidParameter("smoothness", ">= strong_convexity (a nonempty class S(lambda, L))", big_l, where)
    if big_l > MAX_CONDITION * lam:
        raise InvalidParameter("smoothness", f"be at most {MAX_CONDITION:g} x strong_convexity with method='sdp' "
                               "(beyond, the SDP cannot be solved accurately in float64)", big_l, where)
    if not (np.isfinite(noise) and noise >= 0):
        raise InvalidParameter(_blame(noise_factors, "noise"), "be such that the noise power (lr sigma2 / batch_size) is finite",
                               noise, where)
    build = full_blocks if full else reduced_blocks
    blocks, systems = build(alg, int(n_agents), target, lam, big_l, 1.0)
    stiffness = max((float(np.linalg.norm(s.a, 2)) for s in systems if not s.discrete and s.n_state), default=0.0)
    if stiffness > MAX_STIFFNESS * lam:
        raise InvalidParameter(stiffness_names, f"be such that the fastest rate of the dynamics (here {stiffness:.3g}) is at most "
                               f"{MAX_STIFFNESS:g} x strong_convexity with method='sdp' (a stiffer SDE cannot be "
                               "certified accurately in float64)", None, where)
    cert = solve(blocks, systems, solver=solver)
    second = noise * cert.second_moment
    if noise > 0 and not (np.finfo(float).tiny <= second <= np.finfo(float).max):
        raise InvalidParameter(_blame(noise_factors, "noise"), "be such that the certified second moment (noise "
                               f"power {noise:.3g} x {cert.second_moment:.3g}) is a normal float64 number", None, where)
    return replace(cert, second_moment=second)


def _blame(factors: dict[str, tuple[float, int]] | None, default: str) -> str:
    """The noise parameter furthest from 1 (in orders of magnitude): the one to change."""
    if not factors:
        return default
    def size(item: tuple[str, tuple[float, int]]) -> float:
        value = abs(item[1][0])
        return float("inf") if not np.isfinite(value) or value == 0 else abs(np.log10(value))
    return max(factors.items(), key=size)[0]


def expand_reduced(cert: Certificate, alg: Algorithm, n_agents: int, target: tuple[str, ...],
                   strong_convexity: float, smoothness: float) -> float:
    r"""Largest eigenvalue of the *full* N-agent LMI assembled from a reduced certificate (its P and
    multipliers mapped back through the mode basis): the check that the reduction is exact. Cost O((pn)^3)."""
    from quorumsgd.contraction.network import helmert_basis

    full = mode_system(alg, n_agents, "full", keep=_fields_read(target))
    cons = cert.systems[0]
    n_full = full.n_state
    fields = [c.split("[")[0] for c in full.coords]
    agents = [int(c.split("[")[1][:-1]) if "[" in c else None for c in full.coords]

    def embed(system: LinearSystem, w: np.ndarray) -> np.ndarray:
        u = np.zeros((n_full, system.n_state))
        for j, fld in enumerate(system.coords):
            for i in range(n_full):
                if fields[i] == fld:
                    u[i, j] = 1.0 if agents[i] is None else w[agents[i]]
        return u

    uc = embed(cons, np.full(n_agents, 1 / np.sqrt(n_agents)))
    p = uc @ cert.lyapunov[0] @ uc.T
    if n_agents >= 2:
        h = helmert_basis(n_agents)
        for j in range(n_agents - 1):
            ud = embed(cert.systems[1], h[:, j])
            p += ud @ cert.lyapunov[1] @ ud.T
    mu = cert.multipliers
    forms = full_forms(full.c, strong_convexity, smoothness)
    w = target_matrix(target, full, "full", n_agents)
    if _single_quadratic(strong_convexity, smoothness):
        full = full.closed_loop(smoothness)
        forms = np.zeros((forms.shape[0], n_full, n_full))
    weights = [mu[0], mu[1]] * n_agents + [mu[2] / n_agents, mu[3] / n_agents] * (n_agents * (n_agents - 1) // 2)
    w_full = np.zeros((n_full + full.n_inputs,) * 2)
    w_full[:n_full, :n_full] = w
    m = w_full + lyapunov_images(full, p) + np.einsum("c,cij->ij", np.asarray(weights), forms)
    m = m + mu[4] * energy_form(full)
    return float(np.linalg.eigvalsh(0.5 * (m + m.T))[-1])
