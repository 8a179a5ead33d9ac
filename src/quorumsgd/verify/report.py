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
from rich.table import Table as RichTable

from quorumsgd.verify.checks import Settings, default_problem, run_check
from quorumsgd.verify.document import Block, Bullets, Heading, Image, Markdown, Paragraph, Table, to_markdown
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

SWEEP_SYMBOLS = {"n_agents": "p", "coupling": "k", "damping": "gamma", "lr": "eta"}
"""The paper's symbol of a swept field, for the sweep rows' labels (``thm5.1 p=4``)."""

_COLORS = {"holds": "green", "violated": "bold red", "inconclusive": "yellow"}


def sweep_labels(sweeps: Sequence[Sweep]) -> dict[int, str]:
    """``id(result) -> "thm5.1 p=4"`` for every finished point of the sweeps: the label of a sweep row."""
    return {id(r): f"{sw.check} {SWEEP_SYMBOLS.get(sw.field, sw.field)}={v:g}"
            for sw in sweeps for r, v in zip(sw.results, sw.values, strict=False)}


def _confidence_cell(r: CheckResult) -> str:
    # The confidence bound that decides the verdict: the upper one for a bound, the lower one for a rate.
    return f"{r.upper_confidence:.4g}" if r.direction == "upper" else f"lcb {r.lower_confidence:.4g}"


def print_table(console: Console, checks: Sequence[CheckResult], title: str = "quorumsgd verify",
                sweeps: Sequence[Sweep] = ()) -> None:
    """The checks, then one row per sweep point (labelled with the swept value), as one table.

    From :data:`WIDE` columns the statistic is a column; narrower, it moves to a legend below the table, and the
    table fits 80 columns (no cell is cut: long text is in the legend, never in a cell).
    """
    rows = [(r.name, r) for r in checks] + [(label, r) for sw in sweeps for label, r in
                                            zip(sweep_labels([sw]).values(), sw.results, strict=True)]
    if not rows:
        return
    wide = console.width >= WIDE
    table = RichTable(title=title, box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD, show_edge=wide,
                  pad_edge=wide, collapse_padding=not wide)
    columns = [("theorem", "left"), ("statistic", "left"), ("bound", "right"), ("measured", "right"),
               ("conf. bd", "right"), ("tight.", "right"), ("verdict", "left")]
    for col, justify in columns if wide else [c for c in columns if c[0] != "statistic"]:
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for i, (label, r) in enumerate(rows):
        if i == len(checks) and i > 0:
            table.add_section()  # the sweep rows below the checks
        cells = [label, r.statistic, f"{r.bound:.4g}", f"{r.measured:.4g}", _confidence_cell(r),
                 f"{r.tightness:.3f}", f"[{_COLORS[r.verdict]}]{r.verdict}[/]"]
        table.add_row(*(cells if wide else cells[:1] + cells[2:]))
    console.print(table)
    console.print("  conf. bd: one-sided upper confidence bound (lcb: the lower one, for a rate); tight.: "
                  "measured / bound (bound / measured for a rate); sweep rows: the check at p agents or coupling k",
                  markup=False, highlight=False)
    if not wide:
        for name in dict.fromkeys(r.name for _, r in rows):
            statistic = next(r.statistic for _, r in rows if r.name == name)
            console.print(f"  {name}: {statistic}", markup=False, highlight=False, soft_wrap=True)


# --- the headline: the sandwich at each theorem's default problem ---------------------------------------------


def sandwiches_of(checks: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """The sandwich (:func:`~quorumsgd.verify.sandwich.sandwich_for_check`) of every check that has one, each with
    the check's name under ``"check"`` (``lemma3.1:multi_lr`` is a theorem's second problem)."""
    from quorumsgd.verify.sandwich import sandwich_for_check

    out = []
    for r in checks:
        w = sandwich_for_check(r)
        if w is not None:
            out.append({**w, "check": r.name})
    return out


def headline(sandwiches: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    r"""Per theorem, at its default problem: the worst case found, the SDP certificate and the paper's bound.

    The true worst case over the class lies in ``[worst_found, min(sdp, paper)]``. ``worst_found`` is the larger
    of two members of the class: the measurement on the default problem and the exact value on the isotropic
    quadratic (``from`` says which); ``known_within`` is ``min(sdp, paper) / worst_found``, the factor to
    which the worst case is pinned down (1: exactly).

    Example:
        >>> row = headline([{"theorem": "thm5.1", "check": "thm5.1", "found": 0.07, "exact_quadratic": 0.15,
        ...                  "sdp": 0.24, "paper": 0.34}])[0]
        >>> row["worst_found"], row["from"], round(row["paper_over_sdp"], 3), round(row["known_within"], 3)
        (0.15, 'exact quadratic', 1.417, 1.6)
    """
    from quorumsgd.bounds.registry import REGISTRY

    rows = []
    for w in sandwiches:
        candidates = [(v, src) for v, src in ((w.get("found"), "measured"), (w.get("exact_quadratic"), "exact quadratic"))
                      if v is not None and np.isfinite(v) and v > 0]
        worst, source = max(candidates, key=lambda c: c[0]) if candidates else (None, None)
        uppers = [v for v in (w.get("sdp"), w.get("paper")) if v is not None]
        entry = REGISTRY.get(w["theorem"])
        rows.append({
            "check": w.get("check", w["theorem"]), "theorem": w["theorem"],
            "label": f"{entry.label} {entry.equation}" if entry else w["theorem"],
            "statistic_latex": entry.statement if entry else None,
            "worst_found": worst, "from": source, "measured": w.get("found"),
            "exact_quadratic": w.get("exact_quadratic"), "sdp": w.get("sdp"), "paper": w.get("paper"),
            "paper_over_sdp": w["paper"] / w["sdp"] if w.get("paper") is not None and w.get("sdp") else None,
            "known_within": min(uppers) / worst if uppers and worst else None,
        })
    return rows


HEADLINE_NOTE = ("The true worst case over the class lies between **worst found** (a member of the class: the "
                 "measurement on the default problem, or the exact isotropic quadratic, whichever is larger) and "
                 "the smaller of the **SDP certificate** over S(lambda, L) and the **paper**'s bound; "
                 "**within**: their ratio (1: pinned down exactly).")


def print_headline(console: Console, sandwiches: Sequence[dict[str, Any]]) -> None:
    """The headline table (:func:`headline`) on the terminal; fits 80 columns."""
    rows = headline(sandwiches)
    if not rows:
        return
    table = RichTable(title="the worst case from both sides, at each default problem", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, collapse_padding=True)
    for col in ("theorem", "worst found", "SDP cert.", "paper", "paper/SDP", "within"):
        table.add_column(col, justify="left" if col == "theorem" else "right", no_wrap=True)
    for h in rows:
        mark = "*" if h["from"] == "exact quadratic" else " "
        table.add_row(h["check"], _fmt(h["worst_found"]) + mark, _fmt(h["sdp"]), _fmt(h["paper"]),
                      _fmt(h["paper_over_sdp"], ".3f"), _fmt(h["known_within"], ".3f"))
    console.print(table)
    console.print("  *: the exact value on the isotropic quadratic (else the measurement on the default problem). "
                  "The worst case lies between worst found and min(SDP cert., paper); within: their ratio.",
                  markup=False, highlight=False)


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


@dataclass(frozen=True)
class ReportData:
    """Everything a section of the report may show (a section is a function of this, see :data:`SECTIONS`).

    ``extra`` carries the data of sections added later (each section takes its own key), so adding a section
    changes neither this class nor :func:`write_report`'s callers.
    """

    checks: Sequence[CheckResult]
    claims: Sequence[Any] = ()
    sweeps: Sequence[Sweep] = ()
    plots: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    sandwiches: Sequence[dict[str, Any]] = ()
    sdp_table: Sequence[Any] = ()
    extra: dict[str, Any] = field(default_factory=dict)


Section = Callable[[ReportData], list[Block]]
"""A section of the report: the blocks it shows (an empty list: the section is left out)."""


def title_section(d: ReportData) -> list[Block]:
    return [Heading("quorumsgd verification report" + (" (interrupted: partial)" if d.interrupted else ""), 1),
            *([Paragraph("**Interrupted**: only the checks, sweep points and claims below finished.")]
              if d.interrupted else [])]


def headline_section(d: ReportData) -> list[Block]:
    rows = headline(d.sandwiches)
    if not rows:
        return []
    table = Table(["theorem", "result", "worst found", "from", "SDP certificate", "paper", "paper / SDP", "within"],
                  [[h["check"], h["label"], _fmt(h["worst_found"]), h["from"] or "—", _fmt(h["sdp"]), _fmt(h["paper"]),
                    _fmt(h["paper_over_sdp"], ".3f"), _fmt(h["known_within"], ".3f")] for h in rows],
                  numeric=(2, 4, 5, 6, 7))
    statements = [f"{h['label']}: ${h['statistic_latex']}$" for h in rows
                  if h["statistic_latex"] and h["check"] == h["theorem"]]
    return [Heading("Headline: the worst case from both sides, at each theorem's default problem"),
            Paragraph(HEADLINE_NOTE + r" In symbols: $\text{found} \le \sup_{f \in \mathcal S(\lambda, L)} "
                      r"\mathbb E\|\cdot\| \le \min(\text{SDP}, \text{paper})$."),
            table, Paragraph("The statements (the paper's bounds):"), Bullets(statements)]


def checks_section(d: ReportData) -> list[Block]:
    if not d.checks:
        return []
    labels = sweep_labels(d.sweeps)
    return [Heading("Bound against measurement"),
            Paragraph("Measured stationary statistics against the bounds derived in `quorumsgd.bounds`. `holds`: "
                      "upper confidence bound <= bound; `violated`: lower confidence bound > bound. Sweep rows "
                      "(e.g. `thm5.1 p=4`) are the check at p agents or coupling k, the rest of its problem unchanged."),
            Table(["theorem", "statistic", "bound", "measured", "upper conf.", "tightness", "verdict"],
                  [[labels.get(id(r), r.name), r.statistic, f"{r.bound:.4g}", f"{r.measured:.4g}",
                    _confidence_cell(r), f"{r.tightness:.3f}", r.verdict] for r in d.checks], numeric=(2, 3, 4, 5))]


def violations_section(d: ReportData) -> list[Block]:
    violated = [r for r in d.checks if r.verdict == "violated"]
    if not violated:
        return []
    return [Heading("Violations (findings)"),
            Bullets([f"**{r.name}**: measured {r.measured:.6g} (lower conf. {r.lower_confidence:.6g}) > bound "
                     f"{r.bound:.6g}. Reproduce with: `{json.dumps(r.params)}`" for r in violated])]


def sandwich_section(d: ReportData) -> list[Block]:
    if not d.sandwiches:
        return []
    return [Heading("The sandwich: the worst case from both sides"),
            Paragraph("At each check's parameters: the measured value (a lower bound on the worst case over the "
                      "class), the SDP certificate over S(lambda, L) (an upper bound; `quorumsgd bound NAME --method "
                      "sdp`), the paper's bound, and the exact value on the isotropic quadratic of curvature lambda."),
            Table(["theorem", "found", "SDP certificate", "paper", "exact quadratic", "certified / found",
                   "paper / found"],
                  [[w["theorem"], _fmt(w["found"]), _fmt(w["sdp"]), _fmt(w["paper"]), _fmt(w["exact_quadratic"]),
                    _fmt(w["certified_over_found"], ".3f"), _fmt(w["paper_over_found"], ".3f")]
                   for w in d.sandwiches], numeric=(1, 2, 3, 4, 5, 6))]


def sdp_table_section(d: ReportData) -> list[Block]:
    if not d.sdp_table:
        return []
    from quorumsgd.bounds.sdp import table as sdp

    return [Heading("Certified worst case over S(lambda, L), by agents p, coupling k and dimension n"),
            Paragraph("`certified`: the square root of the SDP-certified stationary second moment over every "
                      "lambda-strongly convex, L-smooth objective (any dimension); `quadratic`: the worst isotropic "
                      "quadratic of the class (exact); `paper n=…`: (47) / (51) / (54) with Q of the log-cosh "
                      "member of the class; `discrete`: the certificate of the discrete iteration with step lr. "
                      f"Parameters: {sdp.caption()} (`python -m quorumsgd.bounds.sdp.table`)."),
            Bullets(sdp.summary(list(d.sdp_table))), Markdown(sdp.markdown(list(d.sdp_table)))]


def claims_section(d: ReportData) -> list[Block]:
    if not d.claims:
        return []
    return [Heading("Claims ledger"),
            Table(["claim", "statement", "verdict", "evidence"],
                  [[c.claim, c.statement, c.verdict, c.evidence] for c in d.claims])]


def plots_section(d: ReportData) -> list[Block]:
    if not d.plots:
        return []
    return [Heading("Bound vs measured"), *(Image(name, file) for name, file in d.plots.items())]


SECTIONS: list[Section] = [title_section, headline_section, checks_section, violations_section, sandwich_section,
                           sdp_table_section, claims_section, plots_section]
"""The report's sections, in order; a new section is a function ``ReportData -> list[Block]`` inserted here."""


def blocks(data: ReportData, sections: Sequence[Section] | None = None) -> list[Block]:
    """The report's blocks: every section's, in order."""
    return [b for section in (SECTIONS if sections is None else sections) for b in section(data)]


def write_report(out: Path, checks: Sequence[CheckResult], claims: Sequence[Any], sweeps: Sequence[Sweep],
                 interrupted: bool = False, sandwiches: Sequence[dict[str, Any]] = (),
                 sdp_table: Sequence[Any] = (), extra: dict[str, Any] | None = None,
                 html: bool = True, bracket_table: Sequence[Any] | None = None) -> dict[str, Any]:
    """Write ``report.md``, ``report.html``, ``report.json`` and the PNG plots into ``out``; return the JSON object.

    ``interrupted`` marks a partial report (Ctrl-C): ``"interrupted": true`` in the JSON, a note in Markdown.
    ``sandwiches`` (:func:`sandwiches_of` the checks) adds the headline and the worst case from both sides;
    ``sdp_table`` (rows of :func:`quorumsgd.bounds.sdp.table.sandwich`) the certificate over the class for
    every (p, k, n) beside the paper's bound; ``bracket_table`` (rows of
    :func:`quorumsgd.bounds.worst_case.table.bracket_table`) the worst case bracketed point by point (JSON
    ``bracket_table``, ``bracket.md``); ``extra`` the data of further sections (:class:`ReportData`).
    ``report.html`` (:mod:`quorumsgd.verify.html`) shows the same blocks in the proof site's style, offline.
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
    labels = sweep_labels(sweeps)
    payload = {
        "checks": [r.to_json() | ({"sweep_point": labels[id(r)]} if id(r) in labels else {}) for r in checks],
        "claims": [c.to_json() for c in claims],
        "sweeps": [s.to_json() for s in sweeps],
        "plots": plots,
        "violations": [r.name for r in checks if r.verdict == "violated"],
        "interrupted": interrupted,
        "sandwich": list(sandwiches),
        "headline": headline(sandwiches),
    }
    if sdp_table:
        from quorumsgd.bounds.sdp.table import to_json

        payload["sdp_table"] = to_json(list(sdp_table))
    if bracket_table is not None:
        from quorumsgd.bounds.worst_case.table import add_to_report

        add_to_report(payload, out, list(bracket_table))
    (out / "report.json").write_text(json.dumps(payload, indent=1, allow_nan=False))
    data = ReportData(checks, claims, sweeps, plots, interrupted, sandwiches, sdp_table, dict(extra or {}))
    document = blocks(data)
    (out / "report.md").write_text(to_markdown(document))
    if html:
        from quorumsgd.verify.html import write_html

        write_html(out, document, title="quorumsgd verification report" + (" (interrupted)" if interrupted else ""))
    return payload


def quick_settings(thorough: bool, device: str | None) -> Settings:
    from quorumsgd.verify.checks import QUICK, THOROUGH

    base = THOROUGH if thorough else QUICK
    if device and device != "cpu":
        base = replace(base, backend="torch", device=device, dtype="float32" if not thorough else "float64")
    return base
