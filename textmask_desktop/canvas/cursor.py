"""The round outline that shows where and how large the brush or eraser paints."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from textmask_desktop.canvas.geometry import snap_brush_centre
from textmask_desktop.canvas.layers import TOOL_Z


class BrushCursorItem(QGraphicsItem):
    """A circle of the brush diameter, 1 screen pixel wide at any zoom.

    It is drawn twice, solid dark and dashed light, so it stays visible on any image.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(TOOL_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._diameter = 1.0
        self.setVisible(False)

    def place(self, x: float, y: float, size: int) -> None:
        """Centre the outline where a brush of `size` pixels at image point (x, y) paints."""
        if size != self._diameter:
            self.prepareGeometryChange()
            self._diameter = float(size)
        centre_x, centre_y = snap_brush_centre(x, y, size)
        self.setPos(QPointF(centre_x, centre_y))

    def boundingRect(self) -> QRectF:
        # One extra image pixel on each side leaves room for the cosmetic pen.
        half = self._diameter / 2 + 1
        return QRectF(-half, -half, 2 * half, 2 * half)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        half = self._diameter / 2
        circle = QRectF(-half, -half, self._diameter, self._diameter)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for colour, style in (
            (QColor(0, 0, 0, 200), Qt.PenStyle.SolidLine),
            (QColor(255, 255, 255, 230), Qt.PenStyle.DashLine),
        ):
            pen = QPen(colour, 1.0, style)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(circle)
