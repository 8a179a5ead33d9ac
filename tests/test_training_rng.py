"""Counter-based per-agent randomness: exact hash, keyed by global agent index, correct distributions."""

from __future__ import annotations

import math

import torch

from quorumsgd.training import rng


def reference_lowbias32(x: int) -> int:
    """Chris Wellons' lowbias32 in plain Python integers (the exact oracle)."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_mix32_is_lowbias32_without_int64_overflow():
    values = [0, 1, 2, 12345, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 0xDEADBEEF]
    got = rng.mix32(torch.tensor(values, dtype=torch.int64)).tolist()
    assert got == [reference_lowbias32(v) for v in values]


def test_an_agent_draws_the_same_numbers_whatever_its_group():
    ids = torch.tensor([0, 1, 2, 3])
    together = rng.uniform(3, rng.STREAM_DROPOUT, ids, counter=17, n=100)
    for agent in range(4):
        alone = rng.uniform(3, rng.STREAM_DROPOUT, ids[agent : agent + 1], counter=17, n=100)
        assert torch.equal(alone[0], together[agent])
    assert not torch.equal(together[0], together[1])  # but agents differ from each other
    other_step = rng.uniform(3, rng.STREAM_DROPOUT, ids, counter=18, n=100)
    assert not torch.equal(other_step, together)


def test_permutations_are_permutations_and_differ_between_agents_and_epochs():
    perm = rng.permutations(seed=0, agent_ids=torch.arange(5), epoch=1, n=257)
    assert torch.equal(perm.sort(dim=1).values, torch.arange(257).expand(5, -1))
    assert len({tuple(p.tolist()) for p in perm}) == 5
    assert not torch.equal(perm, rng.permutations(seed=0, agent_ids=torch.arange(5), epoch=2, n=257))


def test_dropout_masks_have_the_right_rate_and_scale():
    rate, n = 0.3, 200_000
    mask = rng.dropout_masks(seed=1, agent_ids=torch.arange(2), step=5, shape=(n,), rate=rate)
    dropped = (mask == 0).double().mean(dim=1)
    # Binomial: 5 standard deviations of the dropped fraction.
    tolerance = 5 * math.sqrt(rate * (1 - rate) / n)
    assert torch.all((dropped - rate).abs() < tolerance)
    kept = mask[mask > 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - rate)))
    assert rng.dropout_masks(seed=1, agent_ids=torch.arange(2), step=5, shape=(3,), rate=0.0) is None


def test_uniform_is_uniform():
    u = rng.uniform(seed=9, stream=rng.STREAM_SHUFFLE, agent_ids=torch.arange(3), counter=0, n=100_000)
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    # Mean 1/2 and variance 1/12, within 5 standard errors.
    se_mean = math.sqrt(1 / 12 / 100_000)
    assert torch.all((u.double().mean(dim=1) - 0.5).abs() < 5 * se_mean)
    assert torch.all((u.double().var(dim=1) - 1 / 12).abs() < 5 * math.sqrt(1 / 180 / 100_000))
