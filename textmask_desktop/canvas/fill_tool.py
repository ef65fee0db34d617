"""Flood fill: flip the connected region under the click in the active object's mask."""

from __future__ import annotations

import logging

from textmask_core import masks
from textmask_desktop.canvas.geometry import pixel_at
from textmask_desktop.canvas.tools import CanvasTool

logger = logging.getLogger(__name__)


class FloodFillTool(CanvasTool):
    """Fills or erases the connected region under a click, as one undo step.

    A click outside the mask fills the background region around it. That region is
    4-connected, so the fill does not leak through diagonal gaps in the outline. A click
    inside the mask erases the 8-connected part under it.
    """

    name = "flood_fill"

    def press(self, x: float, y: float) -> None:
        key = self.editable_key()
        document = self._host.document
        if key is None or document is None:
            return
        pixel = pixel_at(x, y, document.width, document.height)
        if pixel is None:
            self._host.show_status("Click inside the image to fill.")
            return
        col, row = pixel
        mask = document.object(key).mask
        filled = masks.flood_fill(mask, col, row, not bool(mask[row, col]))
        text = "Erase region" if mask[row, col] else "Fill region"
        document.replace_mask(key, filled, text)
