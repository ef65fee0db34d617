"""The resumable sampler's batches when rows of different canvas shapes cannot share a batch."""

from __future__ import annotations

from collections import Counter

from textmask_training.data.sampler import ResumableSampler

BATCH = 4


def _groups(epoch: int) -> list[str]:
    # 11 tall rows and 6 wide ones. In odd epochs row 16 turns tall, as an absent row can.
    keys = ["tall"] * 11 + ["wide"] * 6
    if epoch % 2:
        keys[16] = "tall"
    return keys


def _batches(sampler: ResumableSampler, epoch: int, skip: int = 0) -> list[list[int]]:
    sampler.start(epoch, skip)
    keys = [index for key_epoch, index in sampler if key_epoch == epoch]
    assert len(keys) == len(sampler)
    return [keys[start : start + BATCH] for start in range(0, len(keys), BATCH)]


def test_grouped_batches_cover_every_row():
    sampler = ResumableSampler(17, BATCH, seed=3, groups=_groups)
    for epoch in (0, 1):
        keys = _groups(epoch)
        batches = _batches(sampler, epoch)
        assert all(len(batch) == BATCH for batch in batches)
        assert all(len({keys[index] for index in batch}) == 1 for batch in batches)
        assert set().union(*batches) == set(range(17))
        counts = Counter(keys)
        expected = sum(-(-count // BATCH) for count in counts.values())
        assert len(batches) == sampler.batches_in(epoch) == expected


def test_grouped_order_reproducible_per_epoch():
    first = _batches(ResumableSampler(17, BATCH, seed=3, groups=_groups), 0)
    again = _batches(ResumableSampler(17, BATCH, seed=3, groups=_groups), 0)
    assert first == again
    assert _batches(ResumableSampler(17, BATCH, seed=3, groups=_groups), 2) != first


def test_grouped_resume_skips_whole_batches():
    sampler = ResumableSampler(17, BATCH, seed=3, groups=_groups)
    full = _batches(sampler, 0)
    assert _batches(sampler, 0, skip=2) == full[2:]


def test_ranks_get_equal_batch_counts():
    ranks = [
        ResumableSampler(17, BATCH, seed=3, rank=r, world_size=2, groups=_groups) for r in (0, 1)
    ]
    shares = [_batches(sampler, 0) for sampler in ranks]
    assert len(shares[0]) == len(shares[1])
    assert set().union(*shares[0], *shares[1]) == set(range(17))
