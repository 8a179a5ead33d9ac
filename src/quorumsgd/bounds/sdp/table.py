r"""The sandwich table: the certificate over :math:`\mathcal S(\lambda,L)` next to the paper's bound and the exact
value of the worst isotropic quadratic of the class.

For each theorem (5.1, 5.2, 5.3), number of agents :math:`p` and coupling :math:`k`:

* ``certified`` — :math:`\sqrt{\text{certified second moment}}` (SDE), which bounds :math:`\mathbb E\|\cdot\|` by
  Jensen, for every :math:`f\in\mathcal S(\lambda,L)`, every dimension :math:`n`;
* ``quadratic`` — :math:`\sqrt{\mathbb E\|\cdot\|^2}` on the worst :math:`\frac h2\|\mathbf x\|^2`, :math:`h` on a grid
  of :math:`[\lambda,L]` (exact Lyapunov oracle), a lower bound on the true worst case;
* ``paper(n)`` — (47) / (51) / (54) with :math:`Q` of the log-cosh member of the same class
  (:class:`~quorumsgd.objectives.LogCosh` with curvature :math:`L-\lambda`), for :math:`n\in\{1,10,1000\}`;
  ``-`` where its hypotheses fail;
* ``discrete`` — the certificate of the discrete iteration with step ``lr`` ((41), (3), (42)--(43) with
  heavy-ball ``momentum`` :math:`\mu`), ``no cert`` where no certificate exists (an unstable step, or heavy-ball momentum
  beyond what a quadratic Lyapunov function can certify).

Run ``python -m quorumsgd.bounds.sdp.table`` (markdown on stdout; ``--help`` for the parameters);
``quorumsgd verify`` puts the table at its defaults into its report (:func:`cached_sandwich`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from quorumsgd import bounds
from quorumsgd.bounds.sdp.certificate import SDPInfeasible
from quorumsgd.bounds.sdp.theorems import THEOREMS, certify_point
from quorumsgd.errors import QuorumSGDError
from quorumsgd.objectives import GaussianNoise, LogCosh, Quadratic
from quorumsgd.simulate import linearize

N_AGENTS = (1, 2, 4, 16, 64)
COUPLINGS = (0.0, 0.1, 1.0, 10.0, 100.0)  # multiples of lambda
DIMS = (1, 10, 1000)


@dataclass(frozen=True)
class Row:
    name: str
    n_agents: int
    coupling: float
    certified: float
    quadratic: float
    paper: dict[int, float]
    discrete: float


def _quadratic(name: str, point: dict[str, float], curvatures: np.ndarray) -> float:
    th = THEOREMS[name]
    p = int(point["n_agents"])
    worst = 0.0
    for h in curvatures:
        law = linearize(th.continuous(point), Quadratic.isotropic(1, float(h)), p, GaussianNoise.isotropic(1, point["sigma2"]),
                        point["lr"], point["batch_size"]).stationary()
        m2 = law.expected_center_error_sq(np.zeros(1))
        for extra in th.target[1:]:
            mean, cov = law.marginal({"quorum": "quorum", "center_velocity": "v"}[extra])
            if extra == "center_velocity":
                sel = np.full((1, p), 1 / p)
                mean, cov = sel @ mean, sel @ cov @ sel.T
            m2 += float(np.trace(cov) + mean @ mean)
        worst = max(worst, m2)
    return float(np.sqrt(worst))


def _paper(name: str, point: dict[str, float], dim: int) -> float:
    q = LogCosh(dim=1, strong_convexity=point["strong_convexity"],
                curvature=point["smoothness"] - point["strong_convexity"]).q
    kw = {k: point[k] for k in ("n_agents", "lr", "batch_size", "sigma2", "strong_convexity", "coupling")}
    kw.update(dim=dim, q=q)
    if name == "thm5.3":
        kw.update(smoothness=point["smoothness"], damping=point["damping"])
    try:
        return float(bounds.evaluate(name, **kw).value)
    except QuorumSGDError:
        return float("nan")


def sandwich(lr: float = 0.1, batch_size: float = 32.0, sigma2: float = 4.0, strong_convexity: float = 0.5,
             smoothness: float = 2.0, damping: float = 2.0, momentum: float = 0.5,
             names: tuple[str, ...] = ("thm5.1", "thm5.2", "thm5.3"), n_agents: tuple[int, ...] = N_AGENTS,
             couplings: tuple[float, ...] = COUPLINGS, dims: tuple[int, ...] = DIMS) -> list[Row]:
    """The rows of the table (``couplings`` are multiples of ``strong_convexity``)."""
    return list(rows(lr, batch_size, sigma2, strong_convexity, smoothness, damping, momentum, names, n_agents,
                     couplings, dims))


def rows(lr: float, batch_size: float, sigma2: float, strong_convexity: float, smoothness: float, damping: float,
         momentum: float, names: tuple[str, ...], n_agents: tuple[int, ...], couplings: tuple[float, ...],
         dims: tuple[int, ...]) -> Iterator[Row]:
    """:func:`sandwich` one row at a time (so that an interrupted run keeps what it finished)."""
    hs = np.linspace(strong_convexity, smoothness, 7)
    for name in names:
        for p in n_agents:
            for mult in couplings:
                point: dict[str, Any] = dict(n_agents=p, coupling=mult * strong_convexity, lr=lr,
                                             batch_size=batch_size, sigma2=sigma2, strong_convexity=strong_convexity,
                                             smoothness=smoothness, damping=damping, momentum=momentum)
                try:
                    cert = float(np.sqrt(certify_point(name, point).second_moment))
                except SDPInfeasible:
                    cert = float("inf")
                try:
                    disc = float(np.sqrt(certify_point(name, point, discrete=True).second_moment))
                except SDPInfeasible:
                    disc = float("inf")
                quad = _quadratic(name, point, hs) if np.isfinite(cert) else float("nan")
                yield Row(name, p, mult, cert, quad, {n: _paper(name, point, n) for n in dims}, disc)


def caption(**params: Any) -> str:
    """The parameters of a table, ``sandwich``'s defaults where not given (one line, for its readers)."""
    import inspect

    defaults = {k: v.default for k, v in inspect.signature(sandwich).parameters.items()
                if isinstance(v.default, float)}
    values = {**defaults, **params}
    return ", ".join(f"{k}={v:g}" for k, v in values.items()) + " (momentum: the discrete heavy ball)"


def cached_sandwich(**params: Any) -> list[Row]:
    """:func:`sandwich`, remembered on disk beside the compiled theorems (:mod:`quorumsgd.theorem_cache`: the
    same key of versions and sources, so any change of the code recomputes it). Plain numbers only: nothing
    in the file is executed. Used by ``quorumsgd verify``, which would otherwise spend seconds re-solving
    the same 150 SDPs on every run.
    """
    from quorumsgd.theorem_cache import cache_folder

    folder = cache_folder()
    tag = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = None if folder is None else folder / f"sdp-table-{tag}.json"
    if path is not None:
        try:
            return [Row(**{**d, "paper": {int(n): v for n, v in d["paper"].items()}})
                    for d in json.loads(path.read_text())]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    table = sandwich(**params)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sdp-table.", suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump([asdict(r) for r in table], fh)  # inf / nan kept (Python's JSON dialect, our file)
            os.replace(tmp, path)
        except OSError:
            pass
    return table


def to_json(table: list[Row]) -> list[dict[str, Any]]:
    """Strict-JSON rows: ``None`` where a value is not finite (no certificate, hypotheses of the paper fail)."""
    def clean(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return [{"theorem": r.name, "n_agents": r.n_agents, "coupling_over_lambda": r.coupling,
             "certified": clean(r.certified), "quadratic": clean(r.quadratic),
             "paper": {str(n): clean(v) for n, v in r.paper.items()}, "discrete": clean(r.discrete)}
            for r in table]


def summary(table: list[Row]) -> list[str]:
    """Where the certificate beats the paper's bound and by how much: one line per theorem and dimension."""
    lines = []
    for name in dict.fromkeys(r.name for r in table):
        rows_ = [r for r in table if r.name == name and np.isfinite(r.certified)]
        for n in sorted(table[0].paper):
            ratios = np.array([r.paper[n] / r.certified for r in rows_ if np.isfinite(r.paper[n])])
            if ratios.size == 0:
                lines.append(f"{name}, n={n}: the paper's bound does not apply at any point")
                continue
            wins = int(np.sum(ratios > 1.0 + 1e-9))
            lines.append(f"{name}, n={n}: certificate below the paper's bound at {wins} of {ratios.size} points "
                         f"(paper / certified {ratios.min():.3g}–{ratios.max():.3g})")
    return lines


def _fmt(x: float, unstable: str = "-") -> str:
    if np.isnan(x):
        return "-"
    if np.isinf(x):
        return unstable
    return f"{x:.4g}"


def markdown(table: list[Row]) -> str:
    """The table as markdown: values, then paper / certified and certified / quadratic."""
    dims = sorted(table[0].paper)
    head = ["thm", "p", "k/λ", "certified", "quadratic", *[f"paper n={n}" for n in dims], "discrete",
            "cert/quad", *[f"paper/cert n={n}" for n in dims]]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        ratios = [(r.paper[n] / r.certified) if np.isfinite(r.certified) else np.nan for n in dims]
        cells = [r.name, str(r.n_agents), f"{r.coupling:g}", _fmt(r.certified, "none"), _fmt(r.quadratic),
                 *[_fmt(r.paper[n]) for n in dims], _fmt(r.discrete, "no cert"),
                 _fmt(r.certified / r.quadratic if np.isfinite(r.certified) else np.nan),
                 *[_fmt(x) for x in ratios]]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0].replace(":math:", ""))
    for flag, default in (("--lr", 0.1), ("--batch-size", 32.0), ("--sigma2", 4.0), ("--strong-convexity", 0.5),
                          ("--smoothness", 2.0), ("--damping", 2.0), ("--momentum", 0.5)):
        parser.add_argument(flag, type=float, default=default)
    args = parser.parse_args(argv)
    done: list[Row] = []
    try:
        for row in rows(args.lr, args.batch_size, args.sigma2, args.strong_convexity, args.smoothness, args.damping,
                        args.momentum, ("thm5.1", "thm5.2", "thm5.3"), N_AGENTS, COUPLINGS, DIMS):
            done.append(row)
    except KeyboardInterrupt:
        print(f"interrupted: printing the {len(done)} rows finished", file=sys.stderr)
    if not done:
        return
    print(caption(**vars(args)) + "\n")
    print(markdown(done))


if __name__ == "__main__":
    main()
