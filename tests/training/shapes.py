"""Synthetic training data for the tests: coloured shapes on noise, named by colour and shape."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

SHAPES = ("red square", "blue circle")
COLOURS = {"red square": (220, 30, 30), "blue circle": (30, 60, 220)}


def draw_image(
    rng: np.random.Generator, width: int, height: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return an RGB image and the mask of each shape; each shape appears in about 3 of 4 images."""
    pixels = rng.integers(60, 180, size=(height, width, 3), dtype=np.uint8)
    ys, xs = np.mgrid[0:height, 0:width]
    masks = {}
    for text in SHAPES:
        mask = np.zeros((height, width), dtype=bool)
        if rng.random() < 0.75:
            size = int(rng.integers(height // 5, height // 3))
            top, left = int(rng.integers(0, height - size)), int(rng.integers(0, width - size))
            if text == "red square":
                mask[top : top + size, left : left + size] = True
            else:
                radius = size / 2
                mask = (ys - top - radius) ** 2 + (xs - left - radius) ** 2 <= radius**2
            pixels[mask] = COLOURS[text]
        masks[text] = mask
    return pixels, masks


def write_manifest(
    folder: Path,
    images: int,
    seed: int = 0,
    size: tuple[int, int] | list[tuple[int, int]] = (48, 36),
) -> Path:
    """Write ``images`` shape images, their masks and a manifest.csv into ``folder``.

    ``size`` is (width, height), or a list of them that the images take in turn.
    """
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    sizes = size if isinstance(size, list) else [size]
    rows = []
    for index in range(images):
        pixels, masks = draw_image(rng, *sizes[index % len(sizes)])
        image_name = f"images/shapes_{index:03d}.png"
        Image.fromarray(pixels).save(folder / image_name)
        for text, mask in masks.items():
            mask_name = f"masks/shapes_{index:03d}_{text.replace(' ', '_')}.png"
            Image.fromarray(mask.astype(np.uint8) * 255).save(folder / mask_name)
            rows.append((image_name, text, mask_name))
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("image", "text", "mask"))
        writer.writerows(rows)
    return manifest
