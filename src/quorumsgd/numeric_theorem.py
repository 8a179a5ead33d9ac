r"""A derived theorem compiled to numpy: plain data and one numpy function, no SymPy.

:class:`quorumsgd.bounds.Theorem` derives a theorem in SymPy and compiles it (``sympy.lambdify``) into a
:class:`NumericTheorem`; evaluation — validating the parameters, checking every hypothesis element-wise,
refusing overflow — happens here, once, for both the library and the command line. Because a
:class:`NumericTheorem` is plain data — its formulas an expression tree (:mod:`quorumsgd.expression_program`),
never source code — it can be cached on disk (:mod:`quorumsgd.theorem_cache`) and loaded without running
anything from the file, so that ``quorumsgd bound NAME ...`` neither imports SymPy nor re-derives.

Example:
    >>> th = NumericTheorem(name="demo", title="Demo", equation="(0)", parameters=("lr",), optional={},
    ...     terms=("value",), transient_rates=(), hypotheses=(), latex=r"2 \eta", expression="2*lr",
    ...     term_expressions={"value": "2*lr"}, spec_difference="", kind="bound",
    ...     program={"format": 1, "args": ["lr"], "let": [], "out": [["mul", ["int", 2], ["sym", "lr"]]]})
    >>> th.evaluate(lr=0.25).value
    0.5
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from quorumsgd.errors import HypothesisViolation, InvalidParameter, QuorumSGDError
from quorumsgd.expression_program import compile_program
from quorumsgd.parameters import PARAMETERS, validate_values

Number = float | np.ndarray
Prepare = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]

@dataclass(frozen=True)
class NumericHypothesis:
    """A hypothesis as the numeric evaluation sees it: its words, its equation and the parameters it involves."""

    statement: str
    equation: str
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class NumericResult:
    """What :meth:`NumericTheorem.evaluate` returns: numbers (floats, or arrays of the broadcast shape)."""

    value: Number
    terms: dict[str, Number]
    transient_rates: dict[str, Number]
    hypotheses: tuple[tuple[str, str], ...]
    parameters: dict[str, Number]


def _jsonable(value: Any) -> Any:
    arr = np.asarray(value)
    return arr.item() if arr.ndim == 0 else arr.tolist()


def bound_json(*, name: str, title: str, equation: str, value: Number, terms: Mapping[str, Number], latex: str,
               expression: str, transient_rates: Mapping[str, Number], hypotheses: list[dict[str, Any]],
               parameters: Mapping[str, Number], spec_difference: str, method: str = "closed_form",
               status: str = "closed_form", verified: bool = True) -> dict[str, Any]:
    """The JSON object of ``quorumsgd bound NAME --json`` (the documented keys); one layout for every caller.

    ``method`` is ``closed_form`` (a derived theorem) or ``sdp`` (a certificate, with the solver's ``status``);
    ``second_moment`` is added when the terms carry it (certificates bound the second moment).
    """
    extra = {"second_moment": _jsonable(terms["second_moment"])} if "second_moment" in terms else {}
    return {
        "name": name,
        "title": title,
        "equation": equation,
        "value": _jsonable(value),
        "terms": {k: _jsonable(v) for k, v in terms.items()},
        "latex": latex,
        "expression": expression,
        "transient_rates": {k: _jsonable(v) for k, v in transient_rates.items()},
        "hypotheses": hypotheses,
        "parameters": {k: _jsonable(v) for k, v in parameters.items()},
        "spec_difference": spec_difference,
        "method": method,
        "status": status,
        "verified": verified,
        **extra,
    }


@dataclass(frozen=True, eq=False)
class NumericTheorem:
    """A theorem ready to evaluate: parameter lists, term / rate / hypothesis names, display strings, and the
    program (data, :mod:`quorumsgd.expression_program`) of one numpy function returning
    ``[*terms, *transient_rates, *hypotheses]``.

    ``program`` is ``None`` when a formula uses a construct outside the program vocabulary: the theorem then
    evaluates ``function_override`` (SymPy's ``lambdify``) in-process and is not cached; ``prepare`` (not
    cached) fills derived parameters.
    """

    name: str
    title: str
    equation: str
    parameters: tuple[str, ...]
    optional: dict[str, float | None]
    terms: tuple[str, ...]
    transient_rates: tuple[str, ...]
    hypotheses: tuple[NumericHypothesis, ...]
    latex: str
    expression: str
    term_expressions: dict[str, str]
    spec_difference: str
    kind: str
    program: dict[str, Any] | None
    prepare: Prepare | None = field(default=None, compare=False)
    function_override: Callable[..., list[Any]] | None = field(default=None, compare=False, repr=False)

    @property
    def all_parameters(self) -> tuple[str, ...]:
        return self.parameters + tuple(k for k in self.optional if k not in self.parameters)

    @cached_property
    def function(self) -> Callable[..., list[Any]]:
        """The compiled function: the program mapped onto numpy (no code is generated or executed)."""
        if self.program is not None:
            return compile_program(self.program)
        if self.function_override is None:
            raise ValueError(f"{self.name}: a numeric theorem needs a program or a function")
        return self.function_override

    # -- serialization (the disk cache) ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "equation": self.equation, "parameters": list(self.parameters),
            "optional": self.optional, "terms": list(self.terms), "transient_rates": list(self.transient_rates),
            "hypotheses": [[h.statement, h.equation, list(h.parameters)] for h in self.hypotheses],
            "latex": self.latex, "expression": self.expression, "term_expressions": self.term_expressions,
            "spec_difference": self.spec_difference, "kind": self.kind, "program": self.program,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericTheorem:
        return cls(
            name=data["name"], title=data["title"], equation=data["equation"],
            parameters=tuple(data["parameters"]), optional=dict(data["optional"]), terms=tuple(data["terms"]),
            transient_rates=tuple(data["transient_rates"]),
            hypotheses=tuple(NumericHypothesis(s, e, tuple(p)) for s, e, p in data["hypotheses"]),
            latex=data["latex"], expression=data["expression"], term_expressions=dict(data["term_expressions"]),
            spec_difference=data["spec_difference"], kind=data["kind"],
            program=data["program"],
        )

    # -- evaluation -------------------------------------------------------------------------------------------

    def evaluate(self, **params: Any) -> NumericResult:
        """Evaluate on scalars or numpy arrays (broadcast together); raise if a hypothesis fails."""
        values = self._validated(params)
        if self.prepare is not None:
            values = self.prepare(values)
        arrays = np.broadcast_arrays(*(values[n] for n in self.all_parameters))
        with np.errstate(all="ignore"):
            outputs = self.function(*arrays)
        n_terms, n_rates = len(self.terms), len(self.transient_rates)
        terms = dict(zip(self.terms, outputs[:n_terms], strict=True))
        rates = dict(zip(self.transient_rates, outputs[n_terms : n_terms + n_rates], strict=True))
        checks = self._check_hypotheses(
            outputs[n_terms + n_rates :], dict(zip(self.all_parameters, arrays, strict=True))
        )
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
        terms = {k: _as_number(v, shape) for k, v in terms.items()}
        value = _as_number(sum(terms.values()), shape)
        rates = {k: _as_number(v, shape) for k, v in rates.items()}
        self._check_range({**terms, **rates}, params)
        self._check_output(value, params)
        return NumericResult(
            value=value,
            terms=terms,
            transient_rates=rates,
            hypotheses=checks,
            parameters={n: _as_number(values[n], np.shape(values[n])) for n in self.all_parameters},
        )

    def to_json(self, result: NumericResult) -> dict[str, Any]:
        """``quorumsgd bound NAME --json`` for a result of this theorem."""
        return bound_json(
            name=self.name, title=self.title, equation=self.equation, value=result.value, terms=result.terms,
            latex=self.latex, expression=self.expression, transient_rates=result.transient_rates,
            hypotheses=[{"statement": s, "equation": e, "holds": True} for s, e in result.hypotheses],
            parameters=result.parameters, spec_difference=self.spec_difference,
        )

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

    def _check_hypotheses(self, outcomes: list[Any], arrays: dict[str, np.ndarray]) -> tuple[tuple[str, str], ...]:
        checks = []
        for hyp, outcome in zip(self.hypotheses, outcomes, strict=True):
            ok = np.asarray(outcome, dtype=bool)
            if not np.all(ok):
                index = np.unravel_index(int(np.argmin(ok)), ok.shape) if ok.ndim else ()
                shown = ", ".join(
                    f"{n}={np.broadcast_to(arrays[n], ok.shape)[index]:.6g}"
                    for n in self.all_parameters
                    if n in hyp.parameters
                )
                where = f"at index {tuple(int(i) for i in index)}: " if ok.ndim else ""
                raise HypothesisViolation(self.name, hyp.statement, hyp.equation, where + shown)
            checks.append((hyp.statement, hyp.equation))
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

    def _check_output(self, value: Number, params: Mapping[str, Any]) -> None:
        bad = ~np.isfinite(np.asarray(value, dtype=float))
        if self.kind == "bound":
            bad |= np.asarray(value, dtype=float) < 0
        if np.any(bad):
            # The hypotheses are meant to exclude this; reaching it is a defect, reported, never returned.
            raise QuorumSGDError(
                f"{self.name}: the bound evaluated to a non-finite or negative value for {dict(params)}; "
                "this is a defect in quorumsgd, please report it"
            )


def _as_number(value: Any, shape: tuple[int, ...]) -> Number:
    arr = np.broadcast_to(np.asarray(value, dtype=float), shape)
    return float(arr) if arr.ndim == 0 else np.array(arr)
