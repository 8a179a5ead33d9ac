"""Precision modes (strict / fast / fast+bf16), the step without host synchronization, torch.compile."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from quorumsgd.errors import InvalidParameter
from quorumsgd.training import engine as engine_mod
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.engine import Trainer
from quorumsgd.training.precision import describe, precision_mode
from quorumsgd.training.results import to_json_ready

TINY = dict(
    widths=(4, 8, 8),
    batch_size=32,
    max_train=192,
    max_eval=64,
    image_size=8,
    lr=0.1,
    n_agents=3,
    epochs=1,
    lr_schedule="constant",
)
FLAGS = ("allow_tf32", "deterministic", "benchmark")


def flags() -> tuple:
    return (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.are_deterministic_algorithms_enabled(),
        torch.get_float32_matmul_precision(),
    )


def without_timings(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in to_json_ready(history)]


@pytest.mark.parametrize(
    "start", [(True, True, False, True, False, "medium"), (False, False, True, False, True, "highest")]
)
def test_modes_are_applied_inside_and_restored_after(start):
    matmul, cudnn, det, bench, algos, fp32 = start
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = det, bench
    torch.use_deterministic_algorithms(algos, warn_only=True)
    torch.set_float32_matmul_precision(fp32)
    try:
        before = flags()
        with precision_mode("strict"):
            assert flags() == (False, False, True, False, True, "highest")
        assert flags() == before
        with pytest.raises(RuntimeError), precision_mode("fast"):  # restored on an exception too
            assert flags() == (True, True, False, True, False, "high")
            raise RuntimeError
        assert flags() == before
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_float32_matmul_precision("highest")
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = True, False


def test_the_engine_runs_under_its_mode_and_leaves_the_flags_as_it_found_them():
    seen = []
    original = Trainer._train_epoch

    def spy(self, epoch, progress):
        seen.append((torch.backends.cudnn.allow_tf32, torch.are_deterministic_algorithms_enabled()))
        return original(self, epoch, progress)

    before = flags()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "_train_epoch", spy)
        Trainer(TrainConfig(**TINY)).run()
        Trainer(TrainConfig(precision="fast", **TINY)).run()
    assert seen == [(False, True), (True, False)] and flags() == before


def test_precision_is_recorded_in_every_results_json(tmp_path, run_cli):
    out = tmp_path / "run"
    args = ["--widths", "4,8,8", "--batch-size", "32", "--max-train", "64", "--max-eval", "64", "--image-size", "8"]
    code, _, err = run_cli(
        "train",
        "--algorithm",
        "qsgd",
        "--n-agents",
        "2",
        "--epochs",
        "1",
        *args,
        "--precision",
        "fast",
        "--bf16",
        "--out",
        str(out),
    )
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["precision"] == "fast" and results["config"]["bf16"] is True
    assert results["precision"] == describe("fast", bf16=True) and results["precision"]["autocast"] == "bfloat16"
    code, _, err = run_cli("train", "--algorithm", "qsgd", "--precision", "sloppy", "--out", str(tmp_path / "b"))
    assert code == 2 and "precision" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("train", "--algorithm", "qsgd", "--bf16", "--out", str(tmp_path / "c"))
    assert code == 2 and "bf16" in err and "fast" in err
    with pytest.raises(InvalidParameter, match="bf16"):
        TrainConfig(bf16=True)
    table = Trainer(TrainConfig(**TINY)).run()
    assert table["precision"]["mode"] == "strict" and table["precision"]["autocast"] is None


class DtypeSpy(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.conv_inputs: set[torch.dtype] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ == "convolution":
            self.conv_inputs.add(args[0].dtype)
        return func(*args, **(kwargs or {}))


def test_bf16_autocast_on_cpu_with_fp32_master_parameters():
    fp32 = Trainer(TrainConfig(**TINY)).run()["history"][-1]
    trainer = Trainer(TrainConfig(precision="fast", bf16=True, **TINY))
    with DtypeSpy() as spy:
        bf16 = trainer.run()["history"][-1]
    assert spy.conv_inputs == {torch.bfloat16}  # the network ran in bf16 ...
    assert all(v.dtype == torch.float32 for v in trainer.state.values())  # ... the parameters stayed fp32
    assert bf16["agents"]["val_loss"] == pytest.approx(fp32["agents"]["val_loss"], rel=0.05)
    assert bf16["agents"]["val_loss"] != fp32["agents"]["val_loss"]


@pytest.mark.parametrize("algo", ["qsgd", "sdqsgd", "easgd"])
def test_windowed_divergence_check_gives_exactly_the_per_step_result(algo):
    # Agent 1 overflows at its first step (x becomes inf, its loss is nan at step 1, inside the first window):
    # the window is rolled back and replayed with a check per step, so nothing non-finite reaches the quorum.
    cfg = TrainConfig(**{**TINY, "algo": algo, "epochs": 2, "agent_lrs": (0.1, 1e30, 0.1)})
    per_step = Trainer(cfg, check_every=1).run()
    for every in (4, 16):
        windowed = Trainer(cfg, check_every=every).run()
        assert to_json_ready(windowed["divergence"]) == to_json_ready(per_step["divergence"]) and per_step["divergence"]
        assert without_timings(windowed["history"]) == without_timings(per_step["history"])
    with pytest.raises(InvalidParameter, match="check_every"):
        Trainer(cfg, check_every=0)


def test_the_host_reads_the_divergence_flags_once_per_window(monkeypatch):
    reads = []
    original = Trainer._non_finite_agents

    def counting(self, finite):
        reads.append(finite.shape)
        return original(self, finite)

    monkeypatch.setattr(Trainer, "_non_finite_agents", counting)
    trainer = Trainer(TrainConfig(**{**TINY, "max_train": 320}), check_every=4)  # 10 steps: windows 4, 4, 2
    trainer.initialize(evaluate=False)
    trainer.train_epoch(1)
    assert len(reads) == 3


def test_compiled_step_matches_the_eager_step(monkeypatch):
    # aot_eager traces the step exactly as inductor / CUDA graphs would (dynamo + AOT autograd), in seconds;
    # the inductor build itself is the slow test below.
    monkeypatch.setattr(engine_mod, "compile_options", lambda device: {"backend": "aot_eager"})
    cfg = TrainConfig(**{**TINY, "algo": "easgd", "batching": "grouped"})
    eager = Trainer(cfg).run()
    compiled = Trainer(cfg.replace(compile=True)).run()
    assert compiled["compile_seconds"] > 0 and eager["compile_seconds"] is None
    last_e, last_c = eager["history"][-1], compiled["history"][-1]
    assert last_c["agents"]["val_loss"] == pytest.approx(last_e["agents"]["val_loss"], rel=1e-4)
    assert last_c["sync"] == pytest.approx(last_e["sync"], rel=1e-4)


@pytest.mark.slow
def test_compiled_step_with_inductor_on_cpu():
    cfg = TrainConfig(**{**TINY, "algo": "qsgd", "batching": "auto", "compile": True})
    compiled = Trainer(cfg).run()
    eager = Trainer(cfg.replace(compile=False, batching="grouped")).run()
    assert compiled["batching_used"] == "grouped" and compiled["compile_seconds"] > 0
    assert compiled["history"][-1]["agents"]["val_loss"] == pytest.approx(
        eager["history"][-1]["agents"]["val_loss"], rel=1e-4
    )


@pytest.mark.gpu
def test_no_host_synchronization_per_step_on_cuda():
    # The number of synchronizing calls in an epoch does not grow with its steps (one read per window).
    counts = []
    for max_train in (128, 512):
        cfg = TrainConfig(**{**TINY, "device": "cuda", "batching": "grouped", "max_train": max_train})
        trainer = Trainer(cfg, check_every=64)
        trainer.initialize(evaluate=False)
        trainer.train_epoch(1)  # warm-up
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                trainer.train_epoch(2)
                torch.cuda.synchronize()
        finally:
            torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(w.message) for w in record))
    assert counts[1] <= counts[0], counts


@pytest.mark.gpu
def test_strict_mode_agrees_with_cpu_and_bf16_runs_on_cuda():
    cfg = TrainConfig(**{**TINY, "algo": "sdqsgd"})
    cpu = Trainer(cfg).run()["history"][-1]
    for batching in ("loop", "grouped", "vmap", "auto"):
        cuda = Trainer(cfg.replace(device="cuda", batching=batching)).run()["history"][-1]
        assert cuda["agents"]["val_loss"] == pytest.approx(cpu["agents"]["val_loss"], rel=1e-3), batching
    fast = Trainer(cfg.replace(device="cuda", precision="fast", bf16=True, batching="grouped")).run()
    assert fast["status"] == "completed" and fast["precision"]["autocast"] == "bfloat16"


@pytest.mark.gpu
def test_compiled_step_with_cuda_graphs_matches_eager_and_rolls_back():
    # reduce-overhead: CUDA graphs replay into the same output buffers; the window's flags and the state must
    # survive the next replay, and a divergence inside a window must be rolled back as in eager mode.
    cfg = TrainConfig(
        **{**TINY, "algo": "easgd", "device": "cuda", "batching": "grouped", "epochs": 2, "agent_lrs": (0.1, 1e30, 0.1)}
    )
    eager = Trainer(cfg).run()
    compiled = Trainer(cfg.replace(compile=True)).run()
    assert compiled["compile_seconds"] > 0
    assert to_json_ready(compiled["divergence"]) == to_json_ready(eager["divergence"]) and eager["divergence"]
    last_e, last_c = eager["history"][-1], compiled["history"][-1]
    assert last_c["agents"]["val_loss"][0] == pytest.approx(last_e["agents"]["val_loss"][0], rel=1e-3)
    assert last_c["sync"] == pytest.approx(last_e["sync"], rel=1e-3)
