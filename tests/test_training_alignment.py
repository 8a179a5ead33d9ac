"""Every tensor the engine hands to a convolution, BatchNorm or GEMM kernel starts on a 16-byte boundary.

cuDNN crashed on views of the flat parameter buffer at odd offsets (``misaligned address``). The check runs
on CPU (a TorchDispatchMode sees the ATen operators below autograd and vmap), so CI catches a regression
without a GPU: odd widths, 3 agents, odd batch and image sizes, EASGD, one epoch with its evaluation.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from quorumsgd.training.config import TrainConfig
from quorumsgd.training.engine import Trainer
from quorumsgd.training.flat import ALIGN_ELEMENTS, ParamLayout
from quorumsgd.training.kernel_check import KernelAlignmentCheck
from quorumsgd.training.network import NetworkConfig, PaperCNN

ODD = dict(
    algo="easgd",
    n_agents=3,
    epochs=1,
    widths=(3, 5, 7),
    max_train=93,
    max_eval=45,
    image_size=9,
    lr_schedule="constant",
)


@pytest.mark.parametrize("batching", ["loop", "grouped", "vmap", "auto"])
@pytest.mark.parametrize("batch_size", [31, 32])
def test_every_kernel_operand_is_aligned(batching, batch_size, tmp_path, monkeypatch):
    monkeypatch.setenv("QUORUMSGD_CACHE_DIR", str(tmp_path))  # auto measures its candidates here: all checked
    cfg = TrainConfig(batching=batching, batch_size=batch_size, **ODD)
    with KernelAlignmentCheck() as check:
        results = Trainer(cfg).run()
    assert results["status"] == "completed"
    assert check.calls > 50  # forward, backward and evaluation kernels were seen
    assert check.misaligned == [], check.misaligned[:5]


def test_the_layout_aligns_every_block_and_row():
    for widths in ((3, 5, 7), (1, 1, 1), (64, 128, 64)):
        layout = ParamLayout.from_module(PaperCNN(NetworkConfig(widths=widths, image_size=8)))
        assert all(offset % ALIGN_ELEMENTS == 0 for offset in layout.offsets)
        assert layout.size % ALIGN_ELEMENTS == 0 and layout.size >= layout.n_params
        assert layout.n_params == sum(
            p.numel() for p in PaperCNN(NetworkConfig(widths=widths, image_size=8)).parameters()
        )


def test_the_check_sees_a_misaligned_operand():
    # Without this the test above could pass vacuously: an unaligned BatchNorm scale (offset 3 floats) is seen.
    flat = torch.randn(64)
    x = torch.randn(4, 5, 2, 2)
    with KernelAlignmentCheck() as check:
        F.batch_norm(x, None, None, flat[3:8], flat[32:37], True)
    assert check.calls == 1 and [m[0] for m in check.misaligned] == ["native_batch_norm"]


def test_padding_stays_zero_through_training():
    cfg = TrainConfig(batching="grouped", batch_size=31, **ODD)
    trainer = Trainer(cfg)
    trainer.run()
    layout = trainer.net.layout
    for name in ("x", "v", "quorum"):
        value = trainer.state[name]
        assert torch.equal(layout.expand(layout.compact(value)), value), name
    assert trainer.results()["n_params"] == layout.n_params
