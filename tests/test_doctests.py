"""Every runnable example in a public docstring runs and gives the printed result."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import quorumsgd

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(quorumsgd.__path__, "quorumsgd.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
