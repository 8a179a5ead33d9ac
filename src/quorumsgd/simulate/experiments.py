r"""The paper's model-problem experiments (Figs 1--6, Sec. 4.3 and 5), on the SURROGATE losses.

The paper's losses (40)/(44) and every numeric setting of Figs 1--6 are not recoverable from the paper.
The settings below are this toolkit's choices, picked so that each figure's qualitative claim can be checked;
they are recorded in every JSON output:

* Figs 1--3 (1-D, :class:`~quorumsgd.objectives.NonconvexSurrogate1D`): 16 agents per simulation, 200
  simulations, agents initialized i.i.d. :math:`\mathcal U(-3,3)`, i.i.d. :math:`\mathcal U(-6,6)` gradient noise.
  Fig 1: QSGD (41), :math:`\eta=0.02`, 3000 iterations. Fig 2: the same with :math:`\eta` starting at 0.08 and
  halved every 500 iterations down to 0.01 (4000 iterations). Fig 3: heavy-ball momentum (42)--(43),
  :math:`\mu=0.9`, :math:`\eta=0.005`, 4000 iterations. Six couplings per figure, ``k = 0`` first.
* Figs 4--6 (:class:`~quorumsgd.objectives.CoupledDoubleWellSurrogate`, ``dim = 10``): 16 agents, 100
  simulations, momentum (42)--(43) with :math:`\mu=0.9`, :math:`\eta=0.01`, 2000 iterations, noise
  :math:`\mathcal U(-3,3)`, init :math:`\mathcal U(-1.5,1.5)`; the 2-D cross-sections fix
  :math:`x_{3..n}` at the all-negative corner of the uncorrupted double well.

Claims checked: C8 (optimal intermediate coupling), C9 (coupling + decay finds the deep basin),
C10 (momentum tolerates larger couplings).

Example:
    >>> cfg = OneDimConfig.fig1().quick()
    >>> out = run_one_dim(cfg)
    >>> sorted(out["runs"][0])[:3], len(out["runs"]) == len(cfg.couplings)
    (['agent_loss', 'center_loss', 'coupling'], True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from quorumsgd.algorithms import momentum_qsgd_iteration, qsgd_iteration
from quorumsgd.objectives import CoupledDoubleWellSurrogate, NonconvexSurrogate1D, UniformNoise
from quorumsgd.simulate.engine import run_ensemble, uniform_box
from quorumsgd.simulate.schedules import halving_schedule

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class OneDimConfig:
    """Settings of Figs 1--3 (all of them are this toolkit's choices; see the module docstring)."""

    figure: str
    couplings: tuple[float, ...]
    lr: float
    momentum: float = 0.0
    width: float = 6.0
    n_agents: int = 16
    sims: int = 200
    steps: int = 3000
    init: float = 3.0
    halving_period: int | None = None
    lr_floor: float | None = None
    seed: int = 0
    trace_every: int = 50

    @classmethod
    def fig1(cls) -> OneDimConfig:
        return cls("fig1", (0.0, 0.3, 1.0, 3.0, 10.0, 30.0), lr=0.02)

    @classmethod
    def fig2(cls) -> OneDimConfig:
        return cls("fig2", (0.0, 0.1, 0.3, 1.0, 3.0, 10.0), lr=0.08, steps=4000, halving_period=500,
                   lr_floor=0.01)

    @classmethod
    def fig3(cls) -> OneDimConfig:
        return cls("fig3", (0.0, 1.0, 3.0, 10.0, 30.0, 100.0), lr=0.005, momentum=0.9, steps=4000)

    def quick(self) -> OneDimConfig:
        """Small settings for tests and smoke runs."""
        period = None if self.halving_period is None else max(1, self.halving_period // 10)
        return replace(self, sims=20, n_agents=8, steps=max(200, self.steps // 10), halving_period=period,
                       trace_every=20)


@dataclass(frozen=True)
class HighDimConfig:
    """Settings of Figs 4--6 (this toolkit's choices; see the module docstring)."""

    figure: str
    couplings: tuple[float, ...]
    dim: int = 10
    lr: float = 0.01
    momentum: float = 0.9
    width: float = 3.0
    n_agents: int = 16
    sims: int = 100
    steps: int = 2000
    init: float = 1.5
    loss_coupling: float = 1.0
    frequency: float = 6.0
    seed: int = 0
    trace_every: int = 20
    shown_agents: int = 4

    @classmethod
    def fig4(cls) -> HighDimConfig:
        return cls("fig4", (0.0, 1.0, 3.0, 10.0, 20.0, 30.0, 45.0, 60.0, 100.0, 150.0))

    @classmethod
    def fig5(cls) -> HighDimConfig:
        return cls("fig5", (0.0, 3.0, 10.0, 30.0, 60.0, 150.0))

    @classmethod
    def fig6(cls) -> HighDimConfig:
        return cls("fig6", (0.0, 3.0, 10.0, 30.0, 60.0, 150.0))

    def quick(self) -> HighDimConfig:
        return replace(self, sims=10, n_agents=8, steps=300, dim=4, trace_every=20)

    def objective(self) -> CoupledDoubleWellSurrogate:
        return CoupledDoubleWellSurrogate(dim=self.dim, coupling=self.loss_coupling, frequency=self.frequency)


def smoothing_half_width(lr: float, width: float, momentum: float = 0.0) -> float:
    r"""Half-width of the uniform kernel of the "noise-convolved loss": :math:`\eta w` (footnote 5).

    With heavy-ball momentum :math:`\mu` a step's noise keeps acting for about :math:`1/(1-\mu)` steps, so the
    displacement it causes, and the smoothing scale drawn in Figs 3--4, is :math:`\eta w/(1-\mu)` (a choice
    of this toolkit; the paper's exact convention for the momentum figures is unknown).
    """
    return lr * width / (1.0 - momentum)


def _iteration(lr: float, coupling: float, momentum: float) -> Any:
    return qsgd_iteration(lr, coupling) if momentum == 0 else momentum_qsgd_iteration(lr, coupling, momentum)


def _block_progress(progress: Progress | None, index: int, total_runs: int, steps: int) -> Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(index * steps + done, total_runs * steps)


class InterruptedRun(KeyboardInterrupt):
    """Ctrl-C during a sweep; ``partial`` is the result of the couplings that finished (``"interrupted": true``)."""

    def __init__(self, partial: dict[str, Any]):
        super().__init__("interrupted")
        self.partial = partial


@contextmanager
def keep_finished(head: dict[str, Any], runs: list[dict[str, Any]]) -> Iterator[None]:
    """Turn Ctrl-C inside a sweep into :class:`InterruptedRun` carrying the runs that finished."""
    try:
        yield
    except InterruptedRun:
        raise
    except KeyboardInterrupt:
        raise InterruptedRun({**head, "runs": list(runs), "interrupted": True}) from None


def run_one_dim(cfg: OneDimConfig, progress: Progress | None = None, backend: str = "numpy") -> dict[str, Any]:
    """Coupling sweep of Figs 1--3: final-iterate positions, quorum loss, loss-vs-iteration traces."""
    f = NonconvexSurrogate1D()
    noise = UniformNoise(1, cfg.width)
    deep = float(f.minimizer[0])
    lr_end = cfg.lr if cfg.halving_period is None else (cfg.lr_floor or cfg.lr)
    head = {"figure": cfg.figure, "loss": repr(f), "surrogate": True, "config": asdict(cfg),
            "minimizer": deep, "smoothing_half_width": smoothing_half_width(lr_end, cfg.width, cfg.momentum)}
    runs: list[dict[str, Any]] = []
    with keep_finished(head, runs):
        for i, k in enumerate(cfg.couplings):
            schedule = None
            if cfg.halving_period is not None:
                schedule = halving_schedule(cfg.lr, cfg.halving_period, cfg.lr_floor or cfg.lr)
            it = _iteration(cfg.lr, k, cfg.momentum)
            r = run_ensemble(it, f, noise, n_agents=cfg.n_agents, sims=cfg.sims, steps=cfg.steps,
                             x0=uniform_box(-cfg.init, cfg.init), seed=cfg.seed + i, lr_schedule=schedule,
                             stats=("center_loss", "agent_loss", "spread"), trace_every=cfg.trace_every,
                             divergence_threshold=1e6, backend=backend,
                             progress=_block_progress(progress, i, len(cfg.couplings), cfg.steps))
            x = r.final_state["x"][~r.diverged][..., 0]  # (sims, agents)
            xbar = x.mean(axis=1)
            runs.append({
                "coupling": k,
                "center_loss": r.final["center_loss"].to_dict(),
                "agent_loss": r.final["agent_loss"].to_dict(),
                "spread": r.final["spread"].to_dict(),
                "deep_basin_fraction": float(np.mean(xbar > 0.5 * deep)) if xbar.size else float("nan"),
                "diverged": int(r.diverged.sum()),
                "trace_steps": r.trace_steps.tolist(),
                "trace_center_loss": r.trace["center_loss"].tolist(),
                "final_agents": x.ravel().tolist(),
                "final_quorum": xbar.tolist(),
            })
    return {**head, "runs": runs}


def run_high_dim(cfg: HighDimConfig, progress: Progress | None = None, backend: str = "numpy") -> dict[str, Any]:
    """Coupling sweep of Figs 4--6 on the high-dimensional surrogate."""
    f = cfg.objective()
    noise = UniformNoise(cfg.dim, cfg.width)
    rng = np.random.default_rng(cfg.seed)
    rest = float(f.corner_minima_center()[0])
    head = {"figure": cfg.figure, "loss": repr(f), "surrogate": True, "config": asdict(cfg),
            "minimum": f.minimum, "cross_section_rest": rest,
            "smoothing_half_width": smoothing_half_width(cfg.lr, cfg.width, cfg.momentum)}
    runs: list[dict[str, Any]] = []
    with keep_finished(head, runs):
        for i, k in enumerate(cfg.couplings):
            it = _iteration(cfg.lr, k, cfg.momentum)
            r = run_ensemble(it, f, noise, n_agents=cfg.n_agents, sims=cfg.sims, steps=cfg.steps,
                             x0=uniform_box(-cfg.init, cfg.init), seed=cfg.seed + i, stats=("center_loss", "spread"),
                             trace_every=cfg.trace_every, divergence_threshold=1e6, backend=backend,
                             progress=_block_progress(progress, i, len(cfg.couplings), cfg.steps))
            x = r.final_state["x"][~r.diverged]
            shown = rng.choice(cfg.n_agents, size=min(cfg.shown_agents, cfg.n_agents), replace=False)
            runs.append({
                "coupling": k,
                "center_loss": r.final["center_loss"].to_dict(),
                "spread": r.final["spread"].to_dict(),
                "diverged": int(r.diverged.sum()),
                "trace_steps": r.trace_steps.tolist(),
                "trace_center_loss": r.trace["center_loss"].tolist(),
                "final_agents_xy": x[:, shown, :2].reshape(-1, 2).tolist(),
                "final_quorum_xy": x.mean(axis=1)[:, :2].tolist(),
                "negative_corner_fraction": float(np.mean(np.all(x.mean(axis=1) < 0, axis=1))) if x.size else 0.0,
            })
    return {**head, "runs": runs}


def run_figure(name: str, quick: bool = False, progress: Progress | None = None, backend: str = "numpy",
               **overrides: Any) -> dict[str, Any]:
    """Run the sweep behind ``fig1`` ... ``fig6``; ``overrides`` replace config fields (sims, steps, seed...)."""
    makers: dict[str, Callable[[], Any]] = {
        "fig1": OneDimConfig.fig1, "fig2": OneDimConfig.fig2, "fig3": OneDimConfig.fig3,
        "fig4": HighDimConfig.fig4, "fig5": HighDimConfig.fig5, "fig6": HighDimConfig.fig6,
    }
    cfg = makers[name]()
    cfg = cfg.quick() if quick else cfg
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    if isinstance(cfg, OneDimConfig):
        return run_one_dim(cfg, progress, backend)
    return run_high_dim(cfg, progress, backend)
