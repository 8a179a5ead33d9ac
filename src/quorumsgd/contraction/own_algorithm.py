r"""Contraction of *your own* algorithm over :math:`\mathcal S(\lambda,L)`: a constant metric and its rate, by LMI.

The virtual displacement of an algorithm that is affine in (state, gradients)
(:func:`quorumsgd.algorithms.agent_system.agent_system`) obeys
:math:`\delta\dot{\boldsymbol\xi}=\mathbf A\delta\boldsymbol\xi+\mathbf B\delta\mathbf u` (or
:math:`\delta\boldsymbol\xi_{t+1}=\mathbf A_s\delta\boldsymbol\xi_t+\mathbf B_s\delta\mathbf u_t`) with
:math:`\delta\mathbf u_i=\nabla^2f(\mathbf y^i)\,\delta\mathbf y^i`, :math:`\lambda\mathbf I\preceq\nabla^2f\preceq L\mathbf I`,
so every agent's :math:`(\delta\mathbf y^i,\delta\mathbf u^i)` lies in the sector
:math:`(\delta\mathbf u-\lambda\delta\mathbf y)^{\mathsf T}(L\delta\mathbf y-\delta\mathbf u)\ge0`, which is
:math:`(\lambda+L)\varphi` of :func:`quorumsgd.bounds.sdp.interpolation.pair_forms` (the same inequality, read
incrementally). A metric :math:`\mathbf M\succeq\mathbf I` with, for multipliers :math:`\tau_i\ge0`,

.. math::
    \begin{bmatrix}\mathbf A^{\mathsf T}\mathbf M+\mathbf M\mathbf A+2r\mathbf M&\mathbf M\mathbf B\\
    \mathbf B^{\mathsf T}\mathbf M&0\end{bmatrix}+\sum_i\tau_i\varphi_i\preceq0
    \qquad\Big(\text{discrete: }[\mathbf A_s\ \mathbf B_s]^{\mathsf T}\mathbf M_{s+1}[\mathbf A_s\ \mathbf B_s]
    -\rho^2\,\mathbf M_s\oplus0+\sum_i\tau_{i}\varphi_i\preceq0\Big)

makes :math:`\delta\boldsymbol\xi^{\mathsf T}\mathbf M\delta\boldsymbol\xi` decay like :math:`e^{-2rt}` (like
:math:`\rho^{2t}`) for every :math:`f` in the class: the algorithm is contracting with rate :math:`r` in the metric
:math:`\mathbf M` (Lohmiller & Slotine 1998; Sec. 2.1 of the paper). The best rate is found by bisection on the
feasibility LMI (quasi-convex in the rate). The agent symmetry reduces it to the blocks of
:func:`quorumsgd.algorithms.agent_system.modes` (the sector form is separable over agents, so it is the same in
every mode); the certified rate is the slowest block's.

Example:
    >>> from quorumsgd.algorithms import QSGD
    >>> cert = certify(QSGD(coupling=1.0), strong_convexity=0.5, smoothness=2.0, n_agents=4)
    >>> cert.symmetry, round(cert.rate, 3), [(m, round(r, 3)) for m, r in cert.mode_rates]
    ('permutation', 0.5, [('consensus', 0.5), ('disagreement', 1.5)])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quorumsgd.algorithms.agent_system import agent_system, modes, restrict
from quorumsgd.bounds.own_algorithm import _check_class, resolve_symmetry
from quorumsgd.bounds.sdp.interpolation import pair_forms
from quorumsgd.errors import InvalidParameter, QuorumSGDError


class NotContracting(QuorumSGDError):
    """No constant metric certifies contraction over the whole class (rate <= 0, or rho >= 1 for an iteration)."""


@dataclass(frozen=True, eq=False)
class ContractionCertificate:
    r"""A verified contraction metric and rate over :math:`\mathcal S(\lambda,L)`.

    Attributes:
        rate: continuous :math:`r` (:math:`\|\delta\boldsymbol\xi\|\le\chi e^{-rt}`); discrete: the per-step factor
            :math:`\rho<1` (the :math:`H`-step map contracts by :math:`\rho^H`).
        mode_rates: ``(label, rate)`` per block; ``metrics``: per block the phases' :math:`\mathbf M_s` (``M >= I``).
        chi: :math:`\sqrt{\lambda_{\max}(\mathbf M)}` (the overshoot), worst over blocks and phases.
        symmetry, discrete, period, verified.
    """

    algorithm: str
    rate: float
    mode_rates: tuple[tuple[str, float], ...]
    metrics: tuple[np.ndarray, ...] = field(repr=False)
    chi: float
    symmetry: str
    discrete: bool
    period: int
    verified: bool


def _sector(c: np.ndarray, n: int, lam: float, big_l: float) -> list[np.ndarray]:
    """Per agent input i, the sector form (lambda+L) phi_i over (xi, u)."""
    return [
        (lam + big_l) * pair_forms(c, i, None, strong_convexity=lam, smoothness=big_l)[0] for i in range(c.shape[0])
    ]


def _feasible(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, rate: float, discrete: bool, lam: float, big_l: float, shared: bool
) -> list[np.ndarray] | None:
    import cvxpy as cp

    period, n, m = a.shape[0], a.shape[1], b.shape[2]
    ms = [cp.Variable((n, n), symmetric=True) for _ in range(period)]
    cons = [mm >> np.eye(n) for mm in ms]
    for s in range(period):
        forms = _sector(c[s], n, lam, big_l)
        tau = cp.Variable(1 if shared else len(forms), nonneg=True)
        k = np.hstack([a[s], b[s]])
        j = np.hstack([np.eye(n), np.zeros((n, m))])
        if discrete:
            lmi = k.T @ ms[(s + 1) % period] @ k - rate**2 * (j.T @ ms[s] @ j)
        else:
            mk = j.T @ ms[s] @ k
            lmi = mk + mk.T + 2 * rate * (j.T @ ms[s] @ j)
        for i, form in enumerate(forms):
            lmi = lmi + tau[0 if shared else i] * form
        cons.append(-0.5 * (lmi + lmi.T) >> 0)
    problem = cp.Problem(cp.Minimize(sum(cp.trace(mm) for mm in ms)), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            problem.solve(solver="CLARABEL")
        except (cp.error.SolverError, ValueError, ArithmeticError):
            return None
    if problem.status not in ("optimal", "optimal_inaccurate") or any(mm.value is None for mm in ms):
        return None
    return [np.asarray(mm.value, dtype=float) for mm in ms]


def _verified(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    metrics: list[np.ndarray],
    rate: float,
    discrete: bool,
    lam: float,
    big_l: float,
) -> bool:
    """numpy check: M > 0 and the LMI holds at the vertices h in {lambda, L} of every agent's Hessian, per phase, and
    with the multipliers re-fitted (the S-procedure LMI itself is rechecked by the solve; here the dynamics)."""
    period = a.shape[0]
    for s in range(period):
        m_now, m_next = metrics[s], metrics[(s + 1) % period]
        if np.linalg.eigvalsh(m_now)[0] <= 0:
            return False
        for h in (lam, big_l, 0.5 * (lam + big_l)):
            jac = a[s] + h * b[s] @ c[s]
            if discrete:
                worst = np.linalg.eigvalsh(jac.T @ m_next @ jac - rate**2 * m_now)[-1]
            else:
                worst = np.linalg.eigvalsh(jac.T @ m_now + m_now @ jac + 2 * rate * m_now)[-1]
            if worst > 1e-7 * max(1.0, float(np.abs(m_now).max())):
                return False
    return True


def _best_rate(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, discrete: bool, lam: float, big_l: float, shared: bool, tol: float
) -> tuple[float, list[np.ndarray]] | None:
    """Bisection on the feasibility LMI; bracket from the two extreme quadratics (no metric beats them)."""
    period = a.shape[0]
    if discrete:
        radius = 0.0
        for h in (lam, big_l):
            mono = np.eye(a.shape[1])
            for s in range(period):
                mono = (a[s] + h * b[s] @ c[s]) @ mono
            radius = max(radius, float(np.max(np.abs(np.linalg.eigvals(mono)))) ** (1.0 / period))
        # rho >= spectral radius; a certificate needs rho < 1; smaller rho is better
        found = _bisect(lambda r: _feasible(a, b, c, r, discrete, lam, big_l, shared), radius, 1.0 + 1e-9, tol,
                        better_low=True)
        return None if found is None or found[0] >= 1.0 else found
    upper = min(float(-np.max(np.linalg.eigvals(a[0] + h * b[0] @ c[0]).real)) for h in (lam, big_l))
    if upper <= 0:
        return None
    # a rate above the slowest quadratic's is impossible; a larger rate is better
    found = _bisect(lambda r: _feasible(a, b, c, r, discrete, lam, big_l, shared), 0.0, upper, tol * upper,
                    better_low=False)
    return None if found is None or found[0] <= 0 else found


def _bisect(feasible: Any, lo: float, hi: float, tol: float, *, better_low: bool) -> tuple[float, Any] | None:
    """The best feasible value in [lo, hi] to ``tol`` by bisection, with the feasibility certificate: the smallest
    (``better_low``) or the largest. The best end is tried first (one solve where it is already feasible);
    feasibility is assumed monotone (larger rho, or smaller rate, is easier)."""
    edge = lo + tol if better_low else hi - tol
    got = feasible(edge)
    if got is not None:
        return edge, got
    best = None
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        got = feasible(mid)
        if (got is None) == better_low:
            lo = mid
        else:
            hi = mid
        if got is not None:
            best = (mid, got)
    if best is None and better_low:  # the easy end itself, if nothing inside was feasible
        got = feasible(hi)
        best = None if got is None else (hi, got)
    return best


def certify(
    alg: Any, *, strong_convexity: float, smoothness: float, n_agents: int, symmetry: str = "auto", tol: float = 1e-4
) -> ContractionCertificate:
    r"""The best constant contraction metric of ``alg`` over :math:`\mathcal S(\lambda,L)` (module docstring).

    Raises:
        InvalidParameter: bad parameters, a step not affine in (state, gradients), a symmetry the coupling breaks.
        HypothesisViolation: ``strong_convexity > smoothness``.
        NotContracting: no metric certifies a positive rate (continuous) or a factor below 1 (discrete).
    """
    where = f"contraction.certify({type(alg).__name__})"
    lam, big_l = _check_class(strong_convexity, smoothness, where)
    if not 0 < tol < 0.1:
        raise InvalidParameter("tol", "0 < tol < 0.1", tol, where)
    system = agent_system(alg, n_agents, keep=(), where=where)
    used = resolve_symmetry(system, symmetry, where)
    rates, metrics, chis = [], [], []
    for mode in modes(system, used):
        a, b, c, _ = restrict(system, mode, where)
        found = _best_rate(a, b, c, system.discrete, lam, big_l, mode.w is not None, tol)
        if found is None or not _verified(a, b, c, found[1], found[0], system.discrete, lam, big_l):
            raise NotContracting(
                f"{where}: no constant metric certifies contraction of the {mode.label} mode over "
                f"S({lam:g}, {big_l:g}) with p={n_agents}"
            )
        rates.append((mode.label, found[0]))
        metrics.append(np.stack(found[1]))
        chis.append(max(float(np.sqrt(np.linalg.eigvalsh(mm)[-1] / np.linalg.eigvalsh(mm)[0])) for mm in found[1]))
    rate = max(r for _, r in rates) if system.discrete else min(r for _, r in rates)
    return ContractionCertificate(
        system.name, rate, tuple(rates), tuple(metrics), max(chis), used, system.discrete, system.period, True
    )


__all__ = ["ContractionCertificate", "NotContracting", "certify"]
