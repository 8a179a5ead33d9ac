r"""LMI contraction certificates: the best constant metric for a family of Jacobians (cvxpy).

A constant metric :math:`\mathbf M=\Theta^{\mathsf T}\Theta\succ0` certifies the contraction rate :math:`r` of
every system whose Jacobian stays in the convex hull of :math:`\mathbf J_1..\mathbf J_V` (polytope vertices,
e.g. the Hessian eigenvalue at :math:`h\in\{\lambda,L\}`, or samples) when, Sec. 2.1 (8)--(9),

.. math::
    \mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\,\mathbf M\preceq0,\quad i=1..V
    \quad\Longleftrightarrow\quad
    \tfrac12(\mathbf F_i+\mathbf F_i^{\mathsf T})\preceq-r\mathbf I,\ \ \mathbf F_i=\Theta\mathbf J_i\Theta^{-1}.

Then :math:`\|\delta\mathbf x(t)\|\le\chi\,e^{-rt}\|\delta\mathbf x(0)\|` with
:math:`\chi=\|\Theta\|\|\Theta^{-1}\|=\sqrt{\lambda_{\max}(\mathbf M)/\lambda_{\min}(\mathbf M)}`.

The condition is linear in :math:`\mathbf M` for fixed :math:`r` and the feasible rates form an interval
(a generalized eigenvalue problem, quasi-convex in :math:`r`), so the best rate is found by a sequence of
feasibility SDPs in which :math:`r` is a ``cp.Parameter`` (DPP: every re-solve reuses the compiled problem,
and so does every family of the same shape, because the Jacobians are parameters too):

1. **bracket** in numpy: the identity metric and Lyapunov metrics give a certified lower bound; the spectral
   abscissa gives the upper bound :math:`r\le\min_i-\max\operatorname{Re}\operatorname{eig}\mathbf J_i` (any
   metric);
2. **raise the rate** (default ``method="dinkelbach"``): at the best certified rate :math:`r_k` maximize the
   margin :math:`t` in :math:`-(\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r_k\mathbf M)\succeq
   t\,\mathbf M_{k-1}` (Crouzeix--Ferland--Schaible's scaled Dinkelbach step for generalized fractional
   programs); the exact rate of the new metric (numpy) is :math:`r_{k+1}>r_k` whenever :math:`t>0`. It
   usually converges in 3--5 SDPs where bisection needs ~20; ``method="bisection"`` bisects on the same
   feasibility SDPs and is kept as the reference;
3. **polish**: among the metrics that certify (just below) the best rate, take the best conditioned one,
   :math:`\min\kappa` s.t. :math:`\mathbf I\preceq\mathbf M\preceq\kappa\mathbf I`, so that :math:`\chi` means
   something (near the optimal rate the metric may otherwise be needlessly ill-conditioned);
4. **verify in numpy**: :math:`\lambda(\mathbf M)>0` and
   :math:`\lambda_{\max}(\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\mathbf M)\le\text{tol}`
   at every vertex. The reported rate is the exact rate of the returned metric (backed off if rounding
   requires); a certificate that fails the check has ``verified=False`` and never counts as contracting.

Normalization: the returned metric has :math:`\lambda_{\min}(\mathbf M)=1`, so ``beta_min`` is 1 and
``chi`` is :math:`\sqrt{\lambda_{\max}(\mathbf M)}`. The theorems that use a metric (Thm 2.1, 5.2, 5.3) depend
on it only through :math:`\chi`, :math:`C/\beta_{\min}` with :math:`C=\operatorname{tr}(\mathbf B^{\mathsf T}
\mathbf M\mathbf B)`, and the rate, all invariant to scaling :math:`\mathbf M`.

Families :math:`\mathbf J_i=\mathbf J^{s}_i\otimes\mathbf I_d` (an n-dimensional block repeated per Hessian
eigenvalue) are solved on the small blocks and expanded, :math:`\mathbf M=\mathbf M^s\otimes\mathbf I_d`:
averaging any feasible metric over :math:`\mathbf I\otimes\mathbf Q`, :math:`\mathbf Q` orthogonal, keeps it
feasible (convexity) and gives this form, so nothing is lost (``exploit_structure=False`` solves the full
SDP). Verification always runs on the full matrices.

Example:
    >>> import numpy as np
    >>> family = [np.array([[0.0, 1.0], [-h, -2.0]]) for h in (0.5, 4.0)]   # momentum, h in [lambda, L]
    >>> cert = certify(family)
    >>> cert.verified, cert.contracting, round(cert.rate, 4), round(cert.beta_min, 12)
    (True, True, 0.2174, 1.0)
    >>> bool(np.all(np.linalg.eigvalsh(family[0].T @ cert.metric + cert.metric @ family[0]
    ...                                  + 2 * cert.rate * cert.metric) <= cert.verification.tolerance))
    True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.linalg

from quorumsgd import conic
from quorumsgd.conic import (
    INFEASIBLE,
    SOLVERS,  # noqa: F401  (re-exported: the contraction CLI's --solver choices)
    USABLE,
    ConicResult,
    ConicSolverError,
    SolverUnavailable,  # noqa: F401  (re-exported)
    check_solver,
    compiled_once,
    installed_solvers,
    require_installed,
    solve_status,
)
from quorumsgd.errors import InvalidParameter, QuorumSGDError

Method = Literal["dinkelbach", "bisection"]
# The solver table, its options and the statuses are the conic layer's (one table for every SDP).
_USABLE = USABLE
_INFEASIBLE = INFEASIBLE


# --- errors -------------------------------------------------------------------------------------------------


class LMISolverError(ConicSolverError):
    """The conic solver failed on an SDP that has a solution; names the solver and status. An internal
    numerical failure (exit code 3), not bad input."""

    def __init__(self, solver: str, status: str, detail: str = ""):
        tail = f" ({detail})" if detail else ""
        super().__init__(f"LMI solver {solver} failed with status {status}{tail}", solver, status)


class RateNotCertified(QuorumSGDError):
    """No metric (within the condition-number cap) certifies the requested rate."""

    def __init__(self, rate: float, solver: str, status: str):
        self.rate, self.solver, self.status = rate, solver, status
        super().__init__(f"no metric certifies rate {rate:.6g} for this family ({solver} status {status})")


# --- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification(conic.Verification):
    r"""The numpy check of a certificate: :math:`\lambda_{\min}(\mathbf M)>0` and, at every vertex,
    :math:`\lambda_{\max}(\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\mathbf M)\le` ``tolerance``
    (:class:`quorumsgd.conic.Verification` with the metric's names)."""

    @property
    def metric_min_eigenvalue(self) -> float:
        return self.min_eigenvalue

    @property
    def lmi_max_eigenvalues(self) -> tuple[float, ...]:
        return self.max_eigenvalues

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "tolerance": self.tolerance,
            "metric_min_eigenvalue": self.metric_min_eigenvalue,
            "lmi_max_eigenvalues": list(self.lmi_max_eigenvalues),
        }


@dataclass(frozen=True, eq=False)
class Certificate(ConicResult):
    r"""A constant metric and the contraction rate it certifies for a family of Jacobians.

    Attributes:
        metric: :math:`\mathbf M=\Theta^{\mathsf T}\Theta`, normalized to :math:`\lambda_{\min}(\mathbf M)=1`
            (read-only array).
        rate: the certified rate :math:`r` (exact for ``metric``; :math:`\le0` for a family that does not
            contract in any constant metric).
        chi: :math:`\chi(\Theta)=\sqrt{\lambda_{\max}(\mathbf M)/\lambda_{\min}(\mathbf M)}`.
        beta_min: :math:`\lambda_{\min}(\mathbf M)` (1 by the normalization).
        solver, status: the conic solver and the status of the SDP that produced ``metric``.
        verified: the numpy verification passed (see ``verification``).
        upper_bound: :math:`\min_i-\max\operatorname{Re}\operatorname{eig}\mathbf J_i`, which no metric beats.
        n_solves: number of SDPs solved; ``method``: how the rate was raised; ``structure``: the factor
            :math:`d` of :math:`\mathbf J_i=\mathbf J^s_i\otimes\mathbf I_d` that was exploited (1: none).
        note: how the search ended.
    """

    metric: np.ndarray
    rate: float
    chi: float
    beta_min: float
    verification: Verification
    upper_bound: float
    n_solves: int = 0
    method: str = "dinkelbach"
    structure: int = 1
    note: str = ""
    history: tuple[float, ...] = field(default=(), repr=False)

    @property
    def contracting(self) -> bool:
        """True when the certificate is verified and its rate is positive."""
        return self.verified and self.rate > 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` output of ``quorumsgd contraction certify``)."""
        return {
            "rate": self.rate,
            "metric": self.metric.tolist(),
            "chi": self.chi,
            "beta_min": self.beta_min,
            "solver": self.solver,
            "status": self.status,
            "verified": self.verified,
            "contracting": self.contracting,
            "upper_bound": self.upper_bound,
            "n_solves": self.n_solves,
            "method": self.method,
            "structure": self.structure,
            "note": self.note,
            "verification": self.verification.to_dict(),
        }


# --- input checks and numpy pieces --------------------------------------------------------------------------


def as_family(jacobians: Any) -> np.ndarray:
    """Validate a family of Jacobians and stack it as a float array of shape ``(vertices, n, n)``.

    Raises :class:`InvalidParameter` for an empty family, non-square or mismatched matrices, or non-finite
    entries.

    Example:
        >>> as_family([np.eye(2), -np.eye(2)]).shape
        (2, 2, 2)
        >>> as_family([np.eye(2), np.eye(3)])
        Traceback (most recent call last):
        ...
        quorumsgd.errors.InvalidParameter: lmi: parameter jacobians must satisfy all the same shape (got [(2, 2), (3, 3)])
    """
    if isinstance(jacobians, np.ndarray) and jacobians.ndim == 2:
        jacobians = [jacobians]
    items = list(jacobians)
    if not items:
        raise InvalidParameter("jacobians", "at least one matrix", "[]", where="lmi")
    try:
        mats = [np.asarray(j, dtype=float) for j in items]
    except (TypeError, ValueError):
        raise InvalidParameter("jacobians", "numeric matrices", where="lmi") from None
    shapes = [m.shape for m in mats]
    for s in shapes:
        if len(s) != 2 or s[0] != s[1] or s[0] == 0:
            raise InvalidParameter("jacobians", "square matrices", s, where="lmi")
    if len(set(shapes)) != 1:
        raise InvalidParameter("jacobians", "all the same shape", shapes, where="lmi")
    family = np.stack(mats)
    if not np.all(np.isfinite(family)):
        raise InvalidParameter("jacobians", "finite entries", where="lmi")
    return family


def _sym(a: np.ndarray) -> np.ndarray:
    return (a + np.swapaxes(a, -1, -2)) / 2


def metric_rate(metric: np.ndarray, jacobians: Any) -> float:
    r"""The exact rate a given metric certifies: :math:`\min_i-\lambda_{\max}(\tfrac12(\mathbf F_i+\mathbf F_i^{\mathsf T}))`.

    :math:`\mathbf F_i=\Theta\mathbf J_i\Theta^{-1}` with :math:`\Theta` the Cholesky factor of
    :math:`\mathbf M=\Theta^{\mathsf T}\Theta`, eq. (8). Returns ``-inf`` if ``metric`` is not positive definite.

    Example:
        >>> lam, k, p = 1.0, 1.0, 4                  # Lemma 5.2: M = diag(p, 1) certifies (50) = 3 - sqrt(5)
        >>> round(metric_rate(np.diag([p, 1.0]), [np.array([[-lam - k, k], [k * p, -k * p]])]), 6)
        0.763932
    """
    family = as_family(jacobians)
    m = _sym(np.asarray(metric, dtype=float))
    try:
        theta = np.linalg.cholesky(m).T  # M = Theta^T Theta
    except np.linalg.LinAlgError:
        return -np.inf
    # numpy's inverse: scipy's solve_triangular has a large fixed cost on tiny matrices here
    generalized = theta @ family @ np.linalg.inv(theta)
    return float(np.min(-np.linalg.eigvalsh(_sym(generalized))[:, -1]))


def default_tolerance(metric: np.ndarray, rate: float, family: np.ndarray) -> float:
    r"""Rounding tolerance of the check: :math:`64\,n\,\epsilon\,\|\mathbf M\|(\max_i\|\mathbf J_i\|+|r|)`."""
    n = metric.shape[0]
    scale = float(np.max(np.linalg.norm(family, ord=2, axis=(1, 2)))) + abs(rate)
    return 64 * n * np.finfo(float).eps * float(np.linalg.norm(metric, 2)) * max(scale, 1e-300)


def verify_certificate(metric: np.ndarray, rate: float, jacobians: Any, tol: float | None = None) -> Verification:
    r"""Check :math:`\mathbf M\succ0` and :math:`\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\mathbf M\preceq`
    ``tol`` at every vertex, in numpy (independently of any solver).

    ``tol`` defaults to :func:`default_tolerance`, the rounding error of forming and diagonalizing the matrices.

    Example:
        >>> verify_certificate(np.eye(1), 0.9, [np.array([[-1.0]])]).passed
        True
        >>> verify_certificate(np.eye(1), 1.1, [np.array([[-1.0]])]).passed
        False
    """
    family = as_family(jacobians)
    m = np.asarray(metric, dtype=float)
    if m.shape != family.shape[1:]:
        raise InvalidParameter("metric", f"shape {family.shape[1:]}", m.shape, where="lmi")
    m = _sym(m)
    tol = default_tolerance(m, rate, family) if tol is None else float(tol)
    lmi = np.swapaxes(family, 1, 2) @ m + m @ family + 2 * rate * m
    check = conic.check_inequalities([[v] for v in lmi], [[m]], strict_psd=True, tolerance=tol)
    passed = bool(check.passed and np.isfinite(rate))
    return Verification(passed, tol, check.min_eigenvalue, check.max_eigenvalues)


def spectral_bound(jacobians: Any) -> float:
    r"""Upper bound on any certified rate: :math:`\min_i-\max\operatorname{Re}\operatorname{eig}(\mathbf J_i)`."""
    family = as_family(jacobians)
    return float(np.min(-np.linalg.eigvals(family).real.max(axis=1)))


def _candidate_metrics(family: np.ndarray) -> list[np.ndarray]:
    r"""Cheap starting metrics: the identity and Lyapunov metrics of the mean and of each vertex.

    :math:`\mathbf M` solving :math:`(\mathbf A+s\mathbf I)^{\mathsf T}\mathbf M+\mathbf M(\mathbf A+s\mathbf I)=-\mathbf I`
    certifies rate s for A itself; for shifts up to the spectral bound, for A the mean and each vertex (and
    their sum), one of them is often close to a common metric. They only seed the SDP iteration.
    """
    n = family.shape[1]
    eye = np.eye(n)
    out = [eye]
    upper = spectral_bound(family)
    for a in [family.mean(axis=0), *family]:
        abscissa = float(np.linalg.eigvals(a).real.max())
        shift = abscissa / 2 if abscissa < 0 else abscissa + 1.0
        out += _lyapunov_metrics([a - shift * eye])
    if np.isfinite(upper):
        for frac in (0.0, 0.5, 0.9):
            shifted = [a + frac * upper * eye for a in [family.mean(axis=0), *family]]
            metrics = _lyapunov_metrics(shifted)
            out += metrics
            if len(metrics) > 2:
                out.append(sum(metrics[1:]))
    return out


def _lyapunov_metrics(matrices: list[np.ndarray]) -> list[np.ndarray]:
    eye = np.eye(matrices[0].shape[0])
    out = []
    for a in matrices:
        # near-singular shifted matrices only make a useless seed: silence scipy's perturbation warning
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                m = _sym(scipy.linalg.solve_continuous_lyapunov(a.T, -eye))
            except (np.linalg.LinAlgError, ValueError, scipy.linalg.LinAlgError):
                continue
        if np.all(np.isfinite(m)) and np.linalg.eigvalsh(m)[0] > 0:
            out.append(m)
    return out


def kron_factor(family: np.ndarray, rtol: float = 1e-13) -> int:
    r"""Largest :math:`d` with every :math:`\mathbf J_i=\mathbf J^s_i\otimes\mathbf I_d` (1 if none).

    Example:
        >>> kron_factor(np.kron(np.array([[[0.0, 1.0], [-2.0, -3.0]]]), np.eye(3)))
        3
    """
    _, n, _ = family.shape
    scale = max(float(np.max(np.abs(family))), 1e-300)
    for d in range(n, 1, -1):
        if n % d:
            continue
        blocks = family[:, ::d, ::d]
        expanded = np.einsum("vij,kl->vikjl", blocks, np.eye(d)).reshape(family.shape)
        if np.max(np.abs(expanded - family)) <= rtol * scale:
            return d
    return 1


# --- the DPP-parametrized SDPs ------------------------------------------------------------------------------


class _MarginSDP:
    r"""max t s.t. :math:`-(\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\mathbf M)\succeq t\mathbf P`,
    :math:`\operatorname{tr}\mathbf M=n`, :math:`\mathbf M\succeq\mu\mathbf I`.

    Always feasible (t can be very negative) and bounded (the trace is fixed), so any status other than
    optimal is a solver failure. :math:`\mu=n/\kappa_{\max}` caps :math:`\operatorname{cond}\mathbf M\le\kappa_{\max}`.
    """

    def __init__(self, n: int, n_vertices: int):
        import cvxpy as cp

        self.metric = cp.Variable((n, n), symmetric=True)
        self.margin = cp.Variable()
        self.jacobians = [cp.Parameter((n, n)) for _ in range(n_vertices)]
        self.rate = cp.Parameter()
        self.previous = cp.Parameter((n, n), symmetric=True)
        self.floor = cp.Parameter(nonneg=True)
        m = self.metric
        constraints = [cp.trace(m) == n, m >> self.floor * np.eye(n)]
        for j in self.jacobians:
            jm = j.T @ m  # J^T M + M J = JM + (JM)^T, written so that cvxpy sees a symmetric expression
            constraints.append(-(jm + jm.T) - 2 * self.rate * m - self.margin * self.previous >> 0)
        self.problem = cp.Problem(cp.Maximize(self.margin), constraints)


class _ConditionSDP:
    r"""min :math:`\kappa` s.t. :math:`\mathbf I\preceq\mathbf M\preceq\kappa\mathbf I`, :math:`\kappa\le\kappa_{\max}`,
    :math:`-(\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\mathbf M)\succeq0`: the best-conditioned
    metric for a given rate (also the feasibility test of the bisection)."""

    def __init__(self, n: int, n_vertices: int):
        import cvxpy as cp

        self.metric = cp.Variable((n, n), symmetric=True)
        self.kappa = cp.Variable()
        self.jacobians = [cp.Parameter((n, n)) for _ in range(n_vertices)]
        self.rate = cp.Parameter()
        self.cap = cp.Parameter(nonneg=True)
        m, eye = self.metric, np.eye(n)
        constraints = [m >> eye, self.kappa * eye - m >> 0, self.kappa <= self.cap]
        for j in self.jacobians:
            jm = j.T @ m
            constraints.append(-(jm + jm.T) - 2 * self.rate * m >> 0)
        self.problem = cp.Problem(cp.Minimize(self.kappa), constraints)


@compiled_once
def _margin_sdp(n: int, n_vertices: int, solver: str) -> _MarginSDP:
    # One compiled problem per shape and solver (cvxpy caches the compilation for the last solver used).
    return _MarginSDP(n, n_vertices)


@compiled_once
def _condition_sdp(n: int, n_vertices: int, solver: str) -> _ConditionSDP:
    return _ConditionSDP(n, n_vertices)


def _solve(problem: Any, solver: str) -> str:
    return solve_status(problem, solver)


def _check_solver(solver: str) -> str:
    return require_installed(check_solver(solver, where="lmi"), installed_solvers)


# --- the search ---------------------------------------------------------------------------------------------


@dataclass
class _Search:
    """Mutable state of one certificate search, in the scaled units of the family."""

    family: np.ndarray
    solver: str
    max_condition: float
    scale: float = 1.0
    n_solves: int = 0
    history: list[float] = field(default_factory=list)

    def condition_metric(self, rate: float) -> tuple[str, np.ndarray | None]:
        sdp = _condition_sdp(self.family.shape[1], self.family.shape[0], self.solver)
        for p, j in zip(sdp.jacobians, self.family, strict=True):
            p.value = j
        sdp.rate.value = rate
        sdp.cap.value = self.max_condition
        status = _solve(sdp.problem, self.solver)
        self.n_solves += 1
        m = sdp.metric.value
        return status, (None if m is None or status not in _USABLE else _sym(np.asarray(m)))

    def margin_metric(self, rate: float, previous: np.ndarray) -> tuple[str, np.ndarray | None, float]:
        n = self.family.shape[1]
        sdp = _margin_sdp(n, self.family.shape[0], self.solver)
        for p, j in zip(sdp.jacobians, self.family, strict=True):
            p.value = j
        sdp.rate.value = rate
        sdp.previous.value = previous * (n / np.trace(previous))
        sdp.floor.value = n / self.max_condition
        status = _solve(sdp.problem, self.solver)
        self.n_solves += 1
        m, t = sdp.metric.value, sdp.margin.value
        if m is None or status not in _USABLE:
            return status, None, np.nan
        return status, _sym(np.asarray(m)), float(t)


def _within_cap(m: np.ndarray, cap: float) -> bool:
    eig = np.linalg.eigvalsh(m)
    return bool(eig[0] > 0 and eig[-1] <= cap * eig[0] * (1 + 1e-6))


def certify(
    jacobians: Any,
    *,
    solver: str = "CLARABEL",
    method: Method = "dinkelbach",
    rate_tol: float = 1e-8,
    max_condition: float = 1e6,
    max_iterations: int = 60,
    exploit_structure: bool = True,
) -> Certificate:
    r"""The best constant metric and contraction rate for a family of Jacobians (see the module docstring).

    Solves :math:`\max r` s.t. :math:`\exists\,\mathbf M` with
    :math:`\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\mathbf M\preceq0` for all i and
    :math:`\operatorname{cond}\mathbf M\le` ``max_condition``, then returns the best-conditioned metric at that
    rate, verified in numpy.

    Args:
        jacobians: matrices of one shape ``(n, n)``: polytope vertices or samples.
        solver: ``"CLARABEL"`` (default) or ``"SCS"``.
        method: ``"dinkelbach"`` (few SDPs) or ``"bisection"`` (the reference).
        rate_tol: stop when the rate is known to this accuracy, relative to :math:`\max_i\|\mathbf J_i\|_2`.
        max_condition: cap on :math:`\operatorname{cond}\mathbf M=\chi^2` (keeps defective families finite).
        max_iterations: cap on the number of rate-raising SDPs.
        exploit_structure: solve Kronecker-structured families on their small blocks (exact).

    Returns:
        A :class:`Certificate`; ``rate <= 0`` (and ``contracting`` false) for a family that no constant metric
        makes contracting.

    Raises:
        InvalidParameter: bad Jacobians or options. SolverUnavailable / LMISolverError: the solver is missing or
        fails on an SDP that has a solution.

    Example:
        >>> import numpy as np
        >>> cert = certify([np.array([[1.0, 0.0], [0.0, -1.0]])])             # unstable: not contracting
        >>> cert.verified, cert.contracting, round(cert.rate, 6)
        (True, False, -1.0)
    """
    family = as_family(jacobians)
    solver = _check_solver(solver)
    if method not in ("dinkelbach", "bisection"):
        raise InvalidParameter("method", "'dinkelbach' or 'bisection'", method, where="lmi")
    if not (rate_tol > 0 and max_condition > 1 and max_iterations >= 1):
        raise InvalidParameter(
            "rate_tol, max_condition, max_iterations",
            "> 0, > 1, >= 1",
            (rate_tol, max_condition, max_iterations),
            where="lmi",
        )
    d = kron_factor(family) if exploit_structure else 1
    blocks = family[:, ::d, ::d] if d > 1 else family
    # Work on J / s: rates scale by s, the SDP data stays O(1) whatever the units of the parameters.
    scale = float(np.max(np.linalg.norm(blocks, ord=2, axis=(1, 2))))
    scale = scale if scale > 0 else 1.0
    search = _Search(blocks / scale, solver, float(max_condition), scale)
    metric, status, note = _search(search, method, rate_tol, max_iterations)
    full = np.kron(metric, np.eye(d)) if d > 1 else metric
    return _finish(full, family, search, status, note, method, d)


def _search(search: _Search, method: Method, rate_tol: float, max_iterations: int) -> tuple[np.ndarray, str, str]:
    """Raise the certified rate; return the (scaled-units) metric, its SDP status and a note."""
    fam, cap = search.family, search.max_condition
    upper = spectral_bound(fam)
    candidates = [m for m in _candidate_metrics(fam) if _within_cap(m, cap)]
    rates = [metric_rate(m, fam) for m in candidates]
    # prefer the identity (chi = 1) when it is as good as the best seed
    best = 0 if rates[0] >= max(rates) - rate_tol else int(np.argmax(rates))
    lo, m_lo = rates[best], candidates[best]
    search.history.append(lo)
    if upper - lo <= rate_tol:
        if best == 0:  # the identity attains the spectral bound: optimal rate and condition number 1
            return m_lo, "optimal", "identity metric attains the spectral bound; no SDP needed"
        return _polish(search, lo, m_lo, "optimal", rate_tol, "seed metric attains the spectral bound")
    if method == "bisection":
        return _bisect(search, lo, m_lo, upper, rate_tol, max_iterations)
    status, note = "optimal", "max_iterations reached"
    steps: list[float] = []
    for i in range(max_iterations):
        step_status, m, margin = search.margin_metric(lo, m_lo)
        if m is None:
            if i == 0:
                raise LMISolverError(search.solver, step_status, "margin SDP at a certified rate")
            status, note = step_status, f"stopped: solver status {step_status}"
            break
        new = metric_rate(m, fam)
        improved = new - lo
        if new > lo and _within_cap(m, cap):
            lo, m_lo, status = new, m, step_status
            search.history.append(lo)
        if improved < rate_tol or margin <= rate_tol * 1e-2 or upper - lo <= rate_tol:
            note = "converged"
            break
        steps.append(improved)
        # Superlinear phase: the next step would gain about steps[-1]^2 / steps[-2]; stop if that is
        # negligible instead of paying one more SDP to observe it.
        if len(steps) >= 2 and steps[-1] < 0.25 * steps[-2] and steps[-1] ** 2 < rate_tol * steps[-2]:
            note = "converged"
            break
        # Dinkelbach is superlinear when the optimum is attained by a well-conditioned metric; near a
        # defective Jacobian it degrades to linear convergence, where bisection is faster.
        if len(steps) >= 3 and steps[-1] > 0.25 * steps[-2] and steps[-2] > 0.25 * steps[-3]:
            m_lo, status, note = _bisect(search, lo, m_lo, upper, rate_tol, max_iterations - i - 1)
            return _polish(
                search, metric_rate(m_lo, fam), m_lo, status, rate_tol, f"bisection after slow steps; {note}"
            )
    return _polish(search, lo, m_lo, status, rate_tol, note)


def _bisect(
    search: _Search, lo: float, m_lo: np.ndarray, hi: float, rate_tol: float, max_iterations: int
) -> tuple[np.ndarray, str, str]:
    status, note, solved = "optimal", "max_iterations reached", False
    for _ in range(max_iterations):
        if hi - lo <= rate_tol:
            note = "converged"
            break
        mid = (lo + hi) / 2
        step_status, m = search.condition_metric(mid)
        found = metric_rate(m, search.family) if m is not None else -np.inf
        if found > lo:
            # The solver found a metric; numpy says what it certifies (maybe a hair below mid, within the
            # solver's accuracy), which is the new lower end. The upper end moves only on infeasibility.
            lo, m_lo, status, solved = found, m, step_status, True
            search.history.append(lo)
        elif step_status in _INFEASIBLE or m is not None:
            hi, solved = mid, True
        elif not solved:
            raise LMISolverError(search.solver, step_status, f"feasibility SDP at rate {mid:.6g}")
        else:  # a late numerical failure: the rate cannot be certified, treat it as the new upper end
            hi = mid
    return m_lo, status, note


def _polish(
    search: _Search, lo: float, m_lo: np.ndarray, status: str, rate_tol: float, note: str
) -> tuple[np.ndarray, str, str]:
    """Best-conditioned metric just below the best rate; keep ``m_lo`` if the solver cannot do better."""
    # Just below the best rate: at the optimum itself the best-conditioned metric is ill-posed (chi jumps).
    target = lo - 0.1 * rate_tol
    step_status, m = search.condition_metric(target)
    # m_lo is feasible at target, so the optimum is at most as ill-conditioned; accept it if numpy agrees
    # that it certifies the target rate (up to the solver's accuracy).
    if m is not None and metric_rate(m, search.family) >= target - rate_tol:
        return m, step_status, note
    return m_lo, status, note


def _finish(
    metric: np.ndarray, family: np.ndarray, search: _Search, status: str, note: str, method: str, d: int
) -> Certificate:
    """Normalize, take the exact rate of the metric, verify it (backing off for rounding if needed)."""
    metric = _sym(metric)
    metric = metric / np.linalg.eigvalsh(metric)[0]  # beta_min = 1
    rate = metric_rate(metric, family)
    check = verify_certificate(metric, rate, family)
    for backoff in (1, 10, 100, 1000):
        if check.passed:
            break
        check = verify_certificate(metric, rate - backoff * check.tolerance, family)
        if check.passed:
            rate -= backoff * check.tolerance
    if not check.passed:
        status, note = "verification_failed", f"numpy verification failed ({note})"
    eig = np.linalg.eigvalsh(metric)
    metric.setflags(write=False)
    return Certificate(
        metric=metric,
        rate=float(rate),
        chi=float(np.sqrt(eig[-1] / eig[0])),
        beta_min=float(eig[0]),
        solver=search.solver,
        status=status,
        verified=check.passed,
        verification=check,
        upper_bound=spectral_bound(family),
        n_solves=search.n_solves,
        method=method,
        structure=d,
        note=note,
        history=tuple(h * search.scale for h in search.history),
    )


def min_condition_metric(
    jacobians: Any,
    rate: float,
    *,
    solver: str = "CLARABEL",
    max_condition: float = 1e6,
    exploit_structure: bool = True,
) -> Certificate:
    r"""The best-conditioned metric that certifies a given rate: :math:`\min\kappa` s.t.
    :math:`\mathbf I\preceq\mathbf M\preceq\kappa\mathbf I` and
    :math:`\mathbf J_i^{\mathsf T}\mathbf M+\mathbf M\mathbf J_i+2r\mathbf M\preceq0`.

    Trading a little rate for a smaller :math:`\chi` tightens bounds such as Lemma 2.1's
    :math:`\chi\bar d/\lambda`. Raises :class:`RateNotCertified` if no such metric exists.

    Example:
        >>> import numpy as np
        >>> family = [np.array([[0.0, 1.0], [-h, -2.0]]) for h in (0.5, 4.0)]
        >>> best, relaxed = certify(family), min_condition_metric(family, 0.1)
        >>> relaxed.verified, relaxed.rate >= 0.1 - 1e-7, relaxed.chi < best.chi
        (True, True, True)
    """
    family = as_family(jacobians)
    solver = _check_solver(solver)
    d = kron_factor(family) if exploit_structure else 1
    blocks = family[:, ::d, ::d] if d > 1 else family
    scale = float(np.max(np.linalg.norm(blocks, ord=2, axis=(1, 2)))) or 1.0
    search = _Search(blocks / scale, solver, float(max_condition), scale)
    status, m = search.condition_metric(rate / scale)
    if m is None:
        if status in _INFEASIBLE:
            raise RateNotCertified(rate, solver, status)
        raise LMISolverError(solver, status, f"condition-number SDP at rate {rate:.6g}")
    full = np.kron(m, np.eye(d)) if d > 1 else m
    cert = _finish(full, family, search, status, "best-conditioned metric for the requested rate", "condition", d)
    if cert.rate < rate - 1e-6 * max(1.0, abs(rate)):
        raise RateNotCertified(rate, solver, f"{status}, metric certifies only {cert.rate:.6g}")
    return cert
