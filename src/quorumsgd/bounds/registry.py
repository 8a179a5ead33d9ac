r"""The registry of the paper's results: what each one states, takes and assumes, in the paper's order.

Each :class:`TheoremEntry` is everything the toolkit knows about one result, or points to the one place
that defines it:

* the header of its :class:`~quorumsgd.bounds.theorem.Theorem`: name, title, equation, statement, parameters
  and hypotheses (statement and equation); the theorem takes it from here
  (:meth:`Theorem.of <quorumsgd.bounds.theorem.Theorem.of>`);
* its derivation: :attr:`~TheoremEntry.factory`, the function of :mod:`quorumsgd.bounds.catalog` that composes
  its terms and the hypotheses' relations (:meth:`TheoremEntry.derive`);
* its public function: ``quorumsgd.bounds.thm5_1`` and the others are generated from the entry (signature,
  docstring with the statement in LaTeX, the hypotheses, the equation and :attr:`~TheoremEntry.example`);
* its SDP certificate over :math:`\mathcal S(\lambda,L)` (``method="sdp"``): :attr:`~TheoremEntry.sdp`, an
  algorithm of :mod:`quorumsgd.algorithms` and the quantity certified (:class:`SDPTarget`);
* its Monte Carlo check (``quorumsgd verify``) and whether a hunt searches its worst case
  (``quorumsgd hunt``): :attr:`~TheoremEntry.check` (:class:`CheckSpec`);
* whether it is one of the contraction analyses of :mod:`quorumsgd.contraction` (:attr:`~TheoremEntry.contraction`).

The tuples :data:`NAMES`, :data:`MEASURABLE`, :data:`HUNTABLE`, :data:`SDP_CERTIFIED` and :data:`CONTRACTING`
are derived from the entries; the command line, ``verify``, ``hunt`` and ``contraction`` take their names
from them (a test fails if a module names a theorem that is not here). The registry is cheap to import (no
SymPy, cvxpy or torch: algorithms and checks are named by ``module:attribute`` and imported when used), so
the command line's help and the proof site's titles are generated from it without deriving anything.

Example:
    >>> REGISTRY["thm5.1"].title, REGISTRY["thm5.1"].equation
    ('QSGD convergence', '(47)')
    >>> REGISTRY["stability"].flags
    '--lr --curvature --coupling --n-agents [--algorithm]'
    >>> NAMES[:3]
    ('lemma2.1', 'thm2.1', 'cor2.1')
    >>> SDP_CERTIFIED, REGISTRY["thm5.2"].sdp.quantity
    (('lemma3.1', 'sgd', 'thm5.1', 'thm5.2', 'thm5.3'), ('center', 'quorum'))
    >>> HUNTABLE
    ('lemma3.1', 'thm3.2', 'sgd', 'thm5.1', 'thm5.2', 'thm5.3', 'lemma5.5')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from quorumsgd.parameters import PARAMETERS


def resolve(path: str) -> Any:
    """The object a ``module:attribute`` path names, imported on first use (keeps this module cheap)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Build:
    """A call made from parameter values: ``target(**{keyword: values[parameter]}, **constants)``.

    How an entry names an algorithm (or any object) built from a theorem's parameters without importing it.
    Integer parameters (``n_agents``) are passed as ``int``; a parameter missing from ``values`` takes its
    :attr:`defaults` value.

    >>> Build("quorumsgd.algorithms:qsgd_iteration", (("lr", "lr"), ("coupling", "coupling")))(
    ...     {"lr": 0.1, "coupling": 2.0}).coupling
    2.0
    """

    target: str
    arguments: tuple[tuple[str, str], ...] = ()
    constants: tuple[tuple[str, Any], ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()

    def __call__(self, values: Mapping[str, Any]) -> Any:
        defaults = dict(self.defaults)
        kwargs = {}
        for keyword, parameter in self.arguments:
            value = values[parameter] if parameter in values else defaults[parameter]
            integer = parameter in PARAMETERS and PARAMETERS[parameter].domain == "positive_integer"
            kwargs[keyword] = int(value) if integer else value
        return resolve(self.target)(**kwargs, **dict(self.constants))


def _build(target: str, *parameters: str, constants: Mapping[str, Any] | None = None,
           defaults: Mapping[str, Any] | None = None, **renamed: str) -> Build:
    """:class:`Build` with each parameter passed under its own name (``renamed``: keyword=parameter)."""
    arguments = tuple((p, p) for p in parameters) + tuple(renamed.items())
    return Build(target, arguments, tuple((constants or {}).items()), tuple((defaults or {}).items()))


@dataclass(frozen=True)
class SDPTarget:
    r"""What ``method="sdp"`` certifies for a result: a second moment of an algorithm over :math:`\mathcal S(\lambda,L)`.

    The paper's theorems are instances of one mechanism: an algorithm of :mod:`quorumsgd.algorithms` (the SDE,
    and the discrete iteration for ``discrete=True``), built from the parameter values, and the quantity whose
    stationary second moment is certified (:mod:`quorumsgd.bounds.sdp`).

    Attributes:
        algorithm: the algorithm's name in the result's title (``QSGD``).
        quantity: the named second moments summed (``bounds.sdp.certificate.TARGETS``: ``center``, ``quorum``,
            ``center_velocity``, ``spread``).
        continuous: builds the SDE from the parameter values.
        discrete: builds the discrete iteration (step ``lr``) from the parameter values.
        parameters: what the continuous certificate takes (``smoothness`` included: the class needs :math:`L`).
        discrete_parameters: what the discrete certificate takes.
        discrete_equation: the paper's equation of the discrete iteration.
        first_moment: report :math:`\sqrt{\text{second moment}}` (Jensen) as ``value``; ``False``: the second
            moment itself (Lemma 3.1's (22) is a second moment).
        ignored: parameters of the paper's bound that the certificate accepts and ignores.
    """

    algorithm: str
    quantity: tuple[str, ...]
    continuous: Callable[[Mapping[str, Any]], Any]  # a Build for the paper's; any such callable for one's own
    discrete: Callable[[Mapping[str, Any]], Any]
    parameters: tuple[str, ...]
    discrete_parameters: tuple[str, ...]
    discrete_equation: str
    first_moment: bool = True
    ignored: tuple[str, ...] = ("q", "dim")


@dataclass(frozen=True)
class CheckSpec:
    """How ``quorumsgd verify`` measures a result by Monte Carlo, and whether ``quorumsgd hunt`` searches it.

    Attributes:
        function: ``module:function`` of the check, ``(problem, settings) -> CheckResult``
            (:mod:`quorumsgd.verify.checks`).
        variants: further named checks of the same function on their own default problem
            (``lemma3.1:multi_lr``).
        direction: ``upper`` (the bound is above the measured statistic) or ``lower`` (a rate: below).
        exact_on_quadratics: the check simulates isotropic quadratics with exact Gaussian transitions (no
            time-step bias to allow for).
    """

    function: str
    variants: tuple[str, ...] = ()
    direction: str = "upper"
    exact_on_quadratics: bool = False

    @property
    def huntable(self) -> bool:
        """A hunt searches for the worst case of the measurable upper bounds."""
        return self.direction == "upper"


@dataclass(frozen=True)
class TheoremEntry:
    """One result of the paper as the registry knows it.

    Attributes:
        name: design name (``thm5.1``), as in ``quorumsgd bound NAME``.
        title: human title.
        equation: the paper's equation number(s).
        section: where it is in the paper.
        statement: the result in LaTeX.
        parameters: required parameter names (:mod:`quorumsgd.parameters`).
        optional: optional parameters and their defaults (``None``: chosen by the theorem).
        hypotheses: (statement, equation) of each hypothesis, in the order the derivation gives relations.
        kind: ``bound`` (a non-negative value), ``rate`` (a rate or condition), ``radius`` (a spectral radius).
        factory: ``module:function`` that derives the theorem.
        notes: what the wrapper's docstring says beyond the statement (defaults, conventions).
        short: the label when the name is not ``thm``/``lemma``/``cor`` + number.
        choices: the values of a non-numeric optional parameter (``stability``'s ``algorithm``).
        options: keyword options of the public function beyond the theorem's parameters (``metric``, and the
            parameters that only ``metric="lmi"`` takes), with their defaults.
        example: the public function's runnable example (doctest lines, run by the test suite).
        function: the public function's name in :mod:`quorumsgd.bounds`; ``""`` when it is written by hand
            elsewhere (``stability``); the generated functions take their signature and docstring from here.
        sdp: the SDP certificate over S(lambda, L) (``method="sdp"``), or ``None``.
        check: the Monte Carlo check (``quorumsgd verify``), or ``None``.
        contraction: a contraction analysis of :mod:`quorumsgd.contraction` (its virtual or synchronized system).
    """

    name: str
    title: str
    equation: str
    section: str
    statement: str
    parameters: tuple[str, ...]
    factory: str
    optional: dict[str, Any] = field(default_factory=dict)
    hypotheses: tuple[tuple[str, str], ...] = ()
    kind: str = "bound"
    notes: str = ""
    short: str = ""
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    example: str = ""
    function: str | None = None
    sdp: SDPTarget | None = None
    check: CheckSpec | None = None
    contraction: bool = False

    @property
    def python_name(self) -> str:
        """The public function's name (``thm5_1``), ``""`` when there is none generated."""
        return self.name.replace(".", "_") if self.function is None else self.function

    @property
    def label(self) -> str:
        """``Theorem 5.1``, ``Lemma 3.2``, ``Corollary 2.1``, or :attr:`short`."""
        for prefix, word in (("thm", "Theorem "), ("lemma", "Lemma "), ("cor", "Corollary ")):
            if self.name.startswith(prefix):
                return word + self.name[len(prefix):]
        return self.short or self.name

    def derive(self) -> Any:
        """The derived theorem (cached by its factory): a :class:`~quorumsgd.bounds.theorem.Theorem`."""
        return resolve(self.factory)()

    @property
    def flags(self) -> str:
        """The command-line flags it takes: required, then ``[optional]``."""
        flags = " ".join(_flag(p) for p in self.parameters)
        if self.optional:
            flags += " [" + " ".join(_flag(o) for o in self.optional) + "]"
        return flags

    def hypotheses_text(self) -> str:
        """One line per hypothesis, or what is checked when there is none."""
        return "\n".join(f"{s} {e}" for s, e in self.hypotheses) or "(parameter domains only)"

    def docstring(self, extra: str = "") -> str:
        """The docstring of the public wrapper: statement, hypotheses, Args from the parameter table, ``extra``."""
        lines = [f"{self.title}, {self.equation} ({self.section}): :math:`{self.statement}`.", ""]
        if self.notes:
            lines += [self.notes, ""]
        if self.hypotheses:
            lines.append("Hypotheses (checked element-wise; a violation raises ``HypothesisViolation``):")
            lines += [f"    * {s} {e}" for s, e in self.hypotheses]
            lines.append("")
        lines.append("Args:")
        for name in self.parameters:
            lines.append(f"    {name}: {_describe(name)}.")
        for name, default in self.optional.items():
            shown = "chosen by the theorem" if default is None else repr(default)
            what = " or ".join(f"``{c}``" for c in self.choices[name]) if name in self.choices else _describe(name)
            lines.append(f"    {name}: {what}; optional, default {shown}.")
        for name, default in self.options.items():
            lines.append(f"    {name}: {_OPTION_TEXT.get(name, _describe(name))}; optional, default {default!r}.")
        lines += ["", "Returns:", "    BoundResult: value, named terms, transient rates, hypotheses, LaTeX."]
        if self.example:
            lines += ["", "Example:", *("    " + line for line in _dedent(self.example).splitlines())]
        text = "\n".join(lines)
        return text + ("\n\n" + _dedent(extra) if extra else "")


_OPTION_TEXT = {
    "metric": "``'paper'`` (the paper's metrics) or ``'lmi'`` (LMI-certified metrics in the same composition)",
    "smoothness": "smoothness constant L, taken by ``metric='lmi'`` only (the certificate is over [lambda, L])",
}


def _flag(name: str) -> str:
    return PARAMETERS[name].flag if name in PARAMETERS else "--" + name.replace("_", "-")


def _describe(name: str) -> str:
    if name not in PARAMETERS:
        return name.replace("_", " ")
    param = PARAMETERS[name]
    return f"{param.description} (:math:`{param.latex}`, {param.constraint}); scalar or array"


def _dedent(text: str) -> str:
    import inspect

    return inspect.cleandoc(text)


_CATALOG = "quorumsgd.bounds.catalog"
_SYNC = ("coupling > lambda_max (Thm 3.1)",)
_LEMMA53_HYPOTHESES = (
    ("smoothness >= strong_convexity", "(52)"),
    ("damping > sqrt(smoothness) - sqrt(strong_convexity)", "(52)"),
    ("0 < metric_a < damping", "(53)"),
    ("c^2 = (lambda + L)/2 - a (damping - a) > 0", "(53)"),
    ("metric (53) certifies contraction (Lemma 5.3 condition)", "(52)"),
    ("coupling damping > m^2/4 (Lemma 3.2 with velocity_coupling = 0)", "(35)"),
)
_CONVERGENCE = ("n_agents", "lr", "batch_size", "sigma2", "dim", "q", "strong_convexity")
_ALG = "quorumsgd.algorithms:"
_CHECKS = "quorumsgd.verify.checks:"
_CLASS = ("strong_convexity", "smoothness")  # the SDP's class S(lambda, L)
_NOISE = ("lr", "batch_size", "sigma2")
_SDP_QSGD = ("n_agents", *_NOISE, *_CLASS)
_E = TheoremEntry

ENTRIES: tuple[TheoremEntry, ...] = (
    _E("lemma2.1", "Robustness of contracting systems", "(12)", "Sec. 2.5, (10)-(13)",
       r"\dot{\mathbf y}=\mathbf f(\mathbf y,t)+\mathbf d,\ \|\mathbf d\|\le\bar d"
       r"\ \Rightarrow\ \|\mathbf x(t)-\mathbf y(t)\|\le\frac{\chi(\Theta)\bar d}{\lambda}",
       ("chi", "disturbance", "rate"), f"{_CATALOG}:lemma2_1",
       example=">>> lemma2_1(chi=2.0, disturbance=0.3, rate=0.5).value\n1.2"),
    _E("thm2.1", "Stochastic contraction", "Thm 2.1 (Pham et al. 2009)", "Sec. 2.5, (14)",
       r"\mathbb E\|\mathbf a(t)-\mathbf b(t)\|^2\le\frac1{\beta_{\min}}\Big(\frac{C}{\lambda}+\mathbb E\big["
       r"(\|\mathbf a_0-\mathbf b_0\|^2_{\mathbf M}-\frac{C}{\lambda})^+\big]e^{-2\lambda t}\Big)",
       ("noise_bound", "rate", "beta_min", "initial_gap2", "time"), f"{_CATALOG}:thm2_1",
       example=">>> thm2_1(noise_bound=1.0, rate=2.0, beta_min=1.0, initial_gap2=0.0, time=1.0).value\n0.5"),
    _E("cor2.1", "Stochastic contraction, one noisy trajectory", "Cor 2.1", "Sec. 2.5",
       r"\mathbb E\|\mathbf a(t)-\mathbf b(t)\|^2\le\frac1{\beta_{\min}}\Big(\frac{C}{2\lambda}+\mathbb E\big["
       r"(\|\mathbf a_0-\mathbf b_0\|^2_{\mathbf M}-\frac{C}{2\lambda})^+\big]e^{-2\lambda t}\Big)",
       ("noise_bound", "rate", "beta_min", "initial_gap2", "time"), f"{_CATALOG}:cor2_1",
       example=">>> cor2_1(noise_bound=1.0, rate=2.0, beta_min=1.0, initial_gap2=0.0, time=1.0).value\n0.25"),
    _E("thm3.1", "Synchronization of agents with a common input", "(19)-(21)", "Sec. 3.1, (19)-(21)",
       r"k>\lambda_{\max}\ \Rightarrow\ \text{agents of (19) synchronize at rate }k-\lambda_{\max}",
       ("coupling", "lambda_max"), f"{_CATALOG}:thm3_1", hypotheses=((*_SYNC, "(21)"),), kind="rate",
       contraction=True,
       example=">>> thm3_1(coupling=3.0, lambda_max=1.0).value\n2.0"),
    _E("lemma3.1", "Synchronization condition (spread of the agents)", "(22)", "Sec. 3.1, (22)-(24)",
       r"\mathbb E\sum_i\|\mathbf x^i-\bar{\mathbf x}\|^2\le\frac{(p-1)\eta\sigma^2}{2b(k-\lambda_{\max})}",
       ("n_agents", "lr", "batch_size", "sigma2", "coupling", "lambda_max"), f"{_CATALOG}:lemma3_1",
       hypotheses=((*_SYNC, "(22)"),), notes="For per-agent learning rates (Sec. 3.4) pass ``lr`` = their mean.",
       sdp=SDPTarget("Spread of the QSGD agents", ("spread",), _build(_ALG + "QSGD", "coupling"),
                     _build(_ALG + "qsgd_iteration", "lr", "coupling"), (*_SDP_QSGD, "coupling"), (*_SDP_QSGD, "coupling"),
                     "(41)", first_moment=False, ignored=("q", "dim", "lambda_max")), check=CheckSpec(_CHECKS + "check_lemma3_1", variants=("multi_lr",), exact_on_quadratics=True),
       example=">>> round(lemma3_1(n_agents=4, lr=0.1, batch_size=1, sigma2=2.0, coupling=2.0, lambda_max=1.0).value, 12)\n0.3"),
    _E("thm3.2", "Synchronization reduces noise: the disturbance bound", "(31)", "Sec. 3.2, (25)-(31)",
       r"\mathbb E\|\boldsymbol\epsilon\|\le\frac{(p-1)\eta Q\sigma^2\sqrt n}{4pb(k-\lambda_{\max})}",
       ("n_agents", "lr", "batch_size", "sigma2", "dim", "q", "coupling", "lambda_max"), f"{_CATALOG}:thm3_2",
       hypotheses=((*_SYNC, "(31)"),),
       check=CheckSpec(_CHECKS + "check_thm3_2"),
       example=">>> round(thm3_2(n_agents=2, lr=0.1, batch_size=1, sigma2=1.0, dim=4, q=1.0, coupling=1.0,\n"
       "...              lambda_max=0.0).value, 6)\n0.025"),
    _E("lemma3.2", "Synchronization of QSGD with momentum", "(35)", "Sec. 3.5, (33)-(37)",
       r"k_x(\gamma+k_v)>\frac{m^2}4\Rightarrow\lambda_s\ge\frac{k_x+\gamma+k_v}2"
       r"-\sqrt{\big(\frac{k_x-\gamma-k_v}2\big)^2+\frac{m^2}4},\ m=\max(|1-\lambda|,|1-L|)",
       ("coupling", "damping", "strong_convexity", "smoothness"), f"{_CATALOG}:lemma3_2",
       optional={"velocity_coupling": 0.0}, kind="rate",
       hypotheses=(("coupling (damping + velocity_coupling) > m^2/4", "(35)"),
                   ("smoothness >= strong_convexity", "(35)")),
       contraction=True,
       example=">>> round(lemma3_2(coupling=2.0, damping=2.0, strong_convexity=1.0, smoothness=3.0).value, 6)\n1.0"),
    _E("sgd", "SGD comparison bound", "(48)", "Sec. 5.1, (48)",
       r"\mathbb E\|\mathbf x-\mathbf x^*\|\le\sqrt{\frac{\eta\sigma^2}{2b\lambda}}",
       ("lr", "batch_size", "sigma2", "strong_convexity"), f"{_CATALOG}:sgd", short="SGD bound",
       sdp=SDPTarget("SGD", ("center",), _build(_ALG + "SGD"), _build(_ALG + "sgd_iteration", "lr"), (*_NOISE, *_CLASS),
                     (*_NOISE, *_CLASS), "(1)"), check=CheckSpec(_CHECKS + "check_sgd", exact_on_quadratics=True),
       example=">>> round(sgd(lr=0.5, batch_size=1, sigma2=1.0, strong_convexity=1.0).value, 12)\n0.5"),
    _E("thm5.1", "QSGD convergence", "(47)", "Sec. 5.1, (47)",
       r"\mathbb E\|\bar{\mathbf x}-\mathbf x^*\|\le\frac{(p-1)\eta Q\sigma^2\sqrt n}{4pb\lambda(k+\lambda)}"
       r"+\sqrt{\frac{\eta\sigma^2}{2bp\lambda}}",
       (*_CONVERGENCE, "coupling"), f"{_CATALOG}:thm5_1",
       hypotheses=(("coupling + strong_convexity > 0 (Thm 3.1 with lambda_max = -lambda)", "(47)"),),
       sdp=SDPTarget("QSGD", ("center",), _build(_ALG + "QSGD", "coupling"),
                     _build(_ALG + "qsgd_iteration", "lr", "coupling"), (*_SDP_QSGD, "coupling"), (*_SDP_QSGD, "coupling"),
                     "(41)"), check=CheckSpec(_CHECKS + "check_thm5_1", exact_on_quadratics=True),
       example=">>> round(thm5_1(n_agents=4, lr=0.5, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,\n"
       "...              coupling=1.0).value, 6)\n0.25"),
    _E("lemma5.2", "Deterministic EASGD: contraction of the synchronized system", "(50)", "Sec. 5.2, (50)",
       r"\lambda_E\ge\frac{\lambda+k+kp}2-\sqrt{\big(\frac{\lambda+k-kp}2\big)^2+k^2p}>0"
       r"\ \text{in }\mathbf M=\mathrm{diag}(p\mathbf I,\mathbf I)",
       ("strong_convexity", "coupling", "n_agents"), f"{_CATALOG}:lemma5_2", kind="rate",
       hypotheses=(("coupling n_agents strong_convexity > 0 (reduces to lambda > 0)", "(50)"),),
       contraction=True,
       example=">>> round(lemma5_2(strong_convexity=1.0, coupling=1.0, n_agents=4).value, 6)\n0.763932"),
    _E("thm5.2", "EASGD convergence", "(51)", "Sec. 5.2, (51)",
       r"\mathbb E\|\mathbf X-\mathbf X^*\|\le\frac{\sqrt p\,(p-1)\eta Q\sigma^2\sqrt n}{4pb\lambda_E(k+\lambda)}"
       r"+\sqrt{\frac{\eta C}{2bp\lambda_E}},\ C=p\sigma^2",
       (*_CONVERGENCE, "coupling"), f"{_CATALOG}:thm5_2",
       hypotheses=(("coupling n_agents strong_convexity > 0 (reduces to lambda > 0)", "(50)"),),
       notes="``metric='lmi'`` (with ``smoothness``) uses an LMI-certified metric in the same composition.",
       options={"metric": "paper", "smoothness": None}, sdp=SDPTarget("EASGD", ("center", "quorum"), _build(_ALG + "EASGD", "coupling"),
                     _build(_ALG + "easgd_iteration", "lr", "coupling", "n_agents", defaults={"n_agents": 1},
                            constants={"momentum": 0.0, "nesterov": False}),
                     (*_SDP_QSGD, "coupling"), (*_SDP_QSGD, "coupling"), "(3)"), check=CheckSpec(_CHECKS + "check_thm5_2"),
       example=">>> r = thm5_2(n_agents=4, lr=0.5, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,\n"
       "...            coupling=1.0)\n>>> round(r.value, 6)\n0.572061"),
    _E("lemma5.3", "Deterministic QSGD with momentum: contraction of the synchronized system", "(52)-(53)",
       "Sec. 5.3, (52)-(53)",
       r"\gamma>\sqrt L-\sqrt\lambda\Rightarrow\lambda_m\ge\frac\gamma2-\sqrt{\frac{(\gamma-2a)^2}4"
       r"+\frac{(L-\lambda)^2}{16c^2}},\ c^2=\frac{\lambda+L}2-a(\gamma-a)",
       ("strong_convexity", "smoothness", "damping", "coupling"), f"{_CATALOG}:lemma5_3",
       optional={"metric_a": None}, hypotheses=_LEMMA53_HYPOTHESES, kind="rate",
       notes="``metric_a`` defaults to the rate-maximizing admissible :math:`a`.",
       contraction=True,
       example=">>> round(lemma5_3(strong_convexity=1.0, smoothness=4.0, damping=3.0, coupling=5.0).value, 6)\n0.381966"),
    _E("thm5.3", "QSGD with momentum convergence", "(54)", "Sec. 5.3, (54)",
       r"\mathbb E\|\bar{\mathbf X}-\mathbf X^*\|\le\frac{\chi(\Theta)(p-1)\eta Q\sigma^2\sqrt n}"
       r"{4pb\lambda_m\lambda_s}+\sqrt{\frac{\eta C}{2bp\beta_{\min}\lambda_m}},\ C=\sigma^2",
       (*_CONVERGENCE, "smoothness", "coupling", "damping"), f"{_CATALOG}:thm5_3",
       optional={"metric_a": None}, hypotheses=_LEMMA53_HYPOTHESES,
       notes="``metric_a`` defaults to the admissible :math:`a` that minimizes the bound; ``metric='lmi'`` "
       "uses LMI-certified metrics in the same composition.",
       options={"metric": "paper"}, sdp=SDPTarget("QSGD with momentum", ("center", "center_velocity"),
                     _build(_ALG + "MomentumQSGD", "coupling", "damping"),
                     _build(_ALG + "momentum_qsgd_iteration", "lr", "coupling", "momentum"),
                     (*_SDP_QSGD, "coupling", "damping"), (*_SDP_QSGD, "coupling", "momentum"), "(42)-(43)"), check=CheckSpec(_CHECKS + "check_thm5_3", exact_on_quadratics=True),
       example=">>> r = thm5_3(n_agents=4, lr=0.1, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0,\n"
       "...            smoothness=2.0, coupling=2.0, damping=2.0)\n"
       ">>> r.value > 0, sorted(r.transient_rates)\n(True, ['convergence', 'synchronization'])"),
    _E("lemma5.4", "SD-QSGD synchronization with the best-agent gains (60)-(61)", "(56)",
       "Sec. 5.4, (55)-(57), (60)-(61)", r"\lambda_{sd}=\inf_t\frac1p\sum_jk_j(t)-\lambda_{\max}>0",
       ("coupling", "n_agents", "magnification", "lambda_max"), f"{_CATALOG}:lemma5_4", kind="rate",
       hypotheses=(("inf_t mean_j k_j(t) > lambda_max", "(56)"),),
       check=CheckSpec(_CHECKS + "check_lemma5_4", direction="lower"),
       example=">>> lemma5_4(coupling=2.0, n_agents=4, magnification=1.0, lambda_max=0.5).value\n0.5"),
    _E("lemma5.5", "Iterate averaging: optimal variance independent of the coupling", "(59)", "Sec. 5.5, (58)-(59)",
       r"\hat{\mathbf x}(t)\approx\mathcal N\big(0,\tfrac1{pt}\mathbf A^{-1}\boldsymbol\Sigma\mathbf A^{-1}\big)"
       r",\ \mathbb E\|\hat{\mathbf x}(t)\|^2\approx\frac{\eta\sigma^2}{bph^2t}\ (\mathbf A=h\mathbf I)",
       ("n_agents", "lr", "batch_size", "sigma2", "dim", "curvature", "time"), f"{_CATALOG}:lemma5_5",
       check=CheckSpec(_CHECKS + "check_lemma5_5"),
       example=">>> lemma5_5(n_agents=2, lr=0.1, batch_size=1, sigma2=1.0, dim=3, curvature=1.0, time=10.0).value\n0.005"),
    _E("stability", "Discrete-time stability of QSGD and EASGD", "SI (1-D)", "SI (1-D analysis, re-derived)",
       r"\text{QSGD: stable iff }0<\eta h<2,\ 0<\eta(h+k)<2\ (\text{any }p);\quad"
       r"\text{EASGD: Jury's conditions, (ii) }(2-\eta h)(2-p\eta k)>2\eta k\text{ fails for large }p",
       ("lr", "curvature", "coupling", "n_agents"), "quorumsgd.bounds.stability:stability_theorem",
       optional={"algorithm": "qsgd"}, kind="radius", short="Discrete-time stability",
       choices={"algorithm": ("qsgd", "easgd")},
       notes="``value`` is the spectral radius of the noise-free iteration on :math:`f=\\frac h2x^2` over all "
       "modes (< 1 iff stable); ``terms`` holds ``stable`` (1.0 or 0.0) and the radius.",
       function=""),
)
"""Every result, in the paper's order."""

REGISTRY: dict[str, TheoremEntry] = {entry.name: entry for entry in ENTRIES}

NAMES: tuple[str, ...] = tuple(REGISTRY)
"""Every theorem name of the calculator, in the paper's order."""

MEASURABLE: tuple[str, ...] = tuple(e.name for e in ENTRIES if e.check is not None)
"""The results ``quorumsgd verify`` checks by Monte Carlo."""

CHECK_NAMES: tuple[str, ...] = tuple(
    name for e in ENTRIES if e.check is not None for name in (e.name, *(f"{e.name}:{v}" for v in e.check.variants))
)
"""Every check of ``quorumsgd verify --only``: each measurable result and its variants (``lemma3.1:multi_lr``)."""

HUNTABLE: tuple[str, ...] = tuple(e.name for e in ENTRIES if e.check is not None and e.check.huntable)
"""The measurable upper bounds: those whose worst case ``quorumsgd hunt`` searches (and the sandwich reports)."""

SDP_CERTIFIED: tuple[str, ...] = tuple(e.name for e in ENTRIES if e.sdp is not None)
"""The results with an SDP certificate over S(lambda, L) (``method="sdp"``)."""

CONTRACTING: tuple[str, ...] = tuple(e.name for e in ENTRIES if e.contraction)
"""The contraction analyses of :mod:`quorumsgd.contraction` (each a virtual or synchronized system)."""

GENERATED: tuple[str, ...] = tuple(e.name for e in ENTRIES if e.python_name)
"""The results whose public function :mod:`quorumsgd.bounds` generates from the entry."""


def entry(name: str) -> TheoremEntry:
    """The registry entry of a name; an unknown name raises :class:`~quorumsgd.errors.InvalidParameter`."""
    if name not in REGISTRY:
        from quorumsgd.errors import InvalidParameter

        raise InvalidParameter("name", f"be one of {', '.join(NAMES)}", name)
    return REGISTRY[name]


def used_by(parameter: str) -> tuple[str, ...]:
    """The theorems that take a parameter (for the command line's help)."""
    return tuple(e.name for e in ENTRIES if parameter in e.parameters or parameter in e.optional)


def help_text() -> str:
    """One line per theorem, ``name  title equation``: the command line's list of names."""
    return "\n".join(f"{e.name}  {e.title} {e.equation}" for e in ENTRIES)


F = TypeVar("F", bound=Callable[..., Any])


def documented(name: str) -> Callable[[F], F]:
    """Decorator: the wrapper's docstring is generated from the entry, its own docstring appended (examples)."""

    def decorate(fn: F) -> F:
        fn.__doc__ = REGISTRY[name].docstring(fn.__doc__ or "")
        return fn

    return decorate
