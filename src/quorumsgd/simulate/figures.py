"""Matplotlib (Agg) renderings of the model-problem sweeps of :mod:`quorumsgd.simulate.experiments`.

Figs 1--3: per coupling, the normalized loss (orange), the noise-convolved loss (blue), and kernel density
estimates of the final agents (green) and quorum (red). Fig 4: loss and smoothed-loss cross-sections and the
quorum loss vs iteration per coupling. Figs 5/6: final agent / quorum positions on the cross-section.

Example:
    >>> import tempfile, pathlib
    >>> from quorumsgd.simulate.experiments import run_figure
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> plot_figure(run_figure("fig1", quick=True), d / "fig1.png").exists()
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats as sps

from quorumsgd.objectives import CoupledDoubleWellSurrogate, NonconvexSurrogate1D

LOSS_COLOR, SMOOTH_COLOR, AGENT_COLOR, QUORUM_COLOR = "tab:orange", "tab:blue", "tab:green", "tab:red"


def _normalize(y: np.ndarray) -> np.ndarray:
    span = float(np.ptp(y))
    return (y - y.min()) / span if span > 0 else np.zeros_like(y)


def _density(samples: np.ndarray, grid: np.ndarray) -> np.ndarray:
    samples = samples[np.isfinite(samples)]
    if samples.size < 2 or np.std(samples) < 1e-9:
        out = np.zeros_like(grid)
        if samples.size:
            out[np.argmin(np.abs(grid - samples.mean()))] = 1.0
        return out
    return sps.gaussian_kde(samples)(grid)


def _panels(n: int) -> tuple[Any, np.ndarray]:
    cols = 3 if n > 4 else n
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def plot_one_dim(result: dict[str, Any], path: Path) -> Path:
    """Figs 1--3."""
    f = NonconvexSurrogate1D()
    grid = np.linspace(-3.5, 3.5, 1401)
    loss = _normalize(f.value(grid[:, None]))
    smooth = _normalize(f.smoothed_value(grid[:, None], result["smoothing_half_width"]))
    fig, axes = _panels(len(result["runs"]))
    for ax, run in zip(axes, result["runs"], strict=False):
        agents = _density(np.asarray(run["final_agents"]), grid)
        quorum = _density(np.asarray(run["final_quorum"]), grid)
        ax.plot(grid, loss, color=LOSS_COLOR, lw=0.8, label="loss (SURROGATE of (40))")
        ax.plot(grid, smooth, color=SMOOTH_COLOR, lw=1.2, label="noise-convolved loss")
        ax.fill_between(grid, agents / max(agents.max(), 1e-12), color=AGENT_COLOR, alpha=0.3, label="agents")
        ax.plot(grid, quorum / max(quorum.max(), 1e-12), color=QUORUM_COLOR, lw=1.2, label="quorum")
        cl = run["center_loss"]
        status = (f"f(quorum) = {cl['mean']:.3f} ± {cl['stderr']:.3f}" if cl["n"] else "all simulations diverged")
        ax.set_title(f"k = {run['coupling']:g}: {status}", fontsize=9)
        ax.set_yticks([])
    axes[0].legend(fontsize=6, loc="upper center")
    cfg = result["config"]
    fig.suptitle(f"{result['figure']}: {'momentum (42)-(43)' if cfg['momentum'] else 'QSGD (41)'}, "
                 f"p = {cfg['n_agents']}, {cfg['sims']} simulations, final iterates (surrogate loss)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cross_section(result: dict[str, Any], half_width: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cfg = result["config"]
    f = CoupledDoubleWellSurrogate(dim=cfg["dim"], coupling=cfg["loss_coupling"], frequency=cfg["frequency"])
    u = np.linspace(-1.8, 1.8, 181)
    return u, u, f.cross_section(u, u, result["cross_section_rest"], half_width)


def plot_fig4(result: dict[str, Any], path: Path) -> Path:
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, hw, title in ((axes[0], None, "(a) loss cross-section (SURROGATE of (44))"),
                          (axes[1], result["smoothing_half_width"], "(b) noise-smoothed loss")):
        u, v, z = _cross_section(result, hw)
        ax.contourf(u, v, z, levels=40, cmap="viridis")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    cmap = plt.get_cmap("plasma")
    runs = result["runs"]
    for i, run in enumerate(runs):
        ax = axes[2]
        ax.plot(run["trace_steps"], run["trace_center_loss"], color=cmap(i / max(len(runs) - 1, 1)),
                label=f"k = {run['coupling']:g}")
    axes[2].set_xlabel("iteration")
    axes[2].set_ylabel("quorum loss f(x̄), mean over simulations")
    axes[2].set_title("(c) quorum loss vs iteration", fontsize=9)
    axes[2].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_positions(result: dict[str, Any], path: Path, which: str) -> Path:
    """Figs 5 (agents) and 6 (quorum): final positions on the loss cross-section."""
    u, v, z = _cross_section(result, None)
    runs = result["runs"]
    fig, axes = _panels(len(runs))
    key = "final_agents_xy" if which == "agents" else "final_quorum_xy"
    color = AGENT_COLOR if which == "agents" else QUORUM_COLOR
    for ax, run in zip(axes, runs, strict=False):
        ax.contour(u, v, z, levels=20, cmap="Greys", linewidths=0.5)
        pts = np.asarray(run[key]).reshape(-1, 2)
        if pts.size:
            ax.scatter(pts[:, 0], pts[:, 1], s=4, color=color, alpha=0.6)
        ax.set_xlim(-1.8, 1.8)
        ax.set_ylim(-1.8, 1.8)
        ax.set_title(f"k = {run['coupling']:g}", fontsize=9)
    fig.suptitle(f"{result['figure']}: final {which} positions (x1, x2), surrogate loss", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_figure(result: dict[str, Any], path: Path) -> Path:
    """Dispatch on ``result["figure"]``."""
    path = Path(path)
    name = result["figure"]
    if name in ("fig1", "fig2", "fig3"):
        return plot_one_dim(result, path)
    if name == "fig4":
        return plot_fig4(result, path)
    return plot_positions(result, path, "agents" if name == "fig5" else "quorum")
