r"""Thm 5.2 and Thm 5.3 with LMI-certified metrics instead of the paper's (``metric="lmi"``).

The composition is the same one the paper's bounds use (:func:`quorumsgd.bounds.catalog.convergence_terms`);
only the metric quantities change: the rate, :math:`\chi`, :math:`\beta_{\min}` and the metric's weight on
the noisy coordinate come from a verified certificate of :mod:`quorumsgd.contraction.lmi` over the
Hessian-eigenvalue polytope :math:`h\in\{\lambda, L\}` (so ``smoothness`` is required). For Thm 5.3 the
synchronization rate is certified too (Lemma 3.2's system with ``velocity_coupling = 0``), which can give a
bound where the paper's condition (35) fails.

Example:
    >>> from quorumsgd import bounds
    >>> kw = dict(n_agents=16, lr=0.1, batch_size=4, sigma2=1.0, dim=2, q=0.5, strong_convexity=1.0, coupling=2.0)
    >>> paper = bounds.thm5_2(**kw).value
    >>> lmi = bounds.thm5_2(**kw, smoothness=4.0, metric="lmi").value
    >>> lmi <= paper
    True
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import sympy

from quorumsgd.bounds import catalog
from quorumsgd.bounds.theorem import BoundResult, HypothesisCheck
from quorumsgd.errors import HypothesisViolation, InvalidParameter
from quorumsgd.parameters import latex, validate_values

_PARAMETERS = {
    "thm5.2": ("n_agents", "lr", "batch_size", "sigma2", "dim", "q", "strong_convexity", "smoothness", "coupling"),
    "thm5.3": ("n_agents", "lr", "batch_size", "sigma2", "dim", "q", "strong_convexity", "smoothness", "coupling",
               "damping"),
}


@cache
def _compiled() -> tuple[list[str], Any]:
    terms = catalog.generic_convergence_terms()
    free = sorted({s.name for e in terms.values() for s in e.free_symbols})
    plain = {s: sympy.Symbol(s.name) for e in terms.values() for s in e.free_symbols}
    fn = sympy.lambdify([sympy.Symbol(n) for n in free], [e.xreplace(plain) for e in terms.values()], modules="numpy")
    return free, fn


def _certify(system: str, params: dict[str, float]) -> Any:
    from quorumsgd.contraction.compare import certify_system

    cert = certify_system(system, params)
    if not (cert.verified and cert.rate > 0):
        raise HypothesisViolation(
            params.get("_theorem", system), f"an LMI-certified contraction metric exists for {system}",
            "LMI certificate", f"best rate {cert.rate:.4g}, status {cert.status}, verified {cert.verified}"
        )
    return cert


def evaluate_lmi(name: str, **params: Any) -> BoundResult:
    """Evaluate ``thm5.2`` or ``thm5.3`` with LMI-certified metrics at one parameter point."""
    if name not in _PARAMETERS:
        raise InvalidParameter("metric", "be 'paper' for this theorem ('lmi' exists for thm5.2 and thm5.3)", "lmi", name)
    needed = _PARAMETERS[name]
    extra = set(params) - set(needed)
    if extra:
        raise InvalidParameter(sorted(extra)[0], f"not be given: {name} with metric='lmi' takes {', '.join(needed)}",
                               where=name)
    for key in needed:
        if params.get(key) is None:
            raise InvalidParameter(key, "be given (metric='lmi' certifies over h in [strong_convexity, smoothness])",
                                   where=name)
    values = validate_values({k: params[k] for k in needed}, where=name)
    if any(v.ndim for v in values.values()):
        raise InvalidParameter("metric", "'lmi' with scalar parameters (one certificate per point)", "arrays", name)
    v = {k: float(x) for k, x in values.items()}
    if v["smoothness"] < v["strong_convexity"]:
        raise HypothesisViolation(name, "smoothness >= strong_convexity", "LMI certificate")
    # The certificates replace the paper's metric hypotheses; the parameter domains were checked above.
    paper = catalog.thm5_2() if name == "thm5.2" else catalog.thm5_3()
    checks = []
    if name == "thm5.2":
        cert = _certify("lemma5.2", {**v, "_theorem": name})
        metric = {
            "metric_chi": cert.chi, "metric_beta_min": cert.beta_min, "metric_rate": cert.rate,
            "metric_noise_weight": float(cert.metric[0, 0]),
            "sync_rate": v["coupling"] + v["strong_convexity"], "sync_noise_weight": 1.0, "sync_beta_min": 1.0,
        }
        rates = {"convergence": cert.rate, "synchronization": metric["sync_rate"]}
        checks.append(HypothesisCheck("LMI certificate of Lemma 5.2's system verified", "LMI", True))
    else:
        cert = _certify("lemma5.3", {**v, "_theorem": name})
        sync = _certify("lemma3.2", {**v, "velocity_coupling": 0.0, "_theorem": name})
        metric = {
            "metric_chi": cert.chi, "metric_beta_min": cert.beta_min, "metric_rate": cert.rate,
            "metric_noise_weight": float(cert.metric[1, 1]),
            "sync_rate": sync.rate, "sync_noise_weight": float(sync.metric[1, 1]), "sync_beta_min": sync.beta_min,
        }
        rates = {"convergence": cert.rate, "synchronization": sync.rate}
        checks += [HypothesisCheck("LMI certificate of Lemma 5.3's system verified", "LMI", True),
                   HypothesisCheck("LMI certificate of Lemma 3.2's system (k_v = 0) verified", "LMI", True)]
    names, fn = _compiled()
    env = {**v, **metric}
    outputs = fn(*(env[n] for n in names))
    terms = {k: float(x) for k, x in zip(catalog.generic_convergence_terms(), outputs, strict=True)}
    value = sum(terms.values())
    if not np.isfinite(value) or value < 0:
        raise HypothesisViolation(name, "finite LMI bound", "LMI certificate", f"value {value}")
    expression = sympy.Add(*catalog.generic_convergence_terms().values())
    return BoundResult(
        name=name, title=f"{paper.title} (LMI-certified metric)", equation=paper.equation, value=value, terms=terms,
        expression=expression, term_expressions=catalog.generic_convergence_terms(), latex=latex(expression),
        transient_rates=rates, hypotheses=tuple(checks), parameters={**v, **metric},
        spec_difference="metric='lmi': the paper's composition with the certified metric's rate, chi, beta_min "
        "and noise weight (" + ", ".join(f"{k}={x:.4g}" for k, x in metric.items()) + ")",
    )
