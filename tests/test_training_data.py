"""Data: the embedded digits default (shape, splits, standardization) and the CIFAR-10 error path."""

from __future__ import annotations

import pytest
import torch

from quorumsgd.errors import InvalidParameter
from quorumsgd.training.data import load_dataset


def test_digits_has_the_networks_input_shape_and_the_papers_splits():
    data = load_dataset("digits")
    assert tuple(data.train_x.shape[1:]) == (3, 32, 32)
    assert data.n_train + data.n_val + data.n_test == 1797
    # 20 % test held out, the rest split 80/20 into training and validation.
    assert data.n_test == round(0.2 * 1797)
    assert data.n_val == round(0.2 * (1797 - data.n_test))
    assert set(data.train_y.unique().tolist()) == set(range(10))
    # Channels are replicas of one grey image.
    assert torch.equal(data.train_x[:, 0], data.train_x[:, 2])
    # The three splits hold different images (no sample is shared).
    flat = [t.flatten(1) for t in (data.train_x, data.val_x, data.test_x)]
    rows = [{tuple(r.tolist()) for r in f} for f in flat]
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]


def test_per_channel_standardization_uses_training_statistics():
    data = load_dataset("digits")
    mean = data.train_x.mean(dim=(0, 2, 3))
    std = data.train_x.std(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros(3), atol=1e-5)
    assert torch.allclose(std, torch.ones(3), atol=1e-4)
    # The held-out splits are transformed with the same statistics (close to, but not exactly, 0 / 1).
    assert abs(float(data.test_x.mean())) < 0.1


def test_splits_are_fixed_and_caps_apply():
    a, b = load_dataset("digits"), load_dataset("digits", max_train=100, max_eval=50, image_size=8)
    assert torch.equal(a.train_y[:100], b.train_y) and b.n_val == b.n_test == 50
    assert tuple(b.train_x.shape[1:]) == (3, 8, 8)


def test_cifar10_without_data_is_a_one_line_error(tmp_path):
    with pytest.raises(InvalidParameter, match="--download"):
        load_dataset("cifar10", data_root=tmp_path, download=False)
    with pytest.raises(InvalidParameter):
        load_dataset("cifar10")
    with pytest.raises(InvalidParameter):
        load_dataset("mnist")
