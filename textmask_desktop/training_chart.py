"""A line chart of training loss and validation IoU, drawn with QPainter.

PySide6-Essentials has no QtCharts module (it ships in PySide6-Addons), so the fine-tune panel
draws its own two-line chart: loss on the left axis, IoU from 0 to 1 on the right axis.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LOSS_COLOUR = QColor("#e53935")
IOU_COLOUR = QColor("#1e88e5")
MARGIN = 36


@dataclass(frozen=True)
class AxisRange:
    low: float
    high: float

    def fraction(self, value: float) -> float:
        span = self.high - self.low
        return 0.5 if span <= 0 else (value - self.low) / span


def value_range(values: list[float], *, floor_at_zero: bool = True) -> AxisRange:
    """Return a range that contains `values` with 5 % headroom (0..1 when there are none)."""
    if not values:
        return AxisRange(0.0, 1.0)
    low = 0.0 if floor_at_zero else min(values)
    high = max(values)
    if high <= low:
        high = low + 1.0
    return AxisRange(low, high + 0.05 * (high - low))


def to_screen(
    points: list[tuple[int, float]], area: QRectF, steps: AxisRange, values: AxisRange
) -> list[QPointF]:
    """Map (step, value) points into `area`, with larger values higher up."""
    return [
        QPointF(
            area.left() + steps.fraction(step) * area.width(),
            area.bottom() - values.fraction(value) * area.height(),
        )
        for step, value in points
    ]


class TrainingChart(QWidget):
    """Shows the loss per step and the held-out IoU per evaluation as they arrive."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_points: list[tuple[int, float]] = []
        self.iou_points: list[tuple[int, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(160)

    def sizeHint(self) -> QSize:
        return QSize(420, 220)

    def clear(self) -> None:
        self.loss_points.clear()
        self.iou_points.clear()
        self.update()

    def add_loss(self, step: int, loss: float) -> None:
        self.loss_points.append((step, loss))
        self.update()

    def add_iou(self, step: int, iou: float) -> None:
        self.iou_points.append((step, iou))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        area = QRectF(self.rect()).adjusted(MARGIN, 12, -MARGIN, -24)
        painter.setPen(QPen(self.palette().text().color(), 1))
        painter.drawRect(area)

        all_steps = [step for step, _ in self.loss_points + self.iou_points]
        steps = AxisRange(0, max(all_steps, default=1))
        losses = value_range([value for _, value in self.loss_points])
        self._draw_line(painter, self.loss_points, area, steps, losses, LOSS_COLOUR)
        self._draw_line(painter, self.iou_points, area, steps, AxisRange(0, 1), IOU_COLOUR)
        self._draw_labels(painter, area, steps, losses)
        painter.end()

    def _draw_line(
        self,
        painter: QPainter,
        points: list[tuple[int, float]],
        area: QRectF,
        steps: AxisRange,
        values: AxisRange,
        colour: QColor,
    ) -> None:
        screen = to_screen(points, area, steps, values)
        painter.setPen(QPen(colour, 2))
        if len(screen) == 1:
            painter.drawEllipse(screen[0], 2.5, 2.5)
        for start, end in zip(screen, screen[1:], strict=False):
            painter.drawLine(start, end)

    def _draw_labels(
        self, painter: QPainter, area: QRectF, steps: AxisRange, losses: AxisRange
    ) -> None:
        metrics = painter.fontMetrics()
        painter.setPen(LOSS_COLOUR)
        painter.drawText(QPointF(2, area.top() + metrics.ascent()), f"{losses.high:.2g}")
        painter.drawText(QPointF(2, area.bottom()), "0")
        painter.drawText(QPointF(area.left() + 4, area.top() + metrics.ascent()), "loss")
        painter.setPen(IOU_COLOUR)
        painter.drawText(QPointF(area.right() + 4, area.top() + metrics.ascent()), "1")
        painter.drawText(QPointF(area.right() + 4, area.bottom()), "0")
        iou_text = "IoU (held out)"
        painter.drawText(
            QPointF(
                area.right() - metrics.horizontalAdvance(iou_text) - 4,
                area.top() + metrics.ascent(),
            ),
            iou_text,
        )
        painter.setPen(self.palette().text().color())
        label = f"step {steps.high:.0f}"
        painter.drawText(
            QRectF(area.left(), area.bottom() + 2, area.width(), 20),
            Qt.AlignmentFlag.AlignRight,
            label,
        )
