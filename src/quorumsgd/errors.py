"""Errors that carry a one-line message: bad input (the CLI prints it and exits with code 2) or an internal
numerical failure (:class:`NumericalFailure`, exit code 3).

Example:
    >>> err = HypothesisViolation("lemma3.1", "coupling > lambda_max", "(22)", "coupling=0.5, lambda_max=1")
    >>> str(err)
    'lemma3.1: hypothesis coupling > lambda_max of (22) is violated (coupling=0.5, lambda_max=1)'
"""

from __future__ import annotations


class QuorumSGDError(ValueError):
    """Base class: bad input that the user can fix. ``str(err)`` is one line."""


class NumericalFailure(Exception):
    """Not the user's input: a numerical routine failed (a conic solver on a problem that has a solution, or a
    solution that does not pass its verification). ``str(err)`` is one line; the CLI exits with code 3. Not a
    ``ValueError``, so that code catching bad input does not mistake a defect for it."""

    exit_code = 3


class InvalidParameter(QuorumSGDError):
    """A parameter is missing, has the wrong type, or breaks a basic constraint (``lr > 0``, ...)."""

    def __init__(self, name: str, constraint: str, value: object = None, where: str | None = None):
        self.name, self.constraint, self.value, self.where = name, constraint, value, where
        prefix = f"{where}: " if where else ""
        shown = "" if value is None else f" (got {_short(repr(value))})"
        verb = "must" if constraint.split(" ", 1)[0] in {"be", "not"} else "must satisfy"
        super().__init__(f"{prefix}parameter {name} {verb} {constraint}{shown}")


def _short(text: str, limit: int = 80) -> str:
    """An echoed input, cut so that the message stays one readable line (a 100 kB argument is not echoed)."""
    return text if len(text) <= limit else f"{text[: limit - 25]}... ({len(text)} characters)"


class HypothesisViolation(QuorumSGDError):
    """A theorem's hypothesis fails for the given parameters: the bound does not apply."""

    def __init__(self, theorem: str, hypothesis: str, equation: str, detail: str = ""):
        self.theorem, self.hypothesis, self.equation, self.detail = theorem, hypothesis, equation, detail
        tail = f" ({detail})" if detail else ""
        super().__init__(f"{theorem}: hypothesis {hypothesis} of {equation} is violated{tail}")
