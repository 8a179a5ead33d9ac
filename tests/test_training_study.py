"""The Sec. 6 study: CIFAR-10 in its exact on-disk format (no network), the study end to end, resume, the
claims' verdict logic and bad inputs."""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from quorumsgd.errors import InvalidParameter
from quorumsgd.training import study as study_mod
from quorumsgd.training.claims_cnn import VERDICTS, _decide, evaluate_claim, interval, side
from quorumsgd.training.data import load_dataset
from quorumsgd.training.study import Study, StudyChoices, planned_runs, run_key

PER_BATCH, N_TEST = 16, 20


def write_fake_cifar10(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """CIFAR-10's exact layout: cifar-10-batches-py/ with pickled dicts of uint8 ``data`` (N x 3072, channel
    planes R, G, B of 32 x 32 each) and ``labels``, plus batches.meta -- only smaller."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    written = {}
    for name, n in [*((f"data_batch_{i}", PER_BATCH) for i in range(1, 6)), ("test_batch", N_TEST)]:
        labels = rng.integers(0, 10, n)
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        data[:, :1024] = (labels[:, None] * 25).astype(np.uint8)  # a class signal in the red plane
        with open(folder / name, "wb") as handle:
            pickle.dump({"batch_label": name, "labels": labels.tolist(), "data": data,
                         "filenames": [f"{name}_{i}.png" for i in range(n)]}, handle)
        written[name] = data
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"], "num_cases_per_batch": PER_BATCH, "num_vis": 3072}, handle)
    return written


@pytest.fixture
def skip_md5(monkeypatch: pytest.MonkeyPatch):
    """The fake files cannot match the real files' checksums: bypass *only* torchvision's md5 comparison (the
    files must still exist); every other step of its loader runs unchanged."""
    from torchvision.datasets import cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


@pytest.fixture
def fake_cifar(tmp_path: Path, skip_md5) -> Path:
    write_fake_cifar10(tmp_path / "cifar")
    return tmp_path / "cifar"


def test_fake_cifar10_loads_through_torchvision(fake_cifar: Path):
    data = load_dataset("cifar10", data_root=fake_cifar)
    assert tuple(data.train_x.shape[1:]) == (3, 32, 32)
    assert data.n_train + data.n_val == 5 * PER_BATCH and data.n_val == round(0.2 * 5 * PER_BATCH)
    assert data.n_test == N_TEST
    # The red plane carries the label (constant per image): torchvision's HWC decoding and our CHW permute
    # must put it back in channel 0, and standardization keeps it constant within an image.
    red = data.test_x[:, 0].flatten(1)
    assert torch.allclose(red.std(dim=1), torch.zeros(N_TEST), atol=1e-5)
    order = torch.argsort(red[:, 0])
    assert torch.all(torch.diff(data.test_y[order]) >= 0)


def test_missing_partial_and_corrupt_cifar10_are_one_line_errors(tmp_path: Path, monkeypatch):
    with pytest.raises(InvalidParameter, match=r"missing .* every file; add --download") as err:
        load_dataset("cifar10", data_root=tmp_path / "nothing")
    assert "\n" not in str(err.value)
    root = tmp_path / "cifar"
    write_fake_cifar10(root)
    # Real checksums against fake files: "corrupt", naming the files.
    with pytest.raises(InvalidParameter, match=r"corrupt .*data_batch_1.*--download"):
        load_dataset("cifar10", data_root=root)
    from torchvision.datasets import cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    (root / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(InvalidParameter, match=r"missing .*: data_batch_3; add --download"):
        load_dataset("cifar10", data_root=root)
    (root / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(InvalidParameter, match=r"readable CIFAR-10"):
        load_dataset("cifar10", data_root=root)


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_cifar10_batch_that_would_run_code_is_refused(fake_cifar: Path, tmp_path: Path):
    # The checksums are bypassed (skip_md5), as for a copy whose files were replaced along with their records.
    marker = tmp_path / "pwned"
    batch = fake_cifar / "cifar-10-batches-py" / "data_batch_2"
    with open(batch, "wb") as handle:
        pickle.dump({"data": _RunsCode(marker), "labels": [0]}, handle)
    with pytest.raises(InvalidParameter, match=r"readable CIFAR-10 .*refused to load posix.system") as err:
        load_dataset("cifar10", data_root=fake_cifar)
    assert not marker.exists() and "\n" not in str(err.value)


def test_tiny_study_end_to_end_on_fake_cifar10(fake_cifar: Path, tmp_path: Path, run_cli):
    out = tmp_path / "study"
    code, stdout, stderr = run_cli("train", "study", "--dataset", "cifar10", "--data-root", str(fake_cifar),
                                   "--preset", "tiny", "--only", "fig12", "--epochs", "1", "--out", str(out))
    assert code == 0, stderr
    assert "estimated time" in stderr.splitlines()[1] and "runs" in stderr.splitlines()[0]
    claims = {c["claim"]: c for c in json.loads((out / "claims.json").read_text())["claims"]}
    assert set(claims) == {"C13", "C14", "C15", "C16", "C17", "C18"}
    assert claims["C18"]["verdict"] in VERDICTS[:3] and claims["C18"]["dataset"] == "cifar10"
    assert claims["C13"]["verdict"] == "not run" and "--only fig7" in claims["C13"]["evidence"]
    assert (out / "fig12.png").read_bytes()[:4] == b"\x89PNG"
    study = json.loads((out / "study.json").read_text())
    assert study["choices"]["dataset"] == "cifar10" and study["n_test"] == N_TEST
    for run in (out / "runs").iterdir():
        results = json.loads((run / "results.json").read_text())
        assert results["status"] == "completed" and results["study"]["choices"]["widths"] == [4, 8, 8]
    assert "C18" in stdout


def test_tiny_digits_study_with_table1(tmp_path: Path, run_cli):
    out = tmp_path / "study"
    code, _, stderr = run_cli("train", "study", "--preset", "tiny", "--only", "table1", "--epochs", "1",
                              "--seeds", "2", "--no-estimate", "--out", str(out))
    assert code == 0, stderr
    table = json.loads((out / "table1" / "table1.json").read_text())
    assert [r["method"] for r in table["rows"]] == ["EASGD-WM", "EASGD", "MSGD"]
    assert table["study"]["choices"]["label_noise"] == 0.2
    markdown = (out / "table1.md").read_text()
    assert "| momentum | method | loss lr=0.05 | error lr=0.05 |" in markdown
    c16 = {c["claim"]: c for c in json.loads((out / "claims.json").read_text())["claims"]}["C16"]
    assert c16["verdict"] in VERDICTS[:3] and c16["numbers"]["source"] == "table1"


def _choices() -> StudyChoices:
    return StudyChoices.preset("tiny", n_agents=(2,), epochs=2, n_seeds=1, max_train=64)


def test_study_resumes_after_an_interrupt_without_losing_an_epoch(tmp_path: Path, monkeypatch):
    reference = Study(_choices(), tmp_path / "straight", only=["fig12"], echo=lambda _: None)
    reference.run(estimate=False)
    calls = [0]
    original = study_mod.Trainer.train_epoch

    def interrupting(self, epoch, progress=None):
        calls[0] += 1
        if calls[0] == 4:  # the second epoch of the second run
            raise KeyboardInterrupt
        return original(self, epoch, progress)

    monkeypatch.setattr(study_mod.Trainer, "train_epoch", interrupting)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        Study(_choices(), out, only=["fig12"], echo=lambda _: None).run(estimate=False)
    keys = list(planned_runs(_choices(), ["fig12"]))  # the order in which the study trains them
    saved = json.loads((out / "runs" / keys[1] / "results.json").read_text())
    assert saved["status"] == "interrupted" and len(saved["history"]) == 2  # epoch 0 and the finished epoch 1
    monkeypatch.setattr(study_mod.Trainer, "train_epoch", original)
    Study(_choices(), out, only=["fig12"], echo=lambda _: None).run(estimate=False)
    for key in keys:
        a = json.loads((tmp_path / "straight" / "runs" / key / "results.json").read_text())
        b = json.loads((out / "runs" / key / "results.json").read_text())
        assert b["status"] == "completed"
        assert [h["quorum"] for h in a["history"]] == [h["quorum"] for h in b["history"]]


def test_bad_study_inputs_are_one_line_errors(tmp_path: Path, run_cli):
    code, _, err = run_cli("train", "study", "--only", "fig99", "--out", str(tmp_path / "a"))
    assert code == 2 and "only" in err and "fig7" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("train", "study", "--dataset", "cifar10", "--out", str(tmp_path / "b"))
    assert code == 2 and "--data-root" in err
    code, _, err = run_cli("train", "study", "--seeds", "0", "--out", str(tmp_path / "c"))
    assert code == 2 and "n_seeds" in err
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "study.json").write_text(json.dumps({"choices": _choices().to_dict()}))
    with pytest.raises(InvalidParameter, match="these choices differ: label_noise"):
        Study(StudyChoices.preset("tiny", n_agents=(2,), epochs=2, n_seeds=1, max_train=64, label_noise=0.1),
              tmp_path / "d", only=["fig12"]).run(estimate=False)
    with pytest.raises(InvalidParameter, match="label_noise"):
        StudyChoices.preset("tiny", label_noise=1.5)


def test_ctrl_c_says_what_is_kept_and_how_to_continue(tmp_path: Path, run_cli, monkeypatch):
    def interrupted(self, estimate=True):
        raise KeyboardInterrupt

    monkeypatch.setattr(study_mod.Study, "run", interrupted)
    code, _, err = run_cli("train", "study", "--preset", "tiny", "--out", str(tmp_path))
    assert code == 130 and "every finished epoch is saved" in err and "rerun the same command" in err


# ------------------------------------------------------------------------------ verdict logic (no training)
def _fake_run(error: float, status: str = "completed", sync: float = 1.0, train_loss: float = 0.5) -> dict:
    history = [{"epoch": e, "sync": sync, "quorum": {"train_loss": train_loss, "test_error": error},
                "agents": {"test_error": [error, error]}} for e in range(3)]
    return {"status": status, "history": history, "config": {},
            "summary": {"quorum_min_test_error": error, "quorum_min_test_loss": 2 * error}}


def _write_fig12(root: Path, distinct: list[float], common: list[float], spread: list[float]) -> None:
    choices = StudyChoices.preset("tiny", n_agents=(2, 4), n_seeds=len(distinct))
    (root / "runs").mkdir(parents=True)
    (root / "study.json").write_text(json.dumps({"choices": choices.to_dict()}))
    plan = study_mod.build_plan(choices)["fig12"]
    for v in plan.variants:
        errors = spread if v.tags["agent_lrs"] == "spread" else (common if v.tags["init"] == "common" else distinct)
        scale = 2.0 if v.tags["n_agents"] == 4 and v.tags["init"] == "common" else 1.0
        for cfg, e in zip(v.configs, errors, strict=True):
            run = root / "runs" / run_key(cfg)
            run.mkdir()
            (run / "results.json").write_text(json.dumps(_fake_run(e * scale if e > 0.15 else e)))


@pytest.mark.parametrize(
    ("distinct", "common", "spread", "verdict"),
    [
        ([0.10, 0.11, 0.12, 0.10], [0.20, 0.21, 0.19, 0.22], [0.10, 0.12, 0.11, 0.11], "supported"),
        ([0.20, 0.21, 0.19, 0.22], [0.10, 0.11, 0.12, 0.10], [0.20, 0.21, 0.19, 0.22], "not supported"),
        ([0.10, 0.30, 0.10, 0.30], [0.30, 0.10, 0.30, 0.12], [0.10, 0.30, 0.10, 0.30], "inconclusive"),
        ([0.10, 0.11, 0.12, 0.10], [0.20, 0.21, 0.19, 0.22], [0.40, 0.41, 0.42, 0.40], "not supported"),
    ],
)
def test_c18_verdicts_follow_the_confidence_intervals(tmp_path, distinct, common, spread, verdict):
    _write_fig12(tmp_path, distinct, common, spread)
    result = evaluate_claim("C18", tmp_path)
    assert result["verdict"] == verdict, result["evidence"]
    assert result["dataset"] == "digits" and "seeds" in result["evidence"]


def test_claims_without_runs_are_not_run(tmp_path):
    assert evaluate_claim("C15", None)["verdict"] == "not run"
    assert evaluate_claim("C15", tmp_path)["verdict"] == "not run"
    _write_fig12(tmp_path, [0.1, 0.1], [0.2, 0.2], [0.1, 0.1])
    assert evaluate_claim("C13", tmp_path)["verdict"] == "not run"  # the study has no fig7 runs


def test_interval_and_decision_rules():
    iv = interval([1.0, 2.0, 3.0])  # t_{0.975, 2} = 4.3027, standard deviation 1
    assert iv["mean"] == 2.0 and math.isclose(iv["high"] - 2.0, 4.302652729911275 / math.sqrt(3))
    assert side(iv) == 0 and side(iv, margin=-1.0) == 1
    assert side(interval([1.0, 1.1, 1.2])) == 1 and side(interval([-1.0, -1.1, -1.2])) == -1
    assert side(interval([1.0])) == 0 and interval([])["n"] == 0
    assert _decide([1, 1], [1, 1]) == "supported"
    assert _decide([1, 0], [1, -1]) == "not supported"
    assert _decide([1, 0], [1, 0]) == "inconclusive"


@pytest.mark.gpu
def test_tiny_study_runs_on_cuda(tmp_path: Path):
    result = Study(_choices(), tmp_path, only=["fig12"], device="cuda", echo=lambda _: None).run(estimate=True)
    runs = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/results.json")]
    assert runs and all(r["status"] == "completed" and r["config"]["device"] == "cuda" for r in runs)
    assert {c["claim"] for c in result["claims"]} == {"C13", "C14", "C15", "C16", "C17", "C18"}


def test_claims_ledger_reads_the_study(tmp_path, monkeypatch):
    from quorumsgd.verify.claims import CLAIMS

    _write_fig12(tmp_path, [0.10, 0.11, 0.12, 0.10], [0.20, 0.21, 0.19, 0.22], [0.10, 0.12, 0.11, 0.11])
    direct = CLAIMS["C18"](None, study_dir=tmp_path)
    assert direct.verdict == "supported" and direct.numbers["dataset"] == "digits"
    monkeypatch.setenv("QUORUMSGD_STUDY", str(tmp_path))
    assert CLAIMS["C18"](None).to_json() == direct.to_json()
    monkeypatch.delenv("QUORUMSGD_STUDY")
    assert CLAIMS["C13"](None).verdict == "not run"
