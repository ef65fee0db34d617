"""MaskCanvas: coordinates, zoom and pan, overlays, preview and mouse-driven editing, offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from document_support import make_document, rect_mask
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from textmask_desktop.canvas.actions import create_actions
from textmask_desktop.canvas.geometry import MAX_ZOOM, MIN_ZOOM, brush_segment, fit_zoom
from textmask_desktop.canvas.view import MaskCanvas
from textmask_desktop.document import ImageDocument

WIDTH, HEIGHT = 200, 150
VIEW_WIDTH, VIEW_HEIGHT = 400, 300


@pytest.fixture
def document() -> ImageDocument:
    document = make_document(WIDTH, HEIGHT)
    key = document.add_object(rect_mask(WIDTH, HEIGHT, 20, 20, 80, 60), "car", colour="#ff0000")
    document.set_active(key)
    return document


@pytest.fixture
def canvas(qtbot: QtBot, document: ImageDocument) -> MaskCanvas:
    widget = MaskCanvas(document)
    qtbot.addWidget(widget)
    widget.resize(VIEW_WIDTH, VIEW_HEIGHT)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def view_point(canvas: MaskCanvas, x: float, y: float) -> QPoint:
    """The viewport position that shows image point (x, y)."""
    return canvas.mapFromScene(QPointF(x, y))


def rendered(canvas: MaskCanvas) -> QImage:
    QApplication.processEvents()
    return canvas.viewport().grab().toImage()


def colour_at_pixel(canvas: MaskCanvas, image: QImage, col: int, row: int) -> QColor:
    point = view_point(canvas, col + 0.5, row + 0.5)
    return image.pixelColor(point)


def send_wheel(canvas: MaskCanvas, position: QPointF, delta: int) -> None:
    event = QWheelEvent(
        position,
        canvas.viewport().mapToGlobal(position),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)


# Fitting and zoom


def test_fit_to_window_centres_image(canvas: MaskCanvas) -> None:
    expected = fit_zoom(WIDTH, HEIGHT, VIEW_WIDTH, VIEW_HEIGHT) * 0.98
    assert canvas.zoom == pytest.approx(expected)
    centre = canvas.map_to_image(QPointF(VIEW_WIDTH / 2, VIEW_HEIGHT / 2))
    assert centre.x() == pytest.approx(WIDTH / 2, abs=1 / canvas.zoom)
    assert centre.y() == pytest.approx(HEIGHT / 2, abs=1 / canvas.zoom)
    top_left = view_point(canvas, 0, 0)
    bottom_right = view_point(canvas, WIDTH, HEIGHT)
    assert top_left.x() >= 0
    assert top_left.y() >= 0
    assert bottom_right.x() <= VIEW_WIDTH
    assert bottom_right.y() <= VIEW_HEIGHT


def test_zoom_actual_size(canvas: MaskCanvas, qtbot: QtBot) -> None:
    with qtbot.waitSignal(canvas.zoom_changed) as blocker:
        canvas.zoom_actual_size()
    assert blocker.args == [1.0]
    assert canvas.zoom == 1.0
    first = canvas.map_to_image(QPointF(10, 10))
    second = canvas.map_to_image(QPointF(110, 10))
    assert second.x() - first.x() == pytest.approx(100)


@pytest.mark.parametrize("anchor", [(50.0, 40.0), (330.0, 250.0), (200.0, 20.0)])
def test_zoom_keeps_point_under_cursor(canvas: MaskCanvas, anchor) -> None:
    position = QPointF(*anchor)
    for scale in (4.0, 9.5, 2.0, 30.0):
        before = canvas.map_to_image(position)
        canvas.set_zoom(scale, position)
        after = canvas.map_to_image(position)
        assert canvas.zoom == scale
        # Scrolling moves in whole viewport pixels: the point stays within one of them.
        assert abs(after.x() - before.x()) <= 1 / scale
        assert abs(after.y() - before.y()) <= 1 / scale


def test_wheel_zooms_about_cursor(canvas: MaskCanvas) -> None:
    position = QPointF(120.0, 90.0)
    zoom = canvas.zoom
    before = canvas.map_to_image(position)
    for _ in range(5):
        send_wheel(canvas, position, 120)
    assert canvas.zoom == pytest.approx(zoom * 1.25**5)
    after = canvas.map_to_image(position)
    assert abs(after.x() - before.x()) <= 1 / canvas.zoom
    assert abs(after.y() - before.y()) <= 1 / canvas.zoom
    send_wheel(canvas, position, -240)
    assert canvas.zoom == pytest.approx(zoom * 1.25**3)


def test_zoom_is_clamped(canvas: MaskCanvas) -> None:
    canvas.set_zoom(1000.0)
    assert canvas.zoom == MAX_ZOOM
    canvas.set_zoom(0.0001)
    assert canvas.zoom == MIN_ZOOM


def test_resize_refits_until_user_zooms(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.resize(800, 600)
    qtbot.waitUntil(lambda: canvas.zoom == pytest.approx(fit_zoom(WIDTH, HEIGHT, 800, 600) * 0.98))
    canvas.set_zoom(3.0)
    canvas.resize(500, 400)
    QApplication.processEvents()
    assert canvas.zoom == 3.0


# Cursor coordinates and panning


def test_cursor_moved_reports_image_pixels(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.set_zoom(4.0)
    reported: list[tuple[int, int]] = []
    canvas.cursor_moved.connect(lambda x, y: reported.append((x, y)))
    target = canvas.map_to_image(QPointF(200, 150))
    qtbot.mouseMove(canvas.viewport(), QPoint(200, 150))
    assert reported[-1] == (int(target.x()), int(target.y()))

    canvas.fit_to_window()
    outside = view_point(canvas, -5, -5)
    qtbot.mouseMove(canvas.viewport(), outside)
    assert reported[-1] == (-1, -1)
    last = view_point(canvas, WIDTH - 0.5, HEIGHT - 0.5)
    qtbot.mouseMove(canvas.viewport(), last)
    assert reported[-1] == (WIDTH - 1, HEIGHT - 1)


def test_map_to_image_inverts_view_transform(canvas: MaskCanvas) -> None:
    canvas.set_zoom(8.0, QPointF(100, 100))
    for x, y in [(0.0, 0.0), (37.25, 12.5), (150.75, 99.125)]:
        point = canvas.mapFromScene(QPointF(x, y))
        mapped = canvas.map_to_image(QPointF(point))
        assert abs(mapped.x() - x) <= 1 / 8
        assert abs(mapped.y() - y) <= 1 / 8


def test_middle_button_pans(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.set_zoom(4.0)
    before = canvas.map_to_image(QPointF(100, 100))
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(100, 100))
    qtbot.mouseMove(viewport, QPoint(140, 120))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(140, 120))
    # The content follows the mouse: the point that was at (100, 100) is now at (140, 120).
    after = canvas.map_to_image(QPointF(140, 120))
    assert after.x() == pytest.approx(before.x(), abs=0.3)
    assert after.y() == pytest.approx(before.y(), abs=0.3)
    assert canvas.document.undo_stack.count() == 1


def test_space_drag_pans_without_painting(canvas: MaskCanvas, qtbot: QtBot) -> None:
    document = canvas.document
    canvas.set_zoom(2.0)
    viewport = canvas.viewport()
    before = canvas.map_to_image(QPointF(100, 100))
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(viewport, QPoint(60, 80))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(60, 80))
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    after = canvas.map_to_image(QPointF(60, 80))
    assert after.x() == pytest.approx(before.x(), abs=0.5)
    assert document.undo_stack.count() == 1


# Editing through mouse events


def test_mouse_stroke_paints_one_step(canvas: MaskCanvas, qtbot: QtBot) -> None:
    document = canvas.document
    canvas.set_zoom(2.0, QPointF(0, 0))
    canvas.set_brush_size(3)
    key = document.active_key
    before = document.object(key).mask.copy()
    viewport = canvas.viewport()
    start = view_point(canvas, 120.5, 100.5)
    end = view_point(canvas, 160.5, 100.5)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 5):
        qtbot.mouseMove(viewport, start + (end - start) * step / 4)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    mask = document.object(key).mask
    assert mask[100, 121:160].all()
    assert (mask & ~before).sum() > 0
    assert document.undo_stack.count() == 2
    document.undo_stack.undo()
    np.testing.assert_array_equal(document.object(key).mask, before)


def test_bracket_keys_change_brush_size(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.set_brush_size(20)
    with qtbot.waitSignal(canvas.brush_size_changed) as blocker:
        qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert blocker.args == [25]
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size == 16
    with pytest.raises(ValueError, match="out of range"):
        canvas.set_brush_size(0)


def test_brush_cursor_follows_mouse(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.set_brush_size(9)
    cursor = canvas._brush_cursor
    qtbot.mouseMove(canvas.viewport(), view_point(canvas, 50.3, 40.8))
    assert cursor.isVisible()
    assert (cursor.pos().x(), cursor.pos().y()) == (50.5, 40.5)
    assert cursor.boundingRect().width() == pytest.approx(9 + 2)
    canvas.set_tool("polygon_add")
    assert not cursor.isVisible()


def test_enter_closes_polygon_through_keys(canvas: MaskCanvas, qtbot: QtBot) -> None:
    document = canvas.document
    key = document.active_key
    canvas.set_tool("polygon_add")
    viewport = canvas.viewport()
    for x, y in [(110, 80), (190, 80), (150, 140)]:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, x, y))
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    assert document.object(key).mask[110, 150]
    assert document.undo_stack.count() == 2


# Overlays


def test_overlay_shows_mask_colour(canvas: MaskCanvas) -> None:
    canvas.set_overlay_opacity(1.0)
    image = rendered(canvas)
    assert colour_at_pixel(canvas, image, 50, 40) == QColor("#ff0000")
    assert colour_at_pixel(canvas, image, 150, 100) != QColor("#ff0000")


def test_overlay_opacity_blends(canvas: MaskCanvas) -> None:
    canvas.set_overlay_opacity(0.0)
    plain = colour_at_pixel(canvas, rendered(canvas), 50, 40)
    canvas.set_overlay_opacity(0.5)
    half = colour_at_pixel(canvas, rendered(canvas), 50, 40)
    assert half.red() == pytest.approx((plain.red() + 255) / 2, abs=3)
    assert half.green() == pytest.approx(plain.green() / 2, abs=3)
    with pytest.raises(ValueError, match="use 0.0 to 1.0"):
        canvas.set_overlay_opacity(1.5)


def test_outline_drawn_from_full_size(canvas: MaskCanvas) -> None:
    canvas.set_overlay_opacity(0.3)
    canvas.set_zoom(4.0, QPointF(view_point(canvas, 20, 40)))
    image = rendered(canvas)
    edge = colour_at_pixel(canvas, image, 20, 40)  # the object's left column
    inside = colour_at_pixel(canvas, image, 22, 40)
    assert edge.red() - edge.green() > inside.red() - inside.green() + 60
    canvas.set_zoom(0.9)
    image = rendered(canvas)
    edge = colour_at_pixel(canvas, image, 20, 40)
    inside = colour_at_pixel(canvas, image, 23, 40)
    assert abs((edge.red() - edge.green()) - (inside.red() - inside.green())) < 20


def test_overlay_follows_edits_and_undo(canvas: MaskCanvas) -> None:
    document = canvas.document
    key = document.active_key
    canvas.set_overlay_opacity(1.0)
    assert colour_at_pixel(canvas, rendered(canvas), 150, 100) != QColor("#ff0000")
    document.begin_stroke(key, True, "Paint")
    document.paint_stroke(brush_segment((150.5, 100.5), (150.5, 100.5), 9, WIDTH, HEIGHT))
    document.end_stroke()
    assert colour_at_pixel(canvas, rendered(canvas), 150, 100) == QColor("#ff0000")
    document.undo_stack.undo()
    assert colour_at_pixel(canvas, rendered(canvas), 150, 100) != QColor("#ff0000")


def test_overlay_items_follow_objects(canvas: MaskCanvas) -> None:
    document = canvas.document
    first = document.active_key
    second = document.add_object(rect_mask(WIDTH, HEIGHT, 100, 100, 120, 120), "dog")
    assert set(canvas.overlays.object_items) == {first, second}
    document.set_visible(second, False)
    assert not canvas.overlays.object_items[second].isVisible()
    document.delete_object(first)
    assert set(canvas.overlays.object_items) == {second}
    document.undo_stack.undo()
    item = canvas.overlays.object_items[first]
    assert item.mask is document.object(first).mask
    canvas.set_overlay_opacity(1.0)
    assert colour_at_pixel(canvas, rendered(canvas), 50, 40) == QColor("#ff0000")


def test_hidden_object_not_drawn(canvas: MaskCanvas) -> None:
    canvas.set_overlay_opacity(1.0)
    document = canvas.document
    document.set_visible(document.active_key, False)
    assert colour_at_pixel(canvas, rendered(canvas), 50, 40) != QColor("#ff0000")


def test_set_document_switches_and_disconnects(canvas: MaskCanvas, document: ImageDocument) -> None:
    other = make_document(50, 40)
    other.add_object(rect_mask(50, 40, 0, 0, 10, 10), "dog")
    canvas.set_document(other)
    assert canvas.document is other
    assert canvas.zoom == pytest.approx(fit_zoom(50, 40, VIEW_WIDTH, VIEW_HEIGHT) * 0.98)
    assert len(canvas.overlays.object_items) == 1
    document.add_object(rect_mask(WIDTH, HEIGHT, 0, 0, 5, 5), "cat")  # the old document
    assert len(canvas.overlays.object_items) == 1
    canvas.set_document(None)
    assert canvas.overlays.object_items == {}
    canvas.tool.press(5.5, 5.5)  # no document: reports, changes nothing
    canvas.tool.release(5.5, 5.5)


# Preview


def gaussian_probabilities() -> np.ndarray:
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    distance_squared = (cols - 150.0) ** 2 + (rows - 100.0) ** 2
    return np.exp(-distance_squared / (2 * 25.0**2)).astype(np.float32)


def test_preview_threshold_changes_overlay(canvas: MaskCanvas) -> None:
    probabilities = gaussian_probabilities()
    canvas.set_overlay_opacity(1.0)
    canvas.set_preview(probabilities, 0.9, "#00ff00")
    np.testing.assert_array_equal(canvas.preview_mask(), probabilities >= np.float32(0.9))
    # Pixel (150, 130) is 30 px from the centre: probability about 0.49.
    image = rendered(canvas)
    assert colour_at_pixel(canvas, image, 150, 100) == QColor("#00ff00")
    assert colour_at_pixel(canvas, image, 150, 130) != QColor("#00ff00")

    canvas.set_preview_threshold(0.3)
    np.testing.assert_array_equal(canvas.preview_mask(), probabilities >= np.float32(0.3))
    image = rendered(canvas)
    assert colour_at_pixel(canvas, image, 150, 130) == QColor("#00ff00")
    assert colour_at_pixel(canvas, image, 150, 148) != QColor("#00ff00")

    canvas.set_preview(None, 0.5, "#00ff00")
    assert canvas.preview_mask() is None
    assert colour_at_pixel(canvas, rendered(canvas), 150, 100) != QColor("#00ff00")


def test_preview_shape_checked(canvas: MaskCanvas) -> None:
    with pytest.raises(ValueError, match=r"the image needs \(150, 200\)"):
        canvas.set_preview(np.zeros((10, 10), np.float32), 0.5, "#00ff00")
    with pytest.raises(ValueError, match="Threshold 1.5 is out of range"):
        canvas.set_preview(gaussian_probabilities(), 1.5, "#00ff00")


def test_preview_threshold_without_preview_is_ignored(canvas: MaskCanvas) -> None:
    canvas.set_preview_threshold(0.4)
    assert canvas.preview_mask() is None


class PaintRecorder(QObject):
    """Event filter that records the region of every paint event of a widget."""

    def __init__(self) -> None:
        super().__init__()
        self.regions: list[QRect] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.regions.append(event.region().boundingRect())
        return False


def test_edit_repaints_only_changed_rect(canvas: MaskCanvas, qtbot: QtBot) -> None:
    document = canvas.document
    key = document.active_key
    QApplication.processEvents()
    recorder = PaintRecorder()
    canvas.viewport().installEventFilter(recorder)
    document.begin_stroke(key, True, "Paint")
    patch = brush_segment((150.5, 100.5), (160.5, 104.5), 5, WIDTH, HEIGHT)
    changed = document.paint_stroke(patch)
    document.end_stroke()
    qtbot.waitUntil(lambda: len(recorder.regions) > 0)
    canvas.viewport().removeEventFilter(recorder)

    # The item repaints one image pixel more on each side for the outline, and Qt widens an
    # update by 2 view pixels for antialiasing, plus one for rounding.
    top_left = view_point(canvas, changed.x - 1, changed.y - 1)
    bottom_right = view_point(canvas, changed.right + 1, changed.bottom + 1)
    allowed = QRect(top_left, bottom_right).adjusted(-3, -3, 3, 3)
    for region in recorder.regions:
        assert allowed.contains(region)
    assert (
        recorder.regions[0].width() * recorder.regions[0].height() < VIEW_WIDTH * VIEW_HEIGHT / 20
    )


def test_zoomed_out_overlay_follows_edits(qtbot: QtBot) -> None:
    document = make_document(2000, 1500)
    key = document.add_object(rect_mask(2000, 1500, 200, 200, 800, 600), "car", colour="#ff0000")
    widget = MaskCanvas(document)
    qtbot.addWidget(widget)
    widget.resize(VIEW_WIDTH, VIEW_HEIGHT)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_overlay_opacity(1.0)
    assert widget.zoom < 0.25  # drawn from a copy reduced 8 times
    assert colour_at_pixel(widget, rendered(widget), 500, 400) == QColor("#ff0000")
    assert colour_at_pixel(widget, rendered(widget), 1500, 1000) != QColor("#ff0000")

    document.replace_mask(key, rect_mask(2000, 1500, 1300, 800, 1700, 1200), "Move")
    image = rendered(widget)
    assert colour_at_pixel(widget, image, 1500, 1000) == QColor("#ff0000")
    assert colour_at_pixel(widget, image, 500, 400) != QColor("#ff0000")


# Actions


def test_actions_drive_canvas(canvas: MaskCanvas) -> None:
    actions = create_actions(canvas, canvas)
    expected = {
        "brush", "eraser", "polygon_add", "polygon_subtract", "flood_fill",
        "brush_smaller", "brush_larger", "zoom_fit", "zoom_actual_size", "zoom_in", "zoom_out",
        "fill_holes", "remove_specks", "grow", "shrink", "clear",
    }  # fmt: skip
    assert set(actions) == expected
    assert actions["brush"].isChecked()

    actions["eraser"].trigger()
    assert canvas.tool_name == "eraser"
    canvas.set_tool("flood_fill")
    assert actions["flood_fill"].isChecked()
    assert not actions["eraser"].isChecked()

    size = canvas.brush_size
    actions["brush_larger"].trigger()
    assert canvas.brush_size > size
    actions["zoom_actual_size"].trigger()
    assert canvas.zoom == 1.0
    actions["zoom_in"].trigger()
    assert canvas.zoom == pytest.approx(1.25)
    assert actions["brush_smaller"].shortcut().toString() == "["

    document = canvas.document
    before = document.object(document.active_key).mask.copy()
    actions["grow"].trigger()
    assert document.object(document.active_key).mask.sum() > before.sum()
    actions["clear"].trigger()
    assert not document.object(document.active_key).mask.any()
