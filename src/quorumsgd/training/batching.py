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

Two more ways, for when one batched computation does not pay (small per-agent work, or a CPU whose grouped
convolution kernels are slower than its dense ones):

* :class:`LoopNetwork`: one ordinary (``groups=1``) forward / backward per agent, a Python loop over agents;
* :class:`AutoNetwork` (``batching="auto"``, the default): measures, at the first step of each
  (device, agents, batch, image, widths) shape, grouped convolutions in channels-last and in contiguous
  layout against the loop, and uses the fastest from then on -- so batching is never slower than the loop.
  The choice is cached in-process and on disk (``$QUORUMSGD_CACHE_DIR``, default
  ``~/.cache/quorumsgd/batching.json``), so it is measured once per machine and shape.

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

import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from quorumsgd.training.flat import ParamLayout, aligned
from quorumsgd.training.network import KERNEL_SIZES, NetworkConfig, PaperCNN
from quorumsgd.training.rng import agent_seed

Batching = Literal["vmap", "grouped", "loop", "auto"]


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
        # The layout aligns every block (flat.py); aligned() only copies a view of a foreign, unaligned buffer.
        p = {name: aligned(view) for name, view in self.layout.unflatten(flat).items()}
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


class LoopNetwork(BatchedNetwork):
    """A Python loop over the agents, each an ordinary ``groups=1`` network (see the module docstring)."""

    def __init__(self, config: NetworkConfig, channels_last: bool = True):
        super().__init__(config)
        self.single = GroupedNetwork(config, channels_last=channels_last)

    def loss_and_grad(self, flat, x, y, masks=None):
        # Agent i's slice of x or masks starts at i * (its size) elements, which need not be a 16-byte boundary
        # (odd batch or image sizes); cuDNN crashes on such views, so they are copied (rows of flat never are).
        parts = [self.single.loss_and_grad(aligned(flat[i : i + 1]), aligned(x[i : i + 1]), aligned(y[i : i + 1]),
                                           None if masks is None else aligned(masks[i : i + 1]))
                 for i in range(flat.shape[0])]
        if not parts:
            return flat.new_zeros(flat.shape), flat.new_zeros(0), flat.new_zeros(0)
        grads, losses, errors = zip(*parts, strict=True)
        return torch.cat(grads), torch.cat(losses), torch.cat(errors)

    @torch.no_grad()
    def eval_sums(self, flat, x, y):
        parts = [self.single.eval_sums(aligned(flat[i : i + 1]), x, y) for i in range(flat.shape[0])]
        losses, wrong = zip(*parts, strict=True)
        return torch.cat(losses), torch.cat(wrong)


_CHOICES: dict[str, str] = {}  # in-process cache of AutoNetwork's measurements: shape key -> candidate


def _cache_file() -> Path:
    root = os.environ.get("QUORUMSGD_CACHE_DIR") or Path.home() / ".cache" / "quorumsgd"
    return Path(root) / "batching.json"


class AutoNetwork(BatchedNetwork):
    """The fastest of grouped and the loop, each channels-last or contiguous, per device and shape, measured once."""

    REPEATS = 3

    def __init__(self, config: NetworkConfig):
        super().__init__(config)
        self.candidates: dict[str, BatchedNetwork] = {
            "grouped": GroupedNetwork(config, channels_last=True),
            "grouped-contiguous": GroupedNetwork(config, channels_last=False),
            # both layouts of the loop too: on CPU (oneDNN) the channels-last loop -- what batching="loop" runs --
            # was 1.18x the contiguous one at 8 agents, and auto, offered only the latter, ran at 0.81 of the loop
            "loop": LoopNetwork(config, channels_last=True),
            "loop-contiguous": LoopNetwork(config, channels_last=False),
        }
        self.chosen: str | None = None
        self.timings: dict[str, float] = {}

    def key(self, flat: torch.Tensor, x: torch.Tensor) -> str:
        device = flat.device.type if flat.device.type == "cpu" else torch.cuda.get_device_name(flat.device)
        threads = torch.get_num_threads() if flat.device.type == "cpu" else 0
        return (f"{device}|threads={threads}|agents={flat.shape[0]}|x={tuple(x.shape[1:])}|"
                f"widths={self.config.widths}|torch={torch.__version__}")

    def _choose(self, flat, x, y, masks) -> str:
        key = self.key(flat, x)
        if key in _CHOICES:
            return _CHOICES[key]
        path = _cache_file()
        try:
            disk = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError):
            disk = {}
        if key in disk and disk[key] in self.candidates:
            _CHOICES[key] = disk[key]
            return disk[key]
        sync = torch.cuda.synchronize if flat.device.type == "cuda" else (lambda: None)
        times: dict[str, list[float]] = {name: [] for name in self.candidates}
        for net in self.candidates.values():  # warm-up: allocations, oneDNN / cuDNN primitive selection
            net.loss_and_grad(flat, x, y, masks)
        for _ in range(self.REPEATS):  # interleaved, so that load drifts alike for every candidate
            for name, net in self.candidates.items():
                sync()
                start = time.perf_counter()
                net.loss_and_grad(flat, x, y, masks)
                sync()
                times[name].append(time.perf_counter() - start)
        # The minimum, not the median: on a shared machine other processes only ever add time.
        self.timings = {name: min(t) for name, t in times.items()}
        best = min(self.timings, key=self.timings.__getitem__)
        _CHOICES[key] = best
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            disk[key] = best
            path.write_text(json.dumps(disk, indent=1))
        except OSError:  # a read-only home: the in-process cache still holds
            pass
        return best

    def loss_and_grad(self, flat, x, y, masks=None):
        if flat.shape[0] == 0:
            return self.candidates["grouped"].loss_and_grad(flat, x, y, masks)
        self.chosen = self._choose(flat, x, y, masks)
        return self.candidates[self.chosen].loss_and_grad(flat, x, y, masks)

    @torch.no_grad()
    def eval_sums(self, flat, x, y):
        return self.candidates[self.chosen or "grouped"].eval_sums(flat, x, y)


def batched_network(config: NetworkConfig, batching: Batching = "auto") -> BatchedNetwork:
    """The batched network for ``batching`` in ``{"vmap", "grouped", "loop", "auto"}``."""
    if batching == "vmap":
        return VmapNetwork(config)
    if batching == "grouped":
        return GroupedNetwork(config)
    if batching == "loop":
        return LoopNetwork(config)
    if batching == "auto":
        return AutoNetwork(config)
    raise ValueError(f"unknown batching {batching!r}")
