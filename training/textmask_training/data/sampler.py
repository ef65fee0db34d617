"""The order of training rows: shuffled per epoch, split across ranks, resumable mid-epoch."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence

import torch
from torch.utils.data import DistributedSampler, Sampler

from textmask_training.data.rows import RowKey


class _Length:
    """A stand-in dataset for ``DistributedSampler``, which only needs ``len``."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length


RowGroups = Callable[[int], Sequence[Hashable]]
"""A function from an epoch to one key per row. The rows of a batch must share their key."""


class ResumableSampler(Sampler[RowKey]):
    """Yields ``(epoch, index)`` keys in ``DistributedSampler`` order from a batch offset.

    Every rank gets the same number of rows per epoch (``DistributedSampler`` pads by
    repeating rows), so all ranks take the same number of steps. Call ``start`` before each
    epoch; the order depends only on the seed and the epoch, so a resumed run continues
    exactly where the interrupted one stopped.

    With ``groups``, because rows of different canvas shapes cannot share a batch, the shuffled
    rows are cut into batches within each group. A group's last batch is filled up with its own
    rows, the batches are shuffled, and each rank takes every ``world_size``-th batch.
    """

    def __init__(
        self,
        length: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        groups: RowGroups | None = None,
    ) -> None:
        self.batch_size = batch_size
        self._order = DistributedSampler(
            _Length(length), num_replicas=world_size, rank=rank, shuffle=True, seed=seed
        )
        self._length, self._seed, self._rank, self._world_size = length, seed, rank, world_size
        self._groups = groups
        self._grouped: tuple[int, list[list[int]]] | None = None  # (epoch, this rank's batches)
        self._epoch = 0
        self._skip_batches = 0

    @property
    def batches_per_epoch(self) -> int:
        """Return the number of batches in the epoch of the latest ``start`` (any epoch without
        groups)."""
        return self.batches_in(self._epoch)

    def batches_in(self, epoch: int) -> int:
        if self._groups is None:
            return math.ceil(self._order.num_samples / self.batch_size)
        return len(self._grouped_batches(epoch))

    def start(self, epoch: int, skip_batches: int = 0) -> None:
        self._epoch = epoch
        self._skip_batches = skip_batches
        self._order.set_epoch(epoch)

    def __iter__(self) -> Iterator[RowKey]:
        if self._groups is not None:
            batches = self._grouped_batches(self._epoch)[self._skip_batches :]
            return iter([(self._epoch, index) for batch in batches for index in batch])
        indices = list(self._order)[self._skip_batches * self.batch_size :]
        return iter([(self._epoch, index) for index in indices])

    def __len__(self) -> int:
        if self._groups is not None:
            return max(0, self.batches_in(self._epoch) - self._skip_batches) * self.batch_size
        return max(0, self._order.num_samples - self._skip_batches * self.batch_size)

    def _grouped_batches(self, epoch: int) -> list[list[int]]:
        if self._grouped is not None and self._grouped[0] == epoch:
            return self._grouped[1]
        assert self._groups is not None
        generator = torch.Generator().manual_seed(self._seed + epoch)
        order = torch.randperm(self._length, generator=generator).tolist()
        keys = self._groups(epoch)
        members: dict[Hashable, list[int]] = defaultdict(list)
        for index in order:
            members[keys[index]].append(index)
        batches = []
        for indices in members.values():
            for start in range(0, len(indices), self.batch_size):
                batch = indices[start : start + self.batch_size]
                filler = itertools.islice(itertools.cycle(indices), self.batch_size - len(batch))
                batches.append(batch + list(filler))
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        # Every rank takes the same number of batches: repeat batches from the start.
        batches += batches[: -len(batches) % self._world_size]
        mine = batches[self._rank :: self._world_size]
        self._grouped = (epoch, mine)
        return mine
