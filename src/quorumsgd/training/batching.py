r"""N copies of the paper's CNN evaluated as *one* batched computation, two ways.

Both take the agents' parameters as one flat ``(agents, n_params)`` tensor (:mod:`quorumsgd.training.flat`)
and every agent's own mini-batch ``(agents, batch, C, H, W)``, and return per-agent gradients of the mean
cross-entropy :math:`\frac1b\sum_{m}\ell(\mathbf x^i,\mathbf u_m)`, stacked as ``(agents, n_params)``:

* :class:`VmapNetwork`: ``torch.func`` -- ``functional_call`` of the ``nn.Module`` under ``vmap`` of
  ``grad``. One definition of the network; PyTorch's batching rule lowers the batched convolutions to
  grouped convolutions.
* :class:`GroupedNetwork`: the same network written directly with grouped convolutions
  (``groups = agents``), channels-last memory and ``baddbmm`` for the FC layer, under ordinary autograd.
  On CPU this is markedly faster (grouped-conv backward in channels-last layout), see
  ``benchmarks/bench_training.py``.

They agree to float rounding (tests check it). The batch axis of BatchNorm is each agent's own batch, so
normalization statistics never mix agents.

Example:
    >>> import torch
    >>> from quorumsgd.training.network import NetworkConfig
    >>> net = GroupedNetwork(NetworkConfig(widths=(4, 8, 8)))
    >>> flat = net.init_params([0, 1], seed=0)
    >>> x, y = torch.randn(2, 16, 3, 32, 32), torch.randint(0, 10, (2, 16))
    >>> grads, losses, errors = net.loss_and_grad(flat, x, y)
    >>> grads.shape == flat.shape, losses.shape
    (True, torch.Size([2]))
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from quorumsgd.training.flat import ParamLayout
from quorumsgd.training.network import KERNEL_SIZES, NetworkConfig, PaperCNN
from quorumsgd.training.rng import agent_seed

Batching = Literal["vmap", "grouped"]


class BatchedNetwork(ABC):
    """Interface: per-agent losses and gradients, and batched evaluation, on flat stacked parameters."""

    def __init__(self, config: NetworkConfig):
        self.config = config
        template = PaperCNN(config)
        self.layout = ParamLayout.from_module(template)

    def init_params(
        self, agent_ids: Sequence[int], seed: int, common: bool = False, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """Initial parameters of the given global agents, ``(len(agent_ids), n_params)``.

        Agent ``i`` is initialized from a torch seed derived from ``(seed, i)``, so it starts at the same
        point on any rank and in any comparison that shares ``seed`` (Sec. 6.1: "the methods are initialized
        from the same points"). ``common=True`` starts every agent at agent 0's point.
        """
        models = []
        for agent in agent_ids:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(agent_seed(seed, 0 if common else int(agent)))
                models.append(PaperCNN(self.config))
        if not models:
            return torch.zeros(0, self.layout.size, device=device)
        return self.layout.stack(models).to(device)

    @abstractmethod
    def loss_and_grad(
        self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, masks: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gradients ``(agents, n_params)``, mean losses ``(agents,)`` and error rates ``(agents,)``.

        ``x``: ``(agents, batch, C, H, W)``; ``y``: ``(agents, batch)``; ``masks``: dropout masks
        ``(agents, batch, features)`` or ``None`` (no dropout).
        """

    @abstractmethod
    def eval_sums(self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed loss and number of errors ``(models,)`` of every model on one shared batch ``x``, ``y``.

        Evaluation mode: no dropout, BatchNorm with the statistics of this batch.
        """


class VmapNetwork(BatchedNetwork):
    """``torch.func.vmap`` over ``functional_call`` of :class:`PaperCNN` (see the module docstring)."""

    def __init__(self, config: NetworkConfig):
        super().__init__(config)
        # Parameters are always supplied by functional_call; the template's own live on "meta" (no memory).
        # eval(): dropout only through explicit masks (BatchNorm uses batch statistics in both modes).
        self.module = PaperCNN(config).to("meta").eval()
        self._grad = vmap(grad(self._agent_loss, has_aux=True), in_dims=(0, 0, 0, 0))
        self._grad_nomask = vmap(grad(self._agent_loss, has_aux=True), in_dims=(0, 0, 0, None))
        self._eval = vmap(self._agent_eval, in_dims=(0, None, None))

    def _logits(self, flat_row: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return functional_call(self.module, self.layout.unflatten(flat_row), (x,), {"dropout_mask": mask})

    def _agent_loss(self, flat_row, x, y, mask):
        logits = self._logits(flat_row, x, mask)
        loss = F.cross_entropy(logits, y)
        wrong = (logits.argmax(-1) != y).to(loss.dtype).mean()
        return loss, (loss.detach(), wrong)

    def _agent_eval(self, flat_row, x, y):
        logits = self._logits(flat_row, x, None)
        loss = F.cross_entropy(logits, y, reduction="sum")
        return loss, (logits.argmax(-1) != y).sum()

    def loss_and_grad(self, flat, x, y, masks=None):
        fn = self._grad if masks is not None else self._grad_nomask
        grads, (losses, errors) = fn(flat, x, y, masks)
        return grads, losses, errors

    @torch.no_grad()
    def eval_sums(self, flat, x, y):
        return self._eval(flat, x, y)


class GroupedNetwork(BatchedNetwork):
    """The network written with grouped convolutions over the agents (see the module docstring)."""

    def __init__(self, config: NetworkConfig, channels_last: bool = True):
        super().__init__(config)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def logits(self, flat: torch.Tensor, x: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(agents, batch, classes)``; ``x`` is per agent ``(agents, batch, C, H, W)`` or shared."""
        c = self.config
        p = self.layout.unflatten(flat)
        n = flat.shape[0]
        if x.dim() == 4:  # one batch shown to every model: repeat it along the channel (group) axis
            batch = x.shape[0]
            h = x.repeat(1, n, 1, 1)
        else:
            batch = x.shape[1]
            h = x.transpose(0, 1).reshape(batch, n * x.shape[2], *x.shape[3:])
        h = h.contiguous(memory_format=self.memory_format)
        for i, kernel in enumerate(KERNEL_SIZES):
            weight = p[f"convs.{i}.weight"]
            weight = weight.reshape(-1, *weight.shape[2:]).contiguous(memory_format=self.memory_format)
            h = F.conv2d(h, weight, p[f"convs.{i}.bias"].reshape(-1), padding=c.conv_padding(kernel), groups=n)
            h = F.max_pool2d(F.relu(h), c.pool_kernel, stride=2, padding=c.pool_padding)
            # Channels are (agent, channel) pairs, so per-channel batch statistics are per agent.
            h = F.batch_norm(
                h, None, None, p[f"norms.{i}.weight"].reshape(-1), p[f"norms.{i}.bias"].reshape(-1), True
            )
        h = h.reshape(batch, n, -1).transpose(0, 1)  # (agents, batch, features), features in (C, H, W) order
        if masks is not None:
            h = h * masks
        return torch.baddbmm(p["fc.bias"].unsqueeze(1), h, p["fc.weight"].transpose(1, 2))

    def loss_and_grad(self, flat, x, y, masks=None):
        with torch.enable_grad():
            point = flat.detach().requires_grad_(True)
            logits = self.logits(point, x, masks)
            n, batch, classes = logits.shape
            losses = F.cross_entropy(logits.reshape(n * batch, classes), y.reshape(-1), reduction="none")
            losses = losses.view(n, batch).mean(dim=1)
            # Agents do not interact in the forward pass, so d(sum_i loss_i)/d x^i = d loss_i / d x^i.
            (grads,) = torch.autograd.grad(losses.sum(), point)
        errors = (logits.detach().argmax(-1) != y).to(losses.dtype).mean(dim=1)
        return grads, losses.detach(), errors

    @torch.no_grad()
    def eval_sums(self, flat, x, y):
        logits = self.logits(flat, x)
        n, batch, classes = logits.shape
        target = y.expand(n, batch)
        loss = F.cross_entropy(logits.reshape(n * batch, classes), target.reshape(-1), reduction="none")
        return loss.view(n, batch).sum(dim=1), (logits.argmax(-1) != target).sum(dim=1)


def batched_network(config: NetworkConfig, batching: Batching = "grouped") -> BatchedNetwork:
    """The batched network for ``batching`` in ``{"vmap", "grouped"}``."""
    if batching == "vmap":
        return VmapNetwork(config)
    if batching == "grouped":
        return GroupedNetwork(config)
    raise ValueError(f"unknown batching {batching!r}")
