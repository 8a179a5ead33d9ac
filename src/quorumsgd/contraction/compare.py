r"""Better than the paper? LMI-optimal contraction rates against the paper's analytic lower bounds.

For each system and parameter point this puts side by side

* the paper's analytic rate lower bound (:func:`quorumsgd.contraction.symbolic.paper_rate`): (21)
  :math:`k-\lambda_{\max}` for ``thm3.1`` (with :math:`\lambda_{\max}=-\lambda`), (35) for ``lemma3.2``,
  (50) for ``lemma5.2`` and (52) for ``lemma5.3``;
* the exact rate of the paper's own metric over the family (:func:`~quorumsgd.contraction.lmi.metric_rate`
  of :func:`~quorumsgd.contraction.symbolic.paper_metric`), which the bound underestimates;
* the LMI-optimal rate over all constant metrics (:func:`~quorumsgd.contraction.lmi.certify`) with its
  :math:`\chi`.

Since the paper's metric is one candidate of the LMI and the analytic bound never exceeds that metric's exact
rate, :math:`\text{LMI}\ge\text{paper metric}\ge\text{paper bound}` must hold up to the solver's tolerance
(:func:`tolerance`): that is the property tested over generated grids.

Example:
    >>> row = compare_point("lemma5.2", {"strong_convexity": 1.0, "smoothness": 4.0, "coupling": 1.0,
    ...                                  "n_agents": 4})
    >>> round(row.paper_rate, 6), row.lmi_rate >= row.paper_rate - row.tolerance, row.verified
    (0.763932, True, True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quorumsgd.contraction import symbolic
from quorumsgd.contraction.lmi import Certificate, certify, metric_rate
from quorumsgd.errors import InvalidParameter, QuorumSGDError
from quorumsgd.parameters import validate_values

EQUATION: dict[str, str] = {"thm3.1": "(21)", "lemma3.2": "(35)", "lemma5.2": "(50)", "lemma5.3": "(52)"}

RELEVANT: dict[str, tuple[str, ...]] = {
    "thm3.1": ("strong_convexity", "coupling"),
    "lemma3.2": ("strong_convexity", "smoothness", "coupling", "damping", "velocity_coupling"),
    "lemma5.2": ("strong_convexity", "smoothness", "coupling", "n_agents"),
    "lemma5.3": ("strong_convexity", "smoothness", "damping"),
}
"""The grid parameters each system depends on (the others are dropped, and duplicates with them)."""

GRID_AXES: tuple[str, ...] = ("strong_convexity", "smoothness", "coupling", "n_agents", "damping")
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "strong_convexity": (0.1, 1.0),
    "smoothness": (1.0, 10.0),
    "coupling": (0.5, 2.0),
    "n_agents": (2, 16),
    "damping": (1.0, 4.0),
}


@dataclass(frozen=True)
class ComparisonRow:
    """One system at one parameter point: the paper's bound, its metric's exact rate, the LMI rate."""

    system: str
    params: Mapping[str, float]
    paper_rate: float
    paper_metric_rate: float
    paper_chi: float
    lmi_rate: float
    lmi_chi: float
    verified: bool
    tolerance: float
    upper_bound: float

    @property
    def gain(self) -> float:
        """How much the LMI rate exceeds the paper's bound (``nan`` where the paper gives no rate)."""
        return self.lmi_rate - self.paper_rate

    @property
    def ratio(self) -> float:
        """LMI rate / paper bound, for a positive paper bound (else ``nan``)."""
        return self.lmi_rate / self.paper_rate if self.paper_rate > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "equation": EQUATION[self.system],
            "params": dict(self.params),
            "paper_rate": _json_float(self.paper_rate),
            "paper_metric_rate": _json_float(self.paper_metric_rate),
            "paper_chi": _json_float(self.paper_chi),
            "lmi_rate": self.lmi_rate,
            "lmi_chi": self.lmi_chi,
            "gain": _json_float(self.gain),
            "ratio": _json_float(self.ratio),
            "verified": self.verified,
            "tolerance": self.tolerance,
            "upper_bound": self.upper_bound,
        }


def _json_float(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def system_params(system: str, point: Mapping[str, float]) -> dict[str, float]:
    """The parameters of ``system`` taken from a grid point (``thm3.1`` uses ``lambda_max = -strong_convexity``).

    Example:
        >>> system_params("thm3.1", {"strong_convexity": 0.5, "smoothness": 2.0, "coupling": 1.0})
        {'coupling': 1.0, 'lambda_max': -0.5}
    """
    if system not in RELEVANT:
        raise InvalidParameter("system", f"one of {', '.join(symbolic.SYSTEMS)}", system, where="compare")
    out = {n: float(point[n]) for n in RELEVANT[system] if n in point}
    if system == "lemma3.2":
        out.setdefault("velocity_coupling", 0.0)
    if "n_agents" in out:
        out["n_agents"] = int(out["n_agents"])
    missing = [n for n in RELEVANT[system] if n not in out]
    if missing:
        raise InvalidParameter(missing[0], f"be given for system {system}", where="compare")
    if system == "thm3.1":  # strong convexity bounds the anti-convexity: lambda_max = -lambda (footnote 7)
        out["lambda_max"] = -out.pop("strong_convexity")
    return out


def tolerance(jacobians: Sequence[np.ndarray], rate_tol: float = 1e-8) -> float:
    r"""Accuracy of an LMI rate: ``2 * rate_tol`` times :math:`\max_i\|\mathbf J_i\|_2` (the certificate's units)."""
    scale = max(float(np.linalg.norm(j, 2)) for j in jacobians)
    return 2 * rate_tol * max(scale, 1.0) + 1e-12


def _paper(system: str, params: Mapping[str, float], family: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """Paper bound, exact rate of the paper's metric and its chi; ``nan`` where the paper's metric is undefined."""
    try:
        with np.errstate(invalid="ignore"):  # outside the paper's hypotheses its formula may take sqrt(<0)
            bound = float(symbolic.paper_rate(system, params))
    except (QuorumSGDError, ValueError, ZeroDivisionError):
        bound = math.nan
    try:
        metric = np.asarray(symbolic.paper_metric(system, params), dtype=float)
        exact = metric_rate(np.kron(metric, np.eye(family[0].shape[0] // metric.shape[0])), family)
        eig = np.linalg.eigvalsh(metric)
        chi = float(np.sqrt(eig[-1] / eig[0])) if eig[0] > 0 else math.nan
    except (QuorumSGDError, ValueError, ZeroDivisionError, np.linalg.LinAlgError):
        exact, chi = math.nan, math.nan
    if not math.isfinite(exact):
        exact = math.nan
    return bound, exact, chi


def certify_system(system: str, params: Mapping[str, float], dim: int = 1, **certify_options: Any) -> Certificate:
    r"""LMI certificate for one of the paper's systems: :func:`~quorumsgd.contraction.lmi.certify` on
    :func:`~quorumsgd.contraction.symbolic.jacobian_family` (vertices over the Hessian eigenvalue, ``dim``-expanded).

    This is what a bound with ``metric="lmi"`` needs: ``rate``, ``chi``, ``beta_min`` (= 1) and ``metric``
    (for :math:`C=\operatorname{tr}(\mathbf B^{\mathsf T}\mathbf M\mathbf B)`).

    Example:
        >>> cert = certify_system("lemma5.2", {"strong_convexity": 1.0, "smoothness": 4.0, "coupling": 1.0,
        ...                                    "n_agents": 4})
        >>> round(cert.rate, 6), cert.chi < 2.0                     # (50)'s rate, with chi below sqrt(p)
        (0.763932, True)
    """
    return certify(symbolic.jacobian_family(system, params, dim=dim), **certify_options)


def compare_point(system: str, point: Mapping[str, float], *, solver: str = "CLARABEL") -> ComparisonRow:
    """Compare the paper's rate bound with the LMI-optimal rate for one system at one parameter point."""
    params = system_params(system, point)
    validate_values({k: v for k, v in params.items() if k != "lambda_max"}, where=system)
    if "smoothness" in params and params["smoothness"] < params["strong_convexity"]:
        raise InvalidParameter("smoothness", "smoothness >= strong_convexity", params["smoothness"], system)
    family = symbolic.jacobian_family(system, params)
    cert = certify(family, solver=solver)  # same as certify_system(system, params), family reused below
    paper_bound, paper_exact, paper_chi = _paper(system, params, family)
    return ComparisonRow(
        system=system,
        params=params,
        paper_rate=paper_bound,
        paper_metric_rate=paper_exact,
        paper_chi=paper_chi,
        lmi_rate=cert.rate,
        lmi_chi=cert.chi,
        verified=cert.verified,
        tolerance=tolerance(family),
        upper_bound=cert.upper_bound,
    )


def grid_points(grid: Mapping[str, Iterable[float]] | None = None) -> list[dict[str, float]]:
    """The Cartesian product of the grid axes (missing axes take :data:`DEFAULT_GRID`); L < lambda is skipped."""
    axes = {**DEFAULT_GRID, **{k: tuple(v) for k, v in (grid or {}).items() if v is not None}}
    unknown = set(axes) - set(GRID_AXES) - {"velocity_coupling"}
    if unknown:
        raise InvalidParameter(sorted(unknown)[0], f"one of {', '.join(GRID_AXES)}", where="compare")
    names = list(axes)
    points = [dict(zip(names, values, strict=True)) for values in itertools.product(*(axes[n] for n in names))]
    return [p for p in points if p["smoothness"] >= p["strong_convexity"]]


def compare(
    grid: Mapping[str, Iterable[float]] | None = None,
    systems: Sequence[str] = symbolic.SYSTEMS,
    *,
    solver: str = "CLARABEL",
) -> list[ComparisonRow]:
    """Rows for every system over the grid, each distinct point (after dropping irrelevant axes) once.

    Example:
        >>> rows = compare({"strong_convexity": [0.5], "smoothness": [2.0], "coupling": [1.0],
        ...                 "n_agents": [4], "damping": [2.0]})
        >>> [r.system for r in rows], all(r.lmi_rate >= r.paper_rate - r.tolerance for r in rows)
        (['thm3.1', 'lemma3.2', 'lemma5.2', 'lemma5.3'], True)
    """
    for s in systems:
        if s not in symbolic.SYSTEMS:
            raise InvalidParameter("system", f"one of {', '.join(symbolic.SYSTEMS)}", s, where="compare")
    rows: list[ComparisonRow] = []
    for system in systems:
        seen: set[tuple[tuple[str, float], ...]] = set()
        for point in grid_points(grid):
            key = tuple(sorted(system_params(system, point).items()))
            if key not in seen:
                seen.add(key)
                rows.append(compare_point(system, point, solver=solver))
    return rows


_LETTERS = {
    "strong_convexity": "lam",
    "smoothness": "L",
    "coupling": "k",
    "n_agents": "p",
    "damping": "gamma",
    "velocity_coupling": "k_v",
    "lambda_max": "lam_max",
}


def _fmt(x: float, width: int = 9) -> str:
    return f"{'n/a':>{width}}" if not math.isfinite(x) else f"{x:>{width}.5g}"


def format_table(rows: Sequence[ComparisonRow]) -> str:
    """A plain-text table: system, parameters, paper bound, paper metric's exact rate, LMI rate, ratio, chis."""
    head = (
        f"{'system':<9} {'eq.':<5} {'parameters':<40} {'paper':>9} {'paper M':>9} {'LMI':>9} "
        f"{'LMI/paper':>9} {'chi paper':>9} {'chi LMI':>9}  ok"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        params = " ".join(
            f"{_LETTERS.get(k, k)}={v:g}" for k, v in r.params.items() if not (k == "velocity_coupling" and v == 0)
        )
        ok = "yes" if r.verified and (not math.isfinite(r.paper_rate) or r.gain >= -r.tolerance) else "NO"
        lines.append(
            f"{r.system:<9} {EQUATION[r.system]:<5} {params:<40} {_fmt(r.paper_rate)} {_fmt(r.paper_metric_rate)} "
            f"{_fmt(r.lmi_rate)} {_fmt(r.ratio)} {_fmt(r.paper_chi)} {_fmt(r.lmi_chi)}  {ok}"
        )
    return "\n".join(lines)
