"""N networks as one computation: vmap and grouped convolutions agree with N separate nn.Modules."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from quorumsgd.training import batching
from quorumsgd.training.batching import AutoNetwork, GroupedNetwork, LoopNetwork, VmapNetwork
from quorumsgd.training.network import NetworkConfig, PaperCNN
from quorumsgd.training.rng import dropout_masks

CONFIG = NetworkConfig(widths=(3, 5, 4), dropout=0.5)




def reference(flat_row: torch.Tensor, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor):
    """One agent as an ordinary nn.Module under ordinary autograd."""
    net = PaperCNN(CONFIG)
    torch.nn.utils.vector_to_parameters(flat_row.clone(), net.parameters())
    logits = net(x, dropout_mask=mask)
    loss = F.cross_entropy(logits, y)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return torch.cat([g.reshape(-1) for g in grads]), loss.detach(), (logits.argmax(-1) != y).float().mean()


@pytest.mark.parametrize("network_cls", [VmapNetwork, GroupedNetwork, LoopNetwork, AutoNetwork])
def test_batched_gradients_equal_separate_models(network_cls):
    net = network_cls(CONFIG)
    flat = net.init_params([0, 1, 2], seed=5)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 8, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (3, 8), generator=generator)
    masks = dropout_masks(0, torch.arange(3), 0, (8, CONFIG.features), CONFIG.dropout)
    grads, losses, errors = net.loss_and_grad(flat, x, y, masks)
    assert grads.shape == flat.shape
    # The flat rows are padded so that every parameter block is aligned (flat.py): the padding's gradient is 0.
    assert torch.count_nonzero(grads - net.layout.expand(net.layout.compact(grads))) == 0
    for i in range(3):
        g, loss, err = reference(net.layout.compact(flat[i]), x[i], y[i], masks[i])
        assert torch.allclose(net.layout.compact(grads[i]), g, rtol=1e-4, atol=1e-5)
        assert torch.allclose(losses[i], loss, atol=1e-5) and float(errors[i]) == float(err)


@pytest.mark.parametrize("network_cls", [VmapNetwork, GroupedNetwork])
def test_batched_evaluation_equals_separate_models(network_cls):
    net = network_cls(CONFIG)
    flat = net.init_params([0, 1], seed=2)
    x = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.arange(6) % 10
    loss_sum, wrong = net.eval_sums(flat, x, y)
    for i in range(2):
        model = PaperCNN(CONFIG).eval()
        torch.nn.utils.vector_to_parameters(net.layout.compact(flat[i]), model.parameters())
        with torch.no_grad():
            logits = model(x)
        assert torch.allclose(loss_sum[i], F.cross_entropy(logits, y, reduction="sum"), atol=1e-4)
        assert int(wrong[i]) == int((logits.argmax(-1) != y).sum())


def test_initial_points_depend_on_seed_and_global_agent_index_only():
    net = GroupedNetwork(CONFIG)
    group = net.init_params([0, 1, 2, 3], seed=7)
    assert torch.equal(net.init_params([2], seed=7)[0], group[2])  # same point on any rank
    assert not torch.equal(group[0], group[1])
    common = net.init_params([0, 1, 2], seed=7, common=True)
    assert torch.equal(common[1], group[0]) and torch.equal(common[2], group[0])
    assert not torch.equal(net.init_params([0], seed=8)[0], group[0])


def test_auto_batching_measures_once_per_shape_and_caches_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("QUORUMSGD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(batching, "_CHOICES", {})
    net = AutoNetwork(CONFIG)
    flat = net.init_params([0, 1], seed=1)
    x, y = torch.randn(2, 4, 3, 32, 32), torch.randint(0, 10, (2, 4))
    grads, _, _ = net.loss_and_grad(flat, x, y)
    assert net.chosen in net.candidates and set(net.timings) == set(net.candidates)
    saved = json.loads((tmp_path / "batching.json").read_text())
    assert list(saved.values()) == [net.chosen] and "agents=2" in next(iter(saved))
    # A fresh process (empty in-process cache) reads the disk cache instead of measuring again.
    monkeypatch.setattr(batching, "_CHOICES", {})
    again = AutoNetwork(CONFIG)
    again.loss_and_grad(flat, x, y)
    assert again.chosen == net.chosen and again.timings == {}
    reference_grads = GroupedNetwork(CONFIG).loss_and_grad(flat, x, y)[0]
    assert torch.allclose(grads, reference_grads, rtol=1e-4, atol=1e-5)
