"""Hunts and verify lose nothing (issues 22 and 23): real processes killed with SIGINT, SIGTERM and SIGKILL and
run again, one process per ``--out``, damaged stores, unreachable schedulers, absurd sizes, atomic reports."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"}
HUNT = ["hunt", "sgd", "--workers", "0", "--batch", "1", "--seed", "3"]


def quorumsgd(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quorumsgd.cli", *argv], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "quorumsgd.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def rows(store: Path) -> list[tuple[Any, ...]]:
    if not store.exists():
        return []
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return db.execute("SELECT seed, case_key, created, result FROM cases ORDER BY rowid").fetchall()
    except sqlite3.OperationalError:  # the writer has not created the table yet
        return []
    finally:
        db.close()


def wait_for_rows(store: Path, n: int, process: subprocess.Popen[str], limit: float = 240) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = rows(store)
        if len(found) >= n:
            return found
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} cases stored in {limit} s")


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same hunt run without interruption: what every interrupted-and-resumed run must end with."""
    out = tmp_path_factory.mktemp("reference")
    done = quorumsgd(*HUNT, "--budget", "6", "--out", str(out), "--json")
    assert done.returncode in (0, 1), done.stderr
    return {"payload": json.loads(done.stdout), "rows": rows(out / "cases.sqlite")}


def _same_hunt(payload: dict[str, Any], reference: dict[str, Any], store: Path) -> None:
    ref = reference["payload"]
    assert payload["worst"]["case"] == ref["worst"]["case"] and payload["worst"]["measured"] == ref["worst"]["measured"]
    assert payload["evaluations"] == ref["evaluations"]
    final = rows(store)
    assert len(final) == len(reference["rows"]) == len({(s, k) for s, k, _, _ in final})  # none lost, none twice
    assert sorted(k for _, k, _, _ in final) == sorted(k for _, k, _, _ in reference["rows"])


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_a_hunt_killed_then_rerun_keeps_every_finished_case(tmp_path: Path, reference: dict[str, Any],
                                                            sig: signal.Signals) -> None:
    store = tmp_path / "cases.sqlite"
    process = start(*HUNT, "--budget", "6", "--out", str(tmp_path))
    before = wait_for_rows(store, 3, process)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    kept = rows(store)
    assert kept[: len(before)] == before  # finished cases survive the signal unchanged
    if sig == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 128 + sig  # 130 for Ctrl-C, 143 for SIGTERM (timeout, batch schedulers)
        line = one_line(err)
        # a case in flight when the signal came may land after the count is printed
        counted = int(line.removeprefix("interrupted: ").split(" ", 1)[0])
        assert len(before) <= counted <= len(kept) and f"cases kept in {store}" in line and "partial report" in line
        assert "Interrupted" in (tmp_path / "hunt.md").read_text()
        assert json.loads((tmp_path / "hunt.json").read_text())["interrupted"] is True
    again = quorumsgd(*HUNT, "--budget", "6", "--out", str(tmp_path), "--json")
    assert again.returncode in (0, 1), again.stderr
    payload = json.loads(again.stdout)
    assert payload["from_store"] >= len(kept) and payload["interrupted"] is False
    final = rows(store)
    assert {k: c for _, k, c, _ in final if k in {k for _, k, _, _ in kept}} == {k: c for _, k, c, _ in kept}
    _same_hunt(payload, reference, store)


def test_two_processes_on_one_out_folder_are_refused(tmp_path: Path) -> None:
    first = start(*HUNT, "--budget", "1000", "--out", str(tmp_path))
    try:
        wait_for_rows(tmp_path / "cases.sqlite", 1, first)
        second = quorumsgd(*HUNT, "--budget", "6", "--out", str(tmp_path))
        assert second.returncode == 2
        assert f"pid {first.pid}" in one_line(second.stderr) and "in use by another quorumsgd process" in second.stderr
        verify = quorumsgd("verify", "--only", "sgd", "--out", str(tmp_path))
        assert verify.returncode == 2 and "in use by another quorumsgd process" in one_line(verify.stderr)
    finally:
        first.kill()
        first.communicate()


DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 3]),
    "random bytes": lambda p: p.write_bytes(os.urandom(8192)),
    "text": lambda p: p.write_text("not a database\n" * 100),
    "another database": lambda p: (p.unlink(), sqlite3.connect(p).execute("CREATE TABLE cases (x)").connection.commit()),
}


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from quorumsgd.engine import CaseStore

    path = tmp_path_factory.mktemp("good") / "cases.sqlite"
    with CaseStore(path) as store:
        for i in range(50):
            store.put(3, f"k{i}", "sgd", {"i": i}, {"sims": 16}, {"status": "ok", "tightness": 0.5, "pad": "x" * 200})
    return path.read_bytes()


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", ["hunt", "verify"])
def test_a_damaged_store_is_one_line_and_fresh_starts_anew(tmp_path: Path, good_store: bytes, damage: str,
                                                           command: str) -> None:
    store = tmp_path / "cases.sqlite"
    store.write_bytes(good_store)
    DAMAGE[damage](store)
    damaged = store.read_bytes()
    argv = [*HUNT, "--budget", "2"] if command == "hunt" else ["verify", "--workers", "0", "--only", "sgd"]
    done = quorumsgd(*argv, "--out", str(tmp_path))
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "is not a readable case store" in line and "--fresh" in line and str(store) in line
    assert store.read_bytes() == damaged  # nothing overwritten
    if command == "hunt" and damage == "random bytes":  # --fresh sets the damaged file aside and starts anew
        fresh = quorumsgd(*argv, "--out", str(tmp_path), "--fresh")
        assert fresh.returncode in (0, 1), fresh.stderr
        [aside] = tmp_path.glob("cases.sqlite.set-aside-*")
        assert aside.read_bytes() == damaged and len(rows(store)) > 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed once the with block ends: nothing listens there


@pytest.mark.parametrize("address", ["garbage", "tcp://", "tcp://host:notaport", "tcp://127.0.0.1:99999",
                                     "http://127.0.0.1:8786", "CLOSED", "tcp://no-such-host.invalid:8786"])
@pytest.mark.parametrize("command", ["hunt", "verify"])
def test_a_bad_or_unreachable_scheduler_fails_in_one_line_within_seconds(tmp_path: Path, address: str,
                                                                         command: str) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}" if address == "CLOSED" else address
    argv = ["hunt", "sgd", "--budget", "2"] if command == "hunt" else ["verify", "--only", "sgd"]
    began = time.monotonic()
    done = quorumsgd(*argv, "--scheduler", address, "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "--scheduler" in one_line(done.stderr)
    assert time.monotonic() - began < 20  # a Python start-up and a refused connection, not Dask's retries
    assert not (tmp_path / "out" / "cases.sqlite").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--workers", "1000"], "--workers must be at most"),
    (["--workers", "-1"], "--workers must be an integer >= 0"),
    (["--budget", str(10**20)], "--budget must be an integer from 1 to 100000"),
    (["--budget", "1e20"], "--budget"),
])
def test_absurd_sizes_are_refused_before_any_work(tmp_path: Path, argv: list[str], needle: str) -> None:
    done = quorumsgd("hunt", "sgd", *argv, "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and needle in one_line(done.stderr)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["file", "file/sub", ""])
@pytest.mark.parametrize("command", ["hunt", "verify"])
def test_an_output_path_that_cannot_be_a_folder_is_refused_first(tmp_path: Path, where: str, command: str) -> None:
    (tmp_path / "file").write_text("mine")
    argv = [*HUNT, "--budget", "2"] if command == "hunt" else ["verify", "--workers", "0", "--only", "sgd"]
    done = quorumsgd(*argv, "--out", str(tmp_path / where) if where else "")
    assert done.returncode == 2 and "--out must be" in one_line(done.stderr)
    assert (tmp_path / "file").read_text() == "mine"


def test_verify_workers_is_capped_too(tmp_path: Path) -> None:
    done = quorumsgd("verify", "--workers", "100000", "--out", str(tmp_path))
    assert done.returncode == 2 and "--workers must be at most" in one_line(done.stderr)


_KILL_IN_SAVEFIG = """
import os, signal, sys
from pathlib import Path
import matplotlib.figure
from quorumsgd.hunt.report import plot_tightness

path = Path(sys.argv[1])
plot_tightness([(0, 0, 0.5), (1, 0, 0.7)], "sgd", path)
size = path.stat().st_size

def dying_savefig(self, fname, *args, **kwargs):
    open(fname, "wb").close()          # what savefig does first: truncate the file it writes
    os.kill(os.getpid(), signal.SIGKILL)

matplotlib.figure.Figure.savefig = dying_savefig
print(size, flush=True)
plot_tightness([(0, 0, 0.5), (1, 0, 0.9)], "sgd", path)
"""


def test_a_kill_while_a_plot_is_rewritten_leaves_the_previous_plot(tmp_path: Path) -> None:
    path = tmp_path / "tightness.png"
    done = subprocess.run([sys.executable, "-c", _KILL_IN_SAVEFIG, str(path)], capture_output=True, text=True,
                          env=ENV, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert path.stat().st_size == int(done.stdout) > 0 and path.read_bytes().startswith(b"\x89PNG")


_VERIFY_CASES = """
import sys
from quorumsgd.verify.checks import Settings
from quorumsgd.verify.distributed import distributed_checks

settings = Settings(sims=16, window=3.0)
results, _ = distributed_checks(["sgd", "thm5.1", "lemma3.1", "thm3.2"], [], settings, settings, sys.argv[1], None, 0)
print([r.measured for r in results])
"""


def test_verify_cases_killed_then_rerun_keep_every_finished_case(tmp_path: Path) -> None:
    """``verify --thorough``'s distributed checks: SIGKILL after the first stored case, then the same run again."""
    store = tmp_path / "cases.sqlite"
    process = subprocess.Popen([sys.executable, "-c", _VERIFY_CASES, str(tmp_path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=ENV)
    before = wait_for_rows(store, 1, process)
    process.kill()
    process.communicate()
    kept = rows(store)
    assert kept[: len(before)] == before and len(kept) < 4
    again = subprocess.run([sys.executable, "-c", _VERIFY_CASES, str(tmp_path)], capture_output=True, text=True,
                           env=ENV, timeout=300, check=True)
    final = rows(store)
    assert final[: len(kept)] == kept and len(final) == 4 == len({k for _, k, _, _ in final})
    fresh = tmp_path / "fresh"
    reference = subprocess.run([sys.executable, "-c", _VERIFY_CASES, str(fresh)], capture_output=True, text=True,
                               env=ENV, timeout=300, check=True)
    assert again.stdout == reference.stdout


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_verify_cli_interrupted_then_rerun_keeps_every_finished_case(tmp_path: Path, sig: signal.Signals) -> None:
    """The whole command (minutes): ``verify --workers 0`` stopped mid-sweep, then run again."""
    store = tmp_path / "cases.sqlite"
    process = start("verify", "--workers", "0", "--out", str(tmp_path), "--json")
    before = wait_for_rows(store, 3, process, limit=600)
    process.send_signal(sig)
    _, err = process.communicate(timeout=300)
    kept = rows(store)
    assert kept[: len(before)] == before
    if sig == signal.SIGINT:
        assert process.returncode == 130 and "partial report" in one_line(err)
    again = quorumsgd("verify", "--workers", "0", "--out", str(tmp_path), "--json", timeout=1200)
    assert again.returncode in (0, 1), again.stderr
    final = rows(store)
    assert final[: len(kept)] == kept and len(final) == len({k for _, k, _, _ in final})


def test_a_missing_dependency_is_one_line_naming_the_install_command(tmp_path: Path) -> None:
    """optuna made unimportable (a broken install): the hunt names the package and the command, no traceback."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "optuna.py").write_text("raise ImportError('libfoo.so: cannot open shared object file')\n")
    env = {**ENV, "PYTHONPATH": f"{shadow}{os.pathsep}{SRC}"}
    done = subprocess.run([sys.executable, "-m", "quorumsgd.cli", *HUNT, "--budget", "2", "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "optuna" in line and "pip install optuna" in line and "fails to import" in line


def test_optional_import_reports_what_is_missing() -> None:
    from quorumsgd.clikit import MissingDependency, optional_import

    with pytest.raises(MissingDependency, match=r"needs the package dask\[distributed\].*pip install dask"):
        optional_import("quorumsgd_no_such_module", "dask[distributed]", "verify --thorough")


@pytest.mark.parametrize("address, expected", [("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
                                               ("host:8786", "tcp://host:8786"), ("tls://[::1]:1", "tls://[::1]:1")])
def test_scheduler_addresses_that_are_accepted(address: str, expected: str) -> None:
    from quorumsgd.engine.cluster import check_scheduler_address

    assert check_scheduler_address(address) == expected
