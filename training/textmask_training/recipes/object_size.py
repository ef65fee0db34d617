"""Compare models by the size of the object: mean IoU per bucket of the true mask's area.

Usage: python -m textmask_training.recipes.object_size MANIFEST MODEL [MODEL ...]

Each model predicts every row of MANIFEST once, at the predictor's default pixel and presence
thresholds, as ``textmask eval`` does. Rows whose object is present go into a bucket by the
share of the photo's pixels that their true mask covers, and the table gives each model's mean
IoU per bucket. Absent rows are left out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from textmask_core.imageio import load_image, load_mask
from textmask_core.manifest import ManifestRow, read_manifest
from textmask_core.metrics import score_row
from textmask_core.model import load_model
from textmask_core.predictor import Predictor
from textmask_training.evaluate import group_by_image

# Upper edges of the buckets, as shares of the photo. The last bucket takes the rest.
BUCKET_EDGES = (0.01, 0.05, 0.2, 0.4)


def bucket_index(share: float, edges: Sequence[float] = BUCKET_EDGES) -> int:
    """Return the bucket of an object that covers ``share`` of the photo."""
    for index, edge in enumerate(edges):
        if share < edge:
            return index
    return len(edges)


def bucket_labels(edges: Sequence[float] = BUCKET_EDGES) -> list[str]:
    labels = [f"under {_percent(edges[0])}"]
    for low, high in zip(edges, edges[1:], strict=False):
        labels.append(f"{_percent(low)} to {_percent(high)}")
    labels.append(f"{_percent(edges[-1])} or more")
    return labels


def _percent(share: float) -> str:
    return f"{share * 100:g} %"


def score_by_bucket(model_name: str, rows: list[ManifestRow]) -> list[list[float]]:
    """Return one model's IoU of every present row, grouped by bucket."""
    model, _ = load_model(model_name)
    predictor = Predictor(model, "cpu")
    buckets: list[list[float]] = [[] for _ in range(len(BUCKET_EDGES) + 1)]
    for image_path, image_rows in group_by_image(rows).items():
        predictor.set_image(load_image(image_path))
        predictions = predictor.predict_many([row.text for row in image_rows])
        for row, prediction in zip(image_rows, predictions, strict=True):
            truth = load_mask(row.mask)
            if not truth.any():
                continue
            iou = score_row(row.text, prediction.mask(), truth).iou
            buckets[bucket_index(float(truth.mean()))].append(iou)
    return buckets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("models", nargs="+", help="model names or checkpoint folders")
    options = parser.parse_args(argv)
    rows = read_manifest(options.manifest)
    scores = [score_by_bucket(name, rows) for name in options.models]
    print("| object covers | rows | " + " | ".join(options.models) + " |")
    print("|---|---|" + "---|" * len(options.models))
    for index, label in enumerate(bucket_labels()):
        means = [
            f"{np.mean(model_scores[index]):.3f}" if model_scores[index] else "-"
            for model_scores in scores
        ]
        # Every model scores the same rows, so the first one's count stands for all.
        print(f"| {label} | {len(scores[0][index])} | " + " | ".join(means) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
