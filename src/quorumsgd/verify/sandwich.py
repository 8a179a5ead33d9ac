r"""The *sandwich*: the true worst case of a bound, pinned down from both sides at one problem's parameters.

* **found** — a measured statistic (a check's, or the worst case a hunt found): a *lower* bound on the worst
  case over the class, up to its confidence interval;
* **SDP** — the certificate over the whole class :math:`\mathcal S(\lambda,L)` (an *upper* bound):
  ``quorumsgd.bounds.evaluate(name, method="sdp", smoothness=L, ...)``;
* **paper** — the paper's bound at the same parameters ((22), (31), (47), (48), (51), (54), (59));
* **exact quadratic** — the exact stationary value on the isotropic quadratic of curvature :math:`\lambda` with
  isotropic Gaussian noise (Lyapunov equation, :mod:`quorumsgd.simulate.oracle`).

The ratio certified / found says how well the worst case is pinned down (1: exactly). ``quorumsgd verify``
reports it for every check; ``quorumsgd hunt`` for the worst case it found.

Example:
    >>> from quorumsgd.verify.problems import Problem
    >>> p = Problem.quadratic(dim=2, strong_convexity=0.5, smoothness=0.5, n_agents=4, coupling=2.0)
    >>> s = sandwich("lemma3.1", p, measured=0.1)
    >>> round(s["exact_quadratic"] / s["paper"], 6)   # (22) with the factor (p - 1) is attained by the quadratic
    1.0
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from quorumsgd.errors import InvalidParameter, QuorumSGDError
from quorumsgd.verify.problems import Problem, ProblemSpec

SANDWICH_THEOREMS = ("lemma3.1", "thm3.2", "sgd", "thm5.1", "thm5.2", "thm5.3", "lemma5.5")
"""The measurable upper bounds: those a check measures and a hunt searches."""

_STATISTIC_FIELDS = {"sgd": ["x"], "thm5.1": ["x"], "thm5.2": ["x", "quorum"], "thm5.3": ["x", "v"]}
"""The fields whose agent average (or, for the quorum, value) the first-moment bounds measure."""


def bound_parameters(theorem: str, problem: Problem) -> dict[str, Any]:
    """The bound calculator's parameters for a problem, exactly as the verify check passes them."""
    s = problem.spec
    base = {"n_agents": s.n_agents, "lr": problem.mean_lr, "batch_size": s.batch_size, "sigma2": problem.sigma2}
    if theorem == "lemma3.1":
        return {**base, "coupling": s.coupling, "lambda_max": problem.lambda_max}
    if theorem == "thm3.2":
        return {**base, "dim": s.dim, "q": problem.q, "coupling": s.coupling, "lambda_max": problem.lambda_max}
    if theorem == "sgd":
        return {k: base[k] for k in ("lr", "batch_size", "sigma2")} | {"strong_convexity": problem.strong_convexity}
    if theorem in ("thm5.1", "thm5.2"):
        return {**base, "dim": s.dim, "q": problem.q, "strong_convexity": problem.strong_convexity,
                "coupling": s.coupling}
    if theorem == "thm5.3":
        return {**base, "dim": s.dim, "q": problem.q, "strong_convexity": problem.strong_convexity,
                "smoothness": problem.smoothness, "coupling": s.coupling, "damping": s.damping}
    if theorem == "lemma5.5":
        return {**base, "dim": s.dim, "curvature": problem.strong_convexity}
    raise InvalidParameter("theorem", f"be one of {', '.join(SANDWICH_THEOREMS)}", theorem, "sandwich")


def sdp_certificate(theorem: str, params: dict[str, Any], smoothness: float) -> tuple[float | None, str]:
    """The SDP certificate over :math:`\\mathcal S(\\lambda,L)` where the calculator has one: ``(value, note)``."""
    from quorumsgd import bounds

    try:
        result = bounds.evaluate(theorem, method="sdp", **{**params, "smoothness": smoothness})
    except QuorumSGDError as err:  # not certified for this theorem or these parameters: say why
        return None, f"no SDP certificate: {err}"
    value = float(result.value)
    return (value, "SDP certificate over S(lambda, L)") if np.isfinite(value) else (None, "SDP certificate infinite")


def _selector(layout: Any, fields: list[str]) -> np.ndarray:
    """Rows picking the agent average of each field with an agent axis, or the field itself (the quorum)."""
    rows = []
    for name in fields:
        idx = layout.index(name)
        columns = [idx[:, j] for j in range(idx.shape[1])] if idx.ndim == 2 else [idx[j:j + 1] for j in range(idx.shape[0])]
        for cols in columns:
            row = np.zeros(layout.size)
            row[cols] = 1.0 / len(cols)
            rows.append(row)
    return np.array(rows)


def exact_quadratic_value(theorem: str, problem: Problem) -> float | None:
    r"""The exact stationary statistic on :math:`\frac\lambda2\|\mathbf x\|^2` with isotropic Gaussian noise.

    ``None`` for Lemma 5.5 (its check reports the exact finite-time value itself); 0 for Thm 3.2 (a quadratic
    has no disturbance :math:`\boldsymbol\epsilon`).
    """
    from quorumsgd.algorithms import EASGD, QSGD, SGD, MomentumQSGD
    from quorumsgd.objectives import GaussianNoise, Quadratic
    from quorumsgd.simulate import expected_norm, linearize

    if theorem == "thm3.2":
        return 0.0
    if theorem not in ("lemma3.1", *_STATISTIC_FIELDS):
        return None
    s = problem.spec
    dim, n, k = int(s.dim), 1 if theorem == "sgd" else int(s.n_agents), float(s.coupling)
    alg = {"lemma3.1": QSGD(coupling=k), "sgd": SGD(), "thm5.1": QSGD(coupling=k), "thm5.2": EASGD(coupling=k),
           "thm5.3": MomentumQSGD(coupling=k, damping=float(s.damping or 0.0))}[theorem]
    f = Quadratic.isotropic(dim, float(problem.strong_convexity))
    sde = linearize(alg, f, n, GaussianNoise.isotropic(dim, float(problem.sigma2)), float(problem.mean_lr),
                    float(s.batch_size))
    law = sde.stationary()
    if theorem == "lemma3.1":
        return law.expected_spread()
    sel = _selector(sde.layout, _STATISTIC_FIELDS[theorem])
    size = sde.layout.size
    return expected_norm(sel @ law.mean[:size], sel @ law.cov[:size, :size] @ sel.T)


def sandwich(theorem: str, problem: Problem, measured: float, lower_confidence: float | None = None,
             paper: float | None = None, exact: float | None = None, time: float | None = None) -> dict[str, Any]:
    """Found (lower) / SDP certificate (upper) / paper's bound / exact quadratic value, side by side.

    ``paper`` and ``exact`` override the computed values (a check's own bound, Lemma 5.5's exact finite-time
    value); ``time`` is Lemma 5.5's horizon. ``paper`` is ``None`` where the paper's hypotheses fail (an
    infinite :math:`Q`) while the certificate, which needs no :math:`Q`, still holds.
    """
    from quorumsgd import bounds

    params = bound_parameters(theorem, problem)
    if theorem == "lemma5.5":
        if time is None:
            raise InvalidParameter("time", "be given for lemma5.5 (the horizon of the time average)", None, "sandwich")
        params["time"] = float(time)
    if paper is None:
        try:
            paper = float(bounds.evaluate(theorem, **params).value)
        except QuorumSGDError:  # outside the paper's hypotheses (e.g. Q infinite): the certificate may still hold
            paper = None
    sdp, note = sdp_certificate(theorem, params, problem.smoothness)
    exact = exact_quadratic_value(theorem, problem) if exact is None else exact
    return {
        "theorem": theorem, "found": measured, "found_lower_confidence": lower_confidence, "sdp": sdp,
        "sdp_note": note, "paper": paper, "exact_quadratic": exact,
        "certified_over_found": None if sdp is None or measured <= 0 else sdp / measured,
        "paper_over_found": paper / measured if paper is not None and measured > 0 else None,
    }


def sandwich_for_check(result: Any) -> dict[str, Any] | None:
    """The sandwich of a :class:`~quorumsgd.verify.result.CheckResult`, at the check's own problem.

    ``None`` for checks without one (Lemma 5.4's rate) or whose problem a spec cannot rebuild.
    """
    spec = (result.params or {}).get("problem")
    name = result.name.split(":")[0]
    if spec is None or name not in SANDWICH_THEOREMS or spec.get("objective") not in ("quadratic", "logcosh"):
        return None
    spec = {f.name: spec[f.name] for f in fields(ProblemSpec) if f.name in spec}  # the JSON adds derived constants
    if isinstance(spec.get("lr"), list):
        spec["lr"] = tuple(spec["lr"])
    problem = Problem.build(ProblemSpec(**spec))
    details = result.details or {}
    return sandwich(name, problem, result.measured, result.lower_confidence, paper=result.bound,
                    exact=details.get("exact_finite_time") if name == "lemma5.5" else None, time=result.params.get("T"))
