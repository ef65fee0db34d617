"""The public training API: ``train(config, cancel)`` yields progress records.

Example::

    from textmask_training.api import TrainConfig, train

    config = TrainConfig(train=("labels/manifest.csv",), out=Path("models/shop"), max_images=20)
    for record in train(config):
        print(record.kind, record.step, record.loss)
"""

from __future__ import annotations

from collections.abc import Iterator

from textmask_training.config import TrainConfig
from textmask_training.data.augment import AugmentationConfig
from textmask_training.losses import LossWeights
from textmask_training.parts import TrainableParts
from textmask_training.progress import ProgressKind, ProgressRecord
from textmask_training.trainer import CancelFlag, NonFiniteLossError, Trainer

__all__ = [
    "AugmentationConfig",
    "CancelFlag",
    "LossWeights",
    "NonFiniteLossError",
    "ProgressKind",
    "ProgressRecord",
    "TrainConfig",
    "TrainableParts",
    "train",
]


def train(config: TrainConfig, cancel: CancelFlag = None) -> Iterator[ProgressRecord]:
    """Run ``config`` and yield a record after every step and evaluation.

    ``cancel`` (an Event or a function) is checked between steps; when it is set, the run saves
    its state to ``config.out / "last"`` and the last record has kind "cancelled". Raises
    ``NonFiniteLossError`` when the loss becomes NaN or infinite, ``ValueError`` and
    ``TextMaskError`` subclasses for bad sources or settings.
    """
    yield from Trainer(config, cancel).run()
