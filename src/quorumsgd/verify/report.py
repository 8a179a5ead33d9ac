"""The verification report: a table on the terminal, and a folder with Markdown, PNG plots and JSON.

Plots show, for Thm 5.1 and Lemma 3.1, the bound against the measurement (with its one-sided upper
confidence bound) across ``n_agents`` and across ``coupling``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from quorumsgd.verify.checks import Settings, default_problem, run_check
from quorumsgd.verify.result import CheckResult


@dataclass(frozen=True)
class Sweep:
    """Bound and measurement of one check across values of one problem field."""

    check: str
    field: str
    values: list[float]
    results: list[CheckResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "field": self.field, "values": self.values,
                "results": [r.to_json() for r in self.results]}


def run_sweep(check: str, field_name: str, values: Sequence[float], settings: Settings,
              on_done: Callable[[], None] | None = None, into: list[Sweep] | None = None) -> Sweep:
    """Run ``check`` at each value of ``field_name``. With ``into``, the sweep is appended before its first
    point, so an interrupt leaves the finished points there."""
    base = default_problem(check)
    sweep = Sweep(check, field_name, [float(v) for v in values])
    if into is not None:
        into.append(sweep)
    for v in values:  # a handful of parameter points; each point is one vectorized ensemble run
        problem = base.replace(**{field_name: int(v) if field_name == "n_agents" else float(v)})
        sweep.results.append(run_check(check, problem, settings))
        if on_done:
            on_done()
    return sweep


WIDE = 110
"""Terminal columns from which the table shows the statistic column (narrower: a legend below the table)."""


def print_table(console: Console, checks: Sequence[CheckResult], title: str = "quorumsgd verify") -> None:
    """The checks as a table; below :data:`WIDE` columns the statistics move to a legend (never wrapped)."""
    if not checks:
        return
    wide = console.width >= WIDE
    table = Table(title=title, box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD)
    columns = [("theorem", "left"), ("statistic", "left"), ("bound", "right"), ("measured", "right"),
               ("upper conf.", "right"), ("tightness", "right"), ("verdict", "left")]
    for col, justify in columns if wide else [c for c in columns if c[0] != "statistic"]:
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    colors = {"holds": "green", "violated": "bold red", "inconclusive": "yellow"}
    for r in checks:
        cells = [r.name, r.statistic, f"{r.bound:.4g}", f"{r.measured:.4g}", f"{r.upper_confidence:.4g}"
                 if r.direction == "upper" else f"(lcb) {r.lower_confidence:.4g}",
                 f"{r.tightness:.3f}", f"[{colors[r.verdict]}]{r.verdict}[/]"]
        table.add_row(*(cells if wide else cells[:1] + cells[2:]))
    console.print(table)
    if not wide:
        for r in checks:
            console.print(f"  {r.name}: {r.statistic}", markup=False, highlight=False, soft_wrap=True)


def plot_sweep(sweep: Sweep, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(sweep.values[: len(sweep.results)])  # an interrupted sweep: the points that finished
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(x, [r.bound for r in sweep.results], "o-", label=f"bound ({sweep.check})")
    ax.plot(x, [r.measured for r in sweep.results], "s-", label="measured")
    ax.plot(x, [r.upper_confidence for r in sweep.results], "v--", label="upper confidence bound", alpha=0.7)
    ax.set_xlabel(sweep.field)
    ax.set_ylabel(sweep.results[0].statistic if sweep.results else "")
    if sweep.field == "n_agents":
        ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_title(f"{sweep.check}: bound vs measured across {sweep.field}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "—" if value is None else format(value, spec)


def _markdown(checks: Sequence[CheckResult], claims: Sequence[Any], sweeps: Sequence[Sweep],
              plots: dict[str, str], interrupted: bool = False, sandwiches: Sequence[dict[str, Any]] = (),
              sdp_table: Sequence[Any] = ()) -> str:
    lines = ["# quorumsgd verification report" + (" (interrupted: partial)" if interrupted else ""), "",
             *(["**Interrupted**: only the checks, sweep points and claims below finished.", ""]
               if interrupted else []),
             "Measured stationary statistics against the bounds derived in `quorumsgd.bounds`. "
             "`holds`: upper confidence bound <= bound; `violated`: lower confidence bound > bound.", "",
             "| theorem | statistic | bound | measured | upper conf. | tightness | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in checks:
        lines.append(f"| {r.name} | {r.statistic} | {r.bound:.4g} | {r.measured:.4g} | {r.upper_confidence:.4g} | "
                     f"{r.tightness:.3f} | {r.verdict} |")
    violated = [r for r in checks if r.verdict == "violated"]
    if violated:
        lines += ["", "## Violations (findings)", ""]
        for r in violated:
            lines.append(f"- **{r.name}**: measured {r.measured:.6g} (lower conf. {r.lower_confidence:.6g}) > "
                         f"bound {r.bound:.6g}. Reproduce with: `{json.dumps(r.params)}`")
    if sandwiches:
        lines += ["", "## The sandwich: the worst case from both sides", "",
                  "At each check's parameters: the measured value (a lower bound on the worst case over the class), "
                  "the SDP certificate over S(lambda, L) (an upper bound; `quorumsgd bound NAME --method sdp`), the "
                  "paper's bound, and the exact value on the isotropic quadratic of curvature lambda.", "",
                  "| theorem | found | SDP certificate | paper | exact quadratic | certified / found | paper / found |",
                  "|---|---|---|---|---|---|---|"]
        for w in sandwiches:
            lines.append(f"| {w['theorem']} | {_fmt(w['found'])} | {_fmt(w['sdp'])} | {_fmt(w['paper'])} | "
                         f"{_fmt(w['exact_quadratic'])} | {_fmt(w['certified_over_found'], '.3f')} | "
                         f"{_fmt(w['paper_over_found'], '.3f')} |")
    if sdp_table:
        from quorumsgd.bounds.sdp import table as sdp

        lines += ["", "## Certified worst case over S(lambda, L), by agents p, coupling k and dimension n", "",
                  "`certified`: the square root of the SDP-certified stationary second moment over every "
                  "lambda-strongly convex, L-smooth objective (any dimension); `quadratic`: the worst isotropic "
                  "quadratic of the class (exact); `paper n=…`: (47) / (51) / (54) with Q of the log-cosh member "
                  "of the class; `discrete`: the certificate of the discrete iteration with step lr. "
                  f"Parameters: {sdp.caption()} (`python -m quorumsgd.bounds.sdp.table`).", "",
                  *[f"- {line}" for line in sdp.summary(list(sdp_table))], "", sdp.markdown(list(sdp_table))]
    if claims:
        lines += ["", "## Claims ledger", "", "| claim | statement | verdict | evidence |", "|---|---|---|---|"]
        for c in claims:
            lines.append(f"| {c.claim} | {c.statement} | {c.verdict} | {c.evidence} |")
    if plots:
        lines += ["", "## Bound vs measured", ""]
        for name, file in plots.items():
            lines.append(f"![{name}]({file})")
    return "\n".join(lines) + "\n"


def write_report(out: Path, checks: Sequence[CheckResult], claims: Sequence[Any], sweeps: Sequence[Sweep],
                 interrupted: bool = False, sandwiches: Sequence[dict[str, Any]] = (),
                 sdp_table: Sequence[Any] = ()) -> dict[str, Any]:
    """Write ``report.md``, ``report.json`` and the PNG plots into ``out``; return the JSON object.

    ``interrupted`` marks a partial report (Ctrl-C): ``"interrupted": true`` in the JSON, a note in Markdown.
    ``sandwiches`` (:func:`quorumsgd.verify.sandwich.sandwich_for_check` of the checks) adds the worst case
    from both sides; ``sdp_table`` (rows of :func:`quorumsgd.bounds.sdp.table.sandwich`) the certificate over
    the class for every (p, k, n) beside the paper's bound.
    """
    out.mkdir(parents=True, exist_ok=True)
    plots: dict[str, str] = {}
    for sw in (s for s in sweeps if s.results):
        name = f"{sw.check.replace('.', '_').replace(':', '_')}_vs_{sw.field}.png"
        plot_sweep(sw, out / name)
        plots[f"{sw.check} vs {sw.field}"] = name
    for c in claims:
        if getattr(c, "plot", None):
            plots[f"claim {c.claim}"] = c.plot
    payload = {
        "checks": [r.to_json() for r in checks],
        "claims": [c.to_json() for c in claims],
        "sweeps": [s.to_json() for s in sweeps],
        "plots": plots,
        "violations": [r.name for r in checks if r.verdict == "violated"],
        "interrupted": interrupted,
        "sandwich": list(sandwiches),
    }
    if sdp_table:
        from quorumsgd.bounds.sdp.table import to_json

        payload["sdp_table"] = to_json(list(sdp_table))
        __import__("quorumsgd.bounds.bracket.table", fromlist=["add_to_report"]).add_to_report(payload, out)
    (out / "report.json").write_text(json.dumps(payload, indent=1, allow_nan=False))
    (out / "report.md").write_text(_markdown(checks, claims, sweeps, plots, interrupted, sandwiches, sdp_table))
    return payload


def quick_settings(thorough: bool, device: str | None) -> Settings:
    from quorumsgd.verify.checks import QUICK, THOROUGH

    base = THOROUGH if thorough else QUICK
    if device and device != "cpu":
        base = replace(base, backend="torch", device=device, dtype="float32" if not thorough else "float64")
    return base
