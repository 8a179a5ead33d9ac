"""Training throughput: N agents as one batched computation vs a Python loop over N separate models.

Measured side by side in one run, on the paper's CNN at CIFAR-10's input shape (3 x 32 x 32, synthetic data
resident on the device), for ``n_agents`` in 1, 4, 8, 16:

* ``loop``: N ordinary ``nn.Module`` copies, each with its own ``torch.optim.SGD(nesterov=True)``, one
  forward / backward / step per agent per iteration (the baseline a user would write);
* ``grouped``: the engine's step (:meth:`quorumsgd.training.engine.Trainer.train_epoch`) with grouped
  convolutions -- per-agent batches and dropout masks, gradients, ``QuorumIteration.apply`` on the flat
  stacked parameters;
* ``vmap``: the same step with ``torch.func.vmap`` over ``functional_call``;
* ``engine-loop``: the engine's step with a Python loop over agents inside (``batching="loop"``);
* ``auto``: the engine's default, ``batching="auto"`` (the fastest of grouped channels-last, grouped
  contiguous and the loop, measured at the first step and cached) -- the target is auto/loop >= 1;
* ``compiled`` (opt-in): ``grouped`` with ``torch.compile`` on the network's loss-and-gradient (compile
  time excluded; minutes on a CPU).

All three run MSGD (Nesterov momentum, no coupling) so that they do the same arithmetic; ``--algo easgd``
adds the elastic coupling to the batched engines. Reported: samples per second (agents x batch x steps /
wall-clock seconds, median of ``--repeats`` interleaved rounds), the ratio to the loop, and the same ratio
in samples per *process CPU second* (robust to other load on a shared CPU machine). Design target (GPU):
8 agents batched >= 4x the loop.

    python benchmarks/bench_training.py                     # CPU
    python benchmarks/bench_training.py --device cuda       # GPU
    python benchmarks/bench_training.py --n-agents 1,4 --widths 16,32,16 --steps 2   # quick
    python benchmarks/bench_training.py --threads 1 --image-size 8 --widths 16,32,16 --batch-size 32  # the
        # digits study's shape
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import torch

from quorumsgd.training.config import TrainConfig
from quorumsgd.training.data import DataSplits
from quorumsgd.training.engine import Trainer
from quorumsgd.training.network import NetworkConfig, PaperCNN

BATCHING = {"grouped": "grouped", "vmap": "vmap", "engine-loop": "loop", "auto": "auto", "compiled": "grouped",
            "loop": "grouped"}


def synthetic_data(n: int, device: torch.device, image_size: int = 32) -> DataSplits:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, image_size, image_size, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    return DataSplits("synthetic", x, y, x[:64], y[:64], x[:64], y[:64]).to(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Runner:
    """One way of training N agents for one epoch (``steps`` optimizer steps); ``epoch()`` runs it."""

    def __init__(self, method: str, cfg: TrainConfig, data: DataSplits):
        self.method, self.device = method, torch.device(cfg.device)
        self.epochs_done = 0
        if method == "loop":
            self._setup_loop(cfg, data)
        else:
            self.trainer = Trainer(cfg, data=data)
            self.trainer.initialize(evaluate=False)
            if method == "compiled":
                net = self.trainer.net
                net.loss_and_grad = torch.compile(net.loss_and_grad)  # type: ignore[method-assign]

    def _setup_loop(self, cfg: TrainConfig, data: DataSplits) -> None:
        net_cfg = NetworkConfig(cfg.network.widths, cfg.dropout, image_size=cfg.image_size)
        self.models = [PaperCNN(net_cfg).to(self.device).train() for _ in range(cfg.n_agents)]
        self.optimizers = [torch.optim.SGD(m.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
                           for m in self.models]
        self.orders = [torch.randperm(data.n_train, device=self.device) for _ in self.models]
        self.data, self.batch, self.steps = data, cfg.batch_size, data.n_train // cfg.batch_size

    def _loop_epoch(self) -> None:
        for t in range(self.steps):
            for model, optimizer, order in zip(self.models, self.optimizers, self.orders, strict=True):
                index = order[t * self.batch : (t + 1) * self.batch]
                loss = torch.nn.functional.cross_entropy(model(self.data.train_x[index]), self.data.train_y[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

    def epoch(self) -> tuple[float, float]:
        """Wall-clock and process-CPU seconds of one epoch."""
        sync(self.device)
        wall, cpu = time.perf_counter(), time.process_time()
        if self.method == "loop":
            self._loop_epoch()
        else:
            self.epochs_done += 1
            self.trainer.train_epoch(self.epochs_done)
        sync(self.device)
        return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-agents", default="1,4,8,16")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per timed epoch")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed epochs (median reported)")
    parser.add_argument("--widths", default="64,128,64")
    parser.add_argument("--methods", default="loop,grouped,engine-loop,auto",
                        help="of loop, grouped, vmap, engine-loop, auto, compiled")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--algo", default="msgd")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    widths = tuple(int(w) for w in args.widths.split(","))
    methods = args.methods.split(",")
    data = synthetic_data(args.batch_size * args.steps, device, args.image_size)
    rows = []
    header = f"{'agents':>6} " + " ".join(f"{m + ' samples/s':>20}" for m in methods)
    header += "".join(f" {m + '/loop':>13}" for m in methods if m != "loop" and "loop" in methods)
    header += "".join(f" {m + '/loop cpu':>17}" for m in methods if m != "loop" and "loop" in methods)
    print(f"device={device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or 'cpu'}), "
          f"torch {torch.__version__}, threads={torch.get_num_threads()}, widths={widths}, batch={args.batch_size}, "
          f"steps={args.steps}, algo={args.algo}, image={args.image_size}", flush=True)
    print(header, flush=True)
    for n in (int(v) for v in args.n_agents.split(",")):
        runners = {}
        for method in methods:
            cfg = TrainConfig(algo=args.algo if method != "loop" else "msgd", n_agents=n, batch_size=args.batch_size,
                              widths=widths, device=args.device, lr=0.01, momentum=0.9, image_size=args.image_size,
                              batching=BATCHING[method], lr_schedule="constant")
            runners[method] = Runner(method, cfg, data)
            runners[method].epoch()  # warm-up: allocator, cuDNN autotuning, lazy initialization
        # Interleaved rounds: a shared machine's load drifts, and drifts alike for every method this way.
        walls: dict[str, list[float]] = {m: [] for m in methods}
        cpus: dict[str, list[float]] = {m: [] for m in methods}
        for _ in range(args.repeats):
            for method in methods:
                wall, cpu = runners[method].epoch()
                walls[method].append(wall)
                cpus[method].append(cpu)
        samples = n * args.batch_size * args.steps
        row: dict = {"n_agents": n}
        for method in methods:
            row[method] = samples / statistics.median(walls[method])
            row[f"{method}_per_cpu_second"] = samples / statistics.median(cpus[method])
        line = f"{n:>6} " + " ".join(f"{row[m]:>20.1f}" for m in methods)
        if "loop" in methods:
            line += "".join(f" {row[m] / row['loop']:>13.2f}" for m in methods if m != "loop")
            line += "".join(f" {row[m + '_per_cpu_second'] / row['loop_per_cpu_second']:>17.2f}"
                            for m in methods if m != "loop")
        print(line, flush=True)
        auto = runners.get("auto")
        if auto is not None:
            row["auto_chose"] = getattr(auto.trainer.net, "chosen", None)
            print(f"{'':>6} auto chose {row['auto_chose']}", flush=True)
        rows.append(row)
    report = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "widths": widths, "image_size": args.image_size, "batch_size": args.batch_size, "steps": args.steps, "algo": args.algo, "rows": rows}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
