"""Measure the presence threshold: IoU on present rows against empty masks on absent rows.

Usage: python -m textmask_training.recipes.presence_sweep MODEL MANIFEST [--limit N]

Predicts every row once and applies each presence threshold afterwards, so the table costs one
pass over the manifest. A threshold of 0 turns the presence score off. The line under the table
gives the presence score's ranking AUC: the chance that a present row scores above an absent one.
The last table splits the absent rows in two: those whose text is related to a text that is
present in the same photo ("heels" on a photo labelled "shoes", by the rule that keeps such
pairs out of the training's absent rows), and the others.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from textmask_core.imageio import load_image, load_mask
from textmask_core.manifest import read_manifest
from textmask_core.metrics import score_row, summarise
from textmask_core.model import load_model
from textmask_core.predictor import Prediction, Predictor
from textmask_training.data.absent import is_related
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
    related: list[bool] = []
    for image_path, rows in groups:
        predictor.set_image(load_image(image_path))
        predictions = predictor.predict_many([row.text for row in rows])
        truths = [load_mask(row.mask) for row in rows]
        answers += [(p, t, r.text) for p, t, r in zip(predictions, truths, rows, strict=True)]
        related += related_to_present([r.text for r in rows], [t.any() for t in truths])
    print("| presence threshold | mean IoU (present rows) | absent rows answered empty |")
    print("|---|---|---|")
    for threshold in THRESHOLDS:
        scores = []
        for prediction, truth, text in answers:
            gated = Prediction(text, prediction.pixel_probabilities, prediction.presence, threshold)
            scores.append(score_row(text, gated.mask(), truth))
        summary = summarise(scores)
        print(f"| {threshold:.1f} | {summary.mean_iou:.3f} | {summary.absent_accuracy:.3f} |")
    present = [prediction.presence for prediction, truth, _ in answers if truth.any()]
    absent = [prediction.presence for prediction, truth, _ in answers if not truth.any()]
    if present and absent:
        print(f"\nPresence AUC, present against absent rows: {ranking_auc(present, absent):.3f}")
    print_absent_split(answers, related)
    return 0


def related_to_present(texts: Sequence[str], present: Sequence[bool]) -> list[bool]:
    """For the rows of one photo, mark the absent rows whose text is related to a present one."""
    present_texts = [text for text, is_present in zip(texts, present, strict=True) if is_present]
    pairs = zip(texts, present, strict=True)
    return [not is_present and is_related(text, present_texts) for text, is_present in pairs]


def print_absent_split(
    answers: Sequence[tuple[Prediction, np.ndarray, str]], related: Sequence[bool]
) -> None:
    """Print the share of absent rows with an empty mask, for related and unrelated texts."""
    print("\n| absent rows | rows | answered empty at threshold 0.5 |")
    print("|---|---|---|")
    for label, expected in (("text related to a present one", True), ("other texts", False)):
        scores = [
            score_row(text, prediction.mask(), truth)
            for (prediction, truth, text), is_related_row in zip(answers, related, strict=True)
            if not truth.any() and is_related_row == expected
        ]
        if scores:
            share = summarise(scores).absent_accuracy
            print(f"| {label} | {len(scores)} | {share:.3f} |")


def ranking_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Return the chance that a random positive scores above a random negative (ties count half).

    This is the area under the ROC curve, computed from the Mann-Whitney U statistic.
    """
    if not positive or not negative:
        raise ValueError("ranking_auc needs at least one positive and one negative score")
    scores = np.concatenate([np.asarray(positive, float), np.asarray(negative, float)])
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # tied scores share their mean rank
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    positive_rank_sum = ranks[: len(positive)].sum()
    u_statistic = positive_rank_sum - len(positive) * (len(positive) + 1) / 2
    return float(u_statistic / (len(positive) * len(negative)))


if __name__ == "__main__":
    sys.exit(main())
