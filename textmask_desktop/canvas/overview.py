"""Reduced copies of a mask for drawing it zoomed out.

Drawing a full-resolution 48-megapixel overlay into a fitted 1280×800 view took about 35 ms
per object on a 2-core AMD EPYC, because every screen pixel samples the large image. A copy
reduced by a power of two costs a fraction of that and, with each value the fraction of
covered pixels, draws smooth edges. A copy is built the first time a zoom level needs it and
then updated only in the rectangles that edits changed.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray
from PySide6.QtGui import QColor, QImage

from textmask_desktop.canvas.geometry import PixelRect

MAX_REDUCTION = 32


def reduction_for_zoom(scale: float) -> int:
    """Return the largest power-of-two reduction that still has a pixel per screen pixel."""
    if scale >= 0.5:
        return 1
    return min(MAX_REDUCTION, 2 ** math.floor(math.log2(1 / scale)))


class ReducedMask:
    """A mask reduced by `factor` in both directions: 0 = empty, 255 = fully covered."""

    def __init__(self, mask: NDArray[np.bool_], factor: int, colour: QColor) -> None:
        self.factor = factor
        height, width = mask.shape
        self._values = np.zeros((-(-height // factor), -(-width // factor)), dtype=np.uint8)
        reduced_height, reduced_width = self._values.shape
        self.image = QImage(
            self._values.data,
            reduced_width,
            reduced_height,
            reduced_width,
            QImage.Format.Format_Indexed8,
        )
        self.set_colour(colour)
        self._stale: PixelRect | None = PixelRect(0, 0, width, height)

    def set_colour(self, colour: QColor) -> None:
        """Set the colour at full coverage; partly covered pixels get a share of its alpha."""
        alpha = colour.alpha()
        table = [
            QColor(colour.red(), colour.green(), colour.blue(), alpha * level // 255).rgba()
            for level in range(256)
        ]
        self.image.setColorTable(table)

    def invalidate(self, rect: PixelRect) -> None:
        self._stale = rect.united(self._stale)

    def update(self, mask: NDArray[np.bool_]) -> None:
        """Recompute the stale part from `mask` (the full-resolution array)."""
        if self._stale is None:
            return
        factor = self.factor
        height, width = mask.shape
        # Widen to whole reduced pixels so that each one is computed from all of its sources.
        left = self._stale.x // factor * factor
        top = self._stale.y // factor * factor
        right = min(width, -(-self._stale.right // factor) * factor)
        bottom = min(height, -(-self._stale.bottom // factor) * factor)
        self._stale = None
        if right <= left or bottom <= top:
            return
        size = (-(-(right - left) // factor), -(-(bottom - top) // factor))
        # At the image's right and bottom edges a block may be partial: pad it with empty pixels.
        source = np.zeros((size[1] * factor, size[0] * factor), dtype=np.uint8)
        source[: bottom - top, : right - left] = mask[top:bottom, left:right].view(np.uint8)
        source *= np.uint8(255)
        reduced = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        row, col = top // factor, left // factor
        self._values[row : row + size[1], col : col + size[0]] = reduced
