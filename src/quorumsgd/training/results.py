"""Run records: JSON (written atomically, so a crash never leaves a half-written file), summaries and plots.

``results.json`` holds ``config``, ``status`` (``running``, ``completed``, ``interrupted``, ``diverged``,
``failed: ...``), ``history`` (one record per epoch, epoch 0 being the initial point), ``divergence``
(one event per diverged agent) and ``summary``. Per-agent lists are indexed by global agent id; ``null``
marks a value that does not exist (a dropped agent, a non-finite number).

Example:
    >>> to_json_ready({"a": float("nan"), "b": [1.0, float("inf")]})
    {'a': None, 'b': [1.0, None]}
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

METRICS = ("train_loss", "train_error", "val_loss", "val_error", "test_loss", "test_error")


def to_json_ready(value: Any) -> Any:
    """Recursively turn numpy scalars / arrays into Python and non-finite floats into ``None``."""
    if isinstance(value, dict):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file and ``os.replace`` (atomic on POSIX): readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(to_json_ready(payload), indent=1, allow_nan=False).encode())


def _min_finite(values: list[Any]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return min(finite) if finite else None


def summarize(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Minimum and final quorum metrics over the epochs, and the best single agent by test error."""
    summary: dict[str, Any] = {"epochs_run": max((h["epoch"] for h in history), default=0)}
    trained = [h for h in history if h["epoch"] > 0] or history
    for metric in METRICS:
        summary[f"quorum_min_{metric}"] = _min_finite([h["quorum"][metric] for h in trained])
        summary[f"quorum_final_{metric}"] = trained[-1]["quorum"][metric] if trained else None
    best = None
    for h in trained:
        for agent, err in enumerate(h["agents"]["test_error"]):
            if err is not None and math.isfinite(err) and (best is None or err < best[1]):
                best = (agent, err, h["epoch"])
    summary["best_agent"] = None if best is None else {"agent": best[0], "test_error": best[1], "epoch": best[2]}
    return summary


def plot_history(results: dict[str, Any], path: Path) -> Path:
    """Six panels (train / validation / test loss, test error, synchronization, quorum-mean distance).

    Agents are thin lines, the reported quorum a thick black line. Uses the Agg canvas directly, so the
    caller's matplotlib backend is left alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    history = results.get("history", [])
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(13, 7), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    panels = [("train_loss", "training loss"), ("val_loss", "validation loss"), ("test_loss", "test loss"),
              ("test_error", "test error")]
    n_agents = len(history[0]["agents"]["val_loss"]) if history else 0

    def series(values: list[Any]) -> list[float]:
        return [np.nan if v is None else v for v in values]

    for ax, (metric, title) in zip(axes.flat[:4], panels, strict=True):
        for agent in range(n_agents):
            ax.plot(epochs, series([h["agents"][metric][agent] for h in history]), lw=0.8, alpha=0.6)
        ax.plot(epochs, series([h["quorum"][metric] for h in history]), color="black", lw=2.2, label="quorum")
        ax.set_title(title)
        ax.set_xlabel("epoch")
    axes.flat[0].legend(loc="best")
    sync = series([h["sync"] for h in history])
    dist = series([h["quorum_mean_distance"] for h in history])
    axes.flat[4].plot(epochs, sync, color="tab:purple")
    axes.flat[4].set_title(r"synchronization $\sum_i |x_i-\bar x|^2$")
    axes.flat[5].plot(epochs, dist, color="tab:green")
    axes.flat[5].set_title(r"quorum–mean distance $|x_q-\bar x|$")
    for ax in axes.flat[4:]:
        ax.set_xlabel("epoch")
        if any(v > 0 for v in (sync if ax is axes.flat[4] else dist) if np.isfinite(v)):
            ax.set_yscale("log")
    cfg = results.get("config", {})
    fig.suptitle(
        f"{cfg.get('algo', '?')}: n_agents={cfg.get('n_agents')}, lr={cfg.get('lr')}, "
        f"momentum={cfg.get('momentum')}, coupling={cfg.get('coupling')}, dataset={cfg.get('dataset')} "
        f"[{results.get('status')}]"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path
