"""The order of training rows: shuffled per epoch, split across ranks, resumable mid-epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator

from torch.utils.data import DistributedSampler, Sampler

from textmask_training.data.rows import RowKey


class _Length:
    """A stand-in dataset for ``DistributedSampler``, which only needs ``len``."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length


class ResumableSampler(Sampler[RowKey]):
    """Yields ``(epoch, index)`` keys in ``DistributedSampler`` order from a batch offset.

    Every rank gets the same number of rows per epoch (``DistributedSampler`` pads by
    repeating rows), so all ranks take the same number of steps. Call ``start`` before each
    epoch; the order depends only on the seed and the epoch, so a resumed run continues
    exactly where the interrupted one stopped.
    """

    def __init__(
        self, length: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.batch_size = batch_size
        self._order = DistributedSampler(
            _Length(length), num_replicas=world_size, rank=rank, shuffle=True, seed=seed
        )
        self._epoch = 0
        self._skip_batches = 0

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self._order.num_samples / self.batch_size)

    def start(self, epoch: int, skip_batches: int = 0) -> None:
        self._epoch = epoch
        self._skip_batches = skip_batches
        self._order.set_epoch(epoch)

    def __iter__(self) -> Iterator[RowKey]:
        indices = list(self._order)[self._skip_batches * self.batch_size :]
        return iter([(self._epoch, index) for index in indices])

    def __len__(self) -> int:
        return max(0, self._order.num_samples - self._skip_batches * self.batch_size)
