"""The referring-bounds recipe: region and near-object IoU, and a run on the tiny model."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from PIL import Image

from textmask_training.recipes.referring_bounds import best_region_iou, main, near_object_iou


def two_squares() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return masks of a left square, a right square, and both."""
    left = np.zeros((40, 60), dtype=bool)
    left[10:20, 5:15] = True
    right = np.zeros_like(left)
    right[10:20, 40:50] = True
    return left, right, left | right


def test_best_region_picks_chosen_object():
    left, right, both = two_squares()
    assert best_region_iou(both, left) == 1.0
    assert best_region_iou(both, right) == 1.0


def test_best_region_of_merged_objects():
    left, _, _ = two_squares()
    merged = left.copy()
    merged[10:20, 15:25] = True  # a neighbour touching the chosen object
    assert best_region_iou(merged, left) == pytest.approx(0.5)


def test_best_region_of_empty_mask():
    left, _, _ = two_squares()
    assert best_region_iou(np.zeros_like(left), left) == 0.0


def test_near_object_cuts_far_regions():
    left, right, both = two_squares()
    assert near_object_iou(both, left, margin=0.05) == 1.0
    assert near_object_iou(both, right, margin=0.05) == 1.0


def test_near_object_keeps_margin_only():
    left, _, _ = two_squares()
    merged = left.copy()
    merged[10:20, 15:25] = True
    # A 3-pixel-wide dilation reaches one column past the object on each side.
    assert near_object_iou(merged, left, margin=0.0) == pytest.approx(100 / 110)


def write_rows(tmp_path, name: str, texts: list[str]) -> str:
    image = np.full((40, 60, 3), 90, dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "photo.png")
    left, _, _ = two_squares()
    Image.fromarray(left.astype(np.uint8) * 255).save(tmp_path / "left.png")
    path = tmp_path / name
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "text", "mask"])
        for text in texts:
            writer.writerow(["photo.png", text, "left.png"])
    return str(path)


def test_recipe_prints_four_scores(tmp_path, capsys):
    referring = write_rows(tmp_path, "referring.csv", ["the square on the left"])
    bare = write_rows(tmp_path, "bare.csv", ["square"])
    assert main(["tiny", referring, bare]) == 0
    output = capsys.readouterr().out
    assert "(1 rows)" in output
    scores = re.findall(r"\| (\d\.\d{3}) \|", output)
    assert len(scores) == 4
    assert all(0.0 <= float(score) <= 1.0 for score in scores)


def test_recipe_rejects_manifests_of_other_rows(tmp_path):
    referring = write_rows(tmp_path, "referring.csv", ["the square on the left"])
    bare = write_rows(tmp_path, "bare.csv", ["square", "square"])
    with pytest.raises(SystemExit, match="different images or masks"):
        main(["tiny", referring, bare])
