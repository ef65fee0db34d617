"""Segmentation scores: per-prompt IoU, cumulative IoU, precision at IoU thresholds.

A row is one (image, text, ground-truth mask). A row whose ground truth is empty is "absent":
the named thing is not in the photo. Absent rows do not enter the IoU numbers; they are scored
by whether the prediction covers under ``ABSENT_AREA_LIMIT`` of the image.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

PRECISION_THRESHOLDS = (0.5, 0.7, 0.9)
# An answer to an absent row counts as "nothing here" below this share of the image.
ABSENT_AREA_LIMIT = 0.01


@dataclass(frozen=True)
class RowScore:
    """Counts for one prediction against one ground-truth mask."""

    text: str
    intersection: int
    union: int
    predicted_pixels: int
    truth_pixels: int
    image_pixels: int

    @property
    def present(self) -> bool:
        return self.truth_pixels > 0

    @property
    def iou(self) -> float:
        """Foreground IoU; NaN for absent rows, which have no foreground to match."""
        return self.intersection / self.union if self.present else math.nan

    @property
    def answered_empty(self) -> bool:
        return self.predicted_pixels < ABSENT_AREA_LIMIT * self.image_pixels


def score_row(text: str, predicted: NDArray[np.bool_], truth: NDArray[np.bool_]) -> RowScore:
    if predicted.shape != truth.shape:
        raise ValueError(
            f"prediction shape {predicted.shape} differs from ground-truth shape {truth.shape}"
        )
    predicted = predicted.astype(bool, copy=False)
    truth = truth.astype(bool, copy=False)
    return RowScore(
        text=text,
        intersection=int(np.count_nonzero(predicted & truth)),
        union=int(np.count_nonzero(predicted | truth)),
        predicted_pixels=int(np.count_nonzero(predicted)),
        truth_pixels=int(np.count_nonzero(truth)),
        image_pixels=int(truth.size),
    )


@dataclass(frozen=True)
class Summary:
    """Scores over many rows; ``None`` where no row supports a number."""

    rows: int
    absent_rows: int
    mean_iou: float | None
    cumulative_iou: float | None
    precision: dict[float, float | None]
    absent_accuracy: float | None
    seconds_per_image: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: IoU as fractions in 0..1, null where a key has no rows."""
        result: dict[str, Any] = {
            "mean_iou": self.mean_iou,
            "cumulative_iou": self.cumulative_iou,
        }
        for threshold in PRECISION_THRESHOLDS:
            result[f"precision_at_{threshold}"] = self.precision.get(threshold)
        result.update(
            absent_accuracy=self.absent_accuracy,
            rows=self.rows,
            absent_rows=self.absent_rows,
            seconds_per_image=self.seconds_per_image,
        )
        return result


def summarise(scores: Iterable[RowScore], seconds_per_image: float | None = None) -> Summary:
    scores = list(scores)
    present = [score for score in scores if score.present]
    absent = [score for score in scores if not score.present]
    ious = [score.iou for score in present]
    union = sum(score.union for score in present)
    return Summary(
        rows=len(scores),
        absent_rows=len(absent),
        mean_iou=float(np.mean(ious)) if ious else None,
        cumulative_iou=sum(score.intersection for score in present) / union if union else None,
        precision={
            threshold: (sum(iou >= threshold for iou in ious) / len(ious) if ious else None)
            for threshold in PRECISION_THRESHOLDS
        },
        absent_accuracy=(
            sum(score.answered_empty for score in absent) / len(absent) if absent else None
        ),
        seconds_per_image=seconds_per_image,
    )


def baseline_masks(height: int, width: int) -> dict[str, NDArray[np.bool_]]:
    """Trivial answers that ignore the image and the prompt.

    empty: no pixel; full: every pixel; center_box: the middle half of each side (a quarter of
    the image area).
    """
    center = np.zeros((height, width), dtype=bool)
    center[height // 4 : height - height // 4, width // 4 : width - width // 4] = True
    return {
        "empty": np.zeros((height, width), dtype=bool),
        "full": np.ones((height, width), dtype=bool),
        "center_box": center,
    }
