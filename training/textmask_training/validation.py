"""Validation during training: the same masks ``Predictor`` would give, scored by core metrics.

Each image is encoded once (or read from the feature cache) for all its texts. Probabilities
are mapped back to the original image size with the letterbox rule, thresholded, and zeroed
when the presence probability is below the presence threshold, as ``Predictor.mask`` does.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from textmask_core.devices import autocast_context
from textmask_core.imageio import load_image, read_image_size
from textmask_core.metrics import RowScore, Summary, score_row, summarise
from textmask_core.model import TextMaskModel
from textmask_core.predictor import DEFAULT_PRESENCE_THRESHOLD, DEFAULT_THRESHOLD
from textmask_core.preprocess import letterbox_geometry, prepare_image, restore_map
from textmask_training.data.sample import Sample
from textmask_training.distributed import DistributedContext, gather_lists
from textmask_training.feature_cache import ImageFeatureCache, TextFeatureCache

logger = logging.getLogger(__name__)


def evaluate_samples(
    model: TextMaskModel,
    samples: Sequence[Sample],
    device: torch.device,
    *,
    feature_cache: ImageFeatureCache | None = None,
    text_cache: TextFeatureCache | None = None,
    context: DistributedContext | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    presence_threshold: float = DEFAULT_PRESENCE_THRESHOLD,
) -> Summary:
    """Score ``model`` on ``samples``; under torch.distributed each rank scores a share of the
    images and every rank returns the summary of all of them. Leaves the model in eval mode."""
    groups: dict[Path, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.image_path].append(sample)
    images = list(groups)
    if context is not None and context.is_distributed:
        images = images[context.rank :: context.world_size]
    model.eval()
    scores: list[RowScore] = []
    # no_grad, not inference_mode: cached prompt features made here are reused in training.
    with torch.no_grad(), autocast_context(device):
        for path in images:
            scores += _score_image(
                model,
                path,
                groups[path],
                device,
                feature_cache,
                text_cache,
                threshold,
                presence_threshold,
            )
    if context is not None:
        scores = gather_lists(scores, context)
    return summarise(scores)


def _score_image(
    model: TextMaskModel,
    path: Path,
    rows: list[Sample],
    device: torch.device,
    feature_cache: ImageFeatureCache | None,
    text_cache: TextFeatureCache | None,
    threshold: float,
    presence_threshold: float,
) -> list[RowScore]:
    input_size = model.config.input_size
    if feature_cache is not None:
        width, height = read_image_size(path)
        cached = [
            level.unsqueeze(0).to(device).float() for level in feature_cache.load(path, False)
        ]
        features = feature_cache.complete(model, cached)
    else:
        pixels = load_image(path).pixels
        height, width = pixels.shape[:2]
        mean, std = model.normalization
        image = prepare_image(pixels, input_size, mean, std, model.config.aspect_buckets)[0]
        features = model.encode_image(image.unsqueeze(0).to(device))
    geometry = letterbox_geometry(height, width, input_size, model.config.aspect_buckets)
    texts = [row.text for row in rows]
    text = text_cache.encode(model, texts) if text_cache is not None else model.encode_text(texts)
    output = model.decode(features, text)
    probabilities = torch.sigmoid(output.mask_logits.float())[:, 0].cpu().numpy()
    presences = torch.sigmoid(output.presence_logits.float()).cpu().numpy()
    scores = []
    for index, row in enumerate(rows):
        if presences[index] >= presence_threshold:
            predicted = restore_map(probabilities[index], geometry) >= threshold
        else:
            predicted = np.zeros((height, width), dtype=bool)
        scores.append(score_row(row.text, predicted, row.load_mask((height, width))))
    return scores
