"""Polygon and lasso: add a polygon to the active mask, or cut it out.

Click to place vertices, then double-click or press Enter to close the polygon; Esc cancels
and Backspace removes the last vertex. Pressing and dragging instead draws a lasso that
closes when the button is released.
"""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from textmask_desktop.canvas.geometry import rasterise_polygon
from textmask_desktop.canvas.layers import TOOL_Z
from textmask_desktop.canvas.tools import CanvasTool, ToolHost

logger = logging.getLogger(__name__)

LASSO_START_DISTANCE = 4.0  # screen pixels the mouse must move, button down, to start a lasso
LASSO_POINT_SPACING = 2.0  # screen pixels between recorded lasso points


class PolygonTool(CanvasTool):
    """Collects vertices, shows the outline, and applies the polygon as one undo step."""

    def __init__(self, host: ToolHost, *, subtract: bool) -> None:
        super().__init__(host)
        self.name = "polygon_subtract" if subtract else "polygon_add"
        self._subtract = subtract
        self._points: list[tuple[float, float]] = []
        self._press_point: tuple[float, float] | None = None
        self._lasso = False
        self._cursor: tuple[float, float] | None = None
        self._outline: QGraphicsPathItem | None = None

    @property
    def points(self) -> list[tuple[float, float]]:
        return list(self._points)

    def press(self, x: float, y: float) -> None:
        if not self._points and self.editable_key() is None:
            return
        self._press_point = (x, y)
        self._lasso = False
        self._points.append((x, y))
        self._update_outline()

    def move(self, x: float, y: float) -> None:
        self._cursor = (x, y)
        if self._press_point is None:
            return
        # Only a drag that starts a new polygon becomes a lasso.
        if not self._lasso and len(self._points) == 1:
            self._lasso = self._screen_distance(self._press_point, (x, y)) >= LASSO_START_DISTANCE
        if self._lasso and self._screen_distance(self._points[-1], (x, y)) >= LASSO_POINT_SPACING:
            self._points.append((x, y))
        self._update_outline()

    def hover(self, x: float, y: float) -> None:
        self._cursor = (x, y)
        if self._points:
            self._update_outline()

    def release(self, x: float, y: float) -> None:
        if self._press_point is None:
            return
        self._press_point = None
        if self._lasso:
            self._points.append((x, y))
            self.close_polygon()

    def double_click(self, x: float, y: float) -> None:
        self.close_polygon()

    def key_press(self, key: Qt.Key) -> bool:
        if not self._points:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close_polygon()
        elif key == Qt.Key.Key_Escape:
            self.cancel()
            self._host.show_status("Polygon cancelled.")
        elif key == Qt.Key.Key_Backspace:
            self._points.pop()
            self._update_outline()
        else:
            return False
        return True

    def cancel(self) -> None:
        self._points = []
        self._press_point = None
        self._lasso = False
        self._update_outline()

    def close_polygon(self) -> None:
        """Apply the polygon to the active object's mask and start a new polygon."""
        points = self._distinct_points()
        self.cancel()
        if len(points) < 3:
            self._host.show_status("A polygon needs at least 3 points.")
            return
        key = self.editable_key()
        document = self._host.document
        if key is None or document is None:
            return
        patch = rasterise_polygon(points, document.width, document.height)
        changed = False
        if patch is not None:
            region = document.object(key).mask[patch.rect.slices]
            new_values = region & ~patch.values if self._subtract else region | patch.values
            text = "Cut polygon" if self._subtract else "Add polygon"
            changed = document.apply_mask_edit(key, patch.rect, new_values, text)
        if not changed:
            self._host.show_status("The polygon changed no pixels.")

    def _distinct_points(self) -> list[tuple[float, float]]:
        # A double click repeats its point: the press before it already placed a vertex.
        points: list[tuple[float, float]] = []
        for point in self._points:
            if not points or self._screen_distance(points[-1], point) >= 1.0:
                points.append(point)
        return points

    def _screen_distance(self, first: tuple[float, float], second: tuple[float, float]) -> float:
        return math.dist(first, second) * self._host.zoom

    def _update_outline(self) -> None:
        if not self._points:
            if self._outline is not None:
                self._outline.scene().removeItem(self._outline)
                self._outline = None
            return
        if self._outline is None:
            self._outline = self._create_outline_item()
            self._host.scene().addItem(self._outline)
        path = QPainterPath(QPointF(*self._points[0]))
        for point in self._points[1:]:
            path.lineTo(QPointF(*point))
        if self._cursor is not None and not self._lasso:
            path.lineTo(QPointF(*self._cursor))
        self._outline.setPath(path)

    def _create_outline_item(self) -> QGraphicsPathItem:
        item = QGraphicsPathItem()
        colour = QColor("#ff4040") if self._subtract else QColor("#40ff40")
        pen = QPen(colour, 1.5, Qt.PenStyle.SolidLine)
        pen.setCosmetic(True)
        item.setPen(pen)
        item.setZValue(TOOL_Z)
        return item
