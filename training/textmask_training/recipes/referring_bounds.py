"""Measure how much picking one object out of the class-name mask could gain on referring rows.

Usage: python -m textmask_training.recipes.referring_bounds MODEL REFERRING BARE [--margin F]

REFERRING and BARE are manifests with the same rows in the same order: a referring phrase
("the dog on the left") with the mask of one object, and the bare class name ("dog") with
that same mask (``val_referring.csv`` and ``val_referring_bare.csv`` of the default_model
recipe). For each pair the model predicts the phrase and the bare name, and the table gives
the mean IoU with the chosen object of:

- the phrase's mask and the bare name's mask, as ``textmask eval`` scores them;
- the best connected region of the bare name's mask. A rule that keeps one region (the
  leftmost, the rightmost, the biggest) scores at most this;
- the bare name's mask cut to the chosen object and a margin of F times the photo's longer
  side around it. A selection that knew where the object is would score about this, so it
  bounds what any selection from the bare name's mask can reach.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np
from numpy.typing import NDArray

from textmask_core.imageio import load_image, load_mask
from textmask_core.manifest import read_manifest
from textmask_core.metrics import score_row
from textmask_core.model import load_model
from textmask_core.predictor import Predictor

# Margin around the chosen object, as a share of the photo's longer side.
DEFAULT_MARGIN = 0.03


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("referring", help="manifest of referring phrases, one object each")
    parser.add_argument("bare", help="the same rows prompted with the bare class name")
    parser.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        metavar="F",
        help="margin around the chosen object as a share of the photo's longer side "
        f"(default: {DEFAULT_MARGIN})",
    )
    options = parser.parse_args(argv)

    referring, bare = read_manifest(options.referring), read_manifest(options.bare)
    if [(row.image, row.mask) for row in referring] != [(row.image, row.mask) for row in bare]:
        raise SystemExit(
            f"{options.referring} and {options.bare} list different images or masks. Both must "
            "list the same rows in the same order, as python -m "
            "textmask_training.recipes.default_model writes them."
        )

    model, _ = load_model(options.model)
    predictor = Predictor(model, "cpu")
    scores = []
    current_image = None
    for phrase_row, bare_row in zip(referring, bare, strict=True):
        # Consecutive rows of one photo reuse its decoded and encoded image.
        if phrase_row.image != current_image:
            predictor.set_image(load_image(phrase_row.image))
            current_image = phrase_row.image
        target = load_mask(phrase_row.mask)
        phrase, name = predictor.predict_many([phrase_row.text, bare_row.text])
        name_mask = name.mask()
        scores.append(
            (
                _iou(phrase.mask(), target),
                _iou(name_mask, target),
                best_region_iou(name_mask, target),
                near_object_iou(name_mask, target, options.margin),
            )
        )

    means = np.mean(scores, axis=0) if scores else np.full(4, np.nan)
    print(f"| mask | mean IoU with the chosen object ({len(scores)} rows) |")
    print("|---|---|")
    labels = (
        "the phrase",
        "the bare name",
        "best region of the bare name's mask",
        "bare name's mask near the chosen object",
    )
    for label, value in zip(labels, means, strict=True):
        print(f"| {label} | {value:.3f} |")
    return 0


def best_region_iou(mask: NDArray[np.bool_], target: NDArray[np.bool_]) -> float:
    """Return the highest IoU with ``target`` of one 8-connected region of ``mask`` (0 if none)."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return max((_iou(labels == label, target) for label in range(1, count)), default=0.0)


def near_object_iou(mask: NDArray[np.bool_], target: NDArray[np.bool_], margin: float) -> float:
    """Return the IoU with ``target`` of ``mask`` cut to ``target`` grown by ``margin``.

    ``margin`` is a share of the longer side; the growth is a square dilation at least 3
    pixels wide.
    """
    size = max(3, round(margin * max(target.shape)))
    near = cv2.dilate(target.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    return _iou(mask & near, target)


def _iou(predicted: NDArray[np.bool_], target: NDArray[np.bool_]) -> float:
    return score_row("", predicted, target).iou


if __name__ == "__main__":
    sys.exit(main())
