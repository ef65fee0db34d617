"""Evaluation of a model on a manifest, beside trivial baselines."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textmask_core.errors import ImageReadError
from textmask_core.imageio import load_image, load_mask
from textmask_core.manifest import ManifestRow
from textmask_core.metrics import RowScore, Summary, baseline_masks, score_row, summarise
from textmask_core.predictor import DEFAULT_THRESHOLD, Predictor

logger = logging.getLogger(__name__)

BASELINES = ("empty", "full", "center_box")


@dataclass(frozen=True)
class EvaluationReport:
    overall: Summary
    baselines: dict[str, Summary]
    per_text: dict[str, Summary]
    per_text_baselines: dict[str, dict[str, Summary]]
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"overall", "baselines", "per_text", "skipped"}`` for ``--json``."""
        return {
            "overall": self.overall.to_dict(),
            "baselines": {name: summary.to_dict() for name, summary in self.baselines.items()},
            "per_text": {text: summary.to_dict() for text, summary in self.per_text.items()},
            "skipped": dict(self.skipped),
        }


def group_by_image(rows: Sequence[ManifestRow]) -> dict[Path, list[ManifestRow]]:
    groups: dict[Path, list[ManifestRow]] = defaultdict(list)
    for row in rows:
        groups[row.image].append(row)
    return dict(groups)


def evaluate_rows(
    predictor: Predictor,
    rows: Sequence[ManifestRow],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationReport:
    """Predict every row, score it, and score the baselines on the same rows.

    Each image is encoded once for all its texts. Rows whose image or mask cannot be read are
    skipped and listed in ``skipped`` (path -> reason).
    """
    groups = group_by_image(rows)
    model_scores: list[RowScore] = []
    baseline_scores: dict[str, list[RowScore]] = {name: [] for name in BASELINES}
    skipped: dict[str, str] = {}
    elapsed = 0.0
    for done, (image_path, image_rows) in enumerate(groups.items(), start=1):
        try:
            truths = [load_mask(row.mask) for row in image_rows]
            started = time.perf_counter()
            image = load_image(image_path)
            predictor.set_image(image)
            predictions = predictor.predict_many([row.text for row in image_rows])
            masks = [prediction.mask(threshold) for prediction in predictions]
            elapsed += time.perf_counter() - started
        except (ImageReadError, OSError, ValueError) as error:
            logger.warning("skipping %s: %s", image_path, error)
            skipped[str(image_path)] = str(error)
            continue
        _score_image(image_rows, masks, truths, model_scores, baseline_scores, skipped)
        if progress is not None:
            progress(done, len(groups))
    images_done = len(groups) - len({path for path in skipped if Path(path) in groups})
    seconds = elapsed / images_done if images_done else None
    return _build_report(model_scores, baseline_scores, seconds, skipped)


def _score_image(rows, masks, truths, model_scores, baseline_scores, skipped) -> None:
    for row, mask, truth in zip(rows, masks, truths, strict=True):
        if truth.shape != mask.shape:
            skipped[str(row.mask)] = (
                f"mask size {truth.shape[1]}x{truth.shape[0]} differs from image size "
                f"{mask.shape[1]}x{mask.shape[0]}"
            )
            continue
        model_scores.append(score_row(row.text, mask, truth))
        for name, baseline in baseline_masks(*truth.shape).items():
            baseline_scores[name].append(score_row(row.text, baseline, truth))


def _build_report(
    model_scores: list[RowScore],
    baseline_scores: dict[str, list[RowScore]],
    seconds_per_image: float | None,
    skipped: dict[str, str],
) -> EvaluationReport:
    texts = sorted({score.text for score in model_scores})
    return EvaluationReport(
        overall=summarise(model_scores, seconds_per_image),
        baselines={name: summarise(scores) for name, scores in baseline_scores.items()},
        per_text={
            text: summarise(score for score in model_scores if score.text == text) for text in texts
        },
        per_text_baselines={
            text: {
                name: summarise(score for score in scores if score.text == text)
                for name, scores in baseline_scores.items()
            }
            for text in texts
        },
        skipped=skipped,
    )


def format_report(report: EvaluationReport, max_texts: int | None = None) -> str:
    """Render the report as plain-text tables: per text, then overall with baselines."""
    header = (
        f"{'':<24}{'rows':>6}{'absent':>8}{'mIoU':>8}{'cIoU':>8}"
        f"{'P@.5':>7}{'P@.7':>7}{'P@.9':>7}{'absent ok':>11}"
    )
    lines = ["Per text (model):", header]
    texts = list(report.per_text.items())
    if max_texts is not None:
        texts = sorted(texts, key=lambda item: -item[1].rows)[:max_texts]
    lines += [_format_line(text, summary) for text, summary in texts]
    lines += ["", "Overall:", header, _format_line("model", report.overall)]
    lines += [
        _format_line(f"baseline: {name}", summary) for name, summary in report.baselines.items()
    ]
    if report.overall.seconds_per_image is not None:
        lines.append(f"\nTime per image: {report.overall.seconds_per_image * 1000:.0f} ms")
    if report.skipped:
        lines.append(f"\nSkipped {len(report.skipped)} file(s):")
        lines += [f"  {path}: {reason}" for path, reason in report.skipped.items()]
    return "\n".join(lines)


def _format_line(name: str, summary: Summary) -> str:
    def cell(value: float | None, width: int) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"

    precision = "".join(cell(summary.precision.get(t), 7) for t in (0.5, 0.7, 0.9))
    return (
        f"{name[:23]:<24}{summary.rows:>6}{summary.absent_rows:>8}"
        f"{cell(summary.mean_iou, 8)}{cell(summary.cumulative_iou, 8)}{precision}"
        f"{cell(summary.absent_accuracy, 11)}"
    )
