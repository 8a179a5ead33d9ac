r"""The paper's quantities certified over the whole class :math:`\mathcal S(\lambda,L)`: ``method="sdp"``.

=========  ==========================================  ======================================  =================
name       quantity (:math:`\mathbf x^*=0`)              continuous (SDE)                        ``discrete=True``
=========  ==========================================  ======================================  =================
sgd        :math:`\mathbb E\|\mathbf x\|^2`             (2)                                      (1)
thm5.1     :math:`\mathbb E\|\bar{\mathbf x}\|^2`       QSGD (6)                                 (41)
thm5.2     :math:`\mathbb E\|(\bar{\mathbf x},\tilde{\mathbf x})\|^2`  EASGD (4)--(5)                  (3)
thm5.3     :math:`\mathbb E\|(\bar{\mathbf x},\bar{\mathbf v})\|^2`    momentum QSGD (33)--(34), k_v=0   (42)--(43)
lemma3.1   :math:`\mathbb E\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2`    QSGD (6)                          (41)
=========  ==========================================  ======================================  =================

``value`` is the first-moment bound :math:`\sqrt{\text{second moment}}` (Jensen), comparable with (47), (48),
(51), (54); for ``lemma3.1`` it is the second moment itself, the quantity of (22). ``terms["second_moment"]``
always holds the certified second moment.

Differences from the paper's bounds (documented, not defects): the certificate is on the long-run
(stationary) second moment rather than "after exponential transients"; it holds for *every*
:math:`f\in\mathcal S(\lambda,L)` and every noise with :math:`\operatorname{tr}\boldsymbol\Sigma\le\sigma^2`, so it
needs no :math:`Q` (Assumption 2.1) and does not depend on the dimension :math:`n` (``q`` and ``dim`` are
accepted and ignored); it needs :math:`L` (``smoothness``), which (47) and (51) do not. The discrete variants
certify the iterations people run, with their step ``lr``; the discrete ``thm5.3`` takes the heavy-ball
``momentum`` :math:`\mu` of (42) instead of the SDE's ``damping``.

Example:
    >>> r = evaluate_sdp("sgd", lr=0.1, batch_size=32, sigma2=4.0, strong_convexity=0.5, smoothness=2.0)
    >>> round(r.terms["second_moment"], 6), r.method, r.verified     # = lr sigma2 / (2 b lambda)
    (0.0125, 'sdp', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from quorumsgd.bounds.registry import ENTRIES, SDPTarget, TheoremEntry
from quorumsgd.bounds.sdp.certificate import (
    Certificate,
    SDPInfeasible,
    SDPSolverError,
    certify,
    expand_reduced,
)
from quorumsgd.bounds.sdp.system import Algorithm
from quorumsgd.bounds.theorem import BoundResult, HypothesisCheck
from quorumsgd.errors import HypothesisViolation, InvalidParameter
from quorumsgd.parameters import validate_values


@dataclass(frozen=True)
class SDPTheorem:
    """What is certified for one name: a view of its registry entry's :class:`~quorumsgd.bounds.registry.SDPTarget`.

    Attributes:
        name, title, equation: the registry name, the algorithm's title, (continuous, discrete) equations.
        target: the certified quantity (``SDPTarget.quantity``); ``continuous`` / ``discrete`` build the
            algorithm from a parameter point; the rest as in :class:`~quorumsgd.bounds.registry.SDPTarget`.
    """

    name: str
    title: str
    equation: tuple[str, str]
    target: tuple[str, ...]
    continuous: Callable[[dict[str, float]], Algorithm]
    discrete: Callable[[dict[str, float]], Algorithm]
    parameters: tuple[str, ...]
    discrete_parameters: tuple[str, ...]
    first_moment: bool = True
    ignored: tuple[str, ...] = ("q", "dim")

    @classmethod
    def of(cls, entry: TheoremEntry) -> SDPTheorem:
        """The certified quantity of a registry entry that has one (``entry.sdp``)."""
        sdp: SDPTarget | None = entry.sdp
        if sdp is None:
            raise InvalidParameter("name", "be a result with an SDP certificate (registry entry with sdp)", entry.name)
        return cls(entry.name, sdp.algorithm, (entry.equation, sdp.discrete_equation), sdp.quantity, sdp.continuous,
                   sdp.discrete, sdp.parameters, sdp.discrete_parameters, sdp.first_moment, sdp.ignored)


def _n(v: dict[str, float]) -> int:
    return int(v.get("n_agents", 1))


THEOREMS: dict[str, SDPTheorem] = {e.name: SDPTheorem.of(e) for e in ENTRIES if e.sdp is not None}
"""The certified quantities, by theorem name (from the registry: :data:`~quorumsgd.bounds.registry.SDP_CERTIFIED`)."""


def _validated(th: SDPTheorem, discrete: bool, params: dict[str, Any]) -> dict[str, np.ndarray]:
    where = f"{th.name} (method='sdp'{', discrete' if discrete else ''})"
    needed = th.discrete_parameters if discrete else th.parameters
    given = {k: v for k, v in params.items() if v is not None}
    # a bound stated with lambda_max (Lemma 3.1's (22)) certified over S(-lambda_max, L)
    if "lambda_max" in th.ignored and "strong_convexity" not in given and "lambda_max" in given:
        lam_max = np.asarray(given["lambda_max"], dtype=float)
        if np.any(lam_max >= 0):
            raise HypothesisViolation(th.name, "lambda_max < 0 (a strongly convex class, strong_convexity = "
                                      "-lambda_max)", "S(lambda, L)", f"lambda_max={float(np.max(lam_max)):.6g}")
        given["strong_convexity"] = -lam_max
    for key in given:
        if key not in needed and key not in th.ignored:
            raise InvalidParameter(key, f"not be given: {where} takes {', '.join(needed)}", where=th.name)
    for key in needed:
        if key not in given:
            why = ("the certificate is over S(strong_convexity, smoothness)" if key == "smoothness"
                   else "required")
            raise InvalidParameter(key, f"be given for {where} ({why})", where=th.name)
    values = validate_values({k: given[k] for k in needed}, where=th.name)
    if "lambda_max" in given:  # kept for the record only
        values["lambda_max"] = np.asarray(given["lambda_max"], dtype=float)
    bad = values["strong_convexity"] > values["smoothness"]
    if np.any(bad):
        lam = np.broadcast_to(values["strong_convexity"], bad.shape)[bad].ravel()[0]
        big = np.broadcast_to(values["smoothness"], bad.shape)[bad].ravel()[0]
        raise HypothesisViolation(th.name, "strong_convexity <= smoothness (a nonempty class S(lambda, L))",
                                  "Def 2.1-2.2", f"strong_convexity={lam:.6g}, smoothness={big:.6g}")
    return values


def certify_point(name: str, point: dict[str, float], discrete: bool = False, full: bool = False,
                  solver: str = "CLARABEL") -> Certificate:
    """The verified certificate at one parameter point (``full=True``: the unreduced SDP, for checks)."""
    th = THEOREMS[name]
    alg = (th.discrete if discrete else th.continuous)(point)
    factors = {"sigma2": (point["sigma2"], 1), "batch_size": (point["batch_size"], -1)}
    if not discrete:
        factors["lr"] = (point["lr"], 1)
    with np.errstate(over="ignore", under="ignore"):
        noise = point["sigma2"] / point["batch_size"] * (1.0 if discrete else point["lr"])
    return certify(alg, _n(point), th.target, strong_convexity=point["strong_convexity"],
                   smoothness=point["smoothness"], noise=noise, noise_factors=factors, full=full, solver=solver,
                   where=name, stiffness_names=", ".join(k for k in ("coupling", "damping", "n_agents") if k in point))


def full_lmi_check(name: str, point: dict[str, float], cert: Certificate, discrete: bool = False) -> float:
    """Largest eigenvalue of the full N-agent LMI rebuilt from a reduced certificate (<= 0 when exact)."""
    th = THEOREMS[name]
    alg = (th.discrete if discrete else th.continuous)(point)
    return expand_reduced(cert, alg, _n(point), th.target, point["strong_convexity"], point["smoothness"])


_FULL_CHECK_MAX_AGENTS = 8


def evaluate_sdp(name: str, discrete: bool = False, solver: str = "CLARABEL", **params: Any) -> BoundResult:
    r"""Certify ``name`` (see the module table) on scalars or arrays of parameters (broadcast together).

    One compiled SDP per block shape; each parameter point is one solve (~10 ms). Every certificate is
    verified in numpy (and, up to 8 agents, also on the assembled full N-agent LMI) before it is reported.

    Raises:
        InvalidParameter: a missing parameter (``smoothness`` included) or a value out of its domain.
        HypothesisViolation: ``strong_convexity > smoothness``.
        SDPInfeasible: no certificate exists (e.g. a discrete step too large for some f in the class).
        SDPSolverError: the solvers fail or no solution passes the verification.
    """
    if name not in THEOREMS:
        raise InvalidParameter("name", f"be one of {', '.join(THEOREMS)} for method='sdp'", name)
    th = THEOREMS[name]
    values = _validated(th, bool(discrete), params)
    needed = th.discrete_parameters if discrete else th.parameters
    arrays = np.broadcast_arrays(*(values[k] for k in needed))
    shape = arrays[0].shape
    second = np.empty(shape)
    statuses, worst_full = set(), -np.inf
    for index in np.ndindex(shape):
        point = {k: float(a[index]) for k, a in zip(needed, arrays, strict=True)}
        try:
            cert = certify_point(name, point, bool(discrete), solver=solver)
        except (SDPInfeasible, SDPSolverError) as err:
            shown = ", ".join(f"{k}={v:.6g}" for k, v in point.items())
            raise type(err)(f"{name}: {str(err).removeprefix('sdp: ')} ({shown})") from None
        if _n(point) <= _FULL_CHECK_MAX_AGENTS:
            check = full_lmi_check(name, point, cert, bool(discrete))
            if check > 1e-9 * max(1.0, float(np.abs(cert.lyapunov[0]).max())):
                # the reduction is exact (proved, tested): reaching this is a defect, never a reported bound
                raise SDPSolverError(f"{name}: the reduced certificate fails the full N-agent LMI (largest "
                                     f"eigenvalue {check:.3g} at {point}); this is a defect in quorumsgd, please "
                                     "report it")
            worst_full = max(worst_full, check)
        second[index] = cert.second_moment
        statuses.add(cert.status)
    value = np.sqrt(second) if th.first_moment else second
    as_number = (lambda x: float(x)) if not shape else (lambda x: np.array(x))
    m2 = sympy.Symbol("second_moment", nonnegative=True)
    expression = sympy.sqrt(m2) if th.first_moment else m2
    terms = {"second_moment": as_number(second)}
    if th.first_moment:
        terms["first_moment"] = as_number(value)
    status = "optimal" if statuses == {"optimal"} else ",".join(sorted(statuses))
    kind = "discrete iteration" if discrete else "SDE"
    return BoundResult(
        name=name,
        title=f"{th.title}: SDP certificate over S(lambda, L) ({kind})",
        equation=th.equation[1 if discrete else 0] + " (SDP)",
        value=as_number(value),
        terms=terms,
        expression=expression,
        term_expressions={"second_moment": m2},
        latex=(r"\sqrt{\mathbb E\,\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi}" if th.first_moment
               else r"\mathbb E\,\boldsymbol\xi^{\mathsf T}\mathbf W\boldsymbol\xi"),
        transient_rates={},
        hypotheses=(
            HypothesisCheck("f in S(lambda, L): strong_convexity <= smoothness", "Def 2.1-2.2", True),
            HypothesisCheck("certificate verified in numpy (LMI eigenvalues <= 0, P >= 0, multipliers >= 0)",
                            "SDP", True),
        ),
        parameters={k: as_number(values[k]) if np.ndim(values[k]) else float(values[k]) for k in values},
        spec_difference=(
            "method='sdp': a certificate of the long-run second moment over every f in S(lambda, L) and every "
            "noise with tr(Sigma) <= sigma2 (no Q, independent of the dimension); value = sqrt(second moment) "
            "by Jensen" + ("" if th.first_moment else " (lemma3.1: the second moment itself, as in (22))")
            + (f"; full N-agent LMI check: largest eigenvalue {worst_full:.3g}" if np.isfinite(worst_full) else "")
        ),
        method="sdp",
        status=status,
        verified=True,
    )
