"""Training data for a fine-tune from the project: chosen corrected masks, split by image.

The panel writes two manifest CSVs (image, text, mask) with mask PNGs, so the held-out images are
exactly the ones the user sees listed, instead of a hash split that may hold out none of a
small project's images.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textmask_core.imageio import save_mask_png
from textmask_core.manifest import MANIFEST_COLUMNS
from textmask_core.store import TrainingSample

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingManifests:
    train: Path
    held_out: Path
    train_rows: int
    held_out_rows: int


def held_out_images(image_ids: Sequence[int], count: int) -> set[int]:
    """Pick `count` images to hold back: every k-th one, so they spread over the project.

    At least one image always stays for training.
    """
    unique = sorted(set(image_ids))
    count = max(0, min(count, len(unique) - 1))
    if count == 0:
        return set()
    step = len(unique) / count
    return {unique[int(index * step)] for index in range(count)}


def write_manifests(
    samples: Sequence[TrainingSample], held_out: set[int], folder: Path
) -> TrainingManifests:
    """Write masks and the train and held-out manifests under `folder`."""
    masks = folder / "masks"
    masks.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[tuple[str, str, str]]] = {"train": [], "held_out": []}
    for sample in samples:
        mask_path = masks / f"object_{sample.object_id}.png"
        save_mask_png(mask_path, sample.mask)
        text = sample.prompt.strip() or sample.label
        side = "held_out" if sample.image_id in held_out else "train"
        rows[side].append((str(sample.image_path), text, str(mask_path)))
    paths = {side: folder / f"{side}.csv" for side in rows}
    for side, side_rows in rows.items():
        with paths[side].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(MANIFEST_COLUMNS)
            writer.writerows(side_rows)
    logger.info(
        "Fine-tune data in %s: %d train rows, %d held out",
        folder,
        len(rows["train"]),
        len(rows["held_out"]),
    )
    return TrainingManifests(
        paths["train"], paths["held_out"], len(rows["train"]), len(rows["held_out"])
    )
