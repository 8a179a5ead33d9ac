r"""Post-solve verification in numpy, with a tolerance relative to the problem's scale, and the result type.

A solver's answer is never trusted: the certificate's matrix inequalities are rebuilt in numpy from the
problem's own data and the returned variables, and their extreme eigenvalues are computed. The tolerance is
the rounding error of forming and diagonalizing them, relative to the scale of the terms,

.. math:: \tau = 64\,n\,\epsilon\,\sum_k\|\mathbf T_k\|_2 ,

where :math:`\mathbf M=\sum_k\mathbf T_k` are the terms of the inequality (target, Lyapunov images, multiplied
forms) and :math:`\epsilon` is the float64 machine epsilon: an inequality :math:`\mathbf M\preceq0` passes when
:math:`\lambda_{\max}(\mathbf M)\le\tau`, :math:`\mathbf P\succeq0` when :math:`\lambda_{\min}(\mathbf P)\ge-\tau`
(strict ``> 0`` where definiteness is required).

Example:
    >>> import numpy as np
    >>> v = check_inequalities([[np.diag([-1.0, -2.0])]], psd=[[np.eye(2)]])
    >>> v.passed, v.max_eigenvalues, v.min_eigenvalue
    (True, (-1.0,), 1.0)
    >>> check_inequalities([[np.diag([1e-3, -2.0])]]).passed
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = float(np.finfo(float).eps)


def rounding_tolerance(terms: Sequence[np.ndarray]) -> float:
    r""":math:`64\,n\,\epsilon\sum_k\|\mathbf T_k\|_2`: the rounding error of summing and diagonalizing the terms."""
    if not terms:
        return 0.0
    n = int(np.shape(terms[0])[-1])
    total = sum(float(np.linalg.norm(np.asarray(t, dtype=float), 2)) for t in terms)
    return 64 * n * EPS * total


def _sym(a: np.ndarray) -> np.ndarray:
    return (a + np.swapaxes(a, -1, -2)) / 2


@dataclass(frozen=True)
class Verification:
    r"""The numpy check of a certificate: every :math:`\mathbf M_k\preceq\tau` and every :math:`\mathbf P_k\succeq0`.

    Attributes:
        passed: the check passed.
        tolerance: :math:`\tau` (absolute, in the units of the inequalities).
        min_eigenvalue: smallest eigenvalue of the inequalities that must be PSD (``inf`` if none).
        max_eigenvalues: largest eigenvalue of each inequality that must be NSD.
    """

    passed: bool
    tolerance: float
    min_eigenvalue: float
    max_eigenvalues: tuple[float, ...]

    @property
    def max_eigenvalue(self) -> float:
        """The worst (largest) of :attr:`max_eigenvalues`."""
        return max(self.max_eigenvalues, default=-np.inf)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "tolerance": self.tolerance, "min_eigenvalue": self.min_eigenvalue,
                "max_eigenvalues": list(self.max_eigenvalues)}


def check_inequalities(nsd: Sequence[Sequence[np.ndarray]], psd: Sequence[Sequence[np.ndarray]] = (),
                       *, strict_psd: bool = False, tolerance: float | None = None) -> Verification:
    r"""Verify :math:`\sum_k\mathbf T_k\preceq0` for each term list of ``nsd`` and :math:`\succeq0` for ``psd``.

    Each inequality is given as its list of terms, so that the tolerance is relative to their scale (see the
    module docstring); ``tolerance`` overrides it. ``strict_psd``: the PSD ones must be positive definite.
    """
    worst_max: list[float] = []
    tol = 0.0
    for terms in nsd:
        tol = max(tol, rounding_tolerance(terms))
    for terms in psd:
        tol = max(tol, rounding_tolerance(terms))
    tol = tol if tolerance is None else float(tolerance)
    for terms in nsd:
        m = _sym(np.sum(np.asarray(terms, dtype=float), axis=0))
        worst_max.append(float(np.linalg.eigvalsh(m)[-1]) if np.all(np.isfinite(m)) else np.inf)
    min_psd = np.inf
    for terms in psd:
        p = _sym(np.sum(np.asarray(terms, dtype=float), axis=0))
        min_psd = min(min_psd, float(np.linalg.eigvalsh(p)[0]) if np.all(np.isfinite(p)) else -np.inf)
    ok_nsd = all(np.isfinite(v) and v <= tol for v in worst_max)
    ok_psd = (min_psd > 0) if strict_psd else (min_psd >= -tol)
    return Verification(bool(ok_nsd and ok_psd and np.isfinite(tol)), tol, min_psd, tuple(worst_max))


@dataclass(frozen=True, eq=False, kw_only=True)
class ConicResult:
    """What every certificate of the toolkit reports about how it was obtained (the base of the LMI metric
    certificates and of the SDP worst-case certificates).

    Attributes:
        solver: the conic solver that produced the solution (``"none"`` when no SDP was needed).
        status: the solver's status (``"optimal"``, ``"optimal_inaccurate"``, ...) or ``"verification_failed"``.
        verified: the numpy verification passed; an unverified result never counts as a certificate.
    """

    solver: str
    status: str
    verified: bool

    @property
    def accurate(self) -> bool:
        """Verified and the solver reported full accuracy."""
        return self.verified and self.status == "optimal"
