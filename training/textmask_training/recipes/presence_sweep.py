"""Measure the presence threshold: IoU on present rows against empty masks on absent rows.

Usage: python -m textmask_training.recipes.presence_sweep MODEL MANIFEST [--limit N]

Predicts every row once and applies each presence threshold afterwards, so the table costs one
pass over the manifest. A threshold of 0 turns the presence score off.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from textmask_core.imageio import load_image, load_mask
from textmask_core.manifest import read_manifest
from textmask_core.metrics import score_row, summarise
from textmask_core.model import load_model
from textmask_core.predictor import Prediction, Predictor
from textmask_training.evaluate import group_by_image

THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("manifest")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    options = parser.parse_args(argv)
    model, _ = load_model(options.model)
    predictor = Predictor(model, "cpu")
    groups = list(group_by_image(read_manifest(options.manifest)).items())[: options.limit]
    answers: list[tuple[Prediction, np.ndarray, str]] = []
    for image_path, rows in groups:
        predictor.set_image(load_image(image_path))
        predictions = predictor.predict_many([row.text for row in rows])
        answers += [(p, load_mask(r.mask), r.text) for p, r in zip(predictions, rows, strict=True)]
    print("| presence threshold | mean IoU (present rows) | absent rows answered empty |")
    print("|---|---|---|")
    for threshold in THRESHOLDS:
        scores = []
        for prediction, truth, text in answers:
            gated = Prediction(text, prediction.pixel_probabilities, prediction.presence, threshold)
            scores.append(score_row(text, gated.mask(), truth))
        summary = summarise(scores)
        print(f"| {threshold:.1f} | {summary.mean_iou:.3f} | {summary.absent_accuracy:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
