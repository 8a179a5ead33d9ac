"""The compiled-theorem cache runs no code from its files, re-derives what it cannot trust with one warning,
and never follows a link or writes into a folder someone else controls (issues 22 and 23)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from quorumsgd import theorem_cache
from quorumsgd.numeric_theorem import NumericTheorem

SRC = Path(__file__).resolve().parents[1] / "src"
THM31 = ["bound", "thm3.1", "--coupling", "3", "--lambda-max", "1"]
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")


def _derive(name: str) -> NumericTheorem:
    from quorumsgd import bounds

    return bounds.theorem(name).numeric


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache root holding a good thm3.1 entry; returns the entry's path."""
    root = tmp_path / "cache"
    monkeypatch.setenv("QUORUMSGD_CACHE_DIR", str(root))
    monkeypatch.setattr(theorem_cache, "_warned", set())
    assert theorem_cache.compiled("thm3.1", _derive) is not None
    path = theorem_cache.cache_folder() / "thm3.1.json"  # type: ignore[operator]
    assert path.exists() and theorem_cache.load("thm3.1") is not None
    return path


def _planted(marker: Path) -> dict[str, str]:
    return {"code": f"__import__('os').system('touch {marker}')"}


def _rewrite(path: Path, edit: Any) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    path.chmod(0o600)


def _attacks(marker: Path) -> dict[str, Any]:
    code = _planted(marker)["code"]
    lambdified = (
        f"def _lambdifygenerated(coupling, lambda_max):\n    {code}\n    return [coupling - lambda_max, True]\n"
    )

    def old_format(d: dict[str, Any]) -> None:  # what the cache stored before: Python source, executed
        d.pop("program")
        d.update(source=lambdified, namespace={})

    def source_beside_program(d: dict[str, Any]) -> None:
        d.update(source=lambdified, namespace={"__import__": "builtins:__import__"})

    def as_operation(d: dict[str, Any]) -> None:
        d["program"]["out"][0] = [code, ["sym", "coupling"]]

    def as_name(d: dict[str, Any]) -> None:
        d["program"]["out"][0] = ["sym", code]

    def as_constant(d: dict[str, Any]) -> None:
        d["program"]["out"][0] = ["float", code]

    def as_let(d: dict[str, Any]) -> None:
        d["program"]["let"] = [["__builtins__", ["sym", "coupling"]], [code, ["int", 1]]]

    def as_texts(d: dict[str, Any]) -> None:  # display strings are shown, never evaluated
        d.update(title=code, latex=code, expression=code, term_expressions={"value": code})

    return {
        f.__name__: f for f in (old_format, source_beside_program, as_operation, as_name, as_constant, as_let, as_texts)
    }


@pytest.mark.parametrize("attack", sorted(_attacks(Path("/x"))))
def test_planted_code_in_a_private_entry_never_runs(
    cache: Path, tmp_path: Path, attack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "PWNED"
    _rewrite(cache, _attacks(marker)[attack])
    assert oct(cache.stat().st_mode & 0o777) == "0o600" and cache.stat().st_uid == os.getuid()
    theorem = theorem_cache.load("thm3.1")
    if theorem is not None:
        theorem.evaluate(coupling=3.0, lambda_max=1.0)
    again = theorem_cache.compiled("thm3.1", _derive)
    assert again is not None and again.evaluate(coupling=3.0, lambda_max=1.0).value == 2.0
    assert not marker.exists()
    err = capsys.readouterr().err
    assert err.count("\n") <= 1 and "Traceback" not in err


def test_planted_code_never_runs_from_the_command_line(cache: Path, tmp_path: Path) -> None:
    """Through ``quorumsgd bound`` in a fresh interpreter, twice: the same value, one warning, no marker."""
    marker = tmp_path / "PWNED"
    _rewrite(cache, _attacks(marker)["old_format"])
    env = {**os.environ, "PYTHONPATH": str(SRC), "QUORUMSGD_CACHE_DIR": str(cache.parent.parent)}
    runs = [
        subprocess.run(
            [sys.executable, "-m", "quorumsgd.cli", *THM31], capture_output=True, text=True, env=env, timeout=300
        )
        for _ in range(2)
    ]
    assert not marker.exists()
    assert [r.returncode for r in runs] == [0, 0] and all("value = 2" in r.stdout for r in runs)
    assert runs[0].stderr.startswith("warning: ignoring the cached theorem thm3.1") and runs[0].stderr.count("\n") == 1
    assert runs[1].stderr == ""  # derived again and rewritten by the first run


BROKEN: dict[str, Any] = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "random bytes": lambda p: p.write_bytes(bytes(range(256)) * 4),
    "empty": lambda p: p.write_bytes(b""),
    "not an object": lambda p: p.write_text("[1, 2, 3]"),
    "NaN literal": lambda p: p.write_text(p.read_text().replace('["int", -1]', '["float", NaN]', 1)),
    "Infinity default": lambda p: _rewrite(p, lambda d: d.update(optional={"lambda_max": float("inf")})),
    "deeply nested": lambda p: p.write_text("[" * 100000 + "]" * 100000),
    "huge": lambda p: p.write_text(" " * (2 << 20) + "{}"),
    "foreign format": lambda p: _rewrite(p, lambda d: d["program"].update(format=99)),
    "bad source": lambda p: _rewrite(p, lambda d: (d.pop("program"), d.update(source="def (:", namespace={}))),
    "bad namespace": lambda p: _rewrite(p, lambda d: (d.pop("program"), d.update(source="x", namespace={"a": "b"}))),
    "program not an object": lambda p: _rewrite(p, lambda d: d.update(program="sqrt(2)")),
    "wrong arity": lambda p: _rewrite(p, lambda d: d["program"]["out"].__setitem__(0, ["pow", ["int", 1]])),
    "unknown name": lambda p: _rewrite(p, lambda d: d["program"]["out"].__setitem__(0, ["sym", "lr"])),
    "one output short": lambda p: _rewrite(p, lambda d: d["program"]["out"].pop()),
    "args reordered": lambda p: _rewrite(p, lambda d: d["program"]["args"].reverse()),
    "missing key": lambda p: _rewrite(p, lambda d: d.pop("terms")),
    "wrong types": lambda p: _rewrite(p, lambda d: d.update(parameters=5, hypotheses={"a": 1})),
    "another theorem": lambda p: _rewrite(p, lambda d: d.update(name="thm5.1")),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("damage", sorted(BROKEN))
def test_a_broken_entry_is_derived_again_with_one_warning(
    cache: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = cache.read_bytes()
    BROKEN[damage](cache)
    assert not cache.is_file() or cache.read_bytes() != before
    capsys.readouterr()
    assert theorem_cache.load("thm3.1") is None
    theorem = theorem_cache.compiled("thm3.1", _derive)
    assert theorem is not None and theorem.evaluate(coupling=3.0, lambda_max=1.0).value == 2.0
    err = capsys.readouterr().err
    assert err.startswith("warning: ignoring the cached theorem thm3.1") and err.count("\n") == 1, err
    if damage != "a folder":  # rewritten (a folder in the way cannot be replaced by a file)
        theorem_cache._warned.clear()
        assert theorem_cache.load("thm3.1") is not None and capsys.readouterr().err == ""


def test_a_symlinked_cache_root_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """QUORUMSGD_CACHE_DIR a link to a world-writable folder without the sticky bit (issue 23's attack)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    link = tmp_path / "link"
    link.symlink_to(shared)
    monkeypatch.setenv("QUORUMSGD_CACHE_DIR", str(link))
    monkeypatch.setattr(theorem_cache, "_warned", set())
    theorem = theorem_cache.compiled("thm3.1", _derive)
    assert theorem is not None and theorem.evaluate(coupling=3.0, lambda_max=1.0).value == 2.0
    assert list(shared.iterdir()) == []  # nothing written through the link
    assert "symbolic link" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["root", "version folder"])
def test_a_folder_others_can_write_is_neither_read_nor_written(
    cache: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = cache.parent if where == "version folder" else cache.parent.parent
    folder.chmod(0o777)  # world-writable, no sticky bit: anyone may swap the entries
    before = cache.read_bytes()
    assert theorem_cache.load("thm3.1") is None
    assert "writable by other users" in capsys.readouterr().err
    cache.unlink()
    theorem_cache.store(_derive("thm3.1"))
    assert not cache.exists() and before  # store refused to write there too


def test_a_sticky_world_writable_root_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like /tmp: others cannot rename what this user created inside it."""
    root = tmp_path / "tmp-like"
    root.mkdir()
    root.chmod(0o1777)
    monkeypatch.setenv("QUORUMSGD_CACHE_DIR", str(root))
    assert theorem_cache.compiled("thm3.1", _derive) is not None and theorem_cache.load("thm3.1") is not None


@pytest.mark.parametrize("what", ["version folder", "file"])
def test_symlinks_inside_the_cache_are_not_followed(cache: Path, tmp_path: Path, what: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    if what == "file":
        elsewhere.write_bytes(cache.read_bytes())
        cache.unlink()
        cache.symlink_to(elsewhere)
    else:
        cache.parent.rename(elsewhere)
        cache.parent.symlink_to(elsewhere)
    assert theorem_cache.load("thm3.1") is None


@AS_ROOT
def test_store_never_writes_into_a_folder_another_user_owns(cache: Path) -> None:
    folder = cache.parent
    cache.unlink()
    os.chown(folder, 12345, 12345)
    theorem_cache.store(_derive("thm3.1"))
    assert list(folder.iterdir()) == []
    assert theorem_cache.load("thm3.1") is None


@AS_ROOT
def test_an_entry_another_user_owns_is_ignored(cache: Path) -> None:
    os.chown(cache, 12345, 12345)
    assert theorem_cache.load("thm3.1") is None


def test_the_cache_does_not_import_the_bounds_package() -> None:
    """No import loop: bounds uses the cache; the cache is handed the derivation."""
    code = "import sys, quorumsgd.theorem_cache; print(any(m.startswith('quorumsgd.bounds') for m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=True,
    )
    assert done.stdout.strip() == "False"
