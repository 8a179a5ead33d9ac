r"""A derived theorem's formulas as plain data (JSON lists), compiled to numpy without SymPy and without code.

The disk cache of compiled theorems (:mod:`quorumsgd.theorem_cache`) must never run code read from a file: a
synced home folder, a shared ``QUORUMSGD_CACHE_DIR`` or a swapped folder can hand it anyone's bytes. So a
theorem's formulas are stored as an expression tree — nested lists whose heads come from a closed vocabulary
(``add``, ``mul``, ``pow``, ``sqrt``, ``exp``, ``min``, ``gt``, ...) and whose leaves are parameter names and
numbers — after SymPy's common-subexpression elimination (``let`` bindings). :func:`compile_program` maps each
head to a fixed numpy function; anything outside the vocabulary is a :class:`ProgramError`, never evaluated.
The same compiled program is what a freshly derived theorem evaluates, so the first run (derivation) and the
later ones (cache) compute the same floats.

For parameters :math:`x_1, \dots, x_m`, a program is ``{"format": 1, "args": [x_1, ...], "let": [[t_j, e_j],
...], "out": [f_1, ...]}`` and computes :math:`t_j = e_j(x, t_{<j})`, then returns :math:`[f_1(x, t), ...]`.

Example:
    >>> import json, numpy as np
    >>> program = {"format": 1, "args": ["lr", "b"], "let": [["_c0", ["sqrt", ["sym", "lr"]]]],
    ...            "out": [["mul", ["int", 2], ["sym", "_c0"], ["pow", ["sym", "b"], ["int", -1]]],
    ...                    ["gt", ["sym", "lr"], ["int", 0]]]}
    >>> f = compile_program(json.loads(json.dumps(program)))
    >>> [float(v) for v in f(np.asarray(4.0), np.asarray(8.0))]
    [0.5, 1.0]
    >>> compile_program({**program, "out": [["call", "os.system", "id"]]})
    Traceback (most recent call last):
    ...
    quorumsgd.expression_program.ProgramError: unknown operation 'call' in a stored program
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

FORMAT = 1
"""The layout version of a stored program; another number is a foreign program, derived again."""

Env = dict[str, Any]
Node = Callable[[Env], Any]


class ProgramError(ValueError):
    """A stored program that is not a well-formed expression of the vocabulary (tampered, truncated, foreign)."""


def _sqrt(x: Any) -> Any:
    return np.sqrt(x)


# head -> (numpy function, number of arguments: an int, or None for "one or more")
_OPERATIONS: dict[str, tuple[Callable[..., Any], int | None]] = {
    "add": (lambda *a: functools.reduce(np.add, a), None),
    "mul": (lambda *a: functools.reduce(np.multiply, a), None),
    "pow": (np.power, 2),
    "sqrt": (_sqrt, 1),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), 1),
    "inv": (lambda x: 1.0 / x, 1),
    "exp": (np.exp, 1),
    "log": (np.log, 1),
    "abs": (np.abs, 1),
    "min": (lambda *a: functools.reduce(np.minimum, a), None),
    "max": (lambda *a: functools.reduce(np.maximum, a), None),
    "gt": (np.greater, 2),
    "ge": (np.greater_equal, 2),
    "lt": (np.less, 2),
    "le": (np.less_equal, 2),
    "eq": (np.equal, 2),
    "ne": (np.not_equal, 2),
    "and": (lambda *a: functools.reduce(np.logical_and, a), None),
    "or": (lambda *a: functools.reduce(np.logical_or, a), None),
    "not": (np.logical_not, 1),
}


def _constant(head: str, args: Sequence[Any]) -> Any:
    if head == "int" and len(args) == 1 and type(args[0]) is int:
        return args[0]
    if head == "rat" and len(args) == 2 and all(type(a) is int for a in args) and args[1] != 0:
        return args[0] / args[1]
    if head == "float" and len(args) == 1 and type(args[0]) in (int, float) and np.isfinite(args[0]):
        return float(args[0])
    if head in ("true", "false") and not args:
        return head == "true"
    raise ProgramError(f"malformed constant {head!r} in a stored program")


def _compile(tree: Any, names: set[str], depth: int = 0) -> Node:
    if depth > 200 or not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise ProgramError("a stored program node is not a list headed by an operation name")
    head, args = tree[0], tree[1:]
    if head == "sym":
        if len(args) != 1 or args[0] not in names:
            raise ProgramError(f"a stored program uses an unknown name {args[:1]!r}")
        name = args[0]
        return lambda env: env[name]
    if head in ("int", "rat", "float", "true", "false"):
        value = _constant(head, args)
        return lambda env: value
    if head == "piecewise":  # [value, condition] pairs, the first true condition wins; nan where none holds
        if not args or not all(isinstance(p, list) and len(p) == 2 for p in args):
            raise ProgramError("a stored piecewise node must hold [value, condition] pairs")
        pairs = [(_compile(v, names, depth + 1), _compile(c, names, depth + 1)) for v, c in args]
        return lambda env: np.select(
            [np.asarray(c(env), dtype=bool) for _, c in pairs], [v(env) for v, _ in pairs], default=np.nan
        )
    if head not in _OPERATIONS:
        raise ProgramError(f"unknown operation {head!r} in a stored program")
    function, arity = _OPERATIONS[head]
    if (arity is None and not args) or (arity is not None and len(args) != arity):
        raise ProgramError(f"operation {head!r} given {len(args)} arguments in a stored program")
    parts = [_compile(a, names, depth + 1) for a in args]
    if len(parts) == 1:
        (only,) = parts
        return lambda env: function(only(env))
    if len(parts) == 2:
        first, second = parts
        return lambda env: function(first(env), second(env))
    return lambda env: function(*(p(env) for p in parts))


def compile_program(program: Any) -> Callable[..., list[Any]]:
    """The numpy function of a program: positional arrays in ``args`` order, a list of outputs back.

    Raises :class:`ProgramError` for anything but a well-formed program of this format's vocabulary.
    """
    if not isinstance(program, dict) or program.get("format") != FORMAT:
        raise ProgramError(f"a stored program must be an object of format {FORMAT}")
    args, lets, outs = program.get("args"), program.get("let"), program.get("out")
    if not (isinstance(args, list) and all(isinstance(a, str) for a in args) and len(set(args)) == len(args)):
        raise ProgramError("a stored program's args must be distinct names")
    if not (isinstance(lets, list) and isinstance(outs, list)):
        raise ProgramError("a stored program needs 'let' and 'out' lists")
    names = set(args)
    bindings: list[tuple[str, Node]] = []
    for binding in lets:
        if not (isinstance(binding, list) and len(binding) == 2 and isinstance(binding[0], str)):
            raise ProgramError("a stored program's let bindings must be [name, expression]")
        if binding[0] in names:
            raise ProgramError(f"a stored program binds {binding[0]!r} twice")
        bindings.append((binding[0], _compile(binding[1], names)))
        names.add(binding[0])
    results = [_compile(out, names) for out in outs]
    arg_names = tuple(args)

    def function(*arrays: Any) -> list[Any]:
        env: Env = dict(zip(arg_names, arrays, strict=True))
        for name, node in bindings:
            env[name] = node(env)
        return [node(env) for node in results]

    return function


# -- SymPy -> program (the derivation side; imports SymPy) -----------------------------------------------------


class NotRepresentable(Exception):
    """An expression uses a SymPy construct outside the vocabulary (the theorem is then not cached)."""


def _tree(expr: Any) -> list[Any]:
    import sympy

    if isinstance(expr, sympy.Symbol):
        return ["sym", expr.name]
    if expr is sympy.true:
        return ["true"]
    if expr is sympy.false:
        return ["false"]
    if isinstance(expr, sympy.Integer):
        return ["int", int(expr)]
    if isinstance(expr, sympy.Rational):
        return ["rat", int(expr.p), int(expr.q)]
    if isinstance(expr, sympy.Float) and expr.is_finite:
        return ["float", float(expr)]
    if isinstance(expr, sympy.Pow):
        base, exponent = expr.args
        if exponent == sympy.Rational(1, 2):
            return ["sqrt", _tree(base)]
        if exponent == sympy.Rational(-1, 2):
            return ["rsqrt", _tree(base)]
        if exponent == -1:
            return ["inv", _tree(base)]
        return ["pow", _tree(base), _tree(exponent)]
    if isinstance(expr, sympy.exp):
        return ["exp", _tree(expr.args[0])]
    if isinstance(expr, sympy.Piecewise):
        return ["piecewise", *([_tree(v), _tree(c)] for v, c in expr.args)]
    heads = {
        sympy.Add: "add",
        sympy.Mul: "mul",
        sympy.log: "log",
        sympy.Abs: "abs",
        sympy.Min: "min",
        sympy.Max: "max",
        sympy.StrictGreaterThan: "gt",
        sympy.GreaterThan: "ge",
        sympy.StrictLessThan: "lt",
        sympy.LessThan: "le",
        sympy.Equality: "eq",
        sympy.Unequality: "ne",
        sympy.And: "and",
        sympy.Or: "or",
        sympy.Not: "not",
    }
    for kind, head in heads.items():
        if type(expr) is kind:
            return [head, *(_tree(a) for a in expr.args)]
    raise NotRepresentable(f"{type(expr).__name__} is not in the stored-program vocabulary")


def to_program(args: Sequence[str], exprs: Sequence[Any]) -> dict[str, Any]:
    """The program of SymPy expressions in the parameters ``args`` (common subexpressions shared).

    Raises :class:`NotRepresentable` if an expression uses a construct outside the vocabulary.
    """
    import sympy

    names = sympy.numbered_symbols("_cse")
    lets, outs = sympy.cse(list(exprs), symbols=names)
    return {
        "format": FORMAT,
        "args": list(args),
        "let": [[str(symbol), _tree(expr)] for symbol, expr in lets],
        "out": [_tree(e) for e in outs],
    }
