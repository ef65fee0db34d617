"""Referring rows on pairs of training photos placed side by side.

The per-instance masks of default-train give about 150 referring cases, all on COCO photos. Two
photos that share a class, pasted next to each other, make a new photo in which "the person on
the left" has one clear mask: the left photo's. Pasting the second photo smaller makes a
"biggest" case. The same photos with the bare class name get both masks, so the pair teaches the
difference between the phrase and the name.

Each composite is written as a JPEG with one 8-bit PNG mask per row. A relation is kept only
if it passes the rules of ``referring.py`` on the composite: a clear gap between the centres,
or a clearly larger area.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from textmask_core.imageio import load_image, load_mask, read_image_size
from textmask_core.manifest import ManifestRow
from textmask_training.recipes.referring import (
    MIN_AREA_SHARE,
    TEMPLATES,
    Instance,
    referring_cases,
)

logger = logging.getLogger(__name__)

# File names of the composites start with this, then "__" and a number.
COMPOSITE_PREFIX = "side_by_side"
# Height of every composite; both photos are scaled to it (the smaller one to SMALL_SCALE of it).
COMPOSITE_HEIGHT = 480
SMALL_SCALE = 0.55
# Share of composites whose second photo is pasted small, which makes a "biggest" case.
SMALL_SHARE = 0.3
# Classes asked about per composite.
LABELS_PER_COMPOSITE = 2
# Grey for the canvas around a small photo: the mean ImageNet colour, so it reads as padding.
FILL_COLOUR = (124, 116, 104)


@dataclass(frozen=True)
class PhotoRows:
    """One training photo and the masks of the texts that are present in it."""

    image: Path
    masks: dict[str, Path]


def photos_with_masks(rows: Sequence[ManifestRow]) -> list[PhotoRows]:
    """Group manifest rows by photo, keeping the first row of each text whose mask is not empty."""
    by_image: dict[Path, dict[str, Path]] = defaultdict(dict)
    for row in rows:
        masks = by_image[row.image]
        if row.text not in masks and load_mask(row.mask).any():
            masks[row.text] = row.mask
    return [PhotoRows(image, masks) for image, masks in by_image.items() if masks]


def side_by_side_rows(
    rows: Sequence[ManifestRow], out: Path, count: int, rng: random.Random
) -> list[tuple[Path, str, Path]]:
    """Write ``count`` composites under ``out`` and return their (image, text, mask) rows."""
    photos = photos_with_masks(rows)
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, photo in enumerate(photos):
        for label in photo.masks:
            by_label[label].append(index)
    labels = sorted(label for label, members in by_label.items() if len(members) >= 2)
    if not labels:
        raise ValueError("side-by-side rows need two photos that share a present text")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    output: list[tuple[Path, str, Path]] = []
    for number in range(count):
        first, second = rng.sample(by_label[rng.choice(labels)], 2)
        small = rng.random() < SMALL_SHARE
        name = f"{COMPOSITE_PREFIX}__{number:05d}"
        output += _composite(photos[first], photos[second], small, out, name, rng)
    logger.info("wrote %d side-by-side photos with %d rows under %s", count, len(output), out)
    return output


def one_object_label(mask: Path) -> str | None:
    """Return the class of a mask written for one object of a pair, or None for a both-photos mask.

    Masks are named ``<composite>__<label>.png`` for both photos and
    ``<composite>__<label>__big.png`` or ``__other.png`` for one of them.
    """
    parts = mask.stem.split("__")
    return parts[2] if len(parts) == 4 and parts[3] in ("big", "other") else None


def _composite(
    big: PhotoRows, other: PhotoRows, small: bool, out: Path, name: str, rng: random.Random
) -> list[tuple[Path, str, Path]]:
    shared = sorted(set(big.masks) & set(other.masks))
    chosen = rng.sample(shared, min(LABELS_PER_COMPOSITE, len(shared)))
    big_on_left = rng.random() < 0.5
    layout = _Layout.of(big, other, small, big_on_left)
    image_path = out / "images" / f"{name}.jpg"
    Image.fromarray(layout.paste_images()).save(image_path, quality=92)
    rows: list[tuple[Path, str, Path]] = []
    for label in chosen:
        big_mask, other_mask = layout.paste_masks(big.masks[label], other.masks[label])
        smallest_area = MIN_AREA_SHARE * big_mask.size
        if big_mask.sum() < smallest_area or other_mask.sum() < smallest_area:
            continue  # scaled down to a speck, so no clear referring case
        paths = {
            "big": _save_mask(big_mask, out / "masks" / f"{name}__{label}__big.png"),
            "other": _save_mask(other_mask, out / "masks" / f"{name}__{label}__other.png"),
            "both": _save_mask(big_mask | other_mask, out / "masks" / f"{name}__{label}.png"),
        }
        instances = [
            Instance(paths["big"], _centre_x(big_mask), int(big_mask.sum())),
            Instance(paths["other"], _centre_x(other_mask), int(other_mask.sum())),
        ]
        rows.append((image_path, label, paths["both"]))
        for case in referring_cases({(image_path, label): instances}):
            template = rng.choice(TEMPLATES[case.relation])
            rows.append((image_path, template.format(name=label), case.mask_path))
    return rows


@dataclass(frozen=True)
class _Layout:
    """Placement of the two photos on the composite: sizes and left edges, in composite pixels."""

    big: Path
    other: Path
    big_size: tuple[int, int]
    other_size: tuple[int, int]
    big_left: int
    other_left: int
    width: int

    @classmethod
    def of(cls, big: PhotoRows, other: PhotoRows, small: bool, big_on_left: bool) -> _Layout:
        big_size = _scaled_size(big.image, COMPOSITE_HEIGHT)
        other_height = round(COMPOSITE_HEIGHT * (SMALL_SCALE if small else 1.0))
        other_size = _scaled_size(other.image, other_height)
        width = big_size[0] + other_size[0]
        big_left = 0 if big_on_left else other_size[0]
        other_left = big_size[0] if big_on_left else 0
        return cls(big.image, other.image, big_size, other_size, big_left, other_left, width)

    def paste_images(self) -> NDArray[np.uint8]:
        canvas = Image.new("RGB", (self.width, COMPOSITE_HEIGHT), FILL_COLOUR)
        for path, size, left in self._parts(self.big, self.other):
            photo = Image.fromarray(load_image(path).pixels)
            photo = photo.resize(size, Image.Resampling.BILINEAR)
            canvas.paste(photo, (left, COMPOSITE_HEIGHT - size[1]))
        return np.asarray(canvas)

    def paste_masks(self, big_mask: Path, other_mask: Path) -> tuple[NDArray[np.bool_], ...]:
        masks = []
        for path, size, left in self._parts(big_mask, other_mask):
            canvas = np.zeros((COMPOSITE_HEIGHT, self.width), dtype=bool)
            mask = Image.fromarray(load_mask(path).astype(np.uint8) * 255)
            mask = mask.resize(size, Image.Resampling.NEAREST)
            canvas[COMPOSITE_HEIGHT - size[1] :, left : left + size[0]] = np.asarray(mask) > 0
            masks.append(canvas)
        return tuple(masks)

    def _parts(self, big: Path, other: Path) -> list[tuple[Path, tuple[int, int], int]]:
        return [(big, self.big_size, self.big_left), (other, self.other_size, self.other_left)]


def _scaled_size(image: Path, height: int) -> tuple[int, int]:
    width, original_height = read_image_size(image)
    return max(1, round(width * height / original_height)), height


def _centre_x(mask: NDArray[np.bool_]) -> float:
    return float(np.nonzero(mask)[1].mean()) / mask.shape[1]


def _save_mask(mask: NDArray[np.bool_], path: Path) -> Path:
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    return path
