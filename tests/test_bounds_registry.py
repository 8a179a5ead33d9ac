"""The registry is the one place a result's header lives: theorems, docstrings, the CLI and the site agree with it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quorumsgd import bounds
from quorumsgd.bounds.registry import ENTRIES, NAMES, REGISTRY, used_by
from quorumsgd.proofsite.registry import NOTEBOOKS


@pytest.mark.parametrize("name", NAMES)
def test_each_theorem_takes_its_header_from_the_registry(name: str) -> None:
    entry, theorem = REGISTRY[name], bounds.theorem(name)
    assert (theorem.name, theorem.title, theorem.equation, theorem.statement) == (
        entry.name, entry.title, entry.equation, entry.statement)
    assert theorem.parameters == entry.parameters and dict(theorem.optional) == entry.optional
    assert [(h.statement, h.equation) for h in theorem.hypotheses] == list(entry.hypotheses)


@pytest.mark.parametrize("name", NAMES)
def test_wrapper_docstrings_are_generated_from_the_registry(name: str) -> None:
    wrapper = getattr(bounds, name.replace(".", "_"))
    doc = wrapper.__doc__
    entry = REGISTRY[name]
    assert entry.statement in doc and entry.title in doc
    for parameter in (*entry.parameters, *entry.optional):
        assert f"    {parameter}: " in doc, parameter
    for statement, equation in entry.hypotheses:
        assert f"* {statement} {equation}" in doc
    assert ">>> " in doc  # the wrapper's own example follows


def test_proof_site_titles_and_order_come_from_the_registry() -> None:
    toolkit = ("sdp", "bracket", "own_algorithm")  # the toolkit's own pages, not the paper's results
    paper = [nb for nb in NOTEBOOKS if nb.name not in toolkit]
    assert [(nb.name, nb.title, nb.section, nb.statement, nb.label) for nb in paper] == [
        (e.name, e.title, e.section, e.statement, e.label) for e in ENTRIES
    ]
    assert [nb.name for nb in NOTEBOOKS] == [*(e.name for e in ENTRIES), *toolkit]


def test_cli_lists_every_entry(run_cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = run_cli("bound", "--list")
    assert code == 0
    for entry in ENTRIES:
        assert f"│ {entry.name} " in out


def test_used_by() -> None:
    assert used_by("algorithm") == ("stability",)
    assert set(used_by("damping")) == {"lemma3.2", "lemma5.3", "thm5.3"}
