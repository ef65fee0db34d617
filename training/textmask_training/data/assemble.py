"""The training and validation rows of a run, from its source arguments."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textmask_training.data.sample import Sample, check_files_exist, distinct_images
from textmask_training.data.sources import load_source
from textmask_training.data.splits import first_images, mix_sources, split_samples

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TrainingData:
    train: list[Sample]
    val: list[Sample]

    def describe(self) -> dict[str, Any]:
        """Return counts per split and the sources, for logs and checkpoint metadata."""
        return {
            "train_rows": len(self.train),
            "train_images": len(distinct_images(self.train)),
            "train_sources": sorted({sample.source for sample in self.train}),
            "val_rows": len(self.val),
            "val_images": len(distinct_images(self.val)),
            "val_sources": sorted({sample.source for sample in self.val}),
        }


def assemble_data(
    train_sources: Sequence[str],
    val_sources: Sequence[str],
    *,
    val_fraction: float = 0.0,
    source_weights: Sequence[float] | None = None,
    max_images: int | None = None,
    max_val_images: int | None = None,
    labels: Sequence[str] | None = None,
    statuses: Sequence[str] = ("edited", "done"),
    extract_dir: Path | None = None,
    seed: int = 0,
) -> TrainingData:
    """Read, mix and split the rows; an image never appears in both splits."""
    options = {"labels": labels, "statuses": statuses, "extract_dir": extract_dir}
    groups = [load_source(source, **options) for source in train_sources]
    train = mix_sources(groups, source_weights, seed)
    val = [sample for source in val_sources for sample in load_source(source, **options)]
    if val_fraction > 0:
        train, held_out = split_samples(train, val_fraction, seed)
        val += held_out
    train = _without_images_of(train, val)
    data = TrainingData(first_images(train, max_images), first_images(val, max_val_images))
    if not data.train:
        raise ValueError(f"the training sources {list(train_sources)} have no rows to train on")
    check_files_exist(data.train + data.val)
    return data


def _without_images_of(train: list[Sample], val: list[Sample]) -> list[Sample]:
    val_images = {sample.image_path.resolve() for sample in val}
    kept = [sample for sample in train if sample.image_path.resolve() not in val_images]
    if len(kept) < len(train):
        logger.warning(
            "left out %d training rows whose image is also in the validation data",
            len(train) - len(kept),
        )
    return kept
