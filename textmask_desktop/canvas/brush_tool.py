"""Brush and eraser: paint or erase a round footprint along the mouse path."""

from __future__ import annotations

import logging

from textmask_desktop.canvas.geometry import brush_segment, snap_brush_centre
from textmask_desktop.canvas.tools import CanvasTool, ToolHost

logger = logging.getLogger(__name__)


class BrushTool(CanvasTool):
    """Paints (or erases) thick lines between successive mouse positions; one undo step per stroke.

    Each segment touches only its own bounding rectangle of the mask, so a segment costs the
    same on a small and on a 48-megapixel image.
    """

    shows_brush_cursor = True

    def __init__(self, host: ToolHost, *, erase: bool) -> None:
        super().__init__(host)
        self.name = "eraser" if erase else "brush"
        self._erase = erase
        self._last_centre: tuple[float, float] | None = None

    def press(self, x: float, y: float) -> None:
        self.cancel()
        key = self.editable_key()
        document = self._host.document
        if key is None or document is None:
            return
        document.begin_stroke(key, not self._erase, "Erase" if self._erase else "Paint")
        centre = snap_brush_centre(x, y, self._host.brush_size)
        self._last_centre = centre
        self._paint(centre, centre)

    def move(self, x: float, y: float) -> None:
        if self._last_centre is None:
            return
        centre = snap_brush_centre(x, y, self._host.brush_size)
        if centre == self._last_centre:
            return
        self._paint(self._last_centre, centre)
        self._last_centre = centre

    def double_click(self, x: float, y: float) -> None:
        # Qt replaces the second press of a double click with this event: paint as usual.
        self.press(x, y)

    def release(self, x: float, y: float) -> None:
        if self._last_centre is None:
            return
        self.move(x, y)
        self.cancel()

    def cancel(self) -> None:
        """End the stroke; what it painted stays as one undo step."""
        document = self._host.document
        if self._last_centre is not None and document is not None:
            document.end_stroke()
        self._last_centre = None

    def _paint(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        document = self._host.document
        if document is None:
            return
        patch = brush_segment(start, end, self._host.brush_size, document.width, document.height)
        if patch is not None:
            document.paint_stroke(patch)
