"""``quorumsgd bracket NAME``: the worst case over S(lambda, L) between a verified certificate and a member."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console


def bracket_command(
    name: str = typer.Argument(..., metavar="NAME", help="thm5.1, thm5.2 or thm5.3 (SDE)"),
    n_agents: int = typer.Option(..., "--n-agents", help="number of agents p"),
    coupling: float = typer.Option(..., "--coupling", help="coupling gain k"),
    lr: float = typer.Option(..., "--lr", help="learning rate eta"),
    batch_size: float = typer.Option(1.0, "--batch-size", help="batch size b"),
    sigma2: float = typer.Option(..., "--sigma2", help="noise bound tr(Sigma) <= sigma^2"),
    strong_convexity: float = typer.Option(..., "--strong-convexity", help="lambda of S(lambda, L)"),
    smoothness: float = typer.Option(..., "--smoothness", help="L of S(lambda, L)"),
    damping: float | None = typer.Option(None, "--damping", help="momentum damping gamma (thm5.3)"),
    max_switches: int = typer.Option(2, "--max-switches", help="switch points of the searched curvature profiles"),
    seed: int = typer.Option(0, "--seed", help="seed of the search and of the Monte Carlo"),
    json_: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Upper (verified certificate), lower (explicit member), ratio and witness of the long-run second moment."""
    from quorumsgd.bounds.worst_case.table import bracket
    from quorumsgd.errors import InvalidParameter

    if max_switches < 1:
        raise InvalidParameter("--max-switches", "be >= 1", max_switches, "bracket")
    params: dict[str, Any] = dict(n_agents=n_agents, coupling=coupling, lr=lr, batch_size=batch_size, sigma2=sigma2,
                  strong_convexity=strong_convexity, smoothness=smoothness)
    if name == "thm5.3":
        params["damping"] = damping
    elif damping is not None:
        raise InvalidParameter("--damping", "be given only for thm5.3", damping, "bracket")
    r = bracket(name, max_switches=max_switches, seed=seed, **params)
    if json_:
        print(json.dumps(r.to_json()))
        return
    w = r.witness
    Console().print(
        f"{name} p={r.n_agents} k={r.coupling:g}: upper {r.upper:.6g} ({r.upper_method}, for {r.upper_scope}; "
        f"every dimension {r.upper_all_dims:.6g}; SDP {r.sdp:.6g}), "
        f"lower {r.lower:.6g} (lcb {r.lower_lcb:.6g}, {w['method']}), ratio {r.ratio:.4f}\n"
        f"witness: curvature_profile switches={[round(t, 6) for t in w['switches']]} curvatures={w['curvatures']}")
