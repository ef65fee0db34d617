"""MaskCanvas: the view that shows an ImageDocument and turns mouse and keys into tool calls.

Scene coordinates are image pixel coordinates. The wheel zooms about the cursor; the middle
button, or the left button with Space held, pans. Scroll bars are hidden, and the scene
reaches one image size past each edge so that any image point can be brought under the cursor.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QResizeEvent,
    QShowEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView, QWidget

from textmask_desktop.canvas.cursor import BrushCursorItem
from textmask_desktop.canvas.geometry import (
    clamp_zoom,
    fit_zoom,
    next_brush_size,
    pixel_at,
    validate_brush_size,
    wheel_zoom,
)
from textmask_desktop.canvas.mask_operations import MaskOperation, apply_mask_operation
from textmask_desktop.canvas.overlays import DocumentOverlays
from textmask_desktop.canvas.tools import (
    TOOL_NAMES,
    CanvasTool,
    ToolName,
    create_tool,
    editable_active_key,
)
from textmask_desktop.document import ImageDocument, ObjectNotEditableError

logger = logging.getLogger(__name__)

DEFAULT_BRUSH_SIZE = 20
DEFAULT_OVERLAY_OPACITY = 0.5
FIT_MARGIN = 0.98  # fraction of the view the fitted image fills, so its edges stay visible


class MaskCanvas(QGraphicsView):
    """Shows a document's image with one coloured overlay per object, and edits the masks."""

    cursor_moved = Signal(int, int)  # image pixel under the mouse, or (-1, -1) outside
    zoom_changed = Signal(float)  # view pixels per image pixel
    brush_size_changed = Signal(int)  # brush diameter in image pixels
    tool_changed = Signal(str)  # a ToolName
    status_message = Signal(str)  # a short message for the status bar

    def __init__(
        self, document: ImageDocument | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self._configure_view()
        self._overlays = DocumentOverlays(self.scene())
        self._brush_cursor = BrushCursorItem()
        self.scene().addItem(self._brush_cursor)
        self._document: ImageDocument | None = None
        self._brush_size = DEFAULT_BRUSH_SIZE
        self._overlay_opacity = DEFAULT_OVERLAY_OPACITY
        self._tool: CanvasTool = create_tool("brush", self)
        self._left_down = False
        self._space_held = False
        self._pan_origin: QPoint | None = None
        self._fit_on_resize = True  # the view follows its size until the user zooms
        self._last_pixel = (-1, -1)
        self._mouse_point: QPointF | None = None  # image point under the mouse, None when away
        self.speck_area = 50  # px; parts smaller than this go with "remove specks"
        self.grow_step = 1  # px per "grow" or "shrink" command
        self.set_document(document)

    def _configure_view(self) -> None:
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QColor(48, 48, 48))
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)

    # Document

    @property
    def document(self) -> ImageDocument | None:
        return self._document

    def set_document(self, document: ImageDocument | None) -> None:
        """Show `document`, or nothing for None; a stroke or polygon in progress ends first."""
        self._tool.cancel()
        self._left_down = False
        if self._document is not None:
            self._document.end_stroke()
            self._document.objects_changed.disconnect(self._overlays.sync)
            self._document.mask_changed.disconnect(self._overlays.refresh)
        self._document = document
        self._overlays.show_document(document)
        if document is not None:
            document.objects_changed.connect(self._overlays.sync)
            document.mask_changed.connect(self._overlays.refresh)
            width, height = document.width, document.height
            self.scene().setSceneRect(QRectF(-width, -height, 3 * width, 3 * height))
        self._fit_on_resize = True
        self.fit_to_window()

    # Tools and brush

    @property
    def tool(self) -> CanvasTool:
        return self._tool

    @property
    def tool_name(self) -> ToolName:
        return self._tool.name

    def set_tool(self, name: ToolName) -> None:
        if name not in TOOL_NAMES:
            raise ValueError(f"Unknown tool {name!r}: use one of {', '.join(TOOL_NAMES)}.")
        if name == self._tool.name:
            return
        self._tool.cancel()
        self._left_down = False
        self._tool = create_tool(name, self)
        self._update_brush_cursor(None)
        self.tool_changed.emit(name)

    @property
    def brush_size(self) -> int:
        return self._brush_size

    def set_brush_size(self, size: int) -> None:
        """Set the brush and eraser diameter in image pixels."""
        validate_brush_size(size)
        if size != self._brush_size:
            self._brush_size = size
            self._update_brush_cursor(None)
            self.brush_size_changed.emit(size)

    def step_brush_size(self, direction: int) -> None:
        """Make the brush one step larger (direction +1) or smaller (-1), as `]` and `[` do."""
        self.set_brush_size(next_brush_size(self._brush_size, direction))

    def show_status(self, message: str) -> None:
        self.status_message.emit(message)

    def run_mask_operation(self, operation: MaskOperation, amount: int | None = None) -> bool:
        """Run a whole-mask command on the active object; return True when the mask changed.

        `amount` defaults to `speck_area` for remove_specks and `grow_step` for grow and shrink.
        """
        key = editable_active_key(self)
        if key is None or self._document is None:
            return False
        if amount is None:
            amount = self.speck_area if operation == "remove_specks" else self.grow_step
        try:
            changed = apply_mask_operation(self._document, key, operation, amount)
        except ObjectNotEditableError as error:
            self.show_status(str(error))
            return False
        if not changed:
            self.show_status("The mask did not change.")
        return changed

    # Overlays and preview

    @property
    def overlays(self) -> DocumentOverlays:
        return self._overlays

    @property
    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    def set_overlay_opacity(self, opacity: float) -> None:
        """Set how opaque the mask overlays are, from 0.0 (hidden) to 1.0 (solid)."""
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"Overlay opacity {opacity} is out of range: use 0.0 to 1.0.")
        self._overlay_opacity = opacity
        self._overlays.set_opacity(opacity)

    def set_preview(
        self, probabilities: NDArray[np.float32] | None, threshold: float, colour: QColor | str
    ) -> None:
        """Show a prediction's probabilities (H×W float32) as a mask at `threshold`.

        None hides the preview.
        """
        if probabilities is None:
            self._overlays.clear_preview()
        else:
            self._overlays.set_preview(probabilities, threshold, colour)

    def set_preview_threshold(self, threshold: float) -> None:
        """Re-threshold the preview from its kept probabilities; does nothing without a preview."""
        preview = self._overlays.preview
        if preview is not None:
            preview.set_threshold(threshold)

    def preview_mask(self) -> NDArray[np.bool_] | None:
        """Return a copy of the preview mask as shown, or None without a preview."""
        preview = self._overlays.preview
        return None if preview is None else preview.mask.copy()

    # Zoom and scrolling

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit_to_window(self) -> None:
        """Zoom so that the whole image fits the view, centred."""
        if self._document is None:
            return
        width, height = self._document.width, self._document.height
        viewport = self.viewport().size()
        scale = fit_zoom(width, height, viewport.width(), viewport.height()) * FIT_MARGIN
        self._apply_zoom(clamp_zoom(scale))
        self.centerOn(QPointF(width / 2, height / 2))
        self._fit_on_resize = True

    def zoom_actual_size(self) -> None:
        """Show one image pixel per screen pixel, keeping the view centre in place."""
        self.set_zoom(1.0)

    def set_zoom(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to `scale`, keeping the image point under viewport position `anchor` in place.

        `anchor` defaults to the viewport centre.
        """
        if anchor is None:
            anchor = QRectF(self.viewport().rect()).center()
        scene_point = self.mapToScene(anchor.toPoint())
        self._apply_zoom(clamp_zoom(scale))
        moved = self.mapFromScene(scene_point) - anchor.toPoint()
        self.scroll_by(moved.x(), moved.y())
        self._fit_on_resize = False

    def scroll_by(self, dx: int, dy: int) -> None:
        """Move the view's content by (-dx, -dy) viewport pixels."""
        horizontal = self.horizontalScrollBar()
        vertical = self.verticalScrollBar()
        horizontal.setValue(horizontal.value() + dx)
        vertical.setValue(vertical.value() + dy)

    def map_to_image(self, viewport_point: QPointF) -> QPointF:
        """Return the image coordinates of a viewport position, with sub-pixel precision."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(viewport_point)

    def _apply_zoom(self, scale: float) -> None:
        if scale == self.zoom:
            return
        self.setTransform(QTransform.fromScale(scale, scale))
        self._overlays.set_zoom(scale)
        self.zoom_changed.emit(scale)

    # Qt event handlers

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta == 0:
            event.ignore()
            return
        self.set_zoom(wheel_zoom(self.zoom, delta), event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space_held
        ):
            self._start_pan(event.position().toPoint())
        elif button == Qt.MouseButton.LeftButton and self._pan_origin is None:
            self._left_down = True
            point = self.map_to_image(event.position())
            self._tool.press(point.x(), point.y())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if self._pan_origin is not None:
            self._continue_pan(position.toPoint())
        point = self.map_to_image(position)
        self._report_cursor(point)
        self._update_brush_cursor(point)
        if self._pan_origin is None:
            if self._left_down:
                self._tool.move(point.x(), point.y())
            else:
                self._tool.hover(point.x(), point.y())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._pan_origin is not None and button in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._end_pan()
        elif button == Qt.MouseButton.LeftButton and self._left_down:
            self._left_down = False
            point = self.map_to_image(event.position())
            self._tool.release(point.x(), point.y())
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not self._space_held:
            self._left_down = True
            point = self.map_to_image(event.position())
            self._tool.double_click(point.x(), point.y())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
                self._update_brush_cursor(None)
        elif key == Qt.Key.Key_BracketLeft:
            self.step_brush_size(-1)
        elif key == Qt.Key.Key_BracketRight:
            self.step_brush_size(+1)
        elif not self._tool.key_press(key):
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            if self._pan_origin is None:
                self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QEvent) -> None:
        # The Space release is never delivered once focus has moved away.
        self._space_held = False
        super().focusOutEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._mouse_point = None
        self._brush_cursor.setVisible(False)
        self._report_cursor(None)
        super().leaveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_on_resize:
            self.fit_to_window()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._fit_on_resize:
            self.fit_to_window()

    # Helpers for the handlers

    def _start_pan(self, position: QPoint) -> None:
        self._pan_origin = position
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        self._brush_cursor.setVisible(False)

    def _continue_pan(self, position: QPoint) -> None:
        assert self._pan_origin is not None
        delta = position - self._pan_origin
        self._pan_origin = position
        self.scroll_by(-delta.x(), -delta.y())
        self._fit_on_resize = False

    def _end_pan(self) -> None:
        self._pan_origin = None
        cursor = Qt.CursorShape.OpenHandCursor if self._space_held else Qt.CursorShape.CrossCursor
        self.viewport().setCursor(cursor)

    def _report_cursor(self, point: QPointF | None) -> None:
        pixel: tuple[int, int] | None = None
        if point is not None and self._document is not None:
            pixel = pixel_at(point.x(), point.y(), self._document.width, self._document.height)
        reported = pixel if pixel is not None else (-1, -1)
        if reported != self._last_pixel:
            self._last_pixel = reported
            self.cursor_moved.emit(*reported)

    def _update_brush_cursor(self, point: QPointF | None) -> None:
        """Move the brush outline to image point `point`, or redraw it at the last mouse point
        when None. The outline is hidden while no brush tool is on or the mouse is away.
        """
        if point is not None:
            self._mouse_point = point
        visible = (
            self._tool.shows_brush_cursor
            and self._document is not None
            and self._mouse_point is not None
            and not self._space_held
            and self._pan_origin is None
        )
        if visible:
            assert self._mouse_point is not None
            self._brush_cursor.place(self._mouse_point.x(), self._mouse_point.y(), self._brush_size)
        self._brush_cursor.setVisible(visible)
