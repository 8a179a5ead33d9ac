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

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quorumsgd.errors import InvalidParameter
from quorumsgd.training.claims_cnn import evaluate_claims, format_claims
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.data import DataSplits, load_dataset
from quorumsgd.training.engine import Trainer
from quorumsgd.training.lock import FolderLock
from quorumsgd.training.plan import (
    EXPERIMENTS,
    PRESETS,
    Experiment,
    StudyChoices,
    Variant,
    build_plan,
    planned_runs,
    run_key,
    selected,
    table1_configs,
)
from quorumsgd.training.precision import PRECISIONS, describe
from quorumsgd.training.results import write_json
from quorumsgd.training.table1 import format_table1, format_table1_markdown, run_table1

STUDY_VERSION = 1
# The plan's names, re-exported: this module was their home before plan.py (callers import them from here).
__all__ = [
    "EXPERIMENTS", "PRESETS", "Experiment", "Study", "StudyChoices", "Variant", "build_plan", "planned_runs",
    "run_key", "selected", "table1_configs",
]


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
                 echo: Callable[[str], None] = print, precision: str = "strict"):
        self.choices, self.out = choices, Path(out)
        if precision not in PRECISIONS:
            raise InvalidParameter("precision", f"one of {', '.join(PRECISIONS)}", precision)
        self.precision = precision
        self.only = selected(only)
        self.data_root, self.download, self.device, self.echo = data_root, download, device, echo
        if choices.dataset == "cifar10" and data_root is None:
            raise InvalidParameter("data_root", "a CIFAR-10 directory (pass --data-root DIR, and --download once)")
        self.runs = planned_runs(choices, self.only)
        self.plan = build_plan(choices)

    def _config(self, cfg: TrainConfig) -> TrainConfig:
        extra: dict[str, Any] = {"device": self.device, "precision": self.precision}
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
        """Train what is missing, then write figures, Table 1 and ``claims.{json,md}``; returns the claims.

        One process at a time per ``out`` (:class:`~quorumsgd.training.lock.FolderLock`): a second is refused
        in one line. Interrupted (Ctrl-C, SIGTERM, even SIGKILL), it keeps every finished epoch; the same call
        again reuses finished runs and resumes the interrupted one, training nothing twice.
        """
        with FolderLock(self.out):
            return self._run(estimate)

    def _run(self, estimate: bool) -> dict[str, Any]:
        self._check_out()
        data = study_data(self.choices, self.data_root, self.download, self.device)
        seconds = estimate_seconds(self.choices, self.runs, data, self.device) if estimate else None
        self.echo(self.describe(seconds))
        study_meta = {"version": STUDY_VERSION, "choices": self.choices.to_dict(), "dataset": self.choices.dataset,
                      "n_train": data.n_train, "n_val": data.n_val, "n_test": data.n_test,
                      "precision": describe(self.precision)}
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
