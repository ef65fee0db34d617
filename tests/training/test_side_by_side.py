"""Referring rows on pairs of photos pasted side by side."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textmask_core.imageio import load_image, load_mask
from textmask_core.manifest import ManifestRow
from textmask_training.recipes import side_by_side
from textmask_training.recipes.side_by_side import COMPOSITE_HEIGHT, side_by_side_rows


def _photo(folder: Path, name: str, size: tuple[int, int], boxes: dict[str, tuple]) -> list:
    """Write a photo of ``size`` (width, height) and one box mask (x0, y0, x1, y1) per text."""
    width, height = size
    image = folder / f"{name}.png"
    Image.new("RGB", size, (200, 30, 30)).save(image)
    rows = []
    for text, (x0, y0, x1, y1) in boxes.items():
        mask = np.zeros((height, width), np.uint8)
        mask[y0:y1, x0:x1] = 255
        mask_path = folder / f"{name}__{text}.png"
        Image.fromarray(mask).save(mask_path)
        rows.append(ManifestRow(image=image, text=text, mask=mask_path, line=len(rows) + 2))
    return rows


@pytest.fixture
def two_photos(tmp_path) -> list[ManifestRow]:
    return _photo(
        tmp_path, "tall", (100, 200), {"person": (20, 10, 80, 190), "hat": (30, 0, 70, 30)}
    ) + _photo(tmp_path, "square", (150, 150), {"person": (40, 20, 110, 150)})


def _by_image(rows) -> dict[Path, dict[str, np.ndarray]]:
    grouped: dict[Path, dict[str, np.ndarray]] = defaultdict(dict)
    for image, text, mask in rows:
        grouped[image][text] = load_mask(mask)
    return grouped


def test_pairs_ask_only_shared_classes(tmp_path, two_photos):
    rows = side_by_side_rows(two_photos, tmp_path / "out", 4, random.Random(0))
    grouped = _by_image(rows)
    assert len(grouped) == 4
    for image, masks in grouped.items():
        pixels = load_image(image).pixels
        assert pixels.shape[0] == COMPOSITE_HEIGHT
        # "hat" is only in one photo, so it is never asked about.
        assert set(masks) >= {"person"} and not any("hat" in text for text in masks)
        assert all(mask.shape == pixels.shape[:2] for mask in masks.values())


def test_left_right_and_bare_name_masks(tmp_path, two_photos, monkeypatch):
    monkeypatch.setattr(side_by_side, "SMALL_SHARE", 0.0)
    rows = side_by_side_rows(two_photos, tmp_path / "out", 3, random.Random(1))
    for masks in _by_image(rows).values():
        left = next(mask for text, mask in masks.items() if "left" in text)
        right = next(mask for text, mask in masks.items() if "right" in text)
        assert np.nonzero(left)[1].max() < np.nonzero(right)[1].min()
        assert np.array_equal(masks["person"], left | right)
        assert not (left & right).any()


def test_small_photo_gives_biggest_case(tmp_path, two_photos, monkeypatch):
    monkeypatch.setattr(side_by_side, "SMALL_SHARE", 1.0)
    rows = side_by_side_rows(two_photos, tmp_path / "out", 3, random.Random(2))
    for masks in _by_image(rows).values():
        biggest = [mask for text, mask in masks.items() if "biggest" in text or "largest" in text]
        assert len(biggest) == 1
        others = masks["person"] & ~biggest[0]
        assert biggest[0].sum() >= 1.6 * others.sum() > 0


def test_pairs_need_a_shared_class(tmp_path):
    rows = _photo(tmp_path, "a", (20, 20), {"dog": (0, 0, 10, 10)})
    rows += _photo(tmp_path, "b", (20, 20), {"cat": (0, 0, 10, 10)})
    with pytest.raises(ValueError, match="share a present text"):
        side_by_side_rows(rows, tmp_path / "out", 1, random.Random(0))
