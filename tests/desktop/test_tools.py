"""Editing tools and their pure geometry: brush, eraser, polygon, lasso, flood fill, mask commands.

The tools are driven through their press/move/release handlers with image coordinates, the
same calls MaskCanvas makes for mouse events.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from document_support import make_document, rect_mask
from PySide6.QtCore import Qt

from textmask_desktop.canvas.geometry import (
    MAX_BRUSH_SIZE,
    PixelRect,
    bounding_rect,
    brush_segment,
    mask_outline,
    next_brush_size,
    rasterise_polygon,
    snap_brush_centre,
)
from textmask_desktop.canvas.mask_operations import MASK_OPERATIONS, compute_mask_operation
from textmask_desktop.canvas.view import MaskCanvas
from textmask_desktop.document import ImageDocument

# Independent references: pixel centres tested one by one in plain Python.


def disk_reference(centre: tuple[float, float], size: int, width: int, height: int):
    mask = np.zeros((height, width), dtype=bool)
    for row in range(height):
        for col in range(width):
            distance = math.hypot(col + 0.5 - centre[0], row + 0.5 - centre[1])
            mask[row, col] = distance <= size / 2
    return mask


def capsule_reference(start, end, size: int, width: int, height: int):
    """Pixels whose centre lies within size/2 of the segment start-end."""
    mask = np.zeros((height, width), dtype=bool)
    dx, dy = end[0] - start[0], end[1] - start[1]
    length_squared = dx * dx + dy * dy
    for row in range(height):
        for col in range(width):
            px, py = col + 0.5 - start[0], row + 0.5 - start[1]
            t = (
                0.0
                if length_squared == 0
                else min(1.0, max(0.0, (px * dx + py * dy) / length_squared))
            )
            mask[row, col] = math.hypot(px - t * dx, py - t * dy) <= size / 2
    return mask


def polygon_reference(points, width: int, height: int):
    """Even-odd rule at pixel centres by ray casting, one pixel at a time."""
    mask = np.zeros((height, width), dtype=bool)
    for row in range(height):
        for col in range(width):
            x, y = col + 0.5, row + 0.5
            inside = False
            for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
                if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                    inside = not inside
            mask[row, col] = inside
    return mask


def to_full(patch, width: int, height: int):
    mask = np.zeros((height, width), dtype=bool)
    if patch is not None:
        mask[patch.rect.slices] = patch.values
    return mask


# Pure geometry


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8, 13])
def test_brush_dot_matches_disk(size: int) -> None:
    centre = snap_brush_centre(15.3, 11.8, size)
    patch = brush_segment(centre, centre, size, 32, 24)
    np.testing.assert_array_equal(to_full(patch, 32, 24), disk_reference(centre, size, 32, 24))


def test_brush_size_one_paints_one_pixel() -> None:
    centre = snap_brush_centre(7.9, 3.1, 1)
    patch = brush_segment(centre, centre, 1, 16, 16)
    assert patch.rect == PixelRect(7, 3, 1, 1)
    assert patch.values.all()


def test_brush_size_two_paints_block() -> None:
    centre = snap_brush_centre(7.6, 3.4, 2)
    assert centre == (8.0, 3.0)
    full = to_full(brush_segment(centre, centre, 2, 16, 16), 16, 16)
    assert bounding_rect(full) == PixelRect(7, 2, 2, 2)
    assert full.sum() == 4


@pytest.mark.parametrize(
    ("start", "end", "size"),
    [((3.5, 4.5), (25.5, 17.5), 5), ((20.0, 2.0), (4.0, 20.0), 6), ((10.5, 10.5), (10.5, 10.5), 9)],
)
def test_brush_segment_matches_capsule(start, end, size: int) -> None:
    patch = brush_segment(start, end, size, 32, 24)
    np.testing.assert_array_equal(
        to_full(patch, 32, 24), capsule_reference(start, end, size, 32, 24)
    )


def test_brush_segments_random_match_capsule() -> None:
    rng = np.random.default_rng(7)
    for _ in range(150):
        size = int(rng.integers(1, 16))
        start = snap_brush_centre(*rng.uniform(-5, 35, 2), size)
        end = snap_brush_centre(*rng.uniform(-5, 35, 2), size)
        if rng.random() < 0.3:
            end = (start[0], end[1])  # vertical segments have no horizontal extent
        expected = capsule_reference(start, end, size, 30, 24)
        np.testing.assert_array_equal(
            to_full(brush_segment(start, end, size, 30, 24), 30, 24),
            expected,
            err_msg=f"brush {size} px from {start} to {end}",
        )


def test_brush_segment_clipped_to_image() -> None:
    patch = brush_segment((-3.5, -3.5), (2.5, 1.5), 7, 16, 16)
    assert patch.rect.x == 0
    assert patch.rect.y == 0
    np.testing.assert_array_equal(
        to_full(patch, 16, 16), capsule_reference((-3.5, -3.5), (2.5, 1.5), 7, 16, 16)
    )
    assert brush_segment((-30.5, -30.5), (-20.5, -20.5), 7, 16, 16) is None


def test_brush_size_limits() -> None:
    with pytest.raises(ValueError, match="Brush size 0 px is out of range"):
        brush_segment((1.5, 1.5), (1.5, 1.5), 0, 16, 16)
    assert next_brush_size(1, -1) == 1
    assert next_brush_size(1, +1) == 2
    assert next_brush_size(20, +1) == 25
    assert next_brush_size(20, -1) == 16
    assert next_brush_size(MAX_BRUSH_SIZE, +1) == MAX_BRUSH_SIZE


@pytest.mark.parametrize(
    "points",
    [
        [(2, 2), (10, 2), (10, 8), (2, 8)],
        [(1.3, 1.2), (15.7, 3.1), (6.2, 12.8)],
        [(0, 0), (20, 0), (20, 20), (10, 5), (0, 20)],  # concave
        [(2, 2), (18, 14), (18, 2), (2, 14)],  # self-intersecting bow tie
        [(-5, -5), (30, 4.5), (8, 40)],  # beyond the image edges
    ],
)
def test_polygon_matches_reference(points) -> None:
    patch = rasterise_polygon(points, 24, 20)
    np.testing.assert_array_equal(to_full(patch, 24, 20), polygon_reference(points, 24, 20))


def test_polygon_on_pixel_edges_is_exact_rectangle() -> None:
    patch = rasterise_polygon([(2, 3), (10, 3), (10, 8), (2, 8)], 16, 16)
    assert patch.rect == PixelRect(2, 3, 8, 5)
    assert patch.values.all()


def test_degenerate_polygons_give_nothing() -> None:
    assert rasterise_polygon([(1, 1), (5, 5)], 16, 16) is None
    assert rasterise_polygon([(1, 1), (5, 5), (9, 9)], 16, 16) is None
    assert rasterise_polygon([(30, 30), (40, 30), (40, 40)], 16, 16) is None


def outline_reference(mask):
    """Mask pixels with a 4-neighbour outside the mask; beyond the image counts as inside."""
    height, width = mask.shape
    outline = np.zeros_like(mask)
    for row in range(height):
        for col in range(width):
            if not mask[row, col]:
                continue
            for d_row, d_col in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                r, c = row + d_row, col + d_col
                if 0 <= r < height and 0 <= c < width and not mask[r, c]:
                    outline[row, col] = True
    return outline


def test_mask_outline_matches_reference() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((20, 30)) < 0.6
    mask[0:6, 0:8] = True  # a block cut by the image border
    expected = outline_reference(mask)
    np.testing.assert_array_equal(mask_outline(mask, PixelRect(0, 0, 30, 20)), expected)
    # A sub-rectangle reads its neighbours from the whole mask.
    part = PixelRect(5, 4, 12, 9)
    np.testing.assert_array_equal(mask_outline(mask, part), expected[part.slices])
    assert not mask_outline(mask, PixelRect(0, 0, 30, 20))[0:5, 0:7].any()


# Tools on a real canvas


@pytest.fixture
def canvas(qtbot) -> MaskCanvas:
    document = make_document(64, 48)
    key = document.add_object(np.zeros((48, 64), bool), "car")
    document.set_active(key)
    widget = MaskCanvas(document)
    qtbot.addWidget(widget)
    widget.resize(320, 240)
    return widget


def active_mask(canvas: MaskCanvas):
    document = canvas.document
    return document.object(document.active_key).mask


def drag(canvas: MaskCanvas, points) -> None:
    tool = canvas.tool
    tool.press(*points[0])
    for point in points[1:]:
        tool.move(*point)
    tool.release(*points[-1])


def test_brush_paints_expected_pixels(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(5)
    drag(canvas, [(10.2, 10.7), (20.9, 10.1), (30.4, 25.6)])
    points = [snap_brush_centre(x, y, 5) for x, y in [(10.2, 10.7), (20.9, 10.1), (30.4, 25.6)]]
    expected = capsule_reference(points[0], points[1], 5, 64, 48) | capsule_reference(
        points[1], points[2], 5, 64, 48
    )
    np.testing.assert_array_equal(active_mask(canvas), expected)
    assert canvas.document.undo_stack.count() == 2  # add, one stroke


def test_eraser_removes_expected_pixels(canvas: MaskCanvas) -> None:
    document = canvas.document
    key = document.active_key
    document.replace_mask(key, rect_mask(64, 48, 5, 5, 40, 30), "Set up")
    before = active_mask(canvas).copy()
    canvas.set_tool("eraser")
    canvas.set_brush_size(4)
    drag(canvas, [(8.3, 17.6), (36.1, 17.4)])
    start, end = snap_brush_centre(8.3, 17.6, 4), snap_brush_centre(36.1, 17.4, 4)
    expected = before & ~capsule_reference(start, end, 4, 64, 48)
    np.testing.assert_array_equal(active_mask(canvas), expected)

    document.undo_stack.undo()
    np.testing.assert_array_equal(active_mask(canvas), before)
    document.undo_stack.redo()
    np.testing.assert_array_equal(active_mask(canvas), expected)


def test_paint_then_erase_changes_exact_pixels(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(7)
    drag(canvas, [(10.5, 20.5), (50.5, 20.5)])
    painted = active_mask(canvas).copy()
    assert painted.sum() == capsule_reference((10.5, 20.5), (50.5, 20.5), 7, 64, 48).sum()
    canvas.set_tool("eraser")
    canvas.set_brush_size(3)
    drag(canvas, [(30.5, 10.5), (30.5, 30.5)])
    erased = capsule_reference((30.5, 10.5), (30.5, 30.5), 3, 64, 48)
    np.testing.assert_array_equal(active_mask(canvas), painted & ~erased)
    assert canvas.document.undo_stack.count() == 3


def test_brush_without_active_object_reports(canvas: MaskCanvas, qtbot) -> None:
    canvas.document.set_active(None)
    with qtbot.waitSignal(canvas.status_message) as blocker:
        canvas.tool.press(10.5, 10.5)
    assert "Select an object" in blocker.args[0]
    canvas.tool.release(10.5, 10.5)
    assert canvas.document.undo_stack.count() == 1


def test_locked_object_rejects_brush(canvas: MaskCanvas, qtbot) -> None:
    document = canvas.document
    document.set_locked(document.active_key, True)
    count = document.undo_stack.count()
    with qtbot.waitSignal(canvas.status_message) as blocker:
        drag(canvas, [(10.5, 10.5), (30.5, 10.5)])
    assert blocker.args == ["'car' is locked: unlock it to edit it."]
    assert not active_mask(canvas).any()
    assert document.undo_stack.count() == count


@pytest.mark.parametrize("tool", ["polygon_add", "flood_fill"])
def test_locked_object_rejects_other_tools(canvas: MaskCanvas, qtbot, tool: str) -> None:
    document = canvas.document
    document.set_locked(document.active_key, True)
    canvas.set_tool(tool)
    with qtbot.waitSignal(canvas.status_message) as blocker:
        canvas.tool.press(10.5, 10.5)
    assert "locked" in blocker.args[0]
    assert not active_mask(canvas).any()


def test_hidden_object_rejects_brush(canvas: MaskCanvas, qtbot) -> None:
    document = canvas.document
    document.set_visible(document.active_key, False)
    with qtbot.waitSignal(canvas.status_message) as blocker:
        drag(canvas, [(10.5, 10.5), (30.5, 10.5)])
    assert "hidden" in blocker.args[0]
    assert not active_mask(canvas).any()


def test_polygon_add_and_subtract(canvas: MaskCanvas) -> None:
    document = canvas.document
    canvas.set_tool("polygon_add")
    outer = [(4.0, 4.0), (40.0, 6.0), (30.0, 40.0)]
    for point in outer:
        canvas.tool.press(*point)
        canvas.tool.release(*point)
    assert canvas.tool.points == outer
    assert canvas.tool.key_press(Qt.Key.Key_Return)
    added = polygon_reference(outer, 64, 48)
    np.testing.assert_array_equal(active_mask(canvas), added)

    canvas.set_tool("polygon_subtract")
    inner = [(10.0, 10.0), (25.0, 10.0), (25.0, 20.0), (10.0, 20.0)]
    for point in inner[:-1]:
        canvas.tool.press(*point)
        canvas.tool.release(*point)
    canvas.tool.press(*inner[-1])
    canvas.tool.release(*inner[-1])
    canvas.tool.double_click(*inner[-1])  # Qt sends press, release, double click, release
    canvas.tool.release(*inner[-1])
    np.testing.assert_array_equal(active_mask(canvas), added & ~polygon_reference(inner, 64, 48))
    assert document.undo_stack.count() == 3
    document.undo_stack.undo()
    np.testing.assert_array_equal(active_mask(canvas), added)


def test_lasso_drag_closes_on_release(canvas: MaskCanvas) -> None:
    canvas.set_tool("polygon_add")
    zoom = canvas.zoom
    # Points far enough apart on screen that every one is recorded.
    points = [(5.0, 5.0), (5.0 + 20 / zoom, 5.0), (35.0, 30.0), (8.0, 30.0)]
    drag(canvas, points)
    np.testing.assert_array_equal(active_mask(canvas), polygon_reference(points, 64, 48))
    assert canvas.tool.points == []


def test_polygon_escape_and_backspace(canvas: MaskCanvas, qtbot) -> None:
    canvas.set_tool("polygon_add")
    for point in [(4.0, 4.0), (40.0, 6.0), (50.0, 9.0)]:
        canvas.tool.press(*point)
        canvas.tool.release(*point)
    assert canvas.tool.key_press(Qt.Key.Key_Backspace)
    assert canvas.tool.points == [(4.0, 4.0), (40.0, 6.0)]
    with qtbot.waitSignal(canvas.status_message):
        assert canvas.tool.key_press(Qt.Key.Key_Escape)
    assert canvas.tool.points == []
    assert not canvas.tool.key_press(Qt.Key.Key_Escape)  # nothing left to cancel
    assert not active_mask(canvas).any()


def test_polygon_needs_three_points(canvas: MaskCanvas, qtbot) -> None:
    canvas.set_tool("polygon_add")
    for point in [(4.0, 4.0), (40.0, 6.0)]:
        canvas.tool.press(*point)
        canvas.tool.release(*point)
    with qtbot.waitSignal(canvas.status_message) as blocker:
        canvas.tool.key_press(Qt.Key.Key_Enter)
    assert blocker.args == ["A polygon needs at least 3 points."]
    assert canvas.document.undo_stack.count() == 1


def test_flood_fill_fills_hole_then_erases_part(canvas: MaskCanvas) -> None:
    document = canvas.document
    ring = rect_mask(64, 48, 10, 10, 30, 30) & ~rect_mask(64, 48, 15, 15, 25, 25)
    speck = rect_mask(64, 48, 50, 5, 53, 8)
    document.replace_mask(document.active_key, ring | speck, "Set up")
    canvas.set_tool("flood_fill")

    canvas.tool.press(20.5, 20.5)  # inside the hole
    np.testing.assert_array_equal(active_mask(canvas), rect_mask(64, 48, 10, 10, 30, 30) | speck)
    canvas.tool.press(51.5, 6.5)  # on the speck
    np.testing.assert_array_equal(active_mask(canvas), rect_mask(64, 48, 10, 10, 30, 30))

    document.undo_stack.undo()
    document.undo_stack.undo()
    np.testing.assert_array_equal(active_mask(canvas), ring | speck)


def test_flood_fill_outside_image_reports(canvas: MaskCanvas, qtbot) -> None:
    canvas.set_tool("flood_fill")
    with qtbot.waitSignal(canvas.status_message) as blocker:
        canvas.tool.press(-3.0, 10.0)
    assert blocker.args == ["Click inside the image to fill."]


# Whole-mask commands


def mask_with_hole_and_speck():
    mask = rect_mask(64, 48, 10, 10, 30, 30)
    mask[18:22, 18:22] = False  # a hole
    mask[40:42, 50:52] = True  # a 4-pixel speck
    return mask


@pytest.mark.parametrize(
    ("operation", "amount"),
    [("fill_holes", None), ("remove_specks", 10), ("grow", 2), ("shrink", 2), ("clear", None)],
)
def test_mask_commands_undoable(canvas: MaskCanvas, operation: str, amount) -> None:
    document: ImageDocument = canvas.document
    key = document.active_key
    original = mask_with_hole_and_speck()
    document.replace_mask(key, original, "Set up")
    expected = compute_mask_operation(original, operation, amount or 0)
    assert not np.array_equal(expected, original)
    count = document.undo_stack.count()

    assert canvas.run_mask_operation(operation, amount)
    np.testing.assert_array_equal(active_mask(canvas), expected)
    assert document.undo_stack.count() == count + 1
    document.undo_stack.undo()
    np.testing.assert_array_equal(active_mask(canvas), original)
    document.undo_stack.redo()
    np.testing.assert_array_equal(active_mask(canvas), expected)


def test_mask_command_results() -> None:
    original = mask_with_hole_and_speck()
    filled = compute_mask_operation(original, "fill_holes")
    assert filled[18:22, 18:22].all()
    despecked = compute_mask_operation(original, "remove_specks", 10)
    assert not despecked[40:42, 50:52].any()
    assert despecked[10:18, 10:30].all()
    grown = compute_mask_operation(original, "grow", 2)
    assert not original[8, 20]
    assert grown[8, 20]
    shrunk = compute_mask_operation(original, "shrink", 2)
    assert original[10, 20]
    assert not shrunk[10, 20]
    assert not compute_mask_operation(original, "clear").any()
    assert set(MASK_OPERATIONS) == {"fill_holes", "remove_specks", "grow", "shrink", "clear"}


def test_mask_command_amounts_checked() -> None:
    with pytest.raises(ValueError, match="at least 1 px, got 0"):
        compute_mask_operation(mask_with_hole_and_speck(), "grow", 0)


def test_mask_command_defaults_from_canvas(canvas: MaskCanvas) -> None:
    document = canvas.document
    document.replace_mask(document.active_key, mask_with_hole_and_speck(), "Set up")
    canvas.grow_step = 3
    assert canvas.run_mask_operation("grow")
    expected = compute_mask_operation(mask_with_hole_and_speck(), "grow", 3)
    np.testing.assert_array_equal(active_mask(canvas), expected)


def test_mask_command_on_locked_object_reports(canvas: MaskCanvas, qtbot) -> None:
    document = canvas.document
    document.replace_mask(document.active_key, mask_with_hole_and_speck(), "Set up")
    document.set_locked(document.active_key, True)
    with qtbot.waitSignal(canvas.status_message) as blocker:
        assert not canvas.run_mask_operation("clear")
    assert "locked" in blocker.args[0]
    np.testing.assert_array_equal(active_mask(canvas), mask_with_hole_and_speck())


def test_unchanged_mask_command_reports(canvas: MaskCanvas, qtbot) -> None:
    with qtbot.waitSignal(canvas.status_message) as blocker:
        assert not canvas.run_mask_operation("clear")
    assert blocker.args == ["The mask did not change."]
