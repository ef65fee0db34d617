"""Augmentation that keeps the text true: flips swap left and right, crops keep the object.

There is no hue shift, because prompts name colours ("the red car").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_LEFT_RIGHT = re.compile(r"\b(leftmost|rightmost|left|right)\b", re.IGNORECASE)
_MIRROR_WORDS = {"left": "right", "right": "left", "leftmost": "rightmost", "rightmost": "leftmost"}


@dataclass(frozen=True)
class AugmentationConfig:
    """Switches and strengths of the training-row augmentations (validation rows get none).

    The defaults suit fine-tuning on a CPU: a flip keeps the image features cacheable (both
    sides are cached), while scale/crop and colour jitter need the image encoder on every
    step, several times slower there. Turn them on for long runs on a GPU.
    """

    flip: bool = True  # mirror left-right with probability 0.5, swapping "left" and "right"
    scale_crop: bool = False  # zoom into a random window that contains the whole object
    colour_jitter: bool = False  # brightness, contrast and saturation, no hue
    max_zoom: float = 1.6  # the largest zoom factor of scale_crop; 1.0 turns it off
    jitter_strength: float = 0.2  # each colour factor is drawn from [1 - s, 1 + s]
    # Fixed zoom windows (see ``zoom_windows``) keep features cacheable, unlike scale_crop.
    zoom_windows: bool = False  # show some rows through a fixed window that contains the object
    window_zoom: float = 1.6  # each window spans 1/window_zoom of the photo's height and width
    window_share: float = 0.3  # chance that a row is shown through one of its fitting windows

    @property
    def changes_pixels(self) -> bool:
        """Whether rows need online image encoding (a fixed flip can still use cached features)."""
        return (self.scale_crop and self.max_zoom > 1.0) or (
            self.colour_jitter and self.jitter_strength > 0.0
        )


@dataclass(frozen=True, eq=False)
class AugmentedRow:
    pixels: NDArray[np.uint8]  # (H, W, 3) RGB
    mask: NDArray[np.bool_]  # (H, W)
    text: str
    flipped: bool


def swap_left_right(text: str) -> str:
    """Swap left/right and leftmost/rightmost as whole words, keeping each word's case."""

    def mirror(match: re.Match[str]) -> str:
        word = match.group(0)
        replacement = _MIRROR_WORDS[word.lower()]
        if word.isupper():
            return replacement.upper()
        if word[0].isupper():
            return replacement.capitalize()
        return replacement

    return _LEFT_RIGHT.sub(mirror, text)


def flip_row(
    pixels: NDArray[np.uint8], mask: NDArray[np.bool_], text: str
) -> tuple[NDArray[np.uint8], NDArray[np.bool_], str]:
    """Mirror image and mask left-right and swap the side words of the text."""
    return (
        np.ascontiguousarray(pixels[:, ::-1]),
        np.ascontiguousarray(mask[:, ::-1]),
        swap_left_right(text),
    )


def crop_window(
    mask: NDArray[np.bool_], zoom: float, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """Return (top, left, height, width) of a window 1/zoom of each side that contains the mask.

    The window grows to the mask's bounding box where the box is larger, so a crop never cuts
    the object; an empty mask allows any window.
    """
    height, width = mask.shape
    crop_height = max(1, round(height / zoom))
    crop_width = max(1, round(width / zoom))
    rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if rows.size == 0:
        top = int(rng.integers(height - crop_height + 1))
        left = int(rng.integers(width - crop_width + 1))
        return top, left, crop_height, crop_width
    top, crop_height = _place(rows[0], rows[-1] + 1, crop_height, height, rng)
    left, crop_width = _place(columns[0], columns[-1] + 1, crop_width, width, rng)
    return top, left, crop_height, crop_width


def _place(
    start: int, stop: int, size: int, limit: int, rng: np.random.Generator
) -> tuple[int, int]:
    """Place a window of ``size`` in [0, limit) that covers [start, stop), growing it if needed."""
    size = max(size, stop - start)
    lowest = max(0, stop - size)
    highest = min(start, limit - size)
    return int(rng.integers(lowest, highest + 1)), size


Window = tuple[int, int, int, int]
"""(top, left, height, width) of a window in a photo."""

WINDOW_COUNT = 5  # the windows of ``zoom_windows``: four corners and the centre


def zoom_windows(height: int, width: int, zoom: float) -> list[Window]:
    """Return the fixed windows of a photo: its four corners and its centre, each spanning
    1/zoom of the photo's height and width, so that a window keeps the photo's aspect ratio.

    Being fixed, each window's image features can be cached like the whole photo's, which
    lets CPU training show objects larger than they appear in the photo.
    """
    window_height = max(1, min(height, round(height / zoom)))
    window_width = max(1, min(width, round(width / zoom)))
    bottom, right = height - window_height, width - window_width
    corners = [(0, 0), (0, right), (bottom, 0), (bottom, right)]
    centre = [(bottom // 2, right // 2)]
    return [(top, left, window_height, window_width) for top, left in corners + centre]


def cut_window(array: NDArray, window: Window) -> NDArray:
    """Return the part of an image or mask (rows first) inside ``window``, as a contiguous copy."""
    top, left, height, width = window
    return np.ascontiguousarray(array[top : top + height, left : left + width])


def choose_window(
    mask: NDArray[np.bool_], windows: list[Window], share: float, rng: np.random.Generator
) -> int | None:
    """Return the index of a window that contains the whole mask, drawn with chance ``share``,
    or None (no window). An empty mask fits every window."""
    if rng.random() >= share:
        return None
    rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    fitting = [
        index
        for index, (top, left, height, width) in enumerate(windows)
        if rows.size == 0
        or (
            top <= rows[0]
            and rows[-1] < top + height
            and left <= columns[0]
            and columns[-1] < left + width
        )
    ]
    return fitting[int(rng.integers(len(fitting)))] if fitting else None


def jitter_colours(
    pixels: NDArray[np.uint8], strength: float, rng: np.random.Generator
) -> NDArray[np.uint8]:
    """Scale brightness, contrast and saturation by factors drawn from [1 - s, 1 + s]."""
    brightness, contrast, saturation = rng.uniform(1.0 - strength, 1.0 + strength, size=3)
    values = pixels.astype(np.float32) * brightness
    gray = values @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # (H, W)
    values = gray.mean() + (values - gray.mean()) * contrast
    values = gray[:, :, None] + (values - gray[:, :, None]) * saturation
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


def augment_row(
    pixels: NDArray[np.uint8],
    mask: NDArray[np.bool_],
    text: str,
    config: AugmentationConfig,
    rng: np.random.Generator,
) -> AugmentedRow:
    """Apply flip, zoom-crop and colour jitter as ``config`` enables them.

    The random draws happen in a fixed order whether or not each step is enabled, so a row's
    flip decision does not depend on the other switches.
    """
    flip, zoom, jitter_seed = (
        rng.random() < 0.5,
        rng.uniform(1.0, config.max_zoom),
        rng.integers(2**31),
    )
    flipped = config.flip and flip
    if flipped:
        pixels, mask, text = flip_row(pixels, mask, text)
    if config.scale_crop and config.max_zoom > 1.0:
        top, left, height, width = crop_window(mask, zoom, rng)
        pixels = pixels[top : top + height, left : left + width]
        mask = mask[top : top + height, left : left + width]
    if config.colour_jitter and config.jitter_strength > 0.0:
        pixels = jitter_colours(pixels, config.jitter_strength, np.random.default_rng(jitter_seed))
    return AugmentedRow(np.ascontiguousarray(pixels), np.ascontiguousarray(mask), text, flipped)


def flip_decision(rng: np.random.Generator) -> bool:
    """Return the flip draw of ``augment_row``, for rows whose features come from the cache."""
    return bool(rng.random() < 0.5)
