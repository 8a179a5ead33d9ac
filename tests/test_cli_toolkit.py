"""One CLI toolkit: lazy sub-commands (help and a bound evaluation import no SymPy / torch), ``-h`` everywhere,
the compiled-theorem cache, and a verify table that fits an 80-column terminal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from quorumsgd import theorem_cache
from quorumsgd.cli import COMMANDS
from quorumsgd.numeric_theorem import NumericTheorem
from test_bounds_cli import INDEPENDENT

RunCli = Callable[..., tuple[int, str, str]]
SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("torch", "sympy", "scipy", "cvxpy", "matplotlib", "nbclient")
BOUND = ["bound", "thm5.1", "--n-agents", "4", "--coupling", "1", "--lr", "0.1", "--batch-size", "1", "--sigma2", "1",
         "--dim", "1", "--q", "0", "--strong-convexity", "1"]


def _run_and_list_heavy(argv: list[str], cache: Path) -> tuple[str, list[str]]:
    """Run ``quorumsgd ARGV`` in a fresh interpreter; return its stdout and the heavy modules it imported."""
    script = (
        "import sys\nfrom quorumsgd.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "QUORUMSGD_CACHE_DIR": str(cache), "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, env=env,
                          timeout=300, check=True)
    out, _, heavy = done.stdout.rpartition("HEAVY ")
    return out, json.loads(heavy.replace("'", '"'))


def test_help_and_a_cached_bound_import_neither_torch_nor_sympy(tmp_path: Path) -> None:
    out, heavy = _run_and_list_heavy(["--help"], tmp_path)
    assert heavy == [] and all(name in out for name in COMMANDS)
    first, _ = _run_and_list_heavy(BOUND, tmp_path)  # derives thm5.1 once (SymPy) and caches it
    again, heavy = _run_and_list_heavy(BOUND, tmp_path)
    assert heavy == [] and again == first and "value = 0.1118033989" in again


@pytest.mark.parametrize("path", [[], *([name] for name in COMMANDS), ["contraction", "certify"],
                                  ["contraction", "compare"], ["simulate", "fig1"], ["proofs", "render"],
                                  ["train", "table1"]])
def test_every_command_answers_dash_h(run_cli: RunCli, path: list[str]) -> None:
    code, out, err = run_cli(*path, "-h")
    assert code == 0 and out.startswith("Usage:"), err


def test_train_takes_algorithm_and_hides_the_old_name(run_cli: RunCli, tmp_path: Path) -> None:
    code, out, _ = run_cli("train", "-h")
    assert "--algorithm" in out and "--algo " not in out
    code, _, err = run_cli("train", "--algorithm", "qsgd", "--algo", "easgd", "--out", str(tmp_path))
    assert code == 2 and "given once" in err


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_cached_theorem_evaluates_like_the_derivation(name: str) -> None:
    """The JSON round trip (what the disk cache stores) rebuilds the same numpy function."""
    from quorumsgd import bounds

    theorem = bounds.theorem(name)
    if theorem.prepare is not None:
        pytest.skip("theorems with a prepare hook are evaluated in-process, not from the cache")
    rebuilt = NumericTheorem.from_dict(json.loads(json.dumps(theorem.numeric.to_dict())))
    assert rebuilt.program is not None and rebuilt.function_override is None
    params = INDEPENDENT[name]
    scaled = {k: np.asarray(v) * np.array([1.0, 1.5]) if k not in ("n_agents", "dim", "batch_size") else v
              for k, v in params.items()}
    for point in (params, scaled):
        direct, cached = theorem.evaluate(**point), rebuilt.evaluate(**point)
        np.testing.assert_allclose(cached.value, direct.value, rtol=1e-14)
        assert rebuilt.to_json(cached) == direct.to_json() or np.ndim(direct.value) > 0


def _derive(name: str) -> NumericTheorem:
    from quorumsgd import bounds

    return bounds.theorem(name).numeric


def test_cache_ignores_foreign_or_broken_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUORUMSGD_CACHE_DIR", str(tmp_path))
    assert theorem_cache.compiled("thm3.1", _derive) is not None
    path = theorem_cache.cache_folder() / "thm3.1.json"  # type: ignore[operator]
    assert theorem_cache.load("thm3.1") is not None
    path.chmod(0o666)  # writable by others: it holds code, so it is not trusted
    assert theorem_cache.load("thm3.1") is None
    path.chmod(0o600)
    path.write_text("{not json")
    assert theorem_cache.load("thm3.1") is None
    assert theorem_cache.compiled("thm3.1", _derive).evaluate(coupling=3.0, lambda_max=1.0).value == 2.0  # type: ignore[union-attr]
    assert theorem_cache.load("thm3.1") is not None  # derived again and rewritten
    monkeypatch.setenv("QUORUMSGD_CACHE_DIR", "")
    assert theorem_cache.cache_folder() is None and theorem_cache.load("thm3.1") is None


def test_verify_table_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from quorumsgd.verify.report import print_table
    from quorumsgd.verify.result import CheckResult

    statistics = ["E |(x_bar, x_tilde) - (x*, x*)|", "E |(x_bar, v_bar) - (x*, 0)|", "E sum_i |x_i - x_bar|^2"]
    checks = [CheckResult(name=f"thm5.{i}", statistic=s, bound=0.1234567, measured=0.0123456, stderr=1e-4,
                          upper_confidence=0.0125, lower_confidence=0.0121, confidence=0.95, tightness=0.1,
                          verdict="holds") for i, s in enumerate(statistics)]
    monkeypatch.setenv("COLUMNS", "80")
    buffer = io.StringIO()
    print_table(Console(file=buffer, force_terminal=False), checks)
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    for s in statistics:  # each statistic whole, on one line
        assert any(s in line for line in lines), buffer.getvalue()
