"""Training rows as tensors: letterboxed image (or cached features), soft target, valid area."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from textmask_core.imageio import load_image, read_image_size
from textmask_core.preprocess import Letterbox, canvas_size, letterbox_geometry, prepare_image
from textmask_training.data.absent import AbsentRows
from textmask_training.data.augment import (
    AugmentationConfig,
    Window,
    augment_row,
    choose_window,
    cut_window,
    flip_decision,
    swap_left_right,
    zoom_windows,
)
from textmask_training.data.sample import Sample
from textmask_training.feature_cache import ImageFeatureCache

RowKey = tuple[int, int]
"""(epoch, row index): the row and the seed of its random augmentation."""


@dataclass(frozen=True)
class Letterboxing:
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    aspect_buckets: bool = False

    def geometry(self, height: int, width: int, canvas: tuple[int, int] | None = None) -> Letterbox:
        """Fit an image of this size into ``canvas``, by default the canvas of its own size."""
        chosen = canvas if canvas is not None else self.aspect_buckets
        return letterbox_geometry(height, width, self.input_size, chosen)

    def canvas(self, height: int, width: int) -> tuple[int, int]:
        return canvas_size(height, width, self.input_size, self.aspect_buckets)


def letterbox_target(
    mask: NDArray[np.bool_], geometry: Letterbox
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the (1, h, w) soft target and the (1, h, w) valid area of the canvas for a mask.

    The mask is resized like the image (area filter when shrinking), so edge pixels get
    fractional targets. Padding is outside the valid area and takes no part in the loss.
    """
    (canvas_height, canvas_width), (height, width) = geometry.canvas_size, geometry.resized_size
    shrinking = height < mask.shape[0] or width < mask.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(mask.astype(np.float32), (width, height), interpolation=interpolation)
    # NumPy first: filling small torch tensors in place costs several times more per row.
    target = np.zeros((1, canvas_height, canvas_width), dtype=np.float32)
    target[0, :height, :width] = np.clip(resized, 0.0, 1.0)
    valid = np.zeros((1, canvas_height, canvas_width), dtype=np.float32)
    valid[0, :height, :width] = 1.0
    return torch.from_numpy(target), torch.from_numpy(valid)


class TrainingRows(Dataset):
    """Rows of the training set, indexed by ``(epoch, index)`` so augmentation is reproducible.

    Indices below ``len(samples)`` are the data's rows; the rest are absent rows drawn by
    ``absent``. With ``feature_cache``, rows carry cached image features instead of pixels; then
    only a flip or a fixed zoom window is applied (their features are cached separately, and
    a row shown through a window is never flipped).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        letterboxing: Letterboxing,
        *,
        augmentation: AugmentationConfig | None,
        absent: AbsentRows | None,
        seed: int,
        feature_cache: ImageFeatureCache | None = None,
    ) -> None:
        self.samples = list(samples)
        self.letterboxing = letterboxing
        self.augmentation = augmentation
        self.absent = absent
        self.seed = seed
        self.feature_cache = feature_cache
        self._canvases: dict[Path, tuple[int, int]] = {}

    def canvas_keys(self, epoch: int) -> list[tuple[int, int]]:
        """Return each row's canvas (height, width) in ``epoch``. Absent rows differ by epoch."""
        return [self._canvas(self.sample_at(epoch, index).image_path) for index in range(len(self))]

    def _canvas(self, path: Path) -> tuple[int, int]:
        if path not in self._canvases:
            width, height = read_image_size(path)
            self._canvases[path] = self.letterboxing.canvas(height, width)
        return self._canvases[path]

    def __len__(self) -> int:
        return len(self.samples) + (len(self.absent) if self.absent is not None else 0)

    def sample_at(self, epoch: int, index: int) -> Sample:
        if index < len(self.samples):
            return self.samples[index]
        assert self.absent is not None, f"row {index} is past the {len(self.samples)} rows"
        return self.absent.draw(epoch, index - len(self.samples))

    def __getitem__(self, key: RowKey) -> dict[str, Any]:
        epoch, index = key
        sample = self.sample_at(epoch, index)
        rng = np.random.default_rng([self.seed, epoch, index])
        if self.feature_cache is not None:
            return self._cached_row(sample, rng, key)
        return self._encoded_row(sample, rng, key)

    def _window(self, mask: NDArray[np.bool_], key: RowKey) -> tuple[int, Window] | None:
        """Return (index, window) of the fixed zoom window this row is shown through, or None
        for the whole photo.

        The draw has a random stream of its own, so that turning windows on leaves every other
        augmentation draw of the row as it was.
        """
        config = self.augmentation
        if config is None or not config.zoom_windows:
            return None
        windows = zoom_windows(*mask.shape, config.window_zoom)
        rng = np.random.default_rng([self.seed, *key, 1])
        index = choose_window(mask, windows, config.window_share, rng)
        return None if index is None else (index, windows[index])

    def _cached_row(self, sample: Sample, rng: np.random.Generator, key: RowKey) -> dict[str, Any]:
        width, height = read_image_size(sample.image_path)
        mask, text = sample.load_mask((height, width)), sample.text
        flipped = self.augmentation is not None and self.augmentation.flip and flip_decision(rng)
        window = self._window(mask, key)
        assert self.feature_cache is not None
        canvas = self.letterboxing.canvas(height, width)
        if window is not None:
            index, bounds = window
            mask = cut_window(mask, bounds)
            features = self.feature_cache.load(sample.image_path, False, index)
            geometry = self.letterboxing.geometry(*mask.shape, canvas)
            return _row(text, mask, geometry, features=features)
        if flipped:
            mask, text = np.ascontiguousarray(mask[:, ::-1]), swap_left_right(text)
        features = self.feature_cache.load(sample.image_path, flipped)
        geometry = self.letterboxing.geometry(height, width, canvas)
        return _row(text, mask, geometry, features=features)

    def _encoded_row(self, sample: Sample, rng: np.random.Generator, key: RowKey) -> dict[str, Any]:
        pixels = load_image(sample.image_path).pixels
        mask, text = sample.load_mask(pixels.shape[:2]), sample.text
        # A crop keeps the photo's canvas, so that its rows still batch with the photo's bucket.
        canvas = self.letterboxing.canvas(*pixels.shape[:2])
        window = self._window(mask, key)
        if window is not None:  # online, the other augmentations still apply inside the window
            pixels, mask = cut_window(pixels, window[1]), cut_window(mask, window[1])
        if self.augmentation is not None:
            row = augment_row(pixels, mask, text, self.augmentation, rng)
            pixels, mask, text = row.pixels, row.mask, row.text
        boxing = self.letterboxing
        image, geometry = prepare_image(pixels, boxing.input_size, boxing.mean, boxing.std, canvas)
        return _row(text, mask, geometry, image=image)


def _row(text: str, mask: NDArray[np.bool_], geometry: Letterbox, **inputs: Any) -> dict[str, Any]:
    target, valid = letterbox_target(mask, geometry)
    return {"text": text, "target": target, "valid": valid, "present": float(mask.any()), **inputs}


def collate_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack rows into a batch: ``image`` (B, 3, S, S) or ``features`` (four (B, C, h, w))."""
    batch: dict[str, Any] = {
        "text": [row["text"] for row in rows],
        "target": torch.stack([row["target"] for row in rows]),
        "valid": torch.stack([row["valid"] for row in rows]),
        "present": torch.tensor([row["present"] for row in rows], dtype=torch.float32),
    }
    if "features" in rows[0]:
        batch["features"] = [
            torch.stack(level) for level in zip(*(row["features"] for row in rows), strict=True)
        ]
    else:
        batch["image"] = torch.stack([row["image"] for row in rows])
    return batch
