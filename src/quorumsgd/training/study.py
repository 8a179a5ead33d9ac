r"""The whole Sec. 6 study in one resumable command: Figs 7--12 and Table 1, and a verdict per claim.

Every experiment of the paper's CNN section, as runs of :class:`~quorumsgd.training.engine.Trainer` that share
one data set and one set of documented choices for what the paper left unknown (:class:`StudyChoices`):

========  ===========================================================================================
fig7      QSGD over couplings k x agents p: the lowest k that keeps the quorum converging is best (C13)
fig8      QSGD vs SD-QSGD (gains (60)--(61)) over p, and p = 1 (MSGD) (C14)
fig9      QSGD vs EASGD over p: training loss, test loss / error, synchronization (C15)
fig10     single-agent EASGD, EASGD-WM and MSGD over learning rates at one momentum (C16)
table1    the same three methods over learning rates (columns) x momenta (row blocks) (C16)
fig11     EASGD with its coupling rescaled to match QSGD's synchronization, up to a larger p (C17)
fig12     distinct vs common initial points over p; per-agent learning rates (C18)
========  ===========================================================================================

All runs use the per-agent LR-plateau rule of Sec. 6.1 (footnote 11) and report QSGD / SD-QSGD's quorum
as the EMA of :math:`\bar{\mathbf x}` (not fed back). A run is identified by its configuration, so runs
shared between figures (QSGD at the study's k appears in Figs 7, 8, 9, 11 and 12) are trained once.

**Resumable.** Each run checkpoints after every epoch; re-running the same command reuses finished runs and
resumes an interrupted one from its last completed epoch (Ctrl-C loses at most the epoch in progress).

**Offline regime (digits).** scikit-learn's digits are nearly separable for this network (about 3 % test
error after two epochs), which hides every generalization effect the paper reports. The ``digits`` preset
therefore trains on a small subset (400 images) with 20 % of the training and validation labels replaced by
random ones (fixed by ``label_noise_seed``; the test set stays clean) for many epochs: a network that
memorizes the noisy labels overfits, so a regularizing effect (EASGD's low-pass feedback, C15--C16), the
exploration that more, less-coupled agents bring (C13, C14, C18) and the effect of synchronization (C17)
can show in the clean test error. Images stay at the digits' native 8 x 8 (one core trains the whole study in
about half an hour). The ``cifar10`` preset is the paper's setting (32 x 32, widths 64/128/64, batch 128).

Example:
    >>> choices = StudyChoices.preset("tiny")
    >>> plan = build_plan(choices)
    >>> sorted(plan)[:3], len(plan["fig7"].variants) == len(choices.n_agents) * len(choices.couplings)
    (['fig10', 'fig11', 'fig12'], True)
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quorumsgd.errors import InvalidParameter
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.data import DataSplits, load_dataset
from quorumsgd.training.engine import Trainer
from quorumsgd.training.results import write_json
from quorumsgd.training.table1 import format_table1, format_table1_markdown, run_table1

EXPERIMENTS = ("fig7", "fig8", "fig9", "fig10", "fig11", "fig12", "table1")
STUDY_VERSION = 1


@dataclass(frozen=True)
class StudyChoices:
    """The study's values for everything the paper leaves unknown (Sec. 6), recorded in every JSON.

    Attributes:
        dataset, image_size, widths, batch_size, dropout: data and network.
        max_train, max_eval: caps on the training split and on the validation / test splits (None: all).
        label_noise: fraction of training and validation labels replaced by uniformly random labels (the
            offline regime's source of overfitting; see the module docstring). The test set stays clean.
        label_noise_seed: fixes which labels are replaced (the same in every run).
        epochs, n_seeds: epochs per run; runs per variant (seeds ``0 .. n_seeds-1``), for confidence
            intervals over seeds.
        lr, momentum: the initial rate and Nesterov momentum of the distributed experiments (paper: the
            largest stable rate for most k; lost).
        n_agents: the agent counts p of Figs 7--9 and 12 (p = 1 is MSGD's baseline in Fig. 8).
        couplings: Fig. 7's coupling gains k.
        coupling: the k of Figs 8, 9, 10, 12 and Table 1.
        easgd_rescale: Fig. 11's factor on EASGD's k to match QSGD's synchronization (paper's value lost).
        large_agents: Fig. 11's additional, larger p.
        agent_lr_spread: Fig. 12's per-agent initial rates run geometrically from lr/spread to lr*spread.
        table1_lrs, table1_momenta: Table 1's columns and row blocks (paper's values lost); Fig. 10 uses
            ``table1_lrs`` at ``momentum``.
        ema_epochs, magnification, spike_divisor, plateau_threshold: as in :class:`TrainConfig`.
        notes: why each value was chosen.
    """

    dataset: str = "digits"
    image_size: int = 8
    widths: tuple[int, int, int] = (16, 32, 16)
    batch_size: int = 32
    dropout: float = 0.5
    max_train: int | None = 400
    max_eval: int | None = None
    label_noise: float = 0.2
    label_noise_seed: int = 0
    epochs: int = 16
    n_seeds: int = 4
    lr: float = 0.05
    momentum: float = 0.9
    n_agents: tuple[int, ...] = (2, 4, 8)
    couplings: tuple[float, ...] = (0.1, 1.0, 10.0)
    coupling: float = 1.0
    easgd_rescale: float = 1.13
    large_agents: int = 16
    agent_lr_spread: float = 2.0
    table1_lrs: tuple[float, ...] = (0.02, 0.05, 0.1)
    table1_momenta: tuple[float, ...] = (0.5, 0.9)
    ema_epochs: float = 0.25
    magnification: float = 5.0
    spike_divisor: float = 10.0
    plateau_threshold: float = 0.01
    notes: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("widths", "n_agents", "couplings", "table1_lrs", "table1_momenta"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not 0.0 <= self.label_noise < 1.0:
            raise InvalidParameter("label_noise", "0 <= label_noise < 1", self.label_noise)
        for name in ("epochs", "n_seeds", "large_agents"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidParameter(name, f"an integer {name} >= 1", value)
        if not self.n_agents or min(self.n_agents) < 2:
            raise InvalidParameter("n_agents", "agent counts >= 2 (p = 1 is added where the paper has it)",
                                   self.n_agents)
        if not self.couplings or min(self.couplings) <= 0:
            raise InvalidParameter("couplings", "positive couplings", self.couplings)
        for name in ("easgd_rescale", "agent_lr_spread"):
            if not getattr(self, name) >= 1:
                raise InvalidParameter(name, f"{name} >= 1", getattr(self, name))
        self.base_config()  # validates every remaining field up front, before hours of training

    @classmethod
    def preset(cls, name: str, **changes: Any) -> StudyChoices:
        """``digits`` (the offline regime), ``cifar10`` (the paper's setting) or ``tiny`` (tests)."""
        if name not in PRESETS:
            raise InvalidParameter("preset", f"one of {', '.join(PRESETS)}", name)
        return dataclasses.replace(PRESETS[name], **changes)

    def base_config(self) -> TrainConfig:
        return TrainConfig(
            algo="qsgd", n_agents=2, lr=self.lr, momentum=self.momentum, coupling=self.coupling,
            epochs=self.epochs, batch_size=self.batch_size, dataset=self.dataset, image_size=self.image_size,
            widths=self.widths, dropout=self.dropout, max_train=self.max_train, max_eval=self.max_eval,
            ema_epochs=self.ema_epochs, magnification=self.magnification, spike_divisor=self.spike_divisor,
            plateau_threshold=self.plateau_threshold, lr_schedule="plateau",
            data_root="(study)" if self.dataset == "cifar10" else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def numbers(self) -> dict[str, Any]:
        """The fields that change the runs' numbers: all but ``notes``, ``epochs`` and ``n_seeds`` (more epochs
        continue the runs, more seeds add runs)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("notes", "epochs", "n_seeds")}


_NOTES = {
    "widths": "paper: unknown channel counts (Zhang et al.'s net is 64/128/64); the digits regime uses a "
              "quarter of them so that one CPU core trains the study",
    "image_size": "digits at their native 8x8 (the network's 9/5/3 kernels with 'same' padding fit: 8-4-2-1)",
    "max_train": "few training samples + label noise make the network overfit, so regularization can show",
    "label_noise": "20 % random labels in training/validation: memorizing them hurts the clean test error",
    "lr": "0.05: stable for every algorithm and k of the study at momentum 0.9 on digits (paper: lost)",
    "couplings": "one decade below and above k = 1 (paper: lost); k = 0.1 leaves the agents unsynchronized",
    "easgd_rescale": "x1.13 matches EASGD's synchronization to QSGD's on digits: Fig. 9's runs (k = 1) measured "
                     "log10(sync EASGD / sync QSGD) = 0.079, 0.051, 0.031 at p = 2, 4, 8, mean 0.054, and the "
                     "spread scales like 1/k (C2), so 10**0.054 = 1.13 (paper's factor lost; x4 overshoots: "
                     "EASGD then ends 15x more synchronized than QSGD)",
    "large_agents": "p = 16, twice the largest p of Figs 7-9 (Fig. 11 adds larger p); EASGD's "
                    "beta = p*lr*k grows with p towards its discrete-time stability limit (C6, the SI's 1-D analysis)",
    "n_seeds": "four seeds per variant: 95 % t-intervals over seeds of paired differences",
    "agent_lr_spread": "rates from lr/2 to 2 lr (Sec. 3.4 multiple learning rates)",
    "table1_lrs": "three rates around the study's lr (paper: six, values lost)",
    "table1_momenta": "two momenta (paper: four, values lost)",
    "ema_epochs": "EMA horizon of a quarter epoch (paper's constant lost)",
    "magnification": "SD-QSGD A_mag = 5, tau = batches/10: 'a rather rapid spike' (paper: lost)",
    "plateau_threshold": "1 % (paper: x %, lost)",
    "epochs": "enough for the LR-plateau rule to drop at least once (patience 5)",
}

PRESETS: dict[str, StudyChoices] = {
    "digits": StudyChoices(notes=_NOTES),
    "cifar10": StudyChoices(
        dataset="cifar10", image_size=32, widths=(64, 128, 64), batch_size=128, max_train=None,
        label_noise=0.0, epochs=60, n_seeds=3, lr=0.05, n_agents=(2, 4, 8), couplings=(0.1, 0.3, 1.0, 3.0),
        coupling=0.3,
        table1_lrs=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2), table1_momenta=(0.5, 0.8, 0.9, 0.95),
        notes={**_NOTES, "widths": "Zhang et al.'s CIFAR net (the paper says it follows it; unverified)",
               "label_noise": "none: CIFAR-10 overfits without help at this size",
               "easgd_rescale": "the digits calibration (1.13); re-measure it from this study's fig9 "
                                "synchronization (10 ** mean log10(sync EASGD / sync QSGD))"},
    ),
    "tiny": StudyChoices(
        image_size=8, widths=(4, 8, 8), batch_size=32, max_train=96, max_eval=64, epochs=2, n_seeds=2,
        n_agents=(2, 3), couplings=(0.5, 2.0), large_agents=4, table1_lrs=(0.05,), table1_momenta=(0.9,),
        notes={"all": "a smoke-test scale: every code path, no meaningful numbers"},
    ),
}


# ---------------------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class Variant:
    """One curve of a figure: a configuration, run once per seed."""

    label: str
    tags: dict[str, Any]
    configs: tuple[TrainConfig, ...]


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    claims: tuple[str, ...]
    variants: tuple[Variant, ...]


def run_key(cfg: TrainConfig) -> str:
    """A run's directory name: every field the study varies (runs shared between figures share it)."""
    parts = [cfg.algo, f"p{cfg.n_agents}", f"k{cfg.coupling:g}", f"lr{cfg.lr:g}", f"m{cfg.momentum:g}", cfg.init]
    if cfg.agent_lrs is not None:
        parts.append("lrs" + "-".join(f"{v:.3g}" for v in cfg.agent_lrs))
    return "_".join(parts) + f"_seed{cfg.seed}"


def _variant(choices: StudyChoices, label: str, tags: dict[str, Any], **fields: Any) -> Variant:
    base = choices.base_config().replace(**fields)
    return Variant(label, {"label": label, **tags},
                   tuple(base.replace(seed=s) for s in range(choices.n_seeds)))


def _spread_lrs(choices: StudyChoices, n: int) -> tuple[float, ...]:
    exponents = np.linspace(-1.0, 1.0, n)
    return tuple(float(choices.lr * choices.agent_lr_spread**e) for e in exponents)


def build_plan(choices: StudyChoices) -> dict[str, Experiment]:
    """Every experiment of the study as variants x seeds of :class:`TrainConfig` (Table 1 aside)."""
    c = choices
    ps, k = c.n_agents, c.coupling

    def q(p: int, coupling: float = k) -> Variant:
        return _variant(c, f"QSGD p={p} k={coupling:g}", {"algo": "qsgd", "n_agents": p, "coupling": coupling},
                        algo="qsgd", n_agents=p, coupling=coupling)

    msgd = _variant(c, "MSGD p=1", {"algo": "msgd", "n_agents": 1, "coupling": k}, algo="msgd", n_agents=1)
    plan = {
        "fig7": Experiment("fig7", "QSGD: coupling k x agents p", ("C13",),
                           tuple(q(p, kk) for p in ps for kk in c.couplings)),
        "fig8": Experiment("fig8", "QSGD vs SD-QSGD over p", ("C14",), (msgd, *(
            v for p in ps for v in (q(p), _variant(c, f"SD-QSGD p={p} k={k:g}",
                                                   {"algo": "sdqsgd", "n_agents": p, "coupling": k},
                                                   algo="sdqsgd", n_agents=p))))),
        "fig9": Experiment("fig9", "QSGD vs EASGD over p", ("C15",), (msgd, *(
            v for p in ps for v in (q(p), _variant(c, f"EASGD p={p} k={k:g}",
                                                   {"algo": "easgd", "n_agents": p, "coupling": k},
                                                   algo="easgd", n_agents=p))))),
        "fig10": Experiment("fig10", f"single agent: EASGD, EASGD-WM, MSGD over lr (momentum {c.momentum:g})",
                            ("C16",), tuple(
            _variant(c, f"{name} lr={lr:g}", {"algo": algo, "n_agents": 1, "lr": lr}, algo=algo, n_agents=1, lr=lr,
                     momentum=0.0 if algo == "easgd-wm" else c.momentum)
            for algo, name in (("easgd-wm", "EASGD-WM"), ("easgd", "EASGD"), ("msgd", "MSGD"))
            for lr in c.table1_lrs)),
        "fig11": Experiment("fig11", f"EASGD with k x{c.easgd_rescale:g} (matched synchronization) vs QSGD", ("C17",),
                            tuple(v for p in (*ps, c.large_agents) for v in (
                                q(p), _variant(c, f"EASGD p={p} k={k * c.easgd_rescale:g}",
                                               {"algo": "easgd", "n_agents": p, "coupling": k * c.easgd_rescale},
                                               algo="easgd", n_agents=p, coupling=k * c.easgd_rescale)))),
        "fig12": Experiment("fig12", "distinct vs common initial points; per-agent learning rates", ("C18",), (
            *(v for p in ps for v in (
                q(p), _variant(c, f"QSGD p={p} k={k:g} common init",
                               {"algo": "qsgd", "n_agents": p, "coupling": k, "init": "common"},
                               algo="qsgd", n_agents=p, init="common"))),
            _variant(c, f"QSGD p={max(ps)} k={k:g} per-agent lrs",
                     {"algo": "qsgd", "n_agents": max(ps), "coupling": k, "agent_lrs": "spread"},
                     algo="qsgd", n_agents=max(ps), agent_lrs=_spread_lrs(c, max(ps))),
        )),
    }
    for exp in plan.values():  # tags default to the study's defaults
        for v in exp.variants:
            v.tags.setdefault("init", "distinct")
            v.tags.setdefault("agent_lrs", "same")
            v.tags.setdefault("lr", c.lr)
    return plan


def table1_configs(choices: StudyChoices) -> list[TrainConfig]:
    """Table 1's runs (EASGD-WM once per lr and seed; EASGD and MSGD per lr, momentum and seed)."""
    base = choices.base_config().replace(n_agents=1)
    out = {}
    for momentum in choices.table1_momenta:
        for algo in ("easgd-wm", "easgd", "msgd"):
            for lr in choices.table1_lrs:
                for s in range(choices.n_seeds):
                    cfg = base.replace(algo=algo, lr=lr, momentum=0.0 if algo == "easgd-wm" else momentum, seed=s)
                    out[(algo, lr, cfg.momentum, s)] = cfg
    return list(out.values())


def selected(only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(EXPERIMENTS)
    bad = [o for o in only if o not in EXPERIMENTS]
    if bad:
        raise InvalidParameter("only", f"one of {', '.join(EXPERIMENTS)}", ",".join(bad))
    return [e for e in EXPERIMENTS if e in only]


def planned_runs(choices: StudyChoices, only: Sequence[str] | None = None) -> dict[str, TrainConfig]:
    """Every distinct run the selected experiments need, by :func:`run_key` (Table 1's under ``table1/``)."""
    plan = build_plan(choices)
    runs: dict[str, TrainConfig] = {}
    for name in selected(only):
        if name == "table1":
            runs.update({run_key(cfg): cfg for cfg in table1_configs(choices)})
            continue
        for v in plan[name].variants:
            runs.update({run_key(cfg): cfg for cfg in v.configs})
    return runs


# ---------------------------------------------------------------------------------------------- data
def study_data(choices: StudyChoices, data_root: str | Path | None = None, download: bool = False,
               device: str = "cpu") -> DataSplits:
    """The study's data set: loaded, capped, and with ``label_noise`` of the training / validation labels
    replaced by uniform random labels (test labels untouched)."""
    data = load_dataset(choices.dataset, data_root=data_root, download=download, device="cpu",
                        max_train=choices.max_train, max_eval=choices.max_eval, image_size=choices.image_size)
    if choices.label_noise > 0:
        gen = torch.Generator().manual_seed(choices.label_noise_seed)

        def corrupt(y: torch.Tensor) -> torch.Tensor:
            flip = torch.rand(y.shape[0], generator=gen) < choices.label_noise
            random = torch.randint(0, data.n_classes, y.shape, generator=gen)
            return torch.where(flip, random, y)

        data = DataSplits(data.name, data.train_x, corrupt(data.train_y), data.val_x, corrupt(data.val_y),
                          data.test_x, data.test_y, data.n_classes)
    return data.to(device)


# ------------------------------------------------------------------------------------------ running
def run_or_resume(cfg: TrainConfig, run_dir: Path, data: DataSplits, study: dict[str, Any]) -> dict[str, Any]:
    """Reuse a finished run in ``run_dir``, resume an interrupted one, or start it; ``study`` goes in its JSON."""
    results_path = run_dir / "results.json"
    if (run_dir / "checkpoint.pt").exists():
        previous = json.loads(results_path.read_text()) if results_path.exists() else None
        if previous is not None:
            same = not cfg.differences(TrainConfig.from_dict(previous["config"]))
            finished = previous.get("status") == "diverged" or (
                previous.get("status") == "completed" and previous["config"]["epochs"] == cfg.epochs)
            if same and finished:
                return previous
        results = Trainer(cfg, run_dir, data=data).run(resume=True)
    else:
        results = Trainer(cfg, run_dir, data=data).run()
    results["study"] = study
    write_json(results_path, results)
    return results


def estimate_seconds(choices: StudyChoices, runs: dict[str, TrainConfig], data: DataSplits, device: str) -> float:
    """Wall-clock estimate from a short probe: cost per epoch ``a + b * n_agents`` fitted on 1 and 4 agents.

    Each probe times a few training steps (after a warm-up) and one evaluation pass, on this machine now.
    """
    costs = {}
    for n in (1, 4):
        trainer = Trainer(choices.base_config().replace(n_agents=n, device=device), data=data)
        trainer.initialize(evaluate=False)
        full, trainer.n_batches = trainer.n_batches, min(trainer.n_batches, 4)
        trainer.train_epoch(1)  # warm-up: allocations, oneDNN / cuDNN primitive selection
        start = time.perf_counter()
        sums = trainer.train_epoch(2)
        step = (time.perf_counter() - start) / trainer.n_batches
        start = time.perf_counter()
        trainer._evaluate(2, 0.0, sums)
        costs[n] = full * step + (time.perf_counter() - start)
    slope = max(costs[4] - costs[1], 0.0) / 3
    return sum(cfg.epochs * (costs[1] + slope * (cfg.n_agents - 1)) for cfg in runs.values())


class Study:
    """The study in ``out``: plan, run (resumably), figures, Table 1 and the claims' verdicts.

    Args:
        choices: the study's values for the paper's unknowns.
        out: output directory (``study.json``, ``runs/``, ``table1.md``, ``table1/table1.json``, ``fig*.png``,
            ``claims.{json,md}``).
        data_root, download, device: as for :class:`TrainConfig`.
        only: a subset of :data:`EXPERIMENTS`.
        echo: where progress lines go.
    """

    def __init__(self, choices: StudyChoices, out: str | Path, data_root: str | Path | None = None,
                 download: bool = False, device: str = "cpu", only: Sequence[str] | None = None,
                 echo: Callable[[str], None] = print):
        self.choices, self.out = choices, Path(out)
        self.only = selected(only)
        self.data_root, self.download, self.device, self.echo = data_root, download, device, echo
        if choices.dataset == "cifar10" and data_root is None:
            raise InvalidParameter("data_root", "a CIFAR-10 directory (pass --data-root DIR, and --download once)")
        self.runs = planned_runs(choices, self.only)
        self.plan = build_plan(choices)

    def _config(self, cfg: TrainConfig) -> TrainConfig:
        extra = {"device": self.device}
        if self.choices.dataset == "cifar10":
            extra["data_root"] = str(self.data_root)
        return cfg.replace(**extra)

    def _check_out(self) -> None:
        meta = self.out / "study.json"
        if meta.exists():
            saved = json.loads(meta.read_text())
            previous = {k: v for k, v in saved["choices"].items() if k not in ("notes", "epochs", "n_seeds")}
            if previous != self.choices.numbers():
                changed = sorted(k for k in previous if previous[k] != self.choices.numbers().get(k))
                raise InvalidParameter("out", f"a directory of the same study (these choices differ: "
                                       f"{', '.join(changed)}); use a new --out", str(self.out))

    def describe(self, seconds: float | None) -> str:
        agent_epochs = sum(c.n_agents * c.epochs for c in self.runs.values())
        done = sum((self.out / "runs" / k / "results.json").exists() for k in self.runs)
        lines = [f"study on {self.choices.dataset}: {', '.join(self.only)}; {len(self.runs)} runs "
                 f"({done} already in {self.out}), {agent_epochs} agent-epochs of {self.choices.epochs} epochs"]
        if seconds is not None:
            lines.append(f"estimated time: {_duration(seconds)} on {self.device} (from a probe of the first "
                         "steps; finished runs are reused)")
        return "\n".join(lines)

    def run(self, estimate: bool = True) -> dict[str, Any]:
        """Train what is missing, then write figures, Table 1 and ``claims.{json,md}``; returns the claims."""
        from quorumsgd.training.claims_cnn import evaluate_claims, format_claims

        self._check_out()
        data = study_data(self.choices, self.data_root, self.download, self.device)
        seconds = estimate_seconds(self.choices, self.runs, data, self.device) if estimate else None
        self.echo(self.describe(seconds))
        study_meta = {"version": STUDY_VERSION, "choices": self.choices.to_dict(), "dataset": self.choices.dataset,
                      "n_train": data.n_train, "n_val": data.n_val, "n_test": data.n_test}
        write_json(self.out / "study.json", {**study_meta, "experiments": self.only})
        start = time.perf_counter()
        results: dict[str, dict[str, Any]] = {}
        table1_keys = {run_key(cfg) for cfg in table1_configs(self.choices)} if "table1" in self.only else set()
        todo = [(k, c) for k, c in self.runs.items() if k not in table1_keys]
        for i, (key, cfg) in enumerate(todo, 1):
            results[key] = run_or_resume(self._config(cfg), self.out / "runs" / key, data, study_meta)
            self.echo(f"[{i}/{len(self.runs)}] {key}: {results[key]['status']} "
                      f"({_duration(time.perf_counter() - start)} elapsed)")
        table = None
        if "table1" in self.only:
            table = self._table1(data, study_meta, offset=len(todo))
        for key in self.runs:  # Table 1's runs too: Fig. 10 shares them
            path = self.out / "runs" / key / "results.json"
            if key not in results and path.exists():
                results[key] = json.loads(path.read_text())
        for name in self.only:
            if name != "table1":
                self._figure(self.plan[name], results)
        claims = evaluate_claims(self.out)
        write_json(self.out / "claims.json", {"study": study_meta, "claims": claims})
        (self.out / "claims.md").write_text(format_claims(claims) + "\n")
        self.echo(format_claims(claims))
        return {"claims": claims, "table1": table}

    def _table1(self, data: DataSplits, study_meta: dict[str, Any], offset: int) -> dict[str, Any]:
        c = self.choices
        base = self._config(c.base_config().replace(n_agents=1))
        count = [offset]

        def runner(cfg: TrainConfig, run_dir: Path | None) -> dict[str, Any]:
            # Table 1's runs live with the others (Fig. 10 and the p = 1 baselines share them).
            return run_or_resume(cfg, self.out / "runs" / run_key(cfg), data, study_meta)

        def report(cfg: TrainConfig, res: dict[str, Any]) -> None:
            count[0] += 1
            self.echo(f"[{count[0]}/{len(self.runs)}] table1/{run_key(cfg)}: {res['status']}")

        table = run_table1(base, c.table1_lrs, c.table1_momenta, c.n_seeds, self.out / "table1", on_run=report,
                           runner=runner)
        table["study"] = study_meta
        write_json(self.out / "table1" / "table1.json", table)
        (self.out / "table1.md").write_text(format_table1_markdown(table) + "\n")
        self.echo(format_table1(table))
        return table

    def _figure(self, exp: Experiment, results: dict[str, dict[str, Any]]) -> Path:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 8), constrained_layout=True)
        FigureCanvasAgg(fig)
        axes = fig.subplots(2, 2)
        panels = (("test_error", "(a) quorum test error"), ("test_loss", "(b) quorum test loss"),
                  ("train_loss", "(c) quorum training loss"), ("sync", r"(d) synchronization $\sum_i|x_i-\bar x|^2$"))
        for v in exp.variants:
            runs = [results[run_key(cfg)] for cfg in v.configs if run_key(cfg) in results]
            for ax, (metric, _) in zip(axes.flat, panels, strict=True):
                curves = [curve(r, metric) for r in runs]
                if not curves:
                    continue
                length = max(len(cv) for cv in curves)
                stacked = np.full((len(curves), length), np.nan)
                for i, cv in enumerate(curves):
                    stacked[i, : len(cv)] = cv
                with np.errstate(all="ignore"):
                    mean = np.nanmean(stacked, axis=0) if np.isfinite(stacked).any() else stacked[0]
                ax.plot(np.arange(1, length + 1), mean, label=v.label)
        for ax, (metric, title) in zip(axes.flat, panels, strict=True):
            ax.set_title(title)
            ax.set_xlabel("epoch")
            if metric == "sync":
                ax.set_yscale("symlog", linthresh=1e-3)
        axes.flat[0].legend(fontsize=7, ncol=2)
        fig.suptitle(f"{exp.name}: {exp.title} -- {self.choices.dataset}, mean over {self.choices.n_seeds} seeds")
        path = self.out / f"{exp.name}.png"
        fig.savefig(path, dpi=90)
        return path


def curve(results: dict[str, Any], metric: str) -> np.ndarray:
    """Per-epoch (>= 1) quorum ``metric`` of one run (``sync`` too); NaN where it has no finite value."""
    values = [h["sync"] if metric == "sync" else h["quorum"][metric] for h in results["history"] if h["epoch"] > 0]
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
