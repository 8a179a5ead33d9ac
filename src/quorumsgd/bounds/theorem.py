r"""One result type for every bound, and the machinery that evaluates a derived theorem numerically.

A :class:`Theorem` holds SymPy expressions (the value, its named terms, the transient rates and the
hypotheses as relations); :meth:`Theorem.evaluate` validates the parameters, checks every hypothesis
(vectorized), evaluates the compiled expressions on numpy arrays and returns a :class:`BoundResult`.
Expressions are compiled once (``sympy.lambdify``) and cached on the theorem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import sympy

from quorumsgd.errors import HypothesisViolation, InvalidParameter, QuorumSGDError
from quorumsgd.parameters import PARAMETERS, latex, validate_values

Number = float | np.ndarray


@dataclass(frozen=True)
class Hypothesis:
    """A hypothesis of a theorem: a SymPy relation in the parameters, with its statement and equation."""

    statement: str
    equation: str
    relation: sympy.Basic

    @property
    def latex(self) -> str:
        return latex(self.relation)


@dataclass(frozen=True)
class HypothesisCheck:
    """Outcome of checking one hypothesis on given parameters."""

    statement: str
    equation: str
    holds: bool

    def to_json(self) -> dict[str, Any]:
        return {"statement": self.statement, "equation": self.equation, "holds": self.holds}


def _jsonable(value: Any) -> Any:
    arr = np.asarray(value)
    return arr.item() if arr.ndim == 0 else arr.tolist()


@dataclass(frozen=True)
class BoundResult:
    r"""A bound evaluated on parameters: value, named terms, SymPy expression, LaTeX, rates, hypotheses.

    ``value`` and every entry of ``terms`` / ``transient_rates`` are floats for scalar parameters and numpy
    arrays (broadcast shape) for array parameters.
    """

    name: str
    title: str
    equation: str
    value: Number
    terms: dict[str, Number]
    expression: sympy.Expr
    term_expressions: dict[str, sympy.Expr]
    latex: str
    transient_rates: dict[str, Number]
    hypotheses: tuple[HypothesisCheck, ...]
    parameters: dict[str, Number]
    spec_difference: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``quorumsgd bound NAME --json`` (design.md keys)."""
        return {
            "name": self.name,
            "title": self.title,
            "equation": self.equation,
            "value": _jsonable(self.value),
            "terms": {k: _jsonable(v) for k, v in self.terms.items()},
            "latex": self.latex,
            "expression": str(self.expression),
            "transient_rates": {k: _jsonable(v) for k, v in self.transient_rates.items()},
            "hypotheses": [h.to_json() for h in self.hypotheses],
            "parameters": {k: _jsonable(v) for k, v in self.parameters.items()},
            "spec_difference": self.spec_difference,
        }


Prepare = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
"""Fills in derived numeric parameters (e.g. Lemma 5.3's metric parameter) before evaluation."""


@dataclass(frozen=True, eq=False)
class Theorem:
    """A derived theorem: what it takes, what it assumes, what it bounds, and how it was composed.

    Attributes:
        name: design.md name (``thm5.1``...).
        title: human title.
        equation: the paper's equation number(s).
        statement: the theorem in LaTeX.
        parameters: required parameter names.
        terms: named SymPy terms whose sum is the value (one term ``value`` for rates and conditions).
        transient_rates: rates of the exponential transients after which the bound holds.
        hypotheses: relations that must hold (checked element-wise; a violation raises).
        derivation: the proof's steps, as text, in the order they are composed.
        optional: optional parameters and their defaults (``None`` means "chosen by ``prepare``").
        prepare: optional hook that fills derived parameters.
        spec_difference: where and why the derived closed form differs from the spec's.
    """

    name: str
    title: str
    equation: str
    statement: str
    parameters: tuple[str, ...]
    terms: dict[str, sympy.Expr]
    transient_rates: dict[str, sympy.Expr] = field(default_factory=dict)
    hypotheses: tuple[Hypothesis, ...] = ()
    derivation: tuple[str, ...] = ()
    optional: dict[str, float | None] = field(default_factory=dict)
    prepare: Prepare | None = None
    spec_difference: str = ""
    kind: str = "bound"

    @cached_property
    def expression(self) -> sympy.Expr:
        """The value as one SymPy expression (sum of the terms)."""
        return sympy.Add(*self.terms.values())

    @property
    def latex(self) -> str:
        return latex(self.expression)

    @cached_property
    def _compiled(self) -> Callable[..., list[Any]]:
        exprs = [*self.terms.values(), *self.transient_rates.values()]
        exprs += [h.relation for h in self.hypotheses]
        plain = {s: sympy.Symbol(s.name) for e in exprs for s in e.free_symbols}
        args = [sympy.Symbol(n) for n in self.all_parameters]
        unknown = {s.name for s in plain} - set(self.all_parameters)
        if unknown:
            raise AssertionError(f"{self.name}: expressions use undeclared parameters {sorted(unknown)}")
        return sympy.lambdify(args, [e.xreplace(plain) for e in exprs], modules="numpy", cse=True)

    @property
    def all_parameters(self) -> tuple[str, ...]:
        return self.parameters + tuple(k for k in self.optional if k not in self.parameters)

    def evaluate(self, **params: Any) -> BoundResult:
        """Evaluate on scalars or numpy arrays (broadcast together); raise if a hypothesis fails."""
        values = self._validated(params)
        if self.prepare is not None:
            values = self.prepare(values)
        arrays = np.broadcast_arrays(*(values[n] for n in self.all_parameters))
        with np.errstate(all="ignore"):
            outputs = self._compiled(*arrays)
        n_terms, n_rates = len(self.terms), len(self.transient_rates)
        terms = dict(zip(self.terms, outputs[:n_terms], strict=True))
        rates = dict(zip(self.transient_rates, outputs[n_terms : n_terms + n_rates], strict=True))
        checks = self._check_hypotheses(
            outputs[n_terms + n_rates :], dict(zip(self.all_parameters, arrays, strict=True))
        )
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
        terms = {k: self._as_number(v, shape) for k, v in terms.items()}
        value = self._as_number(sum(terms.values()), shape)
        rates = {k: self._as_number(v, shape) for k, v in rates.items()}
        self._check_range({**terms, **rates}, params)
        self._check_output(value, terms, params)
        return BoundResult(
            name=self.name,
            title=self.title,
            equation=self.equation,
            value=value,
            terms=terms,
            expression=self.expression,
            term_expressions=dict(self.terms),
            latex=self.latex,
            transient_rates=rates,
            hypotheses=checks,
            parameters={n: self._as_number(values[n], np.shape(values[n])) for n in self.all_parameters},
            spec_difference=self.spec_difference,
        )

    # -- helpers ------------------------------------------------------------------------------------------

    def _validated(self, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        allowed = set(self.all_parameters)
        for name in params:
            if name not in allowed:
                if name in PARAMETERS:
                    raise InvalidParameter(
                        name, f"not be given: {self.name} takes {', '.join(self.all_parameters)}", where=self.name
                    )
                raise InvalidParameter(name, "be a known parameter name", where=self.name)
        for name in self.parameters:
            if params.get(name) is None:
                raise InvalidParameter(name, f"be given ({PARAMETERS[name].description})", where=self.name)
        given = {k: v for k, v in params.items() if v is not None}
        values = validate_values(given, where=self.name)
        for name, default in self.optional.items():
            if name not in values:
                values[name] = np.asarray(np.nan if default is None else default, dtype=float)
        return values

    def _check_hypotheses(self, outcomes: list[Any], arrays: dict[str, np.ndarray]) -> tuple[HypothesisCheck, ...]:
        checks = []
        for hyp, outcome in zip(self.hypotheses, outcomes, strict=True):
            ok = np.asarray(outcome, dtype=bool)
            if not np.all(ok):
                index = np.unravel_index(int(np.argmin(ok)), ok.shape) if ok.ndim else ()
                shown = ", ".join(
                    f"{n}={np.broadcast_to(arrays[n], ok.shape)[index]:.6g}"
                    for n in self.all_parameters
                    if any(s.name == n for s in hyp.relation.free_symbols)
                )
                where = f"at index {tuple(int(i) for i in index)}: " if ok.ndim else ""
                raise HypothesisViolation(self.name, hyp.statement, hyp.equation, where + shown)
            checks.append(HypothesisCheck(hyp.statement, hyp.equation, True))
        return tuple(checks)

    def _check_range(self, outputs: dict[str, Number], params: Mapping[str, Any]) -> None:
        """Hypotheses hold but a float overflowed (``--lambda-max -1e308``): one line, never ``inf`` or ``nan``."""
        for key, out in outputs.items():
            arr = np.asarray(out, dtype=float)
            if not np.all(np.isfinite(arr)):
                index = np.unravel_index(int(np.argmin(np.isfinite(arr))), arr.shape) if arr.ndim else ()
                where = f" at index {tuple(int(i) for i in index)}" if arr.ndim else ""
                shown = ", ".join(f"{k}={np.broadcast_to(np.asarray(v, dtype=float), arr.shape)[index]:.6g}"
                                  for k, v in params.items() if v is not None)
                raise QuorumSGDError(
                    f"{self.name}: the parameters must stay within the range of 64-bit floats: {key} evaluates to "
                    f"{float(arr[index])}{where} ({shown}); rescale them")

    def _check_output(self, value: Number, terms: dict[str, Number], params: Mapping[str, Any]) -> None:
        bad = ~np.isfinite(np.asarray(value, dtype=float))
        if self.kind == "bound":
            bad |= np.asarray(value, dtype=float) < 0
        if np.any(bad):
            # The hypotheses are meant to exclude this; reaching it is a defect, reported, never returned.
            raise QuorumSGDError(
                f"{self.name}: the bound evaluated to a non-finite or negative value for {dict(params)}; "
                "this is a defect in quorumsgd, please report it"
            )

    @staticmethod
    def _as_number(value: Any, shape: tuple[int, ...]) -> Number:
        arr = np.broadcast_to(np.asarray(value, dtype=float), shape)
        return float(arr) if arr.ndim == 0 else np.array(arr)
