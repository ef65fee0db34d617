"""QActions for the canvas's tools, brush size, zoom and mask commands, with their shortcuts.

The main window adds them to its menus and toolbars. Single-key shortcuts do not fire while a
text field has focus, because text fields take printable keys first.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from textmask_desktop.canvas.geometry import wheel_zoom
from textmask_desktop.canvas.mask_operations import OPERATION_TEXT, MaskOperation
from textmask_desktop.canvas.tools import TOOL_NAMES, ToolName
from textmask_desktop.canvas.view import MaskCanvas

TOOL_ACTIONS: dict[ToolName, tuple[str, str]] = {
    "brush": ("&Brush", "B"),
    "eraser": ("&Eraser", "E"),
    "polygon_add": ("&Polygon add", "P"),
    "polygon_subtract": ("Polygon &subtract", "Shift+P"),
    "flood_fill": ("&Flood fill", "F"),
}


def create_actions(parent: QObject, canvas: MaskCanvas) -> dict[str, QAction]:
    """Create the canvas actions, keyed by name.

    Names: the tool names (checkable, one checked at a time, following `canvas.tool_changed`),
    brush_smaller, brush_larger, zoom_fit, zoom_actual_size, zoom_in, zoom_out, and the mask
    operations fill_holes, remove_specks, grow, shrink and clear.
    """
    actions: dict[str, QAction] = {}
    group = QActionGroup(parent)
    group.setExclusive(True)
    for name in TOOL_NAMES:
        text, shortcut = TOOL_ACTIONS[name]
        action = _action(parent, text, shortcut, lambda name=name: canvas.set_tool(name))
        action.setCheckable(True)
        action.setChecked(name == canvas.tool_name)
        group.addAction(action)
        actions[name] = action
    canvas.tool_changed.connect(lambda name: actions[name].setChecked(True))

    actions["brush_smaller"] = _action(
        parent, "Brush s&maller", "[", lambda: canvas.step_brush_size(-1)
    )
    actions["brush_larger"] = _action(
        parent, "Brush &larger", "]", lambda: canvas.step_brush_size(+1)
    )
    actions["zoom_fit"] = _action(parent, "&Fit to window", "Ctrl+0", canvas.fit_to_window)
    actions["zoom_actual_size"] = _action(parent, "&Actual size", "Ctrl+1", canvas.zoom_actual_size)
    actions["zoom_in"] = _action(
        parent,
        "Zoom &in",
        QKeySequence.StandardKey.ZoomIn,
        lambda: canvas.set_zoom(wheel_zoom(canvas.zoom, 120)),
    )
    actions["zoom_out"] = _action(
        parent,
        "Zoom &out",
        QKeySequence.StandardKey.ZoomOut,
        lambda: canvas.set_zoom(wheel_zoom(canvas.zoom, -120)),
    )
    for operation in ("fill_holes", "remove_specks", "grow", "shrink", "clear"):
        actions[operation] = _operation_action(parent, canvas, operation)
    return actions


def _operation_action(parent: QObject, canvas: MaskCanvas, operation: MaskOperation) -> QAction:
    return _action(
        parent, OPERATION_TEXT[operation], None, lambda: canvas.run_mask_operation(operation)
    )


def _action(
    parent: QObject,
    text: str,
    shortcut: str | QKeySequence.StandardKey | None,
    slot: Callable[[], object],
) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _checked=False: slot())
    return action
