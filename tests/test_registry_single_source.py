"""One theorem, one entry: every module takes its theorem names and per-theorem definitions from the registry.

The registry (:mod:`quorumsgd.bounds.registry`) is the one list of the paper's results; ``verify``, ``hunt``,
the sandwich, the SDP certificates, the contraction analyses and the public functions of
:mod:`quorumsgd.bounds` derive theirs from it. A module that spells a theorem name the registry does not
know (a typo, a renamed theorem, a hand-copied list gone stale) fails here.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from quorumsgd import bounds
from quorumsgd.bounds.registry import (
    CHECK_NAMES,
    CONTRACTING,
    ENTRIES,
    GENERATED,
    HUNTABLE,
    MEASURABLE,
    NAMES,
    REGISTRY,
    SDP_CERTIFIED,
    resolve,
)
from quorumsgd.parameters import PARAMETERS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "quorumsgd"

THEOREM_LITERAL = re.compile(r"^((?:thm|lemma|cor)\d+(?:\.\d+)+)(?:[:@][\w.]*)?$")
"""A string that names a theorem: ``thm5.1``, ``lemma3.1:multi_lr`` (a check variant), ``thm5.1@sdp`` (a hunt)."""


def theorem_literals(source: str) -> list[tuple[int, str]]:
    """(line, name) of every string literal of the source that names a theorem (the name before ``:`` / ``@``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = THEOREM_LITERAL.match(node.value)
            if match:
                found.append((node.lineno, match.group(1)))
    return found


def test_the_scanner_finds_theorem_names_and_only_those() -> None:
    source = 'A = ("thm5.1", "lemma3.1:multi_lr", "thm5.2@sdp", "thm9.9")\nB = "lemma53:c2"\nC = "see thm5.1"\n'
    assert [name for _, name in theorem_literals(source)] == ["thm5.1", "lemma3.1", "thm5.2", "thm9.9"]


def test_no_module_names_a_theorem_the_registry_does_not_know() -> None:
    unknown = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name in theorem_literals(path.read_text()):
            if name not in REGISTRY:
                unknown.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not unknown, "theorem names the registry does not know:\n" + "\n".join(unknown)
    # the scan does look at the modules that spell names (it would pass vacuously on an empty package)
    assert theorem_literals((PACKAGE / "verify" / "checks.py").read_text())


def test_verify_hunt_and_the_sandwich_take_their_names_from_the_registry() -> None:
    from quorumsgd.hunt import names
    from quorumsgd.verify.checks import CHECKS
    from quorumsgd.verify.sandwich import SANDWICH_THEOREMS

    assert tuple(CHECKS) == CHECK_NAMES and MEASURABLE == tuple(dict.fromkeys(n.split(":")[0] for n in CHECKS))
    assert names.THEOREMS == HUNTABLE == SANDWICH_THEOREMS
    assert set(names.SDP_THEOREMS) == set(HUNTABLE) & set(SDP_CERTIFIED)
    assert set(HUNTABLE) <= set(MEASURABLE) and "lemma5.4" in MEASURABLE and "lemma5.4" not in HUNTABLE
    for name in CHECK_NAMES:  # each check is the function its entry points to
        assert CHECKS[name] is resolve(REGISTRY[name.split(":")[0]].check.function)  # type: ignore[union-attr]


def test_sdp_certificates_are_the_registry_entries_targets() -> None:
    from quorumsgd.bounds.sdp import THEOREMS
    from quorumsgd.bounds.sdp.certificate import TARGETS

    assert tuple(THEOREMS) == SDP_CERTIFIED
    for name, th in THEOREMS.items():
        entry = REGISTRY[name]
        assert entry.sdp is not None and th.target == entry.sdp.quantity and set(th.target) <= set(TARGETS)
        assert th.equation[0] == entry.equation
        assert set(th.parameters) | set(th.discrete_parameters) <= set(PARAMETERS)
        assert "smoothness" in th.parameters  # the class S(lambda, L) needs L
        point = {p: 1.0 for p in (*th.parameters, *th.discrete_parameters)} | {"n_agents": 4.0, "momentum": 0.5}
        assert th.continuous(point) is not None and th.discrete(point) is not None


def test_contraction_systems_are_the_registry_entries() -> None:
    from quorumsgd.contraction import compare, symbolic

    assert symbolic.SYSTEMS == CONTRACTING == ("thm3.1", "lemma3.2", "lemma5.2", "lemma5.3")
    assert not hasattr(compare, "COMPARED_SYSTEMS")  # one tuple, not two copies
    assert set(compare.EQUATION) == set(CONTRACTING) == set(compare.RELEVANT)


@pytest.mark.parametrize("name", GENERATED)
def test_public_functions_are_generated_from_their_entries(name: str) -> None:
    entry = REGISTRY[name]
    function = getattr(bounds, entry.python_name)
    assert entry.python_name in bounds.__all__ and function.__module__ == "quorumsgd.bounds"
    signature = inspect.signature(function)
    assert list(signature.parameters) == [*entry.parameters, *entry.optional, *entry.options]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())
    assert all(signature.parameters[p].default is inspect.Parameter.empty for p in entry.parameters)
    assert signature.return_annotation == "BoundResult"
    doc = function.__doc__
    assert entry.equation in doc and entry.statement in doc and "Example:" in doc and entry.example
    with pytest.raises(TypeError, match=entry.python_name):
        function(1.0)  # keyword-only, as a hand-written signature with a bare * would say


def test_a_public_function_evaluates_its_theorem() -> None:
    params = dict(n_agents=4, lr=0.5, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0, coupling=1.0)
    assert bounds.thm5_1(**params).value == bounds.evaluate("thm5.1", **params).value
    with pytest.raises(TypeError, match="thm5_1"):
        bounds.thm5_1(**{**params, "damping": 1.0})


def test_every_generated_theorem_has_its_printed_closed_form() -> None:
    from quorumsgd import paper

    for name in GENERATED:
        assert paper.published(name), name


def test_every_entry_is_complete() -> None:
    for entry in ENTRIES:
        assert entry.factory.count(":") == 1 and set(entry.parameters) <= set(PARAMETERS), entry.name
        if entry.check is not None:
            assert entry.check.direction in ("upper", "lower") and callable(resolve(entry.check.function))
    assert NAMES == tuple(e.name for e in ENTRIES) and len(set(NAMES)) == len(NAMES)


HEAVY = ("sympy", "cvxpy", "torch", "scipy", "hypothesis")


@pytest.mark.parametrize("module", ["quorumsgd.bounds.registry", "quorumsgd.hunt.names", "quorumsgd.cli"])
def test_the_registry_and_the_names_are_cheap_to_import(module: str) -> None:
    code = f"import sys, {module}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    assert json.loads(done.stdout.replace("'", '"')) == []


def test_hypothesis_is_a_test_dependency_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("hypothesis") for d in project["dependencies"])
    assert any(d.startswith("hypothesis") for d in project["optional-dependencies"]["test"])
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "testing":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.split(".")[0] == "hypothesis" or m.endswith("testing.strategies") for m in modules), (
                    path
                )


def test_one_array_alias() -> None:
    definitions = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"^Array(: TypeAlias)? = ", path.read_text(), re.M)
    ]
    assert definitions == ["types.py"]
