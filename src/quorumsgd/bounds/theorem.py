r"""One result type for every bound, and the machinery that evaluates a derived theorem numerically.

A :class:`Theorem` holds SymPy expressions (the value, its named terms, the transient rates and the
hypotheses as relations); :meth:`Theorem.evaluate` validates the parameters, checks every hypothesis
(vectorized), evaluates the compiled expressions on numpy arrays and returns a :class:`BoundResult`.
Expressions are compiled once (``sympy.lambdify``) and cached on the theorem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from quorumsgd.expression_program import NotRepresentable, to_program
from quorumsgd.numeric_theorem import NumericHypothesis, NumericTheorem, bound_json
from quorumsgd.parameters import latex

if TYPE_CHECKING:  # imported where a derivation needs it: `quorumsgd bound` from the cache needs no SymPy
    import sympy

if TYPE_CHECKING:
    from quorumsgd.bounds.registry import TheoremEntry

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


@dataclass(frozen=True)
class BoundResult:
    r"""A bound evaluated on parameters: value, named terms, SymPy expression, LaTeX, rates, hypotheses.

    ``value`` and every entry of ``terms`` / ``transient_rates`` are floats for scalar parameters and numpy
    arrays (broadcast shape) for array parameters. ``method`` says how the value was obtained:
    ``"closed_form"`` (a derived theorem) or ``"sdp"`` (a certificate of :mod:`quorumsgd.bounds.sdp`, with the
    solver's ``status``; ``verified`` is True for every result that is returned).
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
    method: str = "closed_form"
    status: str = "closed_form"
    verified: bool = True

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``quorumsgd bound NAME --json`` (the documented keys)."""
        return bound_json(
            name=self.name, title=self.title, equation=self.equation, value=self.value, terms=self.terms,
            latex=self.latex, expression=str(self.expression), transient_rates=self.transient_rates,
            hypotheses=[h.to_json() for h in self.hypotheses], parameters=self.parameters,
            spec_difference=self.spec_difference, method=self.method, status=self.status, verified=self.verified,
        )


Prepare = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
"""Fills in derived numeric parameters (e.g. Lemma 5.3's metric parameter) before evaluation."""



@dataclass(frozen=True, eq=False)
class Theorem:
    """A derived theorem: what it takes, what it assumes, what it bounds, and how it was composed.

    Attributes:
        name: theorem name (``thm5.1``...).
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
        spec_difference: where and why the derived closed form differs from the paper's printed form.
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

    @classmethod
    def of(cls, entry: TheoremEntry, *, terms: dict[str, sympy.Expr], relations: tuple[sympy.Basic, ...] = (),
           **derived: Any) -> Theorem:
        """The theorem of a registry entry: its header (name, title, statement, parameters, hypotheses'
        statements) from :mod:`quorumsgd.bounds.registry`, its terms and the hypotheses' relations derived."""
        hypotheses = tuple(Hypothesis(s, e, r) for (s, e), r in zip(entry.hypotheses, relations, strict=True))
        return cls(name=entry.name, title=entry.title, equation=entry.equation, statement=entry.statement,
                   parameters=entry.parameters, optional=dict(entry.optional), hypotheses=hypotheses,
                   kind=entry.kind, terms=terms, **derived)

    @cached_property
    def expression(self) -> sympy.Expr:
        """The value as one SymPy expression (sum of the terms)."""
        import sympy

        return sympy.Add(*self.terms.values())

    @property
    def latex(self) -> str:
        return latex(self.expression)

    @cached_property
    def numeric(self) -> NumericTheorem:
        """The theorem compiled to numpy: what :meth:`evaluate` runs, and what the disk cache stores
        (:mod:`quorumsgd.theorem_cache`) — the formulas as a program of data (:mod:`quorumsgd.expression_program`),
        or ``sympy.lambdify``'s function, in-process only, where a formula falls outside its vocabulary."""
        import sympy

        exprs = [*self.terms.values(), *self.transient_rates.values()]
        exprs += [h.relation for h in self.hypotheses]
        plain = {s: sympy.Symbol(s.name) for e in exprs for s in e.free_symbols}
        args = [sympy.Symbol(n) for n in self.all_parameters]
        unknown = {s.name for s in plain} - set(self.all_parameters)
        if unknown:
            raise AssertionError(f"{self.name}: expressions use undeclared parameters {sorted(unknown)}")
        plain_exprs = [e.xreplace(plain) for e in exprs]
        try:
            program: dict[str, Any] | None = to_program(self.all_parameters, plain_exprs)
            function = None
        except NotRepresentable:
            program = None
            function = sympy.lambdify(args, plain_exprs, modules="numpy", cse=True)
        return NumericTheorem(
            name=self.name, title=self.title, equation=self.equation, parameters=self.parameters,
            optional=dict(self.optional), terms=tuple(self.terms), transient_rates=tuple(self.transient_rates),
            hypotheses=tuple(
                NumericHypothesis(h.statement, h.equation, tuple(sorted(s.name for s in h.relation.free_symbols)))
                for h in self.hypotheses
            ),
            latex=self.latex, expression=str(self.expression),
            term_expressions={k: str(v) for k, v in self.terms.items()}, spec_difference=self.spec_difference,
            kind=self.kind, program=program,
            prepare=self.prepare, function_override=function,
        )

    @property
    def _compiled(self) -> Callable[..., list[Any]]:
        return self.numeric.function

    @property
    def all_parameters(self) -> tuple[str, ...]:
        return self.parameters + tuple(k for k in self.optional if k not in self.parameters)

    def evaluate(self, **params: Any) -> BoundResult:
        """Evaluate on scalars or numpy arrays (broadcast together); raise if a hypothesis fails."""
        result = self.numeric.evaluate(**params)
        return BoundResult(
            name=self.name,
            title=self.title,
            equation=self.equation,
            value=result.value,
            terms=result.terms,
            expression=self.expression,
            term_expressions=dict(self.terms),
            latex=self.latex,
            transient_rates=result.transient_rates,
            hypotheses=tuple(HypothesisCheck(s, e, True) for s, e in result.hypotheses),
            parameters=result.parameters,
            spec_difference=self.spec_difference,
        )
