"""``quorumsgd bound NAME --flag value ...``: the bound calculator on the command line.

Every parameter of :mod:`quorumsgd.parameters` is a flag (design.md names); a theorem rejects flags it does
not take, so a typo never silently changes nothing.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from quorumsgd import theorem_cache
from quorumsgd.clikit import dumps
from quorumsgd.errors import InvalidParameter
from quorumsgd.parameters import PARAMETERS, validate_values

# SymPy and the derivations (quorumsgd.bounds) are imported only where the cache of compiled theorems cannot
# answer (--list, stability, --metric lmi, theorems with a prepare hook): one evaluation stays under a second.

_FIXED = ("name", "list_", "json_", "algorithm", "metric")


def _theorem_parameters(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if name == "stability":
        return ("lr", "curvature", "coupling", "n_agents"), ("algorithm",)
    numeric = theorem_cache.compiled(name)
    if numeric is None:
        from quorumsgd import bounds

        th = bounds.theorem(name)
        return th.parameters, tuple(th.optional)
    return numeric.parameters, tuple(numeric.optional)


def _list_json() -> list[dict[str, Any]]:
    from quorumsgd import bounds

    rows = []
    for name in bounds.NAMES:
        required, optional = _theorem_parameters(name)
        if name == "stability":
            title, equation, hyps = "Discrete-time stability on a 1-D quadratic", "", []
        else:
            th = bounds.theorem(name)
            title, equation = th.title, th.equation
            hyps = [{"statement": h.statement, "equation": h.equation} for h in th.hypotheses]
        rows.append({"name": name, "title": title, "equation": equation, "parameters": list(required),
                     "optional": list(optional), "hypotheses": hyps})
    return rows


def _list_theorems(console: Console) -> None:
    from quorumsgd import bounds

    table = Table(title="quorumsgd bound NAME: theorems, parameters and hypotheses", show_lines=True)
    for column in ("name", "result", "parameters", "hypotheses"):
        table.add_column(column)
    for name in bounds.NAMES:
        required, optional = _theorem_parameters(name)
        flags = " ".join(PARAMETERS[p].flag for p in required)
        if optional:
            flags += " [" + " ".join(f"--{o.replace('_', '-')}" for o in optional) + "]"
        if name == "stability":
            title, hyps = "Discrete-time stability on a 1-D quadratic (spec §2.6)", "(none: reports stable / unstable)"
        else:
            th = bounds.theorem(name)
            title = f"{th.title} {th.equation}"
            hyps = "\n".join(f"{h.statement} {h.equation}" for h in th.hypotheses) or "(parameter domains only)"
        table.add_row(name, title, flags, hyps)
    console.print(table)


def _print_result(console: Console, result: dict[str, Any]) -> None:
    """The human form of the JSON object (``BoundResult.to_json``)."""
    console.print(f"[bold]{result['name']}[/bold] — {result['title']} {result['equation']}", soft_wrap=True)
    console.print(f"value = [bold cyan]{result['value']:.10g}[/bold cyan]")
    table = Table(show_header=True)
    table.add_column("term")
    table.add_column("value", justify="right")
    for key, val in result["terms"].items():
        table.add_row(key, f"{val:.10g}")
    console.print(table)
    if result["transient_rates"]:
        rates = ", ".join(f"{k} = {v:.6g}" for k, v in result["transient_rates"].items())
        console.print(f"after exponential transients of rates: {rates}")
    for check in result["hypotheses"]:
        mark = "[green]✓[/green]" if check["holds"] else "[red]✗[/red]"
        console.print(f"{mark} hypothesis {check['statement']} {check['equation']}", soft_wrap=True)
    console.print(f"LaTeX: {result['latex']}", markup=False, highlight=False, soft_wrap=True)
    if result["spec_difference"]:
        console.print(f"note: {result['spec_difference']}", markup=False, highlight=False, soft_wrap=True)


def _bound_command(**kwargs: Any) -> None:
    name, list_, json_, algorithm, metric = (kwargs.pop(k) for k in _FIXED)
    console = Console()
    if list_:
        if json_:
            print(dumps(_list_json(), where="bound --list"))
        else:
            _list_theorems(console)
        return
    names = theorem_cache.names()
    if name is None:
        raise InvalidParameter("NAME", f"be one of {', '.join(names)} (or use --list)")
    if name not in names:
        raise InvalidParameter("NAME", f"be one of {', '.join(names)}", name)
    required, optional = _theorem_parameters(name)
    given = {k: v for k, v in kwargs.items() if v is not None}
    validate_values(given, where=name)  # domain errors first: they name the offending flag's value
    if metric not in ("paper", "lmi"):
        raise InvalidParameter("--metric", "be paper or lmi", metric)
    if metric == "lmi":  # thm5.2 / thm5.3 with certified metrics: its own parameter list (adds smoothness)
        from quorumsgd import bounds

        _show(console, bounds.evaluate(name, metric="lmi", **given).to_json(), json_)
        return
    for key in given:
        if key not in required and key not in optional:
            takes = " ".join(PARAMETERS[p].flag for p in (*required, *optional) if p in PARAMETERS)
            raise InvalidParameter(PARAMETERS[key].flag, f"not be given: {name} takes {takes}")
    for key in required:
        if key not in given:
            raise InvalidParameter(PARAMETERS[key].flag, f"be given for {name} ({PARAMETERS[key].description})")
    if name == "stability":
        given["algorithm"] = algorithm
    elif algorithm != "qsgd":
        raise InvalidParameter("--algorithm", "be given only for stability")
    numeric = None if name == "stability" else theorem_cache.compiled(name)
    if numeric is not None:  # the usual case: no SymPy, no derivation
        _show(console, numeric.to_json(numeric.evaluate(**given)), json_)
    else:
        from quorumsgd import bounds

        _show(console, bounds.evaluate(name, **given).to_json(), json_)


def _show(console: Console, payload: dict[str, Any], json_: bool) -> None:
    text = dumps(payload, where=payload["name"])  # strict JSON; also refuses to print a non-finite number
    if json_:
        print(text)
    else:
        _print_result(console, payload)


def _signature() -> inspect.Signature:
    params = [
        inspect.Parameter(
            "name",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=str | None,
            default=typer.Argument(None, help="theorem name (see --list)", show_default=False),
        ),
        inspect.Parameter(
            "list_",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(False, "--list", help="list the theorems, parameters, hypotheses"),
        ),
        inspect.Parameter(
            "json_",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(False, "--json", help="print one JSON object"),
        ),
        inspect.Parameter(
            "metric",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=typer.Option("paper", "--metric", help="thm5.2 / thm5.3: paper or lmi (certified metric)"),
        ),
        inspect.Parameter(
            "algorithm",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=typer.Option("qsgd", "--algorithm", help="stability only: qsgd or easgd"),
        ),
    ]
    for p in PARAMETERS.values():
        params.append(
            inspect.Parameter(
                p.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=float | None,
                default=typer.Option(None, p.flag, help=f"{p.description} ({p.constraint})", show_default=False),
            )
        )
    return inspect.Signature(params)


def bound_command(**kwargs: Any) -> None:
    """Evaluate a bound of the paper: value, named terms, transient rates, hypotheses and LaTeX."""
    _bound_command(**kwargs)


bound_command.__signature__ = _signature()  # type: ignore[attr-defined]
bound_command.__annotations__ = {p.name: p.annotation for p in _signature().parameters.values()}
