"""``quorumsgd bound NAME --flag value ...``: the bound calculator on the command line.

Every parameter of :mod:`quorumsgd.parameters` is a flag (the toolkit's names); a theorem rejects flags it does
not take, so a typo never silently changes nothing.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from quorumsgd import theorem_cache
from quorumsgd.bounds import registry
from quorumsgd.clikit import dumps
from quorumsgd.errors import InvalidParameter
from quorumsgd.numeric_theorem import NumericTheorem
from quorumsgd.parameters import PARAMETERS, validate_values

# SymPy and the derivations (quorumsgd.bounds) are imported only where the cache of compiled theorems cannot
# answer (stability, --metric lmi, --method sdp, theorems with a prepare hook): one evaluation stays under a
# second. Names, parameters and hypotheses' statements come from the registry, which needs no SymPy.

_FIXED = ("name", "list_", "json_", "algorithm", "metric", "method", "discrete")


def _theorem_parameters(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    entry = registry.REGISTRY[name]
    return entry.parameters, tuple(entry.optional)


def _list_json() -> list[dict[str, Any]]:
    return [
        {"name": e.name, "title": e.title, "equation": e.equation, "parameters": list(e.parameters),
         "optional": list(e.optional), "hypotheses": [{"statement": st, "equation": eq} for st, eq in e.hypotheses]}
        for e in registry.ENTRIES
    ]


def _list_theorems(console: Console) -> None:
    table = Table(title="quorumsgd bound NAME: theorems, parameters and hypotheses", show_lines=True)
    for column in ("name", "result", "parameters", "hypotheses"):
        table.add_column(column)
    for entry in registry.ENTRIES:
        table.add_row(entry.name, f"{entry.title} {entry.equation}", entry.flags, entry.hypotheses_text())
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
    if result.get("method") == "sdp":
        console.print(f"method = sdp, status = {result['status']}, verified = {result['verified']}")


def _show(console: Console, payload: dict[str, Any], json_: bool) -> None:
    text = dumps(payload, where=payload["name"])  # strict JSON; also refuses to print a non-finite number
    if json_:
        print(text)
    else:
        _print_result(console, payload)


def _bound_command(**kwargs: Any) -> None:
    name, list_, json_, algorithm, metric, method, discrete = (kwargs.pop(k) for k in _FIXED)
    console = Console()
    if list_:
        if json_:
            print(dumps(_list_json(), where="bound --list"))
        else:
            _list_theorems(console)
        return
    if name is None:
        raise InvalidParameter("NAME", f"be one of {', '.join(registry.NAMES)} (or use --list)")
    if name not in registry.NAMES:
        raise InvalidParameter("NAME", f"be one of {', '.join(registry.NAMES)}", name)
    required, optional = _theorem_parameters(name)
    given = {k: v for k, v in kwargs.items() if v is not None}
    validate_values(given, where=name)  # domain errors first: they name the offending flag's value
    if method not in ("closed_form", "sdp"):
        raise InvalidParameter("--method", "be closed_form or sdp", method)
    if discrete and method != "sdp":
        raise InvalidParameter("--discrete", "be used only with --method sdp")
    if method == "sdp":  # certificate over S(lambda, L): its own parameter list (needs smoothness, no q)
        _sdp_command(console, name, given, metric, algorithm, discrete, json_)
        return
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
    if "algorithm" in optional:
        given["algorithm"] = algorithm
    elif algorithm != "qsgd":
        raise InvalidParameter("--algorithm", f"be used only with {', '.join(registry.used_by('algorithm'))}")
    numeric = None if "algorithm" in optional else theorem_cache.compiled(name, _derived)
    if numeric is not None:  # the usual case: no SymPy, no derivation
        _show(console, numeric.to_json(numeric.evaluate(**given)), json_)
    else:
        from quorumsgd import bounds

        _show(console, bounds.evaluate(name, **given).to_json(), json_)


def _derived(name: str) -> NumericTheorem | None:
    """The derivation the compiled-theorem cache stores (it does not import the bounds package itself)."""
    from quorumsgd import bounds

    return None if name not in bounds.NAMES or name == "stability" else bounds.theorem(name).numeric


def _flag_help(name: str) -> str:
    """A parameter flag's help: what it is, its domain, and which theorems take it (from the registry)."""
    param = PARAMETERS[name]
    users = registry.used_by(name)
    return f"{param.description} ({param.constraint})" + (f"; for {', '.join(users)}" if users else "")


def _sdp_command(console: Console, name: str, given: dict[str, Any], metric: str, algorithm: str, discrete: bool,
                 json_: bool) -> None:
    from quorumsgd import bounds
    from quorumsgd.bounds.sdp import THEOREMS

    if name not in THEOREMS:
        raise InvalidParameter("NAME", f"be one of {', '.join(THEOREMS)} with --method sdp", name)
    if metric != "paper" or algorithm != "qsgd":
        raise InvalidParameter("--metric/--algorithm", "not be used with --method sdp")
    if "smoothness" not in given:
        raise InvalidParameter("--smoothness", "be given with --method sdp (the certificate is over S(lambda, L))")
    _show(console, bounds.evaluate(name, method="sdp", discrete=discrete, **given).to_json(), json_)


def _signature() -> inspect.Signature:
    params = [
        inspect.Parameter(
            "name",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=str | None,
            default=typer.Argument(None, help=f"theorem name: {', '.join(registry.NAMES)} (see --list)",
                                   show_default=False),
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
            "method",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=typer.Option("closed_form", "--method",
                                 help="closed_form (the paper's bound) or sdp (certificate over S(lambda, L); "
                                 "sgd, thm5.1, thm5.2, thm5.3, lemma3.1; needs --smoothness)"),
        ),
        inspect.Parameter(
            "discrete",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(False, "--discrete", help="with --method sdp: certify the discrete iteration "
                                 "(41), (3), (42)-(43) with step --lr"),
        ),
        inspect.Parameter(
            "algorithm",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=typer.Option("qsgd", "--algorithm",
                                 help=f"{', '.join(registry.used_by('algorithm'))} only: "
                                 + " or ".join(registry.REGISTRY["stability"].choices["algorithm"])),
        ),
    ]
    for p in PARAMETERS.values():
        params.append(
            inspect.Parameter(
                p.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=float | None,
                default=typer.Option(None, p.flag, help=_flag_help(p.name), show_default=False),
            )
        )
    return inspect.Signature(params)


def bound_command(**kwargs: Any) -> None:
    """Evaluate a bound of the paper: value, named terms, transient rates, hypotheses and LaTeX."""
    _bound_command(**kwargs)


bound_command.__signature__ = _signature()  # type: ignore[attr-defined]
bound_command.__annotations__ = {p.name: p.annotation for p in _signature().parameters.values()}
