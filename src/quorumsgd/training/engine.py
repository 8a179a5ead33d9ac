r"""The N-agent training engine: one batched computation per step, in one process or over torch.distributed.

Every step, for all agents of this process at once (no Python loop over agents):

1. each agent :math:`i` takes its own mini-batch (its own permutation of the training set per epoch) and
   its own dropout mask, both drawn from the counter-based RNG keyed by its *global* index;
2. the batched network (:mod:`quorumsgd.training.batching`) returns the per-agent stochastic gradients
   :math:`\mathbf g^i` at ``iteration.gradient_point(state)`` (Nesterov's look-ahead
   :math:`\mathbf x^i+\delta\mathbf v^i`), on the flat ``(agents, n_params)`` buffer;
3. non-finite losses or gradients are detected per agent; the agent is dropped (or the run stops) *before*
   its values could reach the quorum;
4. ``iteration.apply(state, grads, ops, lr)`` -- the library's :class:`~quorumsgd.algorithms.QuorumIteration`,
   unchanged -- updates positions, velocities and EASGD's :math:`\tilde{\mathbf x}`, with per-agent rates
   ``lr`` of shape ``(agents, 1)``; ``ops`` is :class:`~quorumsgd.algorithms.AgentOps` with ``axis=0`` and, in a
   distributed run, an ``all_reduce`` for the quorum;
5. QSGD / SD-QSGD update the reported EMA quorum :math:`\mathbf q_{t+1}=d\,\mathbf q_t+(1-d)\bar{\mathbf x}_{t+1}`
   (folded in once step t+1 has confirmed that every agent is still finite).

After each epoch: train / validation / test loss and error of every agent and of the reported quorum, the
synchronization measure :math:`\sum_i|\mathbf x^i-\bar{\mathbf x}|^2`, the quorum--mean distance
:math:`|\mathbf x_q-\bar{\mathbf x}|`, the plateau schedule, SD-QSGD's winner
:math:`i^*=\arg\min_i` (validation loss), a checkpoint and ``results.json``.

Example:
    >>> from quorumsgd.training.config import TrainConfig
    >>> cfg = TrainConfig(algo="qsgd", n_agents=2, epochs=1, widths=(4, 8, 8), batch_size=32,
    ...                   max_train=64, max_eval=64)
    >>> results = Trainer(cfg).run()
    >>> results["status"], len(results["history"]), len(results["history"][-1]["agents"]["val_loss"])
    ('completed', 2, 2)
"""

from __future__ import annotations

import io
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quorumsgd.algorithms import AgentOps
from quorumsgd.errors import InvalidParameter
from quorumsgd.training import rng
from quorumsgd.training.batching import batched_network
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.data import DataSplits, load_dataset
from quorumsgd.training.lock import FolderLock
from quorumsgd.training.precision import autocast, describe, precision_mode
from quorumsgd.training.recipes import build_iteration, quorum_kind, sdqsgd_gain_table
from quorumsgd.training.results import METRICS, atomic_write_bytes, plot_history, summarize, write_json
from quorumsgd.training.schedule import PlateauSchedule
from quorumsgd.training.topology import Topology

CHECKPOINT_VERSION = 2
"""2: rows in the aligned, padded layout of :mod:`quorumsgd.training.flat` (1: unpadded; still read)."""
EVAL_MODELS_PER_PASS = 8  # bounds evaluation memory: (batch, models * channels, H, W) activations
AGENT_COLUMNS = (*METRICS, "batch_loss", "batch_error", "distance_to_mean_sq")

CHECK_EVERY = 16
"""Steps between two host reads of the agents' finite flags (a rollback replays at most this many steps)."""

EpochCallback = Callable[["Trainer", dict[str, Any]], None]


def compile_options(device: torch.device) -> dict[str, Any]:
    """``torch.compile`` keywords of the training step: CUDA graphs on a GPU (``reduce-overhead``), inductor's
    default on a CPU. A module-level function so that tests can swap in a quicker backend."""
    return {"mode": "reduce-overhead"} if device.type == "cuda" else {}


@dataclass
class _EpochState:
    """The per-epoch tensors with one row per local agent (rows are removed together when an agent drops)."""

    ids: torch.Tensor
    order: torch.Tensor
    lr: torch.Tensor
    gains: torch.Tensor | None
    sums: torch.Tensor

    def keep(self, rows: torch.Tensor) -> None:
        self.ids, self.order, self.lr, self.sums = (v[rows] for v in (self.ids, self.order, self.lr, self.sums))

    def clone(self) -> _EpochState:
        return _EpochState(self.ids, self.order, self.lr, self.gains, self.sums.clone())


class StopRun(Exception):
    """Raised inside the loop to end a run cleanly with a given status (e.g. every agent diverged)."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


class Trainer:
    """Trains ``config.n_agents`` agents with ``config.algo``; see the module docstring.

    Args:
        config: the run.
        out_dir: where ``results.json``, checkpoints and ``training.png`` go (``None``: keep in memory only).
        topology: this process's share of the agents (default: a single process with every agent).
        data: pre-loaded data (default: ``load_dataset`` from the config).
        check_every: steps between two host reads of the divergence flags (1: every step); the numbers do not
            depend on it (see :meth:`train_epoch`).
    """

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | Path | None = None,
        topology: Topology | None = None,
        data: DataSplits | None = None,
        check_every: int = CHECK_EVERY,
    ):
        self.config = config
        if not isinstance(check_every, int) or check_every < 1:
            raise InvalidParameter("check_every", "an integer >= 1", check_every)
        self.check_every = check_every
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.topology = topology or Topology()
        if self.topology.world_size > config.n_agents:
            raise InvalidParameter("n_agents", f"n_agents >= number of processes ({self.topology.world_size})",
                                   config.n_agents)
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise InvalidParameter("device", "an available CUDA device (none found; use --device cpu)", config.device)
        self.data = (data or load_dataset(
            config.dataset, data_root=config.data_root, download=config.download, device=self.device,
            max_train=config.max_train, max_eval=config.max_eval, image_size=config.image_size,
        )).to(self.device)
        self.n_batches = self.data.n_train // config.batch_size
        if self.n_batches < 1:
            raise InvalidParameter("batch_size", f"batch_size <= training samples ({self.data.n_train})",
                                   config.batch_size)
        # torch.compile traces one network: auto's timing of candidates is host code, so compile uses grouped.
        batching = "grouped" if config.compile and config.batching == "auto" else config.batching
        self.batching = batching
        self.net = batched_network(config.network, batching)  # type: ignore[arg-type]
        self._compiled: Callable[..., Any] | None = None
        self.compile_seconds: float | None = None
        self.iteration = build_iteration(config.algo, config.lr, config.momentum, config.coupling, config.n_agents)
        self.kind = quorum_kind(config.algo)
        self.local_ids: list[int] = self.topology.local_agents(config.n_agents)
        self.active = np.ones(config.n_agents, dtype=bool)
        self.schedule = PlateauSchedule(
            np.asarray(config.initial_lrs, dtype=np.float64), config.plateau_threshold,
            config.plateau_patience, config.lr_drop_factors,
        )
        self.state: dict[str, torch.Tensor] = {}
        self.ema: torch.Tensor | None = None
        self._ema_pending = False
        self.epoch = 0
        self.step_count = 0
        self.winner: int | None = None
        self.history: list[dict[str, Any]] = []
        self.divergence: list[dict[str, Any]] = []
        self.status = "created"

    # ----------------------------------------------------------------------------------------- layout
    @property
    def ops(self) -> AgentOps:
        return self.topology.agent_ops(int(self.active.sum()))

    def _ids_tensor(self) -> torch.Tensor:
        return torch.tensor(self.local_ids, dtype=torch.int64, device=self.device)

    def _local_lr(self) -> torch.Tensor:
        lr = self.schedule.lr[self.local_ids] if self.local_ids else np.zeros(0)
        return torch.tensor(lr, dtype=torch.float32, device=self.device).unsqueeze(1)

    def quorum_params(self) -> torch.Tensor:
        """The reported quorum (agent-free, ``(n_params,)``): EASGD's x~, the EMA of x-bar, or x-bar."""
        if self.kind == "elastic":
            return self.state["quorum"]
        if self.kind == "ema":
            assert self.ema is not None
            return self.ema
        return self.ops.mean(self.state["x"])

    # ------------------------------------------------------------------------------------------- init
    def initialize(self, evaluate: bool = True) -> None:
        """Initial points, velocities and quorum; with ``evaluate``, the epoch-0 measurements.

        :meth:`run` calls it; benchmarks call it with ``evaluate=False`` and then :meth:`train_epoch`.
        """
        cfg = self.config
        x0 = self.net.init_params(self.local_ids, cfg.seed, common=cfg.init == "common", device=self.device)
        self.state = self.iteration.init(x0, self.ops)
        if self.kind == "ema":
            self.ema = self.ops.mean(x0).clone()
        if evaluate:
            self.history.append(self._evaluate(epoch=0, seconds=0.0, batch_sums=None))
        if self.config.algo == "sdqsgd":
            self.winner = self._best_agent(self.history[-1]) if evaluate else 0

    # ------------------------------------------------------------------------------------------- step
    def _gain_table(self) -> torch.Tensor | None:
        if self.config.algo != "sdqsgd":
            return None
        assert self.winner is not None
        cfg = self.config
        table = sdqsgd_gain_table(cfg.coupling, cfg.n_agents, self.winner, self.n_batches,
                                  self.n_batches / cfg.spike_divisor, cfg.magnification)
        return torch.tensor(table, dtype=torch.float32, device=self.device)

    def train_epoch(self, epoch: int, progress: Any = None) -> torch.Tensor:
        """One pass over the data (every step of the module docstring), without the end-of-epoch work.

        Returns the per-agent sums of mini-batch loss and error ``(agents, 2)``; ``progress`` is an optional
        tqdm bar advanced once per step.

        No host synchronization per step: steps run in windows of :attr:`check_every`, each agent's
        "still finite" flag accumulates on the device, and the host reads it once per window. If an agent
        went non-finite inside a window, the window is rolled back to its snapshot and replayed with the
        check at every step (the counter-based RNG redraws the same batches and masks), so the result is
        exactly that of checking every step: a diverged agent never reaches the quorum.
        """
        with precision_mode(self.config.precision):
            return self._train_epoch(epoch, progress)

    def _train_epoch(self, epoch: int, progress: Any) -> torch.Tensor:
        cfg, data = self.config, self.data
        run = _EpochState(
            ids=self._ids_tensor(), order=rng.permutations(cfg.seed, self._ids_tensor(), epoch, data.n_train),
            lr=self._local_lr(), gains=self._gain_table(),
            sums=torch.zeros(len(self.local_ids), 2, dtype=torch.float64, device=self.device),
        )
        t = 0
        while t < self.n_batches:
            window = range(t, min(t + self.check_every, self.n_batches))
            snapshot = self._snapshot(run) if len(window) > 1 else None
            healthy: torch.Tensor | None = None
            for step in window:
                finite = self._step(run, epoch, step, checked=snapshot is None)
                if snapshot is not None:
                    healthy = finite if healthy is None else healthy & finite
                if progress is not None:
                    progress.update(1)
            if healthy is not None and self._non_finite_agents(healthy):  # one host read per window
                run = self._restore(snapshot)
                for step in window:
                    self._step(run, epoch, step, checked=True)
            t = window.stop
        return run.sums

    def _step(self, run: _EpochState, epoch: int, t: int, checked: bool) -> torch.Tensor:
        """Step ``t``: gradients, (with ``checked``) the divergence check, the EMA and the update.

        Returns the per-agent finite flags (on the device). Unchecked steps (inside a window) apply the update
        whatever the flags say: the window is replayed checked if any flag is False.
        """
        cfg, data, batch = self.config, self.data, self.config.batch_size
        index = run.order[:, t * batch : (t + 1) * batch]
        masks = rng.dropout_masks(cfg.seed, run.ids, self.step_count, (batch, cfg.network.features), cfg.dropout)
        if run.gains is not None:
            self.state["gains"] = run.gains[t, run.ids].unsqueeze(1)
        if not self.local_ids:  # every agent of this rank has diverged; it still takes part in the collectives
            point = self.iteration.gradient_point(self.state)
            grads, losses, errors = torch.zeros_like(point), point.new_zeros(0), point.new_zeros(0)
            finite = torch.ones(0, dtype=torch.bool, device=self.device)
        elif not checked:
            self._update_ema()
            self.state, finite, losses, errors = self._fused_step(
                self.state, data.train_x[index], data.train_y[index], masks, run.lr)
            self._ema_pending = self.ema is not None
            run.sums += torch.stack([losses, errors], dim=1).to(torch.float64)
            self.step_count += 1
            return finite
        else:
            point = self.iteration.gradient_point(self.state)
            with autocast(self.device, cfg.precision, cfg.bf16):
                grads, losses, errors = self.net.loss_and_grad(point, data.train_x[index], data.train_y[index], masks)
            finite = torch.isfinite(losses) & torch.isfinite(grads).all(dim=1)
        keep = self._check_divergence(finite, losses, epoch, t) if checked else None
        if keep is not None:
            grads, losses, errors = grads[keep], losses[keep], errors[keep]
            run.keep(keep)
        self._update_ema()
        self.state = self.iteration.apply(self.state, grads, self.ops, lr=run.lr)
        self._ema_pending = self.ema is not None
        run.sums += torch.stack([losses, errors], dim=1).to(torch.float64)
        self.step_count += 1
        return finite

    def _step_function(self, state: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                       masks: torch.Tensor, lr: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor,
                                                                       torch.Tensor, torch.Tensor]:
        """The whole unchecked step as one pure function of tensors (what ``compile`` hands to torch.compile)."""
        point = self.iteration.gradient_point(state)
        with autocast(self.device, self.config.precision, self.config.bf16):
            grads, losses, errors = self.net.loss_and_grad(point, x, y, masks)
        finite = torch.isfinite(losses) & torch.isfinite(grads).all(dim=1)
        return self.iteration.apply(state, grads, self.ops, lr=lr), finite, losses, errors

    def _fused_step(self, state, x, y, masks, lr):
        if not self.config.compile:
            return self._step_function(state, x, y, masks, lr)
        if self._compiled is None:
            self._compiled = torch.compile(self._step_function, dynamic=False, **compile_options(self.device))
        if self.device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's outputs are consumed
        start = time.perf_counter()
        out = self._compiled(state, x, y, masks, lr)
        if self.compile_seconds is None:  # the first call traces, compiles (and captures the CUDA graph)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.compile_seconds = time.perf_counter() - start
        if self.device.type != "cuda":
            return out
        # Outputs of a CUDA graph live in its pool and are rewritten at the next replay: the state, and the
        # finite flags that the window accumulates, are kept as copies.
        new_state, finite, losses, errors = out
        return {k: v.clone() for k, v in new_state.items()}, finite.clone(), losses.clone(), errors.clone()

    def _snapshot(self, run: _EpochState) -> dict[str, Any]:
        """What a rollback restores: the state, the EMA, the epoch's running sums and rows, the counters."""
        return {
            "state": {k: v.clone() for k, v in self.state.items()},
            "ema": None if self.ema is None else self.ema.clone(),
            "ema_pending": self._ema_pending,
            "step_count": self.step_count,
            "run": run.clone(),
        }

    def _restore(self, snapshot: dict[str, Any] | None) -> _EpochState:
        assert snapshot is not None
        self.state, self.ema = snapshot["state"], snapshot["ema"]
        self._ema_pending, self.step_count = snapshot["ema_pending"], snapshot["step_count"]
        return snapshot["run"]

    @property
    def ema_decay(self) -> float:
        """Per-step EMA decay :math:`d=e^{-1/(h\\,n_b)}`, :math:`h` = ``ema_epochs`` (0 when h is 0)."""
        horizon = self.config.ema_epochs * self.n_batches
        return math.exp(-1.0 / horizon) if horizon > 0 else 0.0

    def _update_ema(self) -> None:
        """Fold the latest mean into the reported EMA quorum, q <- d q + (1 - d) x-bar.

        Deferred from the end of step t to after the divergence check of step t + 1 (or of the epoch end),
        so that an agent that has just left the finite numbers never enters the EMA.
        """
        if self._ema_pending and self.ema is not None:
            decay = self.ema_decay
            self.ema = decay * self.ema + (1.0 - decay) * self.ops.mean(self.state["x"])
        self._ema_pending = False

    def _non_finite_agents(self, finite: torch.Tensor) -> list[int]:
        """Global ids of agents whose local ``finite`` flag is False, agreed on by every rank."""
        if not self.topology.distributed:
            if bool(finite.all()):
                return []
            return [self.local_ids[int(i)] for i in torch.nonzero(~finite).flatten().tolist()]
        flags = torch.zeros(self.config.n_agents, dtype=torch.float32, device=self.device)
        flags[self._ids_tensor()] = (~finite).to(torch.float32)
        bad_global = self.topology.sum(flags) > 0
        if not bool(bad_global.any()):
            return []
        return [int(i) for i in torch.nonzero(bad_global).flatten().tolist()]

    def _check_divergence(self, finite: torch.Tensor, losses: torch.Tensor, epoch: int, t: int) -> torch.Tensor | None:
        """Detect non-finite agents on every rank; drop them (or stop). Returns the local rows to keep."""
        bad = self._non_finite_agents(finite)
        if not bad:
            return None
        local_loss = dict(zip(self.local_ids, losses.tolist(), strict=True))
        return self._drop(bad, epoch, t, "non-finite loss or gradient", local_loss)

    def _drop(self, bad: list[int], epoch: int, t: int, reason: str, losses: dict[int, float]) -> torch.Tensor:
        """Record divergence events; stop the run, or remove the agents from the ensemble (every rank)."""
        for agent in bad:
            self.divergence.append({
                "agent": agent, "epoch": epoch, "batch": t, "step": self.step_count, "reason": reason,
                "loss": losses.get(agent), "action": self.config.on_divergence,
            })
        if self.config.on_divergence == "stop":
            raise StopRun("diverged")
        self.active[bad] = False
        if not self.active.any():
            raise StopRun("diverged")
        keep = [j for j, agent in enumerate(self.local_ids) if agent not in bad]
        keep_t = torch.tensor(keep, dtype=torch.int64, device=self.device)
        self.local_ids = [self.local_ids[j] for j in keep]
        for field in self.iteration.agent_fields:
            if field in self.state:
                self.state[field] = self.state[field][keep_t]
        return keep_t

    def _check_parameters(self, epoch: int, batch_sums: torch.Tensor) -> torch.Tensor:
        """End of epoch: agents whose parameters or velocities are no longer finite have diverged too."""
        finite = torch.isfinite(self.state["x"]).all(dim=1) & torch.isfinite(self.state["v"]).all(dim=1)
        bad = self._non_finite_agents(finite)
        if not bad:
            return batch_sums
        keep = self._drop(bad, epoch, self.n_batches, "non-finite parameters", {})
        return batch_sums[keep]

    # ------------------------------------------------------------------------------------- evaluation
    def _eval_split(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss and error of each model on (x, y): ``(models, 2)`` float64."""
        n = x.shape[0]
        n_chunks = max(1, math.ceil(n / self.config.eval_batch_size))
        totals = torch.zeros(params.shape[0], 2, dtype=torch.float64, device=self.device)
        # Equal-size chunks (never a final batch of one sample, which BatchNorm cannot normalize).
        for xb, yb in zip(torch.tensor_split(x, n_chunks), torch.tensor_split(y, n_chunks), strict=True):
            for start in range(0, params.shape[0], EVAL_MODELS_PER_PASS):
                part = params[start : start + EVAL_MODELS_PER_PASS]
                with precision_mode(self.config.precision), autocast(self.device, self.config.precision,
                                                                     self.config.bf16):
                    loss, wrong = self.net.eval_sums(part, xb, yb)
                totals[start : start + part.shape[0], 0] += loss.to(torch.float64)
                totals[start : start + part.shape[0], 1] += wrong.to(torch.float64)
        return totals / n

    def _evaluate(self, epoch: int, seconds: float, batch_sums: torch.Tensor | None) -> dict[str, Any]:
        cfg, data = self.config, self.data
        x = self.state["x"]
        ops = self.ops
        mean = ops.mean(x)
        quorum = self.quorum_params()
        main = self.topology.is_main
        params = torch.cat([x, quorum.unsqueeze(0)]) if main else x
        n_train_eval = data.n_train if cfg.train_eval_size is None else min(cfg.train_eval_size, data.n_train)
        splits = (
            (data.train_x[:n_train_eval], data.train_y[:n_train_eval]),
            (data.val_x, data.val_y),
            (data.test_x, data.test_y),
        )
        columns = [self._eval_split(params, sx, sy) for sx, sy in splits]
        per_model = torch.cat(columns, dim=1)  # (models, 6): loss, error per split
        n_local = len(self.local_ids)
        # One (agents + quorum, columns) table, zero outside this rank's rows, summed over ranks.
        table = torch.zeros(cfg.n_agents + 1, len(AGENT_COLUMNS), dtype=torch.float64, device=self.device)
        ids = self._ids_tensor()
        table[ids, : len(METRICS)] = per_model[:n_local]
        if main:
            table[cfg.n_agents, : len(METRICS)] = per_model[n_local]
        if batch_sums is not None:
            table[ids, len(METRICS) : len(METRICS) + 2] = batch_sums / self.n_batches
        deviation = x - ops.expand(mean)
        table[ids, -1] = deviation.to(torch.float64).pow(2).sum(dim=1)
        table = self.topology.sum(table).cpu().numpy()
        table[: cfg.n_agents][~self.active] = np.nan
        if batch_sums is None:
            table[:, len(METRICS) : len(METRICS) + 2] = np.nan
        agents = {name: table[: cfg.n_agents, j].tolist() for j, name in enumerate(AGENT_COLUMNS)}
        lr = np.where(self.active, self.schedule.lr, np.nan)
        return {
            "epoch": epoch,
            "step": self.step_count,
            "seconds": seconds,
            "lr": lr.tolist(),
            "active": self.active.tolist(),
            "agents": agents,
            "quorum": {name: float(table[cfg.n_agents, j]) for j, name in enumerate(METRICS)},
            "sync": float(np.nansum(table[: cfg.n_agents, -1])),
            "quorum_mean_distance": float(torch.linalg.vector_norm((quorum - mean).to(torch.float64))),
            "winner": self.winner,
        }

    def _best_agent(self, record: dict[str, Any]) -> int:
        """SD-QSGD's i* = argmin over active agents of the validation loss."""
        val = np.array(record["agents"]["val_loss"], dtype=np.float64)
        val[~self.active | ~np.isfinite(val)] = np.inf
        return int(np.argmin(val))

    def _end_epoch(self, epoch: int, seconds: float, batch_sums: torch.Tensor) -> dict[str, Any]:
        batch_sums = self._check_parameters(epoch, batch_sums)
        self._update_ema()
        record = self._evaluate(epoch, seconds, batch_sums)
        self.history.append(record)
        self.epoch = epoch
        # An agent whose parameters are finite but whose validation loss is not (overflowing logits) is
        # lost as well: it is reported in this epoch's record and removed from the next one.
        val = np.array(record["agents"]["val_loss"], dtype=np.float64)
        lost = [int(i) for i in np.nonzero(self.active & ~np.isfinite(val))[0]]
        if lost:
            self._drop(lost, epoch, self.n_batches, "non-finite validation loss", {i: float(val[i]) for i in lost})
        record["lr_drops"] = []
        if self.config.lr_schedule == "plateau":
            val = np.array(record["agents"]["val_loss"], dtype=np.float64)
            record["lr_drops"] = self.schedule.observe(val)
        if self.config.algo == "sdqsgd":
            self.winner = self._best_agent(record)  # the winner of the *next* epoch
        return record

    # ------------------------------------------------------------------------------ persistence
    def results(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "status": self.status,
            "n_params": self.net.layout.n_params,
            "world_size": self.topology.world_size,
            "batches_per_epoch": self.n_batches,
            "batching_used": getattr(self.net, "chosen", None) or self.batching,
            "precision": describe(self.config.precision, self.config.bf16),
            "compile_seconds": self.compile_seconds,
            "history": self.history,
            "divergence": self.divergence,
            "summary": summarize(self.history),
        }

    @property
    def checkpoint_path(self) -> Path:
        assert self.out_dir is not None
        if self.topology.world_size == 1:
            return self.out_dir / "checkpoint.pt"
        return self.out_dir / f"checkpoint-rank{self.topology.rank}-of-{self.topology.world_size}.pt"

    def _save_checkpoint(self) -> None:
        if self.out_dir is None:
            return
        payload = {
            "version": CHECKPOINT_VERSION,
            "config": self.config.to_dict(),
            "rank": self.topology.rank,
            "world_size": self.topology.world_size,
            "epoch": self.epoch,
            "step_count": self.step_count,
            "local_ids": list(self.local_ids),
            "active": self.active.tolist(),
            "state": {k: v.detach().cpu().clone() for k, v in self.state.items() if k != "gains"},
            "ema": None if self.ema is None else self.ema.detach().cpu().clone(),
            "schedule": self.schedule.state_dict(),
            "winner": self.winner,
            "history": self.history,
            "divergence": self.divergence,
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        atomic_write_bytes(self.checkpoint_path, buffer.getvalue())

    def _load_checkpoint(self) -> None:
        path = self.checkpoint_path if self.out_dir is not None else None
        if path is None or not path.exists():
            raise InvalidParameter("resume", "be used with an output folder holding a checkpoint", str(path))
        if path.stat().st_size == 0:
            raise InvalidParameter("resume", f"be used with a complete checkpoint: {path} is empty (the run that "
                                   "wrote it was interrupted before its first save); start again without --resume")
        try:
            # weights_only: tensors and plain containers only. A checkpoint is data; a pickle that would build
            # arbitrary objects (and so could run code) is refused, never executed.
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            if "global" not in str(err).lower():  # garbage bytes: not a pickle of anything
                raise InvalidParameter("resume", f"be used with a readable checkpoint: {path} is truncated or not "
                                       "a quorumsgd checkpoint (UnpicklingError)") from None
            raise InvalidParameter("resume", f"be used with a quorumsgd checkpoint: {path} is refused (it names "
                                   "callables other than tensor and plain-data constructors, which are never run); "
                                   "start again without --resume in a new folder") from None
        except Exception as err:  # truncated zip: unreadable
            raise InvalidParameter("resume", f"be used with a readable checkpoint: {path} is truncated or not a "
                                   f"quorumsgd checkpoint ({type(err).__name__})") from None
        if not isinstance(payload, dict) or payload.get("version") not in (1, CHECKPOINT_VERSION):
            raise InvalidParameter("resume", f"be used with a version-{CHECKPOINT_VERSION} quorumsgd checkpoint",
                                   str(path))
        saved = TrainConfig.from_dict(payload["config"])
        changed = self.config.differences(saved)
        if changed:
            raise InvalidParameter("resume", f"keep the checkpoint's settings (these differ: {', '.join(changed)})")
        if int(payload["epoch"]) > self.config.epochs:
            raise InvalidParameter("epochs", f"be at least the {int(payload['epoch'])} epochs already run in "
                                   f"{self.out_dir} to resume it", self.config.epochs)
        self.epoch, self.step_count = int(payload["epoch"]), int(payload["step_count"])
        self.local_ids = [int(i) for i in payload["local_ids"]]
        self.active = np.array(payload["active"], dtype=bool)
        # Version 1 stored unpadded rows: pad them into today's aligned layout (the same parameters).
        layout = self.net.layout
        pad = layout.expand if payload["version"] == 1 else (lambda t: t)
        self.state = {k: pad(v).to(self.device) for k, v in payload["state"].items()}
        self.ema = None if payload["ema"] is None else pad(payload["ema"]).to(self.device)
        self.schedule.load_state_dict(payload["schedule"])
        self.winner = payload["winner"]
        self.history = list(payload["history"])
        self.divergence = list(payload["divergence"])

    def write_results(self, plot: bool = False) -> None:
        """``results.json`` (and ``training.png`` when ``plot``) from the main rank."""
        if self.out_dir is None or not self.topology.is_main:
            return
        results = self.results()
        write_json(self.out_dir / "results.json", results)
        if plot and self.history:
            plot_history(results, self.out_dir / "training.png")

    # ------------------------------------------------------------------------------------------- run
    def run(self, resume: bool = False, on_epoch_end: EpochCallback | None = None) -> dict[str, Any]:
        """Train until ``config.epochs``; returns the results dict (also in ``out_dir/results.json``).

        ``resume=True`` continues from the last checkpoint in ``out_dir`` with identical numbers. Whatever
        happens (divergence, ``KeyboardInterrupt``, an error), the results of the completed epochs are
        written before returning or re-raising; the status says why the run ended.
        """
        lock = FolderLock(self.out_dir) if self.out_dir is not None and self.topology.world_size == 1 else None
        if lock is not None:
            lock.acquire()  # before anything is read or written there; refused: InvalidParameter, nothing touched
        try:
            return self._run(resume, on_epoch_end)
        finally:
            if lock is not None:
                lock.release()

    def _run(self, resume: bool, on_epoch_end: EpochCallback | None) -> dict[str, Any]:
        cfg = self.config
        progress = None
        try:
            if resume:
                self._load_checkpoint()
            else:
                if self.out_dir is not None and self.checkpoint_path.exists():
                    raise InvalidParameter("out", "a directory without a previous run (or pass --resume)",
                                           str(self.out_dir))
                self.initialize()
                self._save_checkpoint()
            self.status = "running"
            self.write_results()
            if cfg.progress and self.topology.is_main and self.epoch < cfg.epochs:
                from tqdm.auto import tqdm

                progress = tqdm(total=(cfg.epochs - self.epoch) * self.n_batches, unit="batch",
                                desc=f"{cfg.algo} x{cfg.n_agents}")
            for epoch in range(self.epoch + 1, cfg.epochs + 1):
                start = time.perf_counter()
                sums = self.train_epoch(epoch, progress)
                record = self._end_epoch(epoch, time.perf_counter() - start, sums)
                self._save_checkpoint()
                self.write_results()
                if progress is not None:
                    progress.set_postfix(epoch=epoch, quorum_val_loss=f"{record['quorum']['val_loss']:.4g}")
                if on_epoch_end is not None:
                    on_epoch_end(self, record)
            self.status = "completed"
        except StopRun as stop:
            self.status = stop.status
        except KeyboardInterrupt:
            self.status = "interrupted"
            raise
        except InvalidParameter:
            self.status = "invalid"
            raise
        except BaseException as err:
            self.status = f"failed: {type(err).__name__}: {err}"
            raise
        finally:
            if progress is not None:
                progress.close()
            if self.status != "invalid":
                self.write_results(plot=True)
        return self.results()


def train(config: TrainConfig, out_dir: str | Path | None = None, resume: bool = False) -> dict[str, Any]:
    """Run ``config`` in this process (every agent, batched); see :class:`Trainer`.

    Example:
        >>> from quorumsgd.training.config import TrainConfig
        >>> r = train(TrainConfig(algo="easgd-wm", n_agents=1, epochs=1, widths=(4, 8, 8), batch_size=32,
        ...                       max_train=64, max_eval=64))
        >>> sorted(r["history"][-1]["quorum"])[:3]
        ['test_error', 'test_loss', 'train_error']
    """
    return Trainer(config, out_dir).run(resume=resume)
