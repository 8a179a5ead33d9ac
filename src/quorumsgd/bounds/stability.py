r"""Discrete-time stability of QSGD and EASGD on a 1-D quadratic (the paper's supplementary 1-D analysis, whose text is lost: re-derived here).

For :math:`f=\frac h2x^2`, :math:`a=\eta h`, :math:`\alpha=\eta k`, the noise-free iterations (41) and (3)
are linear. Their maps are computed from the algorithm definitions per mode
(:func:`quorumsgd.bounds.catalog.stability_matrices`):

* QSGD: mean mode :math:`1-a`, difference modes :math:`1-a-\alpha`: stable iff :math:`0<a<2` and
  :math:`0<a+\alpha<2`, **independent of p**;
* EASGD: difference modes :math:`1-a-\alpha`; the :math:`(\bar x,\tilde x)` block
  :math:`\begin{pmatrix}1-a-\alpha&\alpha\\p\alpha&1-p\alpha\end{pmatrix}` is stable iff Jury's conditions
  hold, and condition (ii) fails once :math:`\beta=p\alpha\gtrsim2`.

Example:
    >>> r = stability(lr=0.1, curvature=1.0, coupling=0.5, n_agents=39, algorithm="easgd")
    >>> r.terms["stable"]
    0.0
    >>> stability(lr=0.1, curvature=1.0, coupling=0.5, n_agents=39, algorithm="qsgd").terms["stable"]
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from quorumsgd.bounds.registry import REGISTRY, TheoremEntry, documented
from quorumsgd.bounds.theorem import BoundResult, HypothesisCheck
from quorumsgd.errors import InvalidParameter, QuorumSGDError
from quorumsgd.parameters import latex, validate_values

if TYPE_CHECKING:
    import sympy

ALGORITHMS = REGISTRY["stability"].choices["algorithm"]
PARAMETERS = REGISTRY["stability"].parameters


@cache
def _compiled(algorithm: str) -> tuple[Any, Any, list[sympy.Basic], sympy.Matrix]:
    import sympy

    from quorumsgd.bounds.catalog import jury_conditions, stability_matrices  # SymPy and the derivation, on first use

    mats = stability_matrices(algorithm)
    conditions = [c for m in mats.values() for c in jury_conditions(m)]
    args = [sympy.Symbol(n) for n in PARAMETERS]

    def plain(e: sympy.Basic) -> sympy.Basic:
        return e.xreplace({s: sympy.Symbol(s.name) for s in e.free_symbols})

    entries = sympy.lambdify(args, [plain(m) for m in mats.values()], modules="numpy")
    checks = sympy.lambdify(args, [plain(c) for c in conditions], modules="numpy")
    return entries, checks, conditions, mats["mean"]


def _spectral_radius(matrix_fn_output: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    radius = np.zeros(shape)
    for mat in matrix_fn_output:
        m = np.asarray(mat, dtype=object)
        rows = [[np.broadcast_to(np.asarray(e, dtype=float), shape) for e in row] for row in m]
        stacked = np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)  # (..., d, d)
        if not np.all(np.isfinite(stacked)):  # lr * curvature overflowed: no eigenvalues to compute
            raise QuorumSGDError("stability: the parameters must stay within the range of 64-bit floats: the "
                                 "iteration matrix overflows (products such as lr * curvature); rescale them")
        radius = np.maximum(radius, np.max(np.abs(np.linalg.eigvals(stacked)), axis=-1))
    return radius


@documented("stability")
def stability(
    *, lr: ArrayLike, curvature: ArrayLike, coupling: ArrayLike, n_agents: ArrayLike, algorithm: str = "qsgd"
) -> BoundResult:
    """Vectorized over array parameters; the hypotheses it reports are Jury's conditions, each with whether it
    holds everywhere.

    >>> stability(lr=0.1, curvature=1.0, coupling=0.5, n_agents=[38, 39], algorithm="easgd").terms["stable"]
    array([1., 0.])
    """
    if algorithm not in ALGORITHMS:
        raise InvalidParameter("algorithm", f"be one of {', '.join(ALGORITHMS)}", algorithm, "stability")
    values = validate_values(
        {"lr": lr, "curvature": curvature, "coupling": coupling, "n_agents": n_agents}, where="stability"
    )
    import sympy

    entries, checks, conditions, mean_map = _compiled(algorithm)
    arrays = np.broadcast_arrays(*(values[n] for n in PARAMETERS))
    shape = arrays[0].shape
    with np.errstate(over="ignore", invalid="ignore"):
        matrices = entries(*arrays)
    radius = _spectral_radius(matrices, shape)
    per_condition = [np.broadcast_to(np.asarray(c, dtype=bool), shape) for c in checks(*arrays)]
    jury = np.logical_and.reduce(per_condition)

    def number(x: np.ndarray) -> float | np.ndarray:
        return float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=float)

    return BoundResult(
        name="stability",
        title=f"Discrete-time stability of {algorithm.upper()} on a 1-D quadratic",
        equation="SI (1-D)",
        value=number(radius),
        terms={"spectral_radius": number(radius), "stable": number(jury.astype(float))},
        expression=sympy.Matrix(mean_map),
        term_expressions={"mean_mode_map": mean_map},
        latex=latex(mean_map),
        transient_rates={},
        hypotheses=tuple(
            HypothesisCheck(str(c), "Jury", bool(np.all(ok))) for c, ok in zip(conditions, per_condition, strict=True)
        ),
        parameters={n: number(values[n]) for n in PARAMETERS},
        spec_difference="",
    )


def max_stable_coupling(*, lr: float, curvature: float, n_agents: int, algorithm: str, upper: float = 1e3) -> float:
    """Largest coupling for which the iteration is stable (bisection on the Jury conditions; 0 if none)."""
    grid = np.linspace(upper / 20000, upper, 20000)  # k = 0 leaves EASGD marginal (eigenvalue 1)
    stable = np.asarray(
        stability(lr=lr, curvature=curvature, coupling=grid, n_agents=n_agents, algorithm=algorithm).terms["stable"]
    )
    if not stable[0]:
        return 0.0
    first_unstable = int(np.argmin(stable)) if not np.all(stable) else grid.size
    return float(grid[first_unstable - 1])


@dataclass(frozen=True, eq=False)
class StabilityTheorem(TheoremEntry):
    """Discrete-time stability in the interface of a :class:`~quorumsgd.bounds.theorem.Theorem`: the registry
    entry itself (no hypotheses: it reports stable or unstable), evaluated by :func:`stability`."""

    @property
    def all_parameters(self) -> tuple[str, ...]:
        return (*self.parameters, *self.optional)

    def evaluate(self, **params: Any) -> BoundResult:
        """:func:`stability` with the theorem's parameter checks: unknown or missing names raise."""
        for name in params:
            if name not in self.all_parameters:
                raise InvalidParameter(name, f"not be given: stability takes {', '.join(self.all_parameters)}",
                                       where="stability")
        for name in self.parameters:
            if params.get(name) is None:
                raise InvalidParameter(name, "be given", where="stability")
        return stability(**params)


@cache
def stability_theorem() -> StabilityTheorem:
    """The registry's ``stability`` entry as a theorem."""
    return StabilityTheorem(**vars(REGISTRY["stability"]))
