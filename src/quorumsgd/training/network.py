r"""The paper's CNN (Sec. 6.1): three conv blocks and one fully connected layer with dropout.

Each block is

.. math::
    \mathbf h \mapsto \mathrm{BN}\big(\mathrm{maxpool}_{\,\mathrm{stride}\,2}(\mathrm{ReLU}(\mathbf W * \mathbf h+\mathbf b))\big),

with kernel sizes 9, 5, 3, stride 1 and zero padding, and BatchNorm normalizing with the statistics of the
current batch *in training and in evaluation* (``track_running_stats=False``: there are no running
statistics, hence no buffers, which also makes the network a pure function of its parameters for
``torch.func``). Then ``flatten -> dropout -> Linear(features, classes)``.

The paper does not give the widths, the dropout rate, the pooling kernel or the padding amount; the defaults
here are choices, documented in :class:`NetworkConfig`.

Example:
    >>> import torch
    >>> net = PaperCNN(NetworkConfig(widths=(4, 8, 8)))
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from quorumsgd.errors import InvalidParameter

KERNEL_SIZES = (9, 5, 3)


@dataclass(frozen=True)
class NetworkConfig:
    """Hyper-parameters of :class:`PaperCNN` (the paper's unknowns are parameters).

    Attributes:
        widths: output channels of the three conv layers. Default ``(64, 128, 64)``, the CIFAR net of Zhang
            et al. (2015) that the paper says it follows (unverified).
        dropout: dropout probability on the input of the fully connected layer. Default 0.5 (a common
            choice; the paper's value was lost).
        pool_kernel: max-pooling kernel (stride is always 2, padding ``(pool_kernel - 1) // 2``). Default 2.
        padding: ``"same"`` pads each convolution with ``kernel // 2`` zeros (spatial size kept: 32 -> 16 ->
            8 -> 4); ``"valid"`` pads nothing (32 -> 12 -> 4 -> 1). "Zero padding" in the paper most likely
            means padding *with zeros*, hence the default ``"same"``.
        in_channels, image_size, n_classes: the input (3 x 32 x 32 for CIFAR-10 and the digits stand-in).
    """

    widths: tuple[int, int, int] = (64, 128, 64)
    dropout: float = 0.5
    pool_kernel: int = 2
    padding: Literal["same", "valid"] = "same"
    in_channels: int = 3
    image_size: int = 32
    n_classes: int = 10

    def __post_init__(self) -> None:
        if len(self.widths) != 3 or any(int(w) < 1 for w in self.widths):
            raise InvalidParameter("widths", "three positive integers", self.widths)
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidParameter("dropout", "0 <= dropout < 1", self.dropout)
        if self.pool_kernel < 1:
            raise InvalidParameter("pool_kernel", "pool_kernel >= 1", self.pool_kernel)
        if self.padding not in ("same", "valid"):
            raise InvalidParameter("padding", "'same' or 'valid'", self.padding)
        if self.spatial_sizes()[-1] < 1:
            raise InvalidParameter("image_size", "large enough for three conv/pool blocks", self.image_size)

    def conv_padding(self, kernel: int) -> int:
        return kernel // 2 if self.padding == "same" else 0

    @property
    def pool_padding(self) -> int:
        return (self.pool_kernel - 1) // 2

    def spatial_sizes(self) -> list[int]:
        """Side length after each block (input first)."""
        sizes = [self.image_size]
        for kernel in KERNEL_SIZES:
            conv = sizes[-1] + 2 * self.conv_padding(kernel) - kernel + 1
            sizes.append((conv + 2 * self.pool_padding - self.pool_kernel) // 2 + 1 if conv >= 1 else 0)
        return sizes

    @property
    def features(self) -> int:
        """Inputs of the fully connected layer: last width times the last spatial area."""
        return self.widths[-1] * self.spatial_sizes()[-1] ** 2


class PaperCNN(nn.Module):
    """The Sec. 6 network. ``forward(x, dropout_mask)`` takes an explicit mask so that the engines can draw
    it from the per-agent counter-based RNG (:mod:`quorumsgd.training.rng`); without a mask it applies
    ordinary dropout in training mode.
    """

    def __init__(self, config: NetworkConfig | None = None):
        super().__init__()
        self.config = config or NetworkConfig()
        c = self.config
        channels = (c.in_channels, *c.widths)
        self.convs = nn.ModuleList(
            nn.Conv2d(channels[i], channels[i + 1], k, stride=1, padding=c.conv_padding(k))
            for i, k in enumerate(KERNEL_SIZES)
        )
        # Batch statistics in evaluation too (Sec. 6.1): no running statistics at all.
        self.norms = nn.ModuleList(nn.BatchNorm2d(w, track_running_stats=False) for w in c.widths)
        self.fc = nn.Linear(c.features, c.n_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming (He) normal conv weights for ReLU; PyTorch defaults elsewhere (Sec. 6.1).

        The FC layer keeps PyTorch's default :math:`\\mathcal U(-1/\\sqrt m, 1/\\sqrt m)` for weights and biases
        (m inputs), as the paper states; conv biases keep PyTorch's default uniform initialization.
        """
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
            bound = 1.0 / math.sqrt(conv.weight[0].numel())
            nn.init.uniform_(conv.bias, -bound, bound)
        self.fc.reset_parameters()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.max_pool2d(F.relu(conv(x)), c.pool_kernel, stride=2, padding=c.pool_padding)
            x = norm(x)
        return x.flatten(1)

    def forward(self, x: torch.Tensor, dropout_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        if dropout_mask is not None:
            h = h * dropout_mask
        elif self.training and self.config.dropout > 0:
            h = F.dropout(h, self.config.dropout)
        return self.fc(h)
