"""Render model-card figures: photo, prompt, predicted mask and ground truth side by side.

Usage: python -m textmask_training.recipes.figures MODEL MANIFEST OUT.png [--rows N]
    [--pick worst|best] [--match TEXT] [--width PX]

Each figure row shows the photo with the predicted mask in red, then with the ground-truth
mask in green, captioned with the prompt and the IoU. Rows are picked among rows whose object
is present, by IoU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from textmask_core.imageio import load_image, load_mask
from textmask_core.manifest import ManifestRow, read_manifest
from textmask_core.metrics import score_row
from textmask_core.model import load_model
from textmask_core.predictor import Predictor

PREDICTED_RGB = (230, 40, 40)
TRUTH_RGB = (40, 200, 60)
CAPTION_HEIGHT = 22


def overlay(pixels: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int]) -> Image.Image:
    """Blend ``colour`` at 55 % over the masked pixels."""
    blended = pixels.astype(np.float32)
    blended[mask] = 0.45 * blended[mask] + 0.55 * np.array(colour, np.float32)
    return Image.fromarray(blended.astype(np.uint8))


def score_rows(predictor: Predictor, rows: list[ManifestRow]) -> list[tuple[float, ManifestRow]]:
    scored = []
    for row in rows:
        truth = load_mask(row.mask)
        if not truth.any():
            continue
        predictor.set_image(load_image(row.image))
        predicted = predictor.predict(row.text).mask()
        scored.append((score_row(row.text, predicted, truth).iou, row))
    return scored


def render_row(predictor: Predictor, row: ManifestRow, tile_width: int) -> Image.Image:
    image = load_image(row.image)
    predictor.set_image(image)
    predicted = predictor.predict(row.text).mask()
    truth = load_mask(row.mask)
    iou = score_row(row.text, predicted, truth).iou
    scale = tile_width / image.width
    size = (tile_width, max(1, round(image.height * scale)))
    tiles = [
        overlay(image.pixels, predicted, PREDICTED_RGB).resize(size),
        overlay(image.pixels, truth, TRUTH_RGB).resize(size),
    ]
    canvas = Image.new("RGB", (2 * tile_width + 8, size[1] + CAPTION_HEIGHT), "white")
    for index, tile in enumerate(tiles):
        canvas.paste(tile, (index * (tile_width + 8), CAPTION_HEIGHT))
    caption = f'"{row.text}"   IoU {iou:.2f}   (left: predicted, right: ground truth)'
    ImageDraw.Draw(canvas).text((4, 5), caption, fill=(0, 0, 0))
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("manifest", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--pick", choices=("worst", "best"), default="worst")
    parser.add_argument("--match", default="", help="only rows whose image path contains this")
    parser.add_argument("--width", type=int, default=360, help="width of each tile in pixels")
    options = parser.parse_args(argv)
    model, _ = load_model(options.model)
    predictor = Predictor(model, "cpu")
    rows = [row for row in read_manifest(options.manifest) if options.match in str(row.image)]
    scored = sorted(score_rows(predictor, rows), key=lambda item: item[0])
    chosen = scored[: options.rows] if options.pick == "worst" else scored[-options.rows :]
    figures = [render_row(predictor, row, options.width) for _, row in chosen]
    sheet = Image.new("RGB", (figures[0].width, sum(f.height + 6 for f in figures)), "white")
    top = 0
    for figure in figures:
        sheet.paste(figure, (0, top))
        top += figure.height + 6
    options.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(options.out, optimize=True)
    print(f"wrote {options.out} with {len(figures)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
