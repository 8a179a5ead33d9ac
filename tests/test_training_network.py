"""The paper's CNN (Sec. 6.1): architecture, BatchNorm with batch statistics in evaluation, initialization."""

from __future__ import annotations

import math

import pytest
import torch

from quorumsgd.errors import InvalidParameter
from quorumsgd.training.network import KERNEL_SIZES, NetworkConfig, PaperCNN


def test_default_architecture_matches_the_paper():
    net = PaperCNN()
    assert [c.kernel_size for c in net.convs] == [(k, k) for k in KERNEL_SIZES] == [(9, 9), (5, 5), (3, 3)]
    assert all(c.stride == (1, 1) for c in net.convs)
    assert [c.out_channels for c in net.convs] == [64, 128, 64]
    # One fully connected layer: 64 channels x 4 x 4 after three stride-2 poolings of a 32 x 32 input.
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 1 and linears[0].in_features == 1024 and linears[0].out_features == 10
    assert list(net.buffers()) == []  # no running statistics: batch statistics always
    assert net(torch.zeros(3, 3, 32, 32)).shape == (3, 10)


def test_valid_padding_and_pool_kernel_are_parameters():
    assert NetworkConfig(padding="valid").spatial_sizes() == [32, 12, 4, 1]
    assert NetworkConfig(pool_kernel=3).spatial_sizes() == [32, 16, 8, 4]
    net = PaperCNN(NetworkConfig(widths=(2, 3, 4), padding="valid"))
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_batchnorm_uses_batch_statistics_in_evaluation():
    torch.manual_seed(0)
    net = PaperCNN(NetworkConfig(widths=(4, 8, 8))).eval()
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        alone = net(x[:4])
        together = net(x)
        ones = torch.ones(8, net.config.features)
        train_mode_without_dropout = net.train()(x, dropout_mask=ones)
    # The same four images give other logits in another batch: the statistics are the batch's own.
    assert not torch.allclose(alone, together[:4], atol=1e-4)
    # Evaluation mode normalizes exactly like training mode (only dropout differs).
    assert torch.allclose(together, train_mode_without_dropout, atol=1e-6)


def test_initialization_kaiming_conv_and_pytorch_default_fc():
    torch.manual_seed(1)
    net = PaperCNN()
    for conv in net.convs:
        fan_in = conv.weight[0].numel()
        std = conv.weight.std().item()
        expected = math.sqrt(2.0 / fan_in)
        # >= 15k weights per layer: the sample std is within 3% of He's sqrt(2 / fan_in).
        assert abs(std - expected) < 0.03 * expected
    bound = 1.0 / math.sqrt(net.fc.in_features)
    assert net.fc.weight.abs().max() <= bound and net.fc.bias.abs().max() <= bound
    assert net.fc.weight.abs().max() > 0.9 * bound  # uniform on the whole interval, not a narrower law


def test_dropout_is_an_explicit_mask_or_ordinary_dropout():
    net = PaperCNN(NetworkConfig(widths=(2, 2, 2), dropout=0.5))
    x = torch.randn(4, 3, 32, 32)
    zero_mask = torch.zeros(4, net.config.features)
    out = net(x, dropout_mask=zero_mask)
    assert torch.allclose(out, net.fc.bias.expand(4, -1))  # every feature dropped: only the bias remains


@pytest.mark.parametrize(
    "kwargs", [{"widths": (4, 8)}, {"widths": (0, 8, 8)}, {"dropout": 1.0}, {"pool_kernel": 0},
               {"padding": "reflect"}, {"image_size": 2}]
)
def test_bad_network_parameters_are_rejected(kwargs):
    with pytest.raises(InvalidParameter):
        NetworkConfig(**kwargs)
