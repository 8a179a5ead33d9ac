r"""Train N CNN agents with *your own* discrete iteration: the training engine, with the update rule swapped.

:class:`~quorumsgd.training.engine.Trainer` runs one of the paper's recipes by name; :class:`CustomTrainer` runs any
:class:`~quorumsgd.algorithms.DiscreteAlgorithm` on the same engine (the same batched network, data order, dropout,
per-agent plateau schedule, divergence handling, checkpoints and ``results.json``): each step it evaluates the
stochastic gradients at ``alg.gradient_point(state)`` and calls ``alg.apply(state, grads, ops, lr)`` on the stacked
``(agents, n_params)`` parameters, ``lr`` per agent ``(agents, 1)``. The reported quorum is the agents' mean
:math:`\bar{\mathbf x}` (or the ``quorum`` field if the algorithm has one). The config's ``algo`` names the recipe
that is replaced; its hyper-parameters that the algorithm carries itself (coupling, momentum) are ignored, but
``lr`` drives the schedule. An algorithm whose coupling reads every agent (a mixing matrix) cannot drop a
diverged agent: use ``on_divergence="stop"`` with it.

Example:
    >>> from quorumsgd.algorithms import LocalSGD
    >>> from quorumsgd.training.config import TrainConfig
    >>> cfg = TrainConfig(n_agents=2, epochs=1, widths=(4, 8, 8), batch_size=32, max_train=64, max_eval=64)
    >>> out = train_algorithm(LocalSGD(lr=0.1, period=2), cfg)
    >>> out["status"], out["algorithm"], len(out["history"])
    ('completed', 'LocalSGD', 2)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from quorumsgd.algorithms import DiscreteAlgorithm
from quorumsgd.errors import InvalidParameter
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.engine import Trainer


class CustomTrainer(Trainer):
    """:class:`~quorumsgd.training.engine.Trainer` with ``algorithm`` as the update rule (module docstring)."""

    def __init__(
        self, config: TrainConfig, algorithm: DiscreteAlgorithm, out_dir: str | Path | None = None, **kwargs: Any
    ):
        if not isinstance(algorithm, DiscreteAlgorithm):
            raise InvalidParameter(
                "algorithm",
                "a DiscreteAlgorithm (training runs iterations, not drifts)",
                type(algorithm).__name__,
                "train",
            )
        if config.algo == "sdqsgd":
            raise InvalidParameter(
                "algo", "not sdqsgd (its gain schedule would be fed to your algorithm)", config.algo, "train"
            )
        super().__init__(config, out_dir, **kwargs)
        self.iteration = algorithm  # type: ignore[assignment]
        self.kind = "elastic" if "quorum" in algorithm.state_fields else "mean"

    def _check_parameters(self, epoch: int, batch_sums: torch.Tensor) -> torch.Tensor:
        """End of epoch: any agent field that is no longer finite marks its agent as diverged."""
        fields = [f for f in self.iteration.agent_fields if f in self.state]
        finite = torch.stack([torch.isfinite(self.state[f]).flatten(1).all(dim=1) for f in fields]).all(dim=0)
        bad = self._non_finite_agents(finite)
        if not bad:
            return batch_sums
        keep = self._drop(bad, epoch, self.n_batches, "non-finite parameters", {})
        return batch_sums[keep]

    def results(self) -> dict[str, Any]:
        out = super().results()
        out["algorithm"] = type(self.iteration).__name__
        return out


def train_algorithm(
    algorithm: DiscreteAlgorithm, config: TrainConfig, out_dir: str | Path | None = None, resume: bool = False
) -> dict[str, Any]:
    """Train ``config.n_agents`` agents with ``algorithm``; returns the results dict (``"algorithm"`` added)."""
    return CustomTrainer(config, algorithm, out_dir).run(resume=resume)


__all__ = ["CustomTrainer", "train_algorithm"]
