"""The command line under bad input and interrupts: one line, the right exit code, nothing lost.

Each test names the reliability item of the issue it covers (1: interrupts, 2: output folders, 3: tracebacks,
4: silent bad numbers, 5: API input, 6: smaller items) and fails on the code before the fix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quorumsgd.errors import InvalidParameter, QuorumSGDError

RunCli = Callable[..., tuple[int, str, str]]
SRC = Path(__file__).resolve().parents[1] / "src"
THM51 = ["--n-agents", "4", "--coupling", "1", "--lr", "0.1", "--batch-size", "1", "--sigma2", "1", "--dim", "1",
         "--q", "0", "--strong-convexity", "1"]
LEMMA31 = ["--n-agents", "4", "--lr", "0.1", "--batch-size", "1", "--sigma2", "1", "--coupling", "1"]


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN / Infinity (Python's parser accepts them by default)."""
    def refuse(token: str) -> Any:
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _check(name: str = "thm5.1", verdict: str = "holds") -> Any:
    from quorumsgd.verify.result import CheckResult

    return CheckResult(name=name, statistic="E |x_bar - x*|", bound=1.0, measured=0.5, stderr=0.01,
                       upper_confidence=0.52, lower_confidence=0.48, confidence=0.95, tightness=0.5,
                       verdict=verdict)  # type: ignore[arg-type]


def _interrupt_on_call(n: int, result: Any = None) -> Callable[..., Any]:
    calls = [0]

    def fake(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] >= n:
            raise KeyboardInterrupt
        return result() if callable(result) else result

    return fake


# --- 1. interrupts keep what finished, say so in one line on stderr, exit 130 ----------------------------------


@pytest.mark.parametrize("thorough", [False, True])
def test_verify_interrupt_writes_partial_report(run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                thorough: bool) -> None:
    # --thorough runs its checks as cases of the distributed engine (here in-process: --workers 0)
    target = "quorumsgd.verify.checks.run_check" if thorough else "quorumsgd.verify.cli.run_check"
    monkeypatch.setattr(target, _interrupt_on_call(2, _check))
    code, out, err = run_cli("verify", "--out", str(tmp_path), *(["--thorough", "--workers", "0"] if thorough else []))
    assert code == 130
    assert one_error_line(err).startswith("interrupted: 1 of ")
    assert str(tmp_path) in err and "interrupted" not in out
    report = strict_json((tmp_path / "report.json").read_text())
    assert report["interrupted"] is True and [c["name"] for c in report["checks"]] == ["thm5.1"]
    assert "interrupted" in (tmp_path / "report.md").read_text().splitlines()[0]


def test_simulate_interrupt_writes_partial_json(run_cli: RunCli, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from quorumsgd.simulate import experiments

    real = experiments.run_ensemble
    calls = [0]

    def second_coupling_interrupted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(experiments, "run_ensemble", second_coupling_interrupted)
    code, _out, err = run_cli("simulate", "fig1", "--quick", "--out", str(tmp_path))
    assert code == 130
    assert one_error_line(err.split("\r")[-1]).startswith("interrupted: 1 of 6 couplings finished")
    partial = strict_json((tmp_path / "fig1.json").read_text())
    assert partial["interrupted"] is True and len(partial["runs"]) == 1


def test_sigint_in_a_real_process_saves_the_partial_figure(tmp_path: Path) -> None:
    """A real Ctrl-C (SIGINT) once the simulation runs: Typer must not swallow it into a silent exit 130."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-m", "quorumsgd.cli", "simulate", "fig1", "--out", str(tmp_path),
                             "--sims", "2", "--steps", "50000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 180
    while b"/300M" not in seen and time.monotonic() < deadline:  # the progress bar counts 6 x 50M steps: running
        seen += os.read(proc.stderr.fileno(), 256)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (seen + err).decode()
    last = (seen + err).decode().replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("interrupted: 0 of 6 couplings finished"), last
    assert strict_json((tmp_path / "fig1.json").read_text())["interrupted"] is True
    assert out == b""


def test_train_interrupt_message_is_one_line_on_stderr(run_cli: RunCli, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: Any, resume: bool = False, on_epoch_end: Any = None) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("quorumsgd.training.engine.Trainer.run", interrupted)
    code, out, err = run_cli("train", "--algorithm", "qsgd", "--out", str(tmp_path / "run"))
    assert code == 130 and out == ""
    assert "--resume" in one_error_line(err)


# --- 2. output folders are checked before any work -------------------------------------------------------------


def _bad_outs(tmp_path: Path) -> dict[str, str]:
    existing = tmp_path / "a-file"
    existing.write_text("x")
    return {"existing file": str(existing), "proc": "/proc/quorumsgd-report", "too long": str(tmp_path / ("n" * 300)),
            "empty": ""}


@pytest.mark.parametrize("case", ["existing file", "proc", "too long", "empty"])
@pytest.mark.parametrize("command", [["verify"], ["simulate", "fig1", "--quick"], ["proofs", "render"],
                                     ["train", "--algorithm", "qsgd"], ["train", "table1"]])
def test_bad_output_folder_is_refused_before_any_work(run_cli: RunCli, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, case: str,
                                                      command: list[str]) -> None:
    def no_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work started before the output folder was checked")

    monkeypatch.setattr("quorumsgd.verify.cli.run_check", no_work)
    monkeypatch.setattr("quorumsgd.simulate.experiments.run_figure", no_work)
    code, _out, err = run_cli(*command, "--out", _bad_outs(tmp_path)[case])
    assert code == 2, err
    assert one_error_line(err).startswith("error: parameter --out must be")
    assert len(err) < 400


# --- 3. no tracebacks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["qsgd", "easgd"])
def test_stability_with_huge_values_is_one_line(run_cli: RunCli, algorithm: str) -> None:
    code, _, err = run_cli("bound", "stability", "--lr", "1e300", "--curvature", "1e300", "--coupling", "1e300",
                           "--n-agents", "3", "--algorithm", algorithm)
    assert code == 2 and "64-bit floats" in one_error_line(err)


def test_proofs_timeout_accepts_fractions_of_seconds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """nbclient's timeout is an integer trait: a float used to raise TraitError before any cell ran."""
    import asyncio

    from nbclient import NotebookClient

    from quorumsgd.proofsite import execute
    from quorumsgd.proofsite.registry import find, notebook_dir

    seen: dict[str, Any] = {}

    class Client:
        def __init__(self, nb: Any, **kwargs: Any) -> None:
            NotebookClient(nb, timeout=kwargs["timeout"])  # the trait check that failed on 60.5
            seen.update(kwargs)

        async def async_execute(self, **kwargs: Any) -> None:
            raise RuntimeError("stop here: the client was built")

    monkeypatch.setattr("nbclient.NotebookClient", Client)
    notebook = find("lemma2.1")
    result = asyncio.run(execute.execute_notebook(notebook, notebook_dir() / notebook.filename, quick=True,
                                                  workdir=tmp_path,
                                                  timeout=60.5))
    assert seen["timeout"] == 61 and not result.ok


def test_proofs_timeout_must_be_positive(run_cli: RunCli, tmp_path: Path) -> None:
    code, _, err = run_cli("proofs", "render", "--timeout", "-1", "--out", str(tmp_path))
    assert code == 2 and "--timeout must be a positive number" in one_error_line(err)


@pytest.mark.parametrize(("content", "needle"), [(b"", "is empty"), (b"\x00garbage" * 10, "truncated or not"),
                                                 (b"PK\x03\x04 truncated zip", "truncated or not")])
def test_resume_from_a_broken_checkpoint_is_one_line(run_cli: RunCli, tmp_path: Path, content: bytes,
                                                     needle: str) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(content)
    code, _, err = run_cli("train", "--algorithm", "qsgd", "--out", str(out), "--resume", "--no-progress")
    assert code == 2 and needle in one_error_line(err)


def test_resume_with_fewer_epochs_than_run_says_so(run_cli: RunCli, tmp_path: Path) -> None:
    tiny = ["--algorithm", "easgd", "--n-agents", "2", "--widths", "4,8,8", "--batch-size", "32", "--max-train",
            "64", "--max-eval", "32", "--image-size", "8", "--no-progress", "--out", str(tmp_path / "run")]
    code, _, err = run_cli("train", *tiny, "--epochs", "2")
    assert code == 0, err
    code, _, err = run_cli("train", *tiny, "--epochs", "1", "--resume")
    assert code == 2 and "epochs must be at least the 2 epochs already run" in one_error_line(err)


# --- 4. every printed number finite, every JSON document strict -------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True])
def test_overflowing_bound_is_an_error_not_inf(run_cli: RunCli, as_json: bool) -> None:
    code, out, err = run_cli("bound", "lemma3.1", *LEMMA31, "--lambda-max", "-1e308", *(["--json"] * as_json))
    assert code == 2 and out == ""
    assert "64-bit floats" in one_error_line(err)  # one line: no RuntimeWarning printed before it


@pytest.mark.parametrize("argv", [
    ["contraction", "certify", "thm3.1", "--coupling", "1e308", "--lambda-max", "0", "--json"],
    ["contraction", "certify", "thm3.1", "--coupling", "1e308", "--lambda-max", "0"],
    ["contraction", "compare", "--system", "thm3.1", "--coupling", "1e308", "--strong-convexity", "1", "--json"],
])
def test_contraction_refuses_non_finite_results(run_cli: RunCli, argv: list[str]) -> None:
    code, out, err = run_cli(*argv)
    assert code == 2 and "inf" not in out.lower() and "nan" not in out.lower()
    assert "not a finite number" in one_error_line(err)


def test_certify_shows_no_paper_rate_where_its_condition_fails(run_cli: RunCli) -> None:
    params = ["--strong-convexity", "0.5", "--smoothness", "4", "--coupling", "0.1", "--damping", "0.1"]
    code, _, err = run_cli("bound", "lemma3.2", *params)
    assert code == 2 and "(35)" in err  # the bound calculator rejects these parameters ...
    code, out, _ = run_cli("contraction", "certify", "lemma3.2", *params, "--json")
    paper = strict_json(out)["paper"]
    assert paper["rate"] is None and "(35)" in paper["note"]  # ... so certify shows no (negative) paper rate
    code, out, _ = run_cli("contraction", "certify", "lemma3.2", *params)
    assert "paper     n/a" in out and "-1.4" not in out


def test_figure_json_is_strict(tmp_path: Path) -> None:
    from quorumsgd.clikit import finite_or_null

    data = {"deep_basin_fraction": float("nan"), "runs": [{"x": [1.0, float("inf")]}]}
    assert strict_json(json.dumps(finite_or_null(data), allow_nan=False)) == {
        "deep_basin_fraction": None, "runs": [{"x": [1.0, None]}]}


# --- 5. the API: InvalidParameter for anything that is not a usable number ------------------------------------


@pytest.mark.parametrize(("override", "needle"), [
    ({"lr": "0.1"}, "not a string"),
    ({"lr": True}, "not a string or a boolean"),
    ({"batch_size": np.array([True, False])}, "not a string or a boolean"),
    ({"sigma2": 10**400}, "range of 64-bit floats"),
    ({"lr": [0.1, 0.2, 0.3], "n_agents": [2, 4]}, "broadcast together"),
    ({"lr": [[0.1, 0.2], [0.3]]}, "rectangular array"),
])
def test_api_rejects_what_is_not_a_number(override: dict[str, Any], needle: str) -> None:
    from quorumsgd import bounds

    params = dict(n_agents=4, coupling=1.0, lr=0.1, batch_size=1, sigma2=1.0, dim=1, q=0.0, strong_convexity=1.0)
    with pytest.raises(InvalidParameter, match=needle):
        bounds.thm5_1(**{**params, **override})


@pytest.mark.parametrize(("override", "needle"), [
    ({"dt": float("inf")}, "dt must be finite"),
    ({"dt": 0.0}, "dt must be a finite number > 0"),
    ({"dt": "0.1"}, "dt must be a number"),
    ({"x0": np.array([0.0, np.nan])}, "x0 must be finite"),
    ({"lr": float("nan")}, "lr must be finite"),
])
def test_run_ensemble_rejects_non_finite_inputs(override: dict[str, Any], needle: str) -> None:
    from quorumsgd.algorithms import QSGD
    from quorumsgd.objectives import GaussianNoise, Quadratic
    from quorumsgd.simulate import run_ensemble

    kw = dict(n_agents=2, sims=2, steps=3, dt=0.1, lr=0.1, batch_size=1.0, x0=0.0, stats=())
    with pytest.raises(InvalidParameter, match=needle):
        run_ensemble(QSGD(coupling=1.0), Quadratic(np.eye(2)), GaussianNoise(2, cov=np.eye(2)),
                     **{**kw, **override})


# --- 6. smaller ones --------------------------------------------------------------------------------------------


def test_bound_list_json_is_json(run_cli: RunCli) -> None:
    from quorumsgd import bounds

    code, out, _ = run_cli("bound", "--list", "--json")
    rows = strict_json(out)
    assert code == 0 and [r["name"] for r in rows] == list(bounds.NAMES)
    assert all(set(r) >= {"parameters", "hypotheses", "equation"} for r in rows)


def test_huge_input_is_not_echoed_whole(run_cli: RunCli) -> None:
    huge = "x" * 100_000
    code, _, err = run_cli("bound", "thm5.1", *THM51[:4], "--lr", huge, *THM51[6:])
    assert code == 2 and len(one_error_line(err)) < 400
    with pytest.raises(QuorumSGDError) as caught:
        from quorumsgd import bounds

        bounds.evaluate(huge)
    assert len(str(caught.value)) < 600


def test_unknown_backend_fails_before_creating_anything(run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "figs"
    code, _, err = run_cli("simulate", "fig1", "--quick", "--out", str(out), "--backend", "foo")
    assert code == 2 and "--backend must be one of numpy, torch" in one_error_line(err)
    assert not out.exists()


def test_messages_say_must_be(run_cli: RunCli, tmp_path: Path) -> None:
    for argv in (["train", "--out", str(tmp_path)], ["contraction", "certify", "nosuch"],
                 ["simulate", "fig1", "--out", str(tmp_path), "--sims", "1"]):
        code, _, err = run_cli(*argv)
        assert code == 2 and " must be " in one_error_line(err) and "must satisfy" not in err, err
