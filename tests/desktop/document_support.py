"""Builders for image documents in the canvas, tool and document tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from textmask_core.imageio import LoadedImage
from textmask_desktop.document import ImageDocument


def make_image(width: int, height: int) -> LoadedImage:
    """A LoadedImage with a smooth colour gradient, so overlays are easy to see in screenshots."""
    columns = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = columns
    pixels[..., 1] = rows
    pixels[..., 2] = 255 - (columns + rows) / 2
    return LoadedImage(path=Path("gradient.png"), pixels=pixels, source_mode="RGB")


def make_document(width: int = 64, height: int = 48) -> ImageDocument:
    return ImageDocument(make_image(width, height))


def rect_mask(
    width: int, height: int, left: int, top: int, right: int, bottom: int
) -> NDArray[np.bool_]:
    """A mask that is True on columns [left, right) and rows [top, bottom)."""
    mask = np.zeros((height, width), dtype=np.bool_)
    mask[top:bottom, left:right] = True
    return mask
