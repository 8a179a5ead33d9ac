r"""The bracket of the worst case: a verified upper bound and an explicit member's value, point by point.

For a theorem's certified quantity (the long-run second moment of :mod:`quorumsgd.bounds.sdp`: thm5.1
:math:`\mathbb E\bar x^2`, thm5.2 :math:`\mathbb E(\bar x^2+\tilde x^2)`, thm5.3 :math:`\mathbb E(\bar x^2+\bar v^2)`)
over :math:`\mathcal S(\lambda,L)` and noise with :math:`\operatorname{tr}\Sigma\le\sigma^2`:

* ``upper`` — the smallest verified certificate whose class holds the witness: the SDP certificate
  (``bounds.evaluate(name, method="sdp")``) and the moment-interpolation certificate
  (:mod:`quorumsgd.bounds.worst_case.certificate`), both for every dimension and every noise with
  :math:`\operatorname{tr}\Sigma\le\sigma^2` (their minimum is ``upper_all_dims``), and where the agents are
  independent (:math:`k=0` or :math:`p=1`, thm5.1 and thm5.3) the exact one-dimensional certificate
  (:mod:`quorumsgd.bounds.worst_case.one_dimension`: one dimension or separable objectives; every noise
  :math:`s^2(x)\le\eta\sigma^2/b` for thm5.1, constant noise for thm5.3);
  ``upper_scope`` says which class ``upper`` covers;
* ``lower`` — the second moment of an explicit member (``witness``): exact by quadrature where the
  stationary law is known (QSGD everywhere, momentum at k = 0 or p = 1; :mod:`~quorumsgd.bounds.worst_case.exact`),
  else the larger of the worst quadratic (exact linear-SDE oracle) and Monte Carlo of profile candidates;
* ``lower_lcb`` — its one-sided 99 % lower confidence bound (``= lower`` when exact);
* ``ratio = upper / lower`` and ``ratio_lcb = upper / lower_lcb``.

Example:
    >>> r = bracket("thm5.1", n_agents=4, coupling=0.0, lr=1.0, batch_size=1.0, sigma2=1.0,
    ...             strong_convexity=0.5, smoothness=2.0, max_switches=1)
    >>> round(r.lower, 4), round(r.upper, 4), r.upper_method, round(r.upper_all_dims, 4), r.witness["family"]
    (0.3069, 0.3071, 'one-dimension HJB', 0.384, 'curvature_profile')
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from quorumsgd.bounds.worst_case.certificate import certify
from quorumsgd.bounds.worst_case.exact import exact_available
from quorumsgd.bounds.worst_case.one_dimension import applies, theorem_bound
from quorumsgd.bounds.worst_case.search import monte_carlo, quadratic_worst, worst_profile
from quorumsgd.errors import HypothesisViolation, InvalidParameter, NumericalFailure
from quorumsgd.objectives.profile import CurvatureProfile
from quorumsgd.parameters import validate_values

NAMES = ("thm5.1", "thm5.2", "thm5.3")
GRID = {"lr": 1.0, "batch_size": 1.0, "sigma2": 1.0, "strong_convexity": 0.5, "smoothness": 2.0, "damping": 2.0}
N_AGENTS = (1, 2, 4, 8)
COUPLINGS = (0.0, 0.5, 2.0, 8.0)
ALL_DIMS = "every dimension and every noise with tr(Sigma) <= sigma2, also state-dependent"
ONE_DIM = "one dimension (or a separable objective with noise on its axes), constant noise power"
ONE_DIM_ANY_NOISE = "one dimension (or a separable objective with noise on its axes), every noise s2(x) <= sigma2"


@dataclass(frozen=True)
class Bracket:
    """One point: the certified upper bound, the witness's value, and where each comes from."""

    name: str
    n_agents: int
    coupling: float
    upper: float
    lower: float
    lower_lcb: float
    ratio: float
    ratio_lcb: float
    witness: dict[str, Any]
    upper_method: str
    sdp: float
    moment: float | None
    paper: float | None
    upper_all_dims: float
    upper_scope: str

    def to_json(self) -> dict[str, Any]:
        """Strict JSON (``None`` for a non-finite number)."""
        def clean(x: Any) -> Any:
            return float(x) if isinstance(x, (int, float)) and np.isfinite(x) else (None if isinstance(
                x, float) else x)
        return {k: clean(v) for k, v in asdict(self).items()}


def _point(name: str, params: dict[str, Any]) -> dict[str, float]:
    if name not in NAMES:
        raise InvalidParameter("name", f"be one of {', '.join(NAMES)}", name, "bracket")
    needed = ["n_agents", "coupling", "lr", "batch_size", "sigma2", "strong_convexity", "smoothness"]
    if name == "thm5.3":
        needed.append("damping")
    for key in needed:
        if params.get(key) is None:
            raise InvalidParameter(key, f"be given for bracket {name}", where="bracket")
    values = {k: float(v) for k, v in validate_values({k: params[k] for k in needed}, where=name).items()}
    if values["strong_convexity"] > values["smoothness"]:
        raise HypothesisViolation(name, "strong_convexity <= smoothness (a nonempty class S(lambda, L))",
                                  "Def 2.1-2.2", f"{values['strong_convexity']:.6g} > {values['smoothness']:.6g}")
    if name == "thm5.2" and values["coupling"] == 0.0:
        raise InvalidParameter("coupling", "be > 0 for thm5.2 (EASGD's quorum does not move at k = 0)",
                               0.0, "bracket")
    if values["n_agents"] != int(values["n_agents"]) or values["n_agents"] > 16:
        raise InvalidParameter("n_agents", "be an integer in 1..16 for bracket", values["n_agents"], "bracket")
    return values


def _paper(name: str, point: dict[str, float], q: float) -> float | None:
    from quorumsgd import bounds
    from quorumsgd.errors import QuorumSGDError

    kw: dict[str, Any] = {k: point[k] for k in ("n_agents", "lr", "batch_size", "sigma2", "strong_convexity",
                                                "coupling")}
    kw.update(dim=1, q=q)
    if name == "thm5.3":
        kw.update(smoothness=point["smoothness"], damping=point["damping"])
    try:
        return float(bounds.evaluate(name, **kw).value) ** 2  # squared: the paper bounds E|.| (first moment)
    except QuorumSGDError:
        return None


def bracket(name: str, *, max_switches: int = 2, mc_sims: int = 1000, mc_time: float = 30.0, seed: int = 0,
            **params: Any) -> Bracket:
    r"""The bracket at one point (see the module docstring); ``params`` are the theorem's flags.

    Raises:
        InvalidParameter / HypothesisViolation: a missing or out-of-domain parameter.
    """
    given = _point(name, params)
    p, k = int(given["n_agents"]), given["coupling"]
    scale = given["lr"] * given["sigma2"] / given["batch_size"]  # the noise power s^2 = eta sigma^2 / b
    if not (np.isfinite(scale) and scale > 0):
        raise InvalidParameter("lr * sigma2 / batch_size", "be a finite positive noise power", scale, "bracket")
    # Solved at unit noise, then rescaled exactly: x -> s x maps the SDE with noise s^2 on f to unit noise on
    # f_s(y) = f(s y) / s^2, a member of the same class S(lambda, L), so every second moment here (certificates,
    # exact values, Monte Carlo) is linear in s^2 and a witness's switch points scale by s. The solvers then see
    # numbers of order one whatever sigma2 or lr (1e300 would otherwise make the moment SDP unbounded).
    point = {**given, "lr": 1.0, "sigma2": 1.0, "batch_size": 1.0}
    noise = 1.0
    from quorumsgd import bounds

    sdp_kw: dict[str, Any] = {key: point[key] for key in ("n_agents", "coupling", "lr", "batch_size", "sigma2",
                                                          "strong_convexity", "smoothness")}
    if name == "thm5.3":
        sdp_kw["damping"] = point["damping"]
    sdp = float(bounds.evaluate(name, method="sdp", **sdp_kw).terms["second_moment"])
    cert = certify(name, **sdp_kw, a_priori=sdp * 10 + noise) if p <= 8 else None
    moment = cert.value if cert is not None and cert.verified else None
    upper, method = (moment, "moment-interpolation") if moment is not None and moment < sdp else (sdp, "sdp")
    upper_all_dims, scope = upper, ALL_DIMS
    if applies(name, p, k):
        # QSGD: every noise s^2(x) <= s^2 (the class); momentum: constant noise (its (x, v) law is not covered)
        try:
            one = theorem_bound(name, n_agents=p, noise=noise, strong_convexity=point["strong_convexity"],
                                smoothness=point["smoothness"], damping=point.get("damping", 1.0),
                                state_dependent=name == "thm5.1")
        except NumericalFailure:  # not proved here: the certificates of every dimension stand alone (still sound)
            one = np.inf
        if one < upper:
            upper, method = one, "one-dimension HJB"
            scope = ONE_DIM_ANY_NOISE if name == "thm5.1" else ONE_DIM
    if exact_available(name, p, k):
        w = worst_profile(name, n_agents=p, coupling=k, noise=noise, strong_convexity=point["strong_convexity"],
                          smoothness=point["smoothness"], damping=point.get("damping", 1.0),
                          max_switches=max_switches if k == 0.0 or p == 1 else min(max_switches, 2),
                          starts=3 if k == 0.0 or p == 1 else 1, seed=seed)
        lower = lcb = w.value
        witness = w.to_dict(noise)
    else:
        h, lower = quadratic_worst(name, point)
        lcb = lower
        witness = {**CurvatureProfile([], [h]).to_dict(),
                   "noise": {"kind": "constant", "direction": 0, "power": noise}, "method": "exact (linear SDE)"}
        lam, big = point["strong_convexity"], point["smoothness"]
        for cand in (CurvatureProfile([0.0], [lam, big]), CurvatureProfile([0.0], [big, lam])):
            est, lo = monte_carlo(name, cand, point, sims=mc_sims, time=mc_time, seed=seed)
            if lo > lcb:
                lower, lcb = est, lo
                witness = {**cand.to_dict(), "noise": {"kind": "constant", "direction": 0, "power": noise},
                           "method": f"monte carlo ({mc_sims} sims, dt 0.01, 99% LCB deflated by 1 - L dt)"}
    witness = {**witness, "switches": [t * float(np.sqrt(scale)) for t in witness["switches"]],
               "noise": {**witness["noise"], "power": float(scale)}}
    q = CurvatureProfile(witness["switches"], witness["curvatures"]).q
    paper = _paper(name, given, q) if np.isfinite(q) else None
    return Bracket(name, p, k, float(upper * scale), float(lower * scale), float(lcb * scale), float(upper / lower),
                   float(upper / lcb), witness, method, sdp * scale, None if moment is None else moment * scale,
                   paper, float(upper_all_dims * scale), scope)


def bracket_grid(names: tuple[str, ...] = NAMES, n_agents: tuple[int, ...] = N_AGENTS,
                 couplings: tuple[float, ...] = COUPLINGS, **grid: Any) -> list[Bracket]:
    """The brackets on a grid (thm5.2 without k = 0), the issue's defaults where not given."""
    params = {**GRID, **grid}
    out = []
    for name in names:
        for p in n_agents:
            for k in couplings:
                if name == "thm5.2" and k == 0.0:
                    continue
                out.append(bracket(name, n_agents=p, coupling=k, **params))
    return out


def bracket_table(**grid: Any) -> list[Bracket]:
    """:func:`bracket_grid` remembered on disk beside the compiled theorems (plain-number JSON, keyed like the SDP
    table by the code's versions and sources, see :func:`quorumsgd.bounds.sdp.table.cached_sandwich`)."""
    from quorumsgd.theorem_cache import cache_folder

    folder = cache_folder()
    tag = hashlib.sha256(json.dumps(grid, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = None if folder is None else folder / f"bracket-table-{tag}.json"
    if path is None:
        return bracket_grid(**grid)
    with _computing(path):  # a second process (two verify runs, test workers) waits and reads, not recomputes
        try:
            return [Bracket(**d) for d in json.loads(path.read_text())]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        table = bracket_grid(**grid)
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bracket-table.", suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump([asdict(r) for r in table], fh)
            os.replace(tmp, path)
        except OSError:
            pass
        return table


@contextmanager
def _computing(path: Any) -> Iterator[None]:
    """An exclusive advisory lock beside ``path`` for the block (none where the folder cannot hold one)."""
    try:
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except (ImportError, OSError):  # not POSIX, or a folder we cannot write: compute unlocked
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def report_section(table: list[Bracket] | None = None) -> list[dict[str, Any]]:
    """The strict-JSON rows of ``quorumsgd verify``'s ``bracket_table`` (one call from the report)."""
    rows = bracket_table() if table is None else table
    keep = ("name", "n_agents", "coupling", "upper", "lower", "lower_lcb", "ratio", "ratio_lcb", "witness",
            "upper_method", "upper_scope", "upper_all_dims", "sdp")
    return [{k: r.to_json()[k] for k in keep} for r in rows]


def summary(table: list[Bracket]) -> dict[str, Any]:
    """Worst and median ratio, and the points that miss the issue's targets (1.25 everywhere, 1.02 at k = 0)."""
    ratios = np.array([r.ratio for r in table])
    return {"max_ratio": float(ratios.max()), "median_ratio": float(np.median(ratios)),
            "over_1.25": [(r.name, r.n_agents, r.coupling, round(r.ratio, 4)) for r in table if r.ratio > 1.25],
            "k0_over_1.02": [(r.name, r.n_agents, round(r.ratio, 4)) for r in table
                             if r.coupling == 0.0 and r.ratio > 1.02],
            # the same points against the certificate of every dimension and noise (upper_all_dims): what is left
            # to prove beyond one dimension
            "k0_ratio_all_dims": [(r.name, r.n_agents, round(r.upper_all_dims / r.lower, 4)) for r in table
                                  if r.coupling == 0.0],
            # (47)/(51)/(54) bound the first moment: E|.| <= sqrt(E|.|^2), so paper^2 < lower is necessary (not
            # sufficient) for a violation; only witnesses with finite Q (the paper's hypotheses) are compared
            "paper_squared_below_lower": [(r.name, r.n_agents, r.coupling, r.paper, r.lower) for r in table
                                          if r.paper is not None and r.paper < r.lower * (1 - 1e-9)]}


def markdown(table: list[Bracket]) -> str:
    """The table as markdown."""
    head = "| thm | p | k | upper | (method) | every dimension | SDP | lower | lower_lcb | ratio | witness |"
    out = [head, "|" + "---|" * 11]
    for r in table:
        w = r.witness
        wit = f"t={np.round(w['switches'], 3).tolist()}, c={w['curvatures']}"
        out.append(f"| {r.name} | {r.n_agents} | {r.coupling:g} | {r.upper:.4f} | {r.upper_method} | "
                   f"{r.upper_all_dims:.4f} | {r.sdp:.4f} | "
                   f"{r.lower:.4f} | {r.lower_lcb:.4f} | {r.ratio:.3f} | {wit} |")
    return "\n".join(out)


def add_to_report(payload: dict[str, Any], out: Any, table: list[Bracket] | None = None) -> None:
    """``quorumsgd verify``'s hook (one call): ``payload["bracket_table"]`` (strict JSON) and ``out/bracket.md``;
    ``table`` as computed by the caller (default: :func:`bracket_table`)."""
    from pathlib import Path

    table = bracket_table() if table is None else table
    payload["bracket_table"] = report_section(table)
    payload["bracket_summary"] = summary(table)
    Path(out, "bracket.md").write_text("# The bracket of the worst case over S(lambda, L)\n\n" + markdown(table)
                                       + "\n\n" + json.dumps(summary(table)) + "\n")
