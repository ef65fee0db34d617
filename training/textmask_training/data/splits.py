"""Train/validation splits by image, first-N selection and weighted mixing of sources."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import numpy as np

from textmask_training.data.sample import Sample

Split = Literal["train", "val"]


def split_of(image_key: str, val_fraction: float, seed: int = 0) -> Split:
    """Assign an image to a split from a SHA-256 hash of ``seed`` and its key.

    The result depends only on the key, so every row of one image (every turn of one
    MagicBrush session) lands in the same split, on every machine and in every run.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    digest = hashlib.sha256(f"{seed}\0{image_key}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2.0**64
    return "val" if position < val_fraction else "train"


def split_samples(
    samples: Sequence[Sample], val_fraction: float, seed: int = 0
) -> tuple[list[Sample], list[Sample]]:
    """Return (train, val) rows, keeping the input order within each."""
    train: list[Sample] = []
    val: list[Sample] = []
    for sample in samples:
        side = split_of(sample.image_key, val_fraction, seed)
        (val if side == "val" else train).append(sample)
    return train, val


def first_images(samples: Sequence[Sample], max_images: int | None) -> list[Sample]:
    """Keep the rows of the first ``max_images`` distinct images in file order (None keeps all)."""
    if max_images is None:
        return list(samples)
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    kept: set[str] = set()
    result = []
    for sample in samples:
        if sample.image_key not in kept and len(kept) < max_images:
            kept.add(sample.image_key)
        if sample.image_key in kept:
            result.append(sample)
    return result


def mix_sources(
    groups: Sequence[Sequence[Sample]], weights: Sequence[float] | None = None, seed: int = 0
) -> list[Sample]:
    """Concatenate sources; with ``weights``, resample each so its share of rows is its weight.

    The total number of rows stays the sum of the sources' sizes. A source smaller than its
    share repeats rows; a larger one gives a random subset (seeded, so the mix is reproducible).
    """
    if weights is None:
        return [sample for group in groups for sample in group]
    if len(weights) != len(groups) or any(weight <= 0 for weight in weights):
        raise ValueError(
            f"source weights {list(weights)} must be one positive number per source "
            f"({len(groups)} sources)"
        )
    total_rows = sum(len(group) for group in groups)
    rng = np.random.default_rng(seed)
    mixed: list[Sample] = []
    for group, weight in zip(groups, weights, strict=True):
        count = round(total_rows * weight / sum(weights))
        mixed += _resample(list(group), count, rng)
    return mixed


def _resample(group: list[Sample], count: int, rng: np.random.Generator) -> list[Sample]:
    if not group or count == 0:
        return []
    repeats, remainder = divmod(count, len(group))
    chosen = rng.choice(len(group), size=remainder, replace=False)
    return group * repeats + [group[index] for index in sorted(chosen)]
