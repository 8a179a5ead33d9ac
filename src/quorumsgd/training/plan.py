r"""The plan of the Sec. 6 study: the documented choices for the paper's unknowns, and every run they imply.

:class:`StudyChoices` holds the values (presets ``digits``, ``cifar10``, ``tiny``); :func:`build_plan` turns
them into experiments (Figs 7--12) of variants x seeds of :class:`~quorumsgd.training.config.TrainConfig`;
:func:`planned_runs` lists the distinct runs by :func:`run_key` (a run shared by several figures is trained
once). This module only describes work: :mod:`quorumsgd.training.study` runs it and
:mod:`quorumsgd.training.claims_cnn` reads its results, both from here (neither imports the other's plan).

Example:
    >>> choices = StudyChoices.preset("tiny")
    >>> plan = build_plan(choices)
    >>> sorted(plan)[:3], len(plan["fig7"].variants) == len(choices.n_agents) * len(choices.couplings)
    (['fig10', 'fig11', 'fig12'], True)
    >>> run_key(choices.base_config())
    'qsgd_p2_k1_lr0.05_m0.9_distinct_seed0'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quorumsgd.errors import InvalidParameter
from quorumsgd.training.config import TrainConfig

EXPERIMENTS = ("fig7", "fig8", "fig9", "fig10", "fig11", "fig12", "table1")


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
            raise InvalidParameter(
                "n_agents", "agent counts >= 2 (p = 1 is added where the paper has it)", self.n_agents
            )
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
            algo="qsgd",
            n_agents=2,
            lr=self.lr,
            momentum=self.momentum,
            coupling=self.coupling,
            epochs=self.epochs,
            batch_size=self.batch_size,
            dataset=self.dataset,
            image_size=self.image_size,
            widths=self.widths,
            dropout=self.dropout,
            max_train=self.max_train,
            max_eval=self.max_eval,
            ema_epochs=self.ema_epochs,
            magnification=self.magnification,
            spike_divisor=self.spike_divisor,
            plateau_threshold=self.plateau_threshold,
            lr_schedule="plateau",
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
        dataset="cifar10",
        image_size=32,
        widths=(64, 128, 64),
        batch_size=128,
        max_train=None,
        label_noise=0.0,
        epochs=60,
        n_seeds=3,
        lr=0.05,
        n_agents=(2, 4, 8),
        couplings=(0.1, 0.3, 1.0, 3.0),
        coupling=0.3,
        table1_lrs=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2),
        table1_momenta=(0.5, 0.8, 0.9, 0.95),
        notes={
            **_NOTES,
            "widths": "Zhang et al.'s CIFAR net (the paper says it follows it; unverified)",
            "label_noise": "none: CIFAR-10 overfits without help at this size",
            "easgd_rescale": "the digits calibration (1.13); re-measure it from this study's fig9 "
            "synchronization (10 ** mean log10(sync EASGD / sync QSGD))",
        },
    ),
    "tiny": StudyChoices(
        image_size=8,
        widths=(4, 8, 8),
        batch_size=32,
        max_train=96,
        max_eval=64,
        epochs=2,
        n_seeds=2,
        n_agents=(2, 3),
        couplings=(0.5, 2.0),
        large_agents=4,
        table1_lrs=(0.05,),
        table1_momenta=(0.9,),
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
    return Variant(label, {"label": label, **tags}, tuple(base.replace(seed=s) for s in range(choices.n_seeds)))


def _spread_lrs(choices: StudyChoices, n: int) -> tuple[float, ...]:
    exponents = np.linspace(-1.0, 1.0, n)
    return tuple(float(choices.lr * choices.agent_lr_spread**e) for e in exponents)


def build_plan(choices: StudyChoices) -> dict[str, Experiment]:
    """Every experiment of the study as variants x seeds of :class:`TrainConfig` (Table 1 aside)."""
    c = choices
    ps, k = c.n_agents, c.coupling

    def q(p: int, coupling: float = k) -> Variant:
        return _variant(
            c,
            f"QSGD p={p} k={coupling:g}",
            {"algo": "qsgd", "n_agents": p, "coupling": coupling},
            algo="qsgd",
            n_agents=p,
            coupling=coupling,
        )

    msgd = _variant(c, "MSGD p=1", {"algo": "msgd", "n_agents": 1, "coupling": k}, algo="msgd", n_agents=1)
    plan = {
        "fig7": Experiment(
            "fig7", "QSGD: coupling k x agents p", ("C13",), tuple(q(p, kk) for p in ps for kk in c.couplings)
        ),
        "fig8": Experiment(
            "fig8",
            "QSGD vs SD-QSGD over p",
            ("C14",),
            (
                msgd,
                *(
                    v
                    for p in ps
                    for v in (
                        q(p),
                        _variant(
                            c,
                            f"SD-QSGD p={p} k={k:g}",
                            {"algo": "sdqsgd", "n_agents": p, "coupling": k},
                            algo="sdqsgd",
                            n_agents=p,
                        ),
                    )
                ),
            ),
        ),
        "fig9": Experiment(
            "fig9",
            "QSGD vs EASGD over p",
            ("C15",),
            (
                msgd,
                *(
                    v
                    for p in ps
                    for v in (
                        q(p),
                        _variant(
                            c,
                            f"EASGD p={p} k={k:g}",
                            {"algo": "easgd", "n_agents": p, "coupling": k},
                            algo="easgd",
                            n_agents=p,
                        ),
                    )
                ),
            ),
        ),
        "fig10": Experiment(
            "fig10",
            f"single agent: EASGD, EASGD-WM, MSGD over lr (momentum {c.momentum:g})",
            ("C16",),
            tuple(
                _variant(
                    c,
                    f"{name} lr={lr:g}",
                    {"algo": algo, "n_agents": 1, "lr": lr},
                    algo=algo,
                    n_agents=1,
                    lr=lr,
                    momentum=0.0 if algo == "easgd-wm" else c.momentum,
                )
                for algo, name in (("easgd-wm", "EASGD-WM"), ("easgd", "EASGD"), ("msgd", "MSGD"))
                for lr in c.table1_lrs
            ),
        ),
        "fig11": Experiment(
            "fig11",
            f"EASGD with k x{c.easgd_rescale:g} (matched synchronization) vs QSGD",
            ("C17",),
            tuple(
                v
                for p in (*ps, c.large_agents)
                for v in (
                    q(p),
                    _variant(
                        c,
                        f"EASGD p={p} k={k * c.easgd_rescale:g}",
                        {"algo": "easgd", "n_agents": p, "coupling": k * c.easgd_rescale},
                        algo="easgd",
                        n_agents=p,
                        coupling=k * c.easgd_rescale,
                    ),
                )
            ),
        ),
        "fig12": Experiment(
            "fig12",
            "distinct vs common initial points; per-agent learning rates",
            ("C18",),
            (
                *(
                    v
                    for p in ps
                    for v in (
                        q(p),
                        _variant(
                            c,
                            f"QSGD p={p} k={k:g} common init",
                            {"algo": "qsgd", "n_agents": p, "coupling": k, "init": "common"},
                            algo="qsgd",
                            n_agents=p,
                            init="common",
                        ),
                    )
                ),
                _variant(
                    c,
                    f"QSGD p={max(ps)} k={k:g} per-agent lrs",
                    {"algo": "qsgd", "n_agents": max(ps), "coupling": k, "agent_lrs": "spread"},
                    algo="qsgd",
                    n_agents=max(ps),
                    agent_lrs=_spread_lrs(c, max(ps)),
                ),
            ),
        ),
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
