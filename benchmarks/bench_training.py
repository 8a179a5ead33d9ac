"""Training throughput: N agents as one batched computation vs a Python loop over N models vs the ceiling.

Measured side by side in one run, on the paper's CNN at CIFAR-10's input shape (3 x 32 x 32, synthetic data
resident on the device), for ``n_agents`` in 1, 4, 8, 16, 32:

* ``loop``: N ordinary ``nn.Module`` copies, each with its own ``torch.optim.SGD(nesterov=True)``, one
  forward / backward / step per agent per iteration (the baseline a user would write);
* ``grouped``: the engine's step (:meth:`quorumsgd.training.engine.Trainer.train_epoch`) with grouped
  convolutions -- per-agent batches and dropout masks, gradients, ``QuorumIteration.apply`` on the flat
  stacked parameters, the divergence check once per window (no host synchronization per step);
* ``vmap``: the same step with ``torch.func.vmap`` over ``functional_call``;
* ``engine-loop``: the engine's step with a Python loop over agents inside (``batching="loop"``);
* ``auto``: the engine's default, ``batching="auto"`` (the fastest of grouped and the loop, each
  channels-last or contiguous, measured at the first step and cached) -- the target is auto/loop >= 1, and at
  1 agent auto must pick the loop when that is faster;
* ``auto-bf16``: ``auto`` with ``precision="fast", bf16=True`` (bf16 autocast, fp32 master parameters);
* ``compiled``: ``grouped`` with ``compile=True`` (``torch.compile`` of the whole step; CUDA graphs on a GPU),
  compile time reported separately (opt-in: minutes on a CPU);
* ``ceiling`` / ``ceiling-bf16``: **one** CNN trained at batch ``n_agents * batch`` (the arithmetic of N agents,
  perfectly batched), fp32 / bf16 autocast: what batching could reach at best.

The ``loop`` and ``ceiling`` models use channels-last memory, the faster layout for cuDNN convolutions, so the
baselines are the strong ones (a plain contiguous loop would only make the ratios look better).

Every method runs under the same ``--precision`` flags (default ``fast``: TF32 on a GPU, as a study would),
MSGD (Nesterov momentum, no coupling) so that they do the same arithmetic; ``--algo easgd`` adds the elastic
coupling to the engines. Reported: samples per second (agents x batch x steps / wall-clock seconds, median
of ``--repeats`` interleaved rounds), ratios to the loop and to the ceiling of the same dtype, and the
loop-ratio in samples per *process CPU second* (robust to other load on a shared CPU machine). Design
targets (GPU): 8 agents batched >= 4x the loop and >= 0.8 of the ceiling; 1 agent >= 0.9x the loop.

    python benchmarks/bench_training.py                     # CPU
    python benchmarks/bench_training.py --device cuda --json out.json --markdown out.md   # GPU
    python benchmarks/bench_training.py --quick             # seconds: small widths, agents 1 and 4
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from typing import Any

import torch

from quorumsgd.training.config import TrainConfig
from quorumsgd.training.data import DataSplits
from quorumsgd.training.engine import Trainer
from quorumsgd.training.network import NetworkConfig, PaperCNN
from quorumsgd.training.precision import precision_mode

METHODS = ("loop", "grouped", "vmap", "engine-loop", "auto", "auto-bf16", "compiled", "ceiling", "ceiling-bf16")
DEFAULT_METHODS = "loop,grouped,vmap,engine-loop,auto,auto-bf16,ceiling,ceiling-bf16"
BATCHING = {
    "grouped": "grouped",
    "vmap": "vmap",
    "engine-loop": "loop",
    "auto": "auto",
    "auto-bf16": "auto",
    "compiled": "grouped",
}


def synthetic_data(n: int, device: torch.device, image_size: int = 32) -> DataSplits:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, image_size, image_size, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    return DataSplits("synthetic", x, y, x[:64], y[:64], x[:64], y[:64]).to(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bf16(method: str) -> bool:
    return method.endswith("-bf16")


class Runner:
    """One way of training N agents for one epoch (``steps`` optimizer steps); ``epoch()`` runs it."""

    def __init__(self, method: str, cfg: TrainConfig, data: DataSplits, precision: str):
        self.method, self.device, self.precision = method, torch.device(cfg.device), precision
        self.epochs_done = 0
        self.compile_seconds: float | None = None
        self.data, self.batch, self.steps = data, cfg.batch_size, data.n_train // cfg.batch_size
        if method == "loop":
            self.models = [self._model(cfg) for _ in range(cfg.n_agents)]
        elif method.startswith("ceiling"):
            self.models = [self._model(cfg)]
            self.batch *= cfg.n_agents  # one model, the N agents' samples in one batch
        else:
            fast = precision == "fast" or bf16(method)
            self.trainer = Trainer(
                cfg.replace(precision="fast" if fast else "strict", bf16=bf16(method), compile=method == "compiled"),
                data=data,
            )
            self.trainer.initialize(evaluate=False)
            return
        self.optimizers = [
            torch.optim.SGD(m.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True) for m in self.models
        ]
        self.orders = [torch.randperm(data.n_train, device=self.device) for _ in self.models]

    def _model(self, cfg: TrainConfig) -> torch.nn.Module:
        net_cfg = NetworkConfig(cfg.network.widths, cfg.dropout, image_size=cfg.image_size)
        return PaperCNN(net_cfg).to(self.device).to(memory_format=torch.channels_last).train()

    def _models_epoch(self) -> None:
        n = self.data.n_train
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16(self.method)):
            for t in range(self.steps):
                for model, optimizer, order in zip(self.models, self.optimizers, self.orders, strict=True):
                    if self.batch <= n:
                        index = order[(t * self.batch) % n : (t * self.batch) % n + self.batch]
                        index = index if index.numel() == self.batch else order[: self.batch]
                    else:  # the ceiling's batch is larger than the data: sample with replacement, on the device
                        index = torch.randint(0, n, (self.batch,), device=self.device)
                    x = self.data.train_x[index].contiguous(memory_format=torch.channels_last)
                    loss = torch.nn.functional.cross_entropy(model(x), self.data.train_y[index])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()

    def epoch(self) -> tuple[float, float]:
        """Wall-clock and process-CPU seconds of one epoch."""
        with precision_mode("fast" if bf16(self.method) else self.precision):
            sync(self.device)
            wall, cpu = time.perf_counter(), time.process_time()
            if hasattr(self, "trainer"):
                self.epochs_done += 1
                self.trainer.train_epoch(self.epochs_done)
                self.compile_seconds = self.trainer.compile_seconds
            else:
                self._models_epoch()
            sync(self.device)
            return time.perf_counter() - wall, time.process_time() - cpu


def ratio(row: dict[str, Any], method: str, reference: str) -> float | None:
    if row.get(method) is None or not row.get(reference):
        return None
    return row[method] / row[reference]


def ceiling_of(method: str) -> str:
    return "ceiling-bf16" if bf16(method) else "ceiling"


def measure(n: int, methods: list[str], args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    data = synthetic_data(args.batch_size * args.steps, device, args.image_size)
    runners = {}
    row: dict[str, Any] = {"n_agents": n}
    for method in methods:
        cfg = TrainConfig(
            algo=args.algo if method in BATCHING else "msgd",
            n_agents=n,
            batch_size=args.batch_size,
            widths=args.widths,
            device=args.device,
            lr=0.01,
            momentum=0.9,
            image_size=args.image_size,
            batching=BATCHING.get(method, "grouped"),
            lr_schedule="constant",
        )
        try:
            runners[method] = Runner(method, cfg, data, args.precision)
            runners[method].epoch()  # warm-up: allocator, cuDNN autotuning, lazy initialization, compilation
        except Exception as err:  # e.g. out of memory at 32 agents: recorded, the other methods still run
            row[f"{method}_error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
            runners.pop(method, None)
    # Interleaved rounds: a shared machine's load drifts, and drifts alike for every method this way.
    walls: dict[str, list[float]] = {m: [] for m in runners}
    cpus: dict[str, list[float]] = {m: [] for m in runners}
    for _ in range(args.repeats):
        for method, runner in runners.items():
            wall, cpu = runner.epoch()
            walls[method].append(wall)
            cpus[method].append(cpu)
    samples = n * args.batch_size * args.steps
    for method in methods:
        if method in runners:
            row[method] = samples / statistics.median(walls[method])
            row[f"{method}_per_cpu_second"] = samples / max(statistics.median(cpus[method]), 1e-9)
        else:
            row[method] = None
    for method in methods:
        if "loop" in runners and method != "loop" and not method.startswith("ceiling"):
            row[f"{method}/loop"] = ratio(row, method, "loop")
            row[f"{method}/loop_cpu"] = ratio(row, f"{method}_per_cpu_second", "loop_per_cpu_second")
        if ceiling_of(method) in runners and not method.startswith("ceiling"):
            row[f"{method}/ceiling"] = ratio(row, method, ceiling_of(method))
    for name in ("auto", "auto-bf16"):
        if name in runners:
            row[f"{name}_chose"] = getattr(runners[name].trainer.net, "chosen", None)
    if "compiled" in runners:
        row["compile_seconds"] = runners["compiled"].compile_seconds
    return row


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table: samples/s per method, then the ratios to the loop and to the ceiling."""
    methods = report["methods"]
    head = ["agents", *[f"{m} /s" for m in methods]]
    ratios = [m for m in methods if m != "loop" and not m.startswith("ceiling")]
    head += [f"{m}/loop" for m in ratios if "loop" in methods]
    head += [f"{m}/ceil" for m in ratios if ceiling_of(m) in methods]
    lines = [
        f"training throughput, {report['device_name']}, torch {report['torch']}, widths {report['widths']}, "
        f"image {report['image_size']}, batch {report['batch_size']}/agent, precision {report['precision']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]

    def num(v: Any, digits: int = 0) -> str:
        return "n/a" if v is None else f"{v:,.{digits}f}"

    for row in report["rows"]:
        cells = [str(row["n_agents"]), *[num(row.get(m)) for m in methods]]
        cells += [num(row.get(f"{m}/loop"), 2) for m in ratios if "loop" in methods]
        cells += [num(row.get(f"{m}/ceiling"), 2) for m in ratios if ceiling_of(m) in methods]
        lines.append("| " + " | ".join(cells) + " |")
    chose = [f"{r['n_agents']}: {r.get('auto_chose')}" for r in report["rows"] if "auto_chose" in r]
    if chose:
        lines.append(f"\nauto chose (agents: candidate): {', '.join(chose)}")
    errors = [
        f"{r['n_agents']} agents {k[:-6]}: {v}" for r in report["rows"] for k, v in r.items() if k.endswith("_error")
    ]
    if errors:
        lines.append("\nerrors: " + "; ".join(errors))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-agents", default="1,4,8,16,32")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per timed epoch")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed epochs (median reported)")
    parser.add_argument("--widths", default="64,128,64")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma-separated, of {', '.join(METHODS)}")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--algo", default="msgd")
    parser.add_argument("--precision", default="fast", choices=("strict", "fast"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="widths 4,8,8, image 16, batch 16, agents 1,4, 2 steps")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--markdown", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.widths, args.image_size, args.batch_size, args.steps, args.repeats = "4,8,8", 16, 16, 2, 1
        args.n_agents = "1,4" if args.n_agents == parser.get_default("n_agents") else args.n_agents
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    args.widths = tuple(int(w) for w in args.widths.split(","))
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu")
    report: dict[str, Any] = {
        "device": str(device),
        "device_name": name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "widths": list(args.widths),
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "repeats": args.repeats,
        "algo": args.algo,
        "precision": args.precision,
        "methods": methods,
        "rows": [],
    }
    print(
        f"device={device} ({name}), torch {torch.__version__}, threads={torch.get_num_threads()}, "
        f"widths={args.widths}, batch={args.batch_size}, steps={args.steps}, precision={args.precision}",
        flush=True,
    )
    for n in (int(v) for v in args.n_agents.split(",")):
        row = measure(n, methods, args, device)
        report["rows"].append(row)
        if args.json:  # after every agent count: a run stopped at its time limit keeps the rows it measured
            with open(args.json, "w") as handle:
                json.dump(report, handle, indent=1)
        shown = ", ".join(f"{m} {row[m]:,.0f}" for m in methods if row.get(m) is not None)
        print(f"{n:>3} agents: {shown} samples/s", flush=True)
    table = markdown(report)
    print(table, flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(table + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
