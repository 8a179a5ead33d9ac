r"""The bound calculator: every bound, rate and condition of the paper, derived in SymPy, evaluated fast.

Each public function (``thm5_1``, ``lemma3_1``, ... one per name of :data:`NAMES`; ``help(bounds.thm5_1)``
states the theorem) evaluates one derived theorem (see :mod:`quorumsgd.bounds.catalog` for how it is
composed) on scalars or numpy arrays and returns a :class:`BoundResult`; the functions are generated from
their registry entries (:mod:`quorumsgd.bounds.registry`), which hold the signature, the statement in LaTeX,
the hypotheses, the equation and the example. A violated hypothesis raises
:class:`quorumsgd.errors.HypothesisViolation`; a bad parameter raises :class:`quorumsgd.errors.InvalidParameter`.

Example:
    >>> r = thm5_1(n_agents=8, coupling=2.0, lr=0.1, batch_size=32, sigma2=4.0, dim=10, q=1.0,
    ...            strong_convexity=0.5)
    >>> sorted(r.terms), round(r.value, 6)
    (['disturbance', 'noise'], 0.046446)
    >>> evaluate("thm5.1", n_agents=1, coupling=2.0, lr=0.1, batch_size=32, sigma2=4.0, dim=10, q=1.0,
    ...          strong_convexity=0.5).value == sgd(lr=0.1, batch_size=32, sigma2=4.0, strong_convexity=0.5).value
    True
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from numpy.typing import ArrayLike  # noqa: F401  (named by the generated signatures' annotations)

from quorumsgd.bounds.registry import GENERATED, NAMES, REGISTRY, TheoremEntry
from quorumsgd.bounds.stability import StabilityTheorem, max_stable_coupling, stability
from quorumsgd.bounds.theorem import BoundResult, Hypothesis, HypothesisCheck, Theorem
from quorumsgd.errors import InvalidParameter

_LAZY = {
    # name -> module that defines it: imported on first use, so that `import quorumsgd.bounds` (the CLI's
    # `bound` command) does not pay for SymPy, cvxpy or the worst-case search it does not need
    "catalog": "quorumsgd.bounds.catalog",
    "certify": "quorumsgd.bounds.own_algorithm",  # SDP certificate of any affine agent system (your own algorithm)
    "bracket": "quorumsgd.bounds.worst_case",  # the worst case pinned between a certificate and a member
    "bracket_table": "quorumsgd.bounds.worst_case",
}


def __getattr__(name: str) -> Any:  # PEP 562
    # (also what a type checker sees for the generated public functions: they exist only at run time)
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if name == "catalog" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def theorem(name: str) -> Theorem | StabilityTheorem:
    """The derived theorem of a name (:data:`NAMES`): SymPy terms, hypotheses, derivation steps.

    ``stability`` is a :class:`~quorumsgd.bounds.stability.StabilityTheorem` (same interface, evaluated per mode).
    """
    if name not in REGISTRY:
        raise InvalidParameter("name", f"be one of {', '.join(NAMES)}", name)
    return REGISTRY[name].derive()


def evaluate(
    name: str, metric: str = "paper", method: str = "closed_form", discrete: bool = False, **params: Any
) -> BoundResult:
    """Evaluate a theorem by name; ``stability`` also takes ``algorithm="qsgd" | "easgd"``.

    ``metric="lmi"`` (Thm 5.2, Thm 5.3; needs ``smoothness``) uses LMI-certified metrics in the same
    composition instead of the paper's (:mod:`quorumsgd.bounds.lmi_metric`).

    ``method="sdp"`` (``sgd``, ``thm5.1``, ``thm5.2``, ``thm5.3``, ``lemma3.1``; needs ``smoothness``) certifies
    the stationary second moment over the whole class S(lambda, L) by an SDP (:mod:`quorumsgd.bounds.sdp`);
    ``discrete=True`` certifies the discrete iteration with step ``lr`` instead of the SDE.
    """
    if method not in ("closed_form", "sdp"):
        raise InvalidParameter("method", "be 'closed_form' or 'sdp'", method, name)
    if method == "sdp":
        if metric != "paper":
            raise InvalidParameter("metric", "not be given with method='sdp' (the SDP has no metric)", metric, name)
        from quorumsgd.bounds.sdp import evaluate_sdp

        return evaluate_sdp(name, discrete=discrete, **params)
    if discrete:
        raise InvalidParameter("discrete", "be used only with method='sdp'", discrete, name)
    if metric not in ("paper", "lmi"):
        raise InvalidParameter("metric", "be 'paper' or 'lmi'", metric, name)
    if metric == "lmi":
        from quorumsgd.bounds.lmi_metric import evaluate_lmi

        return evaluate_lmi(name, **params)
    return theorem(name).evaluate(**params)


# The public functions (thm5_1, lemma3_1, ...): one per registry entry, generated from it. The entry is the one
# place a theorem's parameters, defaults, statement, hypotheses and example are written; the signature
# (keyword-only, typed) and the docstring are built from it, so a new theorem needs no code here.

_KEYWORD = inspect.Parameter.KEYWORD_ONLY


def _annotation(default: Any) -> str:
    return "str" if isinstance(default, str) else ("ArrayLike | None" if default is None else "ArrayLike")


def _signature(entry: TheoremEntry) -> inspect.Signature:
    """Keyword-only: the theorem's parameters, then its optional parameters and options with their defaults."""
    required = [inspect.Parameter(p, _KEYWORD, annotation="ArrayLike") for p in entry.parameters]
    defaults = {**entry.optional, **entry.options}
    optional = [inspect.Parameter(p, _KEYWORD, default=d, annotation=_annotation(d)) for p, d in defaults.items()]
    return inspect.Signature([*required, *optional], return_annotation="BoundResult")


def _public_function(entry: TheoremEntry) -> Callable[..., BoundResult]:
    """The typed public function of a registry entry: ``evaluate(entry.name, ...)`` with the entry's signature.

    An argument left at ``None`` is not passed (the theorem chooses it, or ``metric='paper'`` does not take it).
    """
    signature, name = _signature(entry), entry.name

    def function(*args: Any, **kwargs: Any) -> BoundResult:
        try:
            bound = signature.bind(*args, **kwargs)  # a positional, missing or unknown argument: as Python says it
        except TypeError as err:
            raise TypeError(f"{function.__name__}() {err}") from None
        bound.apply_defaults()
        return evaluate(name, **{k: v for k, v in bound.arguments.items() if v is not None})

    function.__name__ = function.__qualname__ = entry.python_name
    function.__module__ = __name__
    function.__signature__ = signature  # type: ignore[attr-defined]
    function.__doc__ = entry.docstring()
    return function


PUBLIC_FUNCTIONS: dict[str, Callable[..., BoundResult]] = {
    REGISTRY[name].python_name: _public_function(REGISTRY[name]) for name in GENERATED
}
"""The generated public functions by Python name (``thm5_1``); each is also an attribute of this module."""
globals().update(PUBLIC_FUNCTIONS)


__all__ = [
    "NAMES",
    "PUBLIC_FUNCTIONS",
    "BoundResult",
    "Hypothesis",
    "HypothesisCheck",
    "StabilityTheorem",
    "Theorem",
    "bracket",
    "bracket_table",
    "certify",
    "evaluate",
    "max_stable_coupling",
    "stability",
    "theorem",
    *PUBLIC_FUNCTIONS,
]
