"""Everything that defines a training run, validated up front (bad input: :class:`InvalidParameter`).

Names follow :mod:`quorumsgd.parameters` (``n_agents``, ``coupling``, ``lr``, ``batch_size``, ``momentum``). Defaults that the
paper leaves open (Sec. 6) are choices, marked "choice" below.

Example:
    >>> cfg = TrainConfig(algo="easgd", n_agents=4, coupling=0.5)
    >>> cfg.network.widths, cfg.replace(epochs=3).epochs
    ((64, 128, 64), 3)
    >>> TrainConfig(algo="sgd")
    Traceback (most recent call last):
    ...
    quorumsgd.errors.InvalidParameter: parameter algo must satisfy one of msgd, easgd, easgd-wm, qsgd, sdqsgd (got 'sgd')
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from quorumsgd.errors import InvalidParameter
from quorumsgd.training.data import DATASETS
from quorumsgd.training.network import NetworkConfig
from quorumsgd.training.precision import PRECISIONS
from quorumsgd.training.recipes import ALGORITHMS

INITS = ("distinct", "common")
LR_SCHEDULES = ("plateau", "constant")
ON_DIVERGENCE = ("drop", "stop")
BATCHINGS = ("auto", "grouped", "vmap", "loop")
# Fields that may change when a run is resumed (they do not change the numbers of the epochs run so far; the
# device and the batching change them only at float rounding: the same arithmetic, in another order).
# torch.compile fuses the same arithmetic.
RESUMABLE_FIELDS = frozenset({"epochs", "device", "batching", "data_root", "download", "progress", "compile"})


@dataclass(frozen=True)
class TrainConfig:
    """A training run.

    Attributes:
        algo: ``msgd`` | ``easgd`` | ``easgd-wm`` | ``qsgd`` | ``sdqsgd`` (see :mod:`quorumsgd.training.recipes`).
        n_agents: number of agents p.
        lr: initial learning rate eta (all agents), unless ``agent_lrs`` is given.
        agent_lrs: optional initial rate per agent (Sec. 3.4's multiple learning rates).
        momentum: Nesterov momentum delta (ignored by ``easgd-wm``, which has none).
        coupling: k; EASGD uses alpha = lr * k, beta = n_agents * alpha; QSGD pulls with lr * k.
        epochs, batch_size: the paper uses mini-batches of 128.
        dataset: ``digits`` (offline default) or ``cifar10`` (needs ``data_root``; ``download`` to fetch).
        image_size: side of the input images; digits are upsampled to it (default 32, CIFAR-10's size;
            smaller values only make tiny runs cheaper). Must be 32 for CIFAR-10.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        seed: run seed. Agent i's initial point, data order and dropout masks are functions of (seed, i).
        init: ``distinct`` (each agent its own initial point) or ``common`` (all at agent 0's point).
        widths, dropout, pool_kernel, padding: the network, see :class:`NetworkConfig`.
        lr_schedule: ``plateau`` (per-agent, Sec. 6.1) or ``constant``.
        plateau_threshold: relative change below which the validation loss counts as stalled (choice: 1 %).
        plateau_patience: stalled epochs before a drop (paper: 5).
        lr_drop_factors: successive divisors (paper: 5, 2, 2).
        ema_epochs: horizon, in epochs, of the exponential moving average that QSGD / SD-QSGD report as
            their quorum (not fed back): per-step decay :math:`d=e^{-1/(h\\,n_b)}` with :math:`h` =
            ``ema_epochs`` and :math:`n_b` batches per epoch (choice: 0.25, i.e. d = 0.987 for CIFAR-10's 312 batches; the
            paper's constant was lost). 0 reports the mean itself.
        magnification: SD-QSGD's A_mag in (60) (choice: 5).
        spike_divisor: SD-QSGD's tau = batches per epoch / spike_divisor (choice: 10, a rapid spike).
        on_divergence: ``drop`` a diverged agent and continue with the others, or ``stop`` the run.
        batching: ``auto`` (the fastest of grouped convolutions and a loop over agents, measured once per
            device and shape), ``grouped`` (grouped convolutions), ``vmap`` (``torch.func``) or ``loop``; see
            :mod:`quorumsgd.training.batching`.
        precision: ``strict`` (fp32, no TF32, deterministic cuDNN: the mode for verification and claims) or
            ``fast`` (TF32, cuDNN autotuning); see :mod:`quorumsgd.training.precision`. Recorded in results.
        bf16: with ``precision="fast"``, forward and backward under bf16 autocast (fp32 master parameters).
        compile: ``torch.compile`` the training step (CUDA graphs on a GPU, ``mode="reduce-overhead"``);
            compile time is reported in the results. Needs an explicit ``batching`` (``auto`` compiles grouped).
        eval_batch_size: batch size of evaluation passes (BatchNorm uses batch statistics there too).
        max_train, max_eval, train_eval_size: optional caps on the training split, on the validation and
            test splits, and on the training samples used to measure the training loss each epoch.
        progress: show a progress bar.
    """

    algo: str = "qsgd"
    n_agents: int = 4
    lr: float = 0.05
    agent_lrs: tuple[float, ...] | None = None
    momentum: float = 0.9
    coupling: float = 1.0
    epochs: int = 10
    batch_size: int = 128
    dataset: str = "digits"
    image_size: int = 32
    data_root: str | None = None
    download: bool = False
    device: str = "cpu"
    seed: int = 0
    init: str = "distinct"
    widths: tuple[int, int, int] = (64, 128, 64)
    dropout: float = 0.5
    pool_kernel: int = 2
    padding: str = "same"
    lr_schedule: str = "plateau"
    plateau_threshold: float = 0.01
    plateau_patience: int = 5
    lr_drop_factors: tuple[float, ...] = (5.0, 2.0, 2.0)
    ema_epochs: float = 0.25
    magnification: float = 5.0
    spike_divisor: float = 10.0
    on_divergence: str = "drop"
    batching: str = "auto"
    precision: str = "strict"
    bf16: bool = False
    compile: bool = False
    eval_batch_size: int = 500
    max_train: int | None = None
    max_eval: int | None = None
    train_eval_size: int | None = None
    progress: bool = False
    network: NetworkConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("widths", "lr_drop_factors", "agent_lrs"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        self._validate()
        object.__setattr__(
            self, "network",
            NetworkConfig(tuple(int(w) for w in self.widths), self.dropout, self.pool_kernel, self.padding,
                          image_size=self.image_size),
        )

    def _validate(self) -> None:
        def choice(name: str, options: tuple[str, ...]) -> None:
            if getattr(self, name) not in options:
                raise InvalidParameter(name, f"one of {', '.join(options)}", getattr(self, name))

        def positive(name: str, value: float, strict: bool = True) -> None:
            ok = isinstance(value, int | float) and math.isfinite(value) and (value > 0 if strict else value >= 0)
            if not ok:
                raise InvalidParameter(name, f"{name} {'>' if strict else '>='} 0", value)

        choice("algo", ALGORITHMS)
        choice("dataset", DATASETS)
        choice("init", INITS)
        choice("lr_schedule", LR_SCHEDULES)
        choice("on_divergence", ON_DIVERGENCE)
        choice("batching", BATCHINGS)
        choice("precision", PRECISIONS)
        if self.bf16 and self.precision != "fast":
            raise InvalidParameter("bf16", "be used with precision 'fast' (strict is fp32 throughout)", self.bf16)
        for name in ("n_agents", "epochs", "batch_size", "eval_batch_size", "plateau_patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidParameter(name, f"an integer {name} >= 1", value)
        positive("lr", self.lr)
        positive("momentum", self.momentum, strict=False)
        if self.momentum >= 1:
            raise InvalidParameter("momentum", "0 <= momentum < 1", self.momentum)
        positive("coupling", self.coupling, strict=False)
        positive("plateau_threshold", self.plateau_threshold, strict=False)
        positive("magnification", self.magnification, strict=False)
        positive("spike_divisor", self.spike_divisor)
        positive("ema_epochs", self.ema_epochs, strict=False)
        if any(not (math.isfinite(f) and f > 0) for f in self.lr_drop_factors):
            raise InvalidParameter("lr_drop_factors", "positive numbers", self.lr_drop_factors)
        if self.agent_lrs is not None:
            if len(self.agent_lrs) != self.n_agents:
                raise InvalidParameter("agent_lrs", f"one rate per agent ({self.n_agents})", self.agent_lrs)
            for rate in self.agent_lrs:
                positive("agent_lrs", rate)
        if self.batch_size < 2:
            raise InvalidParameter("batch_size", "batch_size >= 2 (BatchNorm uses batch statistics)", self.batch_size)
        if self.train_eval_size is not None and self.train_eval_size < 2:
            raise InvalidParameter("train_eval_size", "train_eval_size >= 2", self.train_eval_size)
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise InvalidParameter("device", "cpu, cuda or cuda:N", self.device)
        if not isinstance(self.image_size, int) or self.image_size < 4:
            raise InvalidParameter("image_size", "an integer image_size >= 4", self.image_size)
        if self.dataset == "cifar10" and self.image_size != 32:
            raise InvalidParameter("image_size", "32 for cifar10", self.image_size)
        if self.dataset == "cifar10" and not self.data_root:
            raise InvalidParameter("data_root", "a directory for CIFAR-10 when dataset is cifar10")

    @property
    def initial_lrs(self) -> tuple[float, ...]:
        return self.agent_lrs if self.agent_lrs is not None else (self.lr,) * self.n_agents

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the user-facing fields."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "network":
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = set(data) - names
        if unknown:
            raise InvalidParameter("config", f"known fields only (unknown: {', '.join(sorted(unknown))})")
        return cls(**data)

    def differences(self, other: TrainConfig) -> list[str]:
        """Names of the fields that differ from ``other`` and would change the numbers of a resumed run."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [k for k in mine if k not in RESUMABLE_FIELDS and mine[k] != theirs[k]]
