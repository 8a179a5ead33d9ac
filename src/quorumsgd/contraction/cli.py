"""``quorumsgd contraction certify SYSTEM`` and ``quorumsgd contraction compare``: LMI certificates on the CLI.

``certify`` builds the system's Jacobian family from the symbolic module (vertices over the Hessian eigenvalue,
expanded to ``--dim``), finds the best constant metric by LMIs, verifies it in numpy and prints it next to the
paper's analytic rate and metric; ``--json`` prints one object with at least ``rate``, ``metric``, ``chi``,
``beta_min``, ``solver``, ``status`` and ``verified``. Exit code 1 when the certificate fails verification.
``compare`` prints the LMI-vs-paper table over a grid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import typer

from quorumsgd.clikit import check_finite, dumps, make_app
from quorumsgd.contraction import symbolic
from quorumsgd.contraction.compare import EQUATION, compare, format_table
from quorumsgd.contraction.lmi import SOLVERS, certify, metric_rate
from quorumsgd.contraction.symbolic import SYSTEMS
from quorumsgd.errors import InvalidParameter, QuorumSGDError
from quorumsgd.parameters import validate_values

app = make_app(
    "LMI contraction certificates (best constant metric, verified) and comparison with the paper's rates.", name="contraction", no_args_is_help=True
)

REQUIRED: dict[str, tuple[str, ...]] = {
    "thm3.1": ("coupling", "lambda_max"),
    "lemma3.2": ("strong_convexity", "smoothness", "coupling", "damping"),
    "lemma5.2": ("strong_convexity", "smoothness", "coupling", "n_agents"),
    "lemma5.3": ("strong_convexity", "smoothness", "damping"),
}
"""Flags each system needs (``lemma3.2`` also takes ``--velocity-coupling``, default 0)."""

DESCRIPTION = {
    "thm3.1": "an agent with a common input, (19)-(21)",
    "lemma3.2": "momentum agents, position and velocity coupling, (36)-(37)",
    "lemma5.2": "synchronized EASGD, (50)",
    "lemma5.3": "synchronized QSGD with momentum, (52)-(53)",
}


def system_parameters(system: str, given: dict[str, Any]) -> dict[str, float]:
    """Check the flags of a system: required ones present, unused ones absent, values in their domains."""
    if system not in REQUIRED:
        raise InvalidParameter("SYSTEM", f"be one of {', '.join(REQUIRED)}", system, where="certify")
    values = {k: v for k, v in given.items() if v is not None}
    allowed = set(REQUIRED[system]) | ({"velocity_coupling"} if system == "lemma3.2" else set())
    for name in REQUIRED[system]:
        if name not in values:
            raise InvalidParameter(name, f"be given (--{name.replace('_', '-')}) for {system}", where="certify")
    extra = sorted(set(values) - allowed)
    if extra:
        raise InvalidParameter(
            extra[0], f"not be given for {system} (it takes {', '.join(sorted(allowed))})", where="certify"
        )
    validate_values({k: v for k, v in values.items() if k != "lambda_max"}, where=system)
    validate_values({k: v for k, v in values.items() if k == "lambda_max"}, where=system)
    if system != "thm3.1" and values["smoothness"] < values["strong_convexity"]:
        raise InvalidParameter("smoothness", "be >= strong_convexity", values["smoothness"], system)
    if system == "lemma3.2":
        values.setdefault("velocity_coupling", 0.0)
    if "n_agents" in values:
        values["n_agents"] = int(values["n_agents"])
    return values


def _paper(system: str, params: dict[str, float], family: list[np.ndarray], dim: int) -> dict[str, Any]:
    out: dict[str, Any] = {"equation": EQUATION[system], "rate": None, "metric": None, "chi": None, "metric_rate": None}
    try:
        with np.errstate(invalid="ignore"):
            rate = float(symbolic.paper_rate(system, params))
        if not symbolic.paper_condition(system, params):  # as `quorumsgd bound` does: no bound, not a number
            out["note"] = f"the paper's condition {EQUATION[system]} fails: its rate formula is no bound here"
        else:
            out["rate"] = rate if math.isfinite(rate) else None
        metric = np.asarray(symbolic.paper_metric(system, params), dtype=float)
        eig = np.linalg.eigvalsh(metric)
        out["metric"] = metric.tolist()
        out["chi"] = float(np.sqrt(eig[-1] / eig[0])) if eig[0] > 0 else None
        exact = metric_rate(np.kron(metric, np.eye(dim)), family)
        out["metric_rate"] = exact if math.isfinite(exact) else None
    except (QuorumSGDError, ValueError, ZeroDivisionError, np.linalg.LinAlgError) as err:
        out["note"] = str(err)
    return out


def _matrix(m: np.ndarray, indent: str = "  ") -> str:
    return "\n".join(indent + " ".join(f"{v:>11.6g}" for v in row) for row in np.asarray(m))


@app.command("certify")
def certify_command(
    system: str = typer.Argument(..., help="thm3.1 | lemma3.2 | lemma5.2 | lemma5.3"),
    strong_convexity: float | None = typer.Option(None, "--strong-convexity", help="lambda"),
    smoothness: float | None = typer.Option(None, "--smoothness", help="L"),
    coupling: float | None = typer.Option(None, "--coupling", help="k (k_x for lemma3.2)"),
    n_agents: int | None = typer.Option(None, "--n-agents", help="p"),
    damping: float | None = typer.Option(None, "--damping", help="gamma"),
    velocity_coupling: float | None = typer.Option(None, "--velocity-coupling", help="k_v (lemma3.2)"),
    lambda_max: float | None = typer.Option(None, "--lambda-max", help="lambda_max (thm3.1)"),
    dim: int = typer.Option(1, "--dim", help="dimension n: the metric is (blocks x n) square"),
    solver: str = typer.Option("CLARABEL", "--solver", help=" | ".join(SOLVERS)),
    json_: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Find and verify the best constant metric for a system of the paper; compare with the paper's."""
    params = system_parameters(
        system,
        {
            "strong_convexity": strong_convexity,
            "smoothness": smoothness,
            "coupling": coupling,
            "n_agents": n_agents,
            "damping": damping,
            "velocity_coupling": velocity_coupling,
            "lambda_max": lambda_max,
        },
    )
    if dim < 1:
        raise InvalidParameter("dim", "be an integer >= 1", dim, where="certify")
    family = symbolic.jacobian_family(system, params, dim=dim)
    cert = certify(family, solver=solver)
    paper = _paper(system, params, family, dim)
    out = {"system": system, "params": params, "dim": dim, **cert.to_dict(), "paper": paper}
    text = dumps(out, where=f"certify {system}")  # refuses inf / nan (parameters beyond float range)
    if json_:
        typer.echo(text)
    else:
        _print(system, params, dim, cert, paper)
    if not cert.verified:
        raise typer.Exit(1)


def _print(system: str, params: dict[str, float], dim: int, cert: Any, paper: dict[str, Any]) -> None:
    shown = ", ".join(f"{k}={v:g}" for k, v in params.items())
    typer.echo(f"{system}: {DESCRIPTION[system]}  [{shown}, dim={dim}]")
    verdict = "contracting" if cert.contracting else ("NOT contracting" if cert.verified else "NOT VERIFIED")
    typer.echo(f"rate      {cert.rate:.10g}  ({verdict}; no constant metric beats {cert.upper_bound:.6g})")
    if paper["rate"] is None and paper.get("note"):
        typer.echo(f"paper     n/a  ({paper['note']})")
    if paper["rate"] is not None:
        ratio = f", LMI/paper = {cert.rate / paper['rate']:.4g}" if paper["rate"] > 0 else ""
        typer.echo(
            f"paper     {paper['rate']:.10g}  (bound {paper['equation']}; exact rate of the paper's "
            f"metric {paper['metric_rate'] if paper['metric_rate'] is None else format(paper['metric_rate'], '.10g')}"
            f"{ratio})"
        )
    typer.echo(f"chi       {cert.chi:.6g}" + (f"  (paper: {paper['chi']:.6g})" if paper["chi"] else ""))
    typer.echo(f"beta_min  {cert.beta_min:.6g}  (metric normalized to lambda_min(M) = 1)")
    typer.echo("metric M =")
    typer.echo(_matrix(cert.metric))
    v = cert.verification
    typer.echo(f"solver    {cert.solver} ({cert.status}), {cert.n_solves} SDP solves, {cert.note}")
    typer.echo(
        f"verified  {'yes' if cert.verified else 'NO'}: lambda_min(M) = {v.metric_min_eigenvalue:.3g} > 0; "
        f"max eig(J^T M + M J + 2 rate M) = {max(v.lmi_max_eigenvalues):.3g} <= {v.tolerance:.3g} "
        f"at {len(v.lmi_max_eigenvalues)} vertices"
    )


@app.command("compare")
def compare_command(
    system: list[str] | None = typer.Option(None, "--system", help="repeatable; default: all four"),
    strong_convexity: list[float] | None = typer.Option(None, "--strong-convexity", help="repeatable"),
    smoothness: list[float] | None = typer.Option(None, "--smoothness", help="repeatable"),
    coupling: list[float] | None = typer.Option(None, "--coupling", help="repeatable"),
    n_agents: list[int] | None = typer.Option(None, "--n-agents", help="repeatable"),
    damping: list[float] | None = typer.Option(None, "--damping", help="repeatable"),
    solver: str = typer.Option("CLARABEL", "--solver", help=" | ".join(SOLVERS)),
    json_: bool = typer.Option(False, "--json", help="print a JSON list of rows"),
) -> None:
    """LMI-optimal rate vs the paper's analytic bounds (21), (35), (50), (52) over a parameter grid."""
    grid = {
        "strong_convexity": strong_convexity,
        "smoothness": smoothness,
        "coupling": coupling,
        "n_agents": n_agents,
        "damping": damping,
    }
    for name, values in grid.items():
        if values:
            validate_values({name: np.asarray(values, dtype=float)}, where="compare")
    rows = compare({k: v for k, v in grid.items() if v}, systems=tuple(system or SYSTEMS), solver=solver)
    for r in rows:
        check_finite({"LMI rate": r.lmi_rate, "LMI chi": r.lmi_chi, "upper bound": r.upper_bound},
                     where=f"compare {r.system}")
    if json_:
        typer.echo(dumps([r.to_dict() for r in rows], where="compare"))
        return
    typer.echo(format_table(rows))
    failing = [r for r in rows if not r.verified or (math.isfinite(r.paper_rate) and r.gain < -r.tolerance)]
    typer.echo(
        f"\n{len(rows)} rows; LMI rate >= paper bound (within solver tolerance) in "
        f"{len(rows) - len(failing)} of {len(rows)}. 'paper M': exact rate of the paper's metric."
    )
    if failing:
        raise typer.Exit(1)
