"""The editing tools' common base, their names and the host interface the canvas provides.

Tools receive image coordinates (floats, see canvas.geometry), never Qt mouse events, so
tests and benchmarks drive them exactly as the canvas does. A tool reports problems that
the user can fix, such as editing a locked object, through `host.show_status`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal, Protocol, get_args

from PySide6.QtCore import Qt

from textmask_desktop.document import ImageDocument, ObjectNotEditableError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QGraphicsScene

logger = logging.getLogger(__name__)

ToolName = Literal["brush", "eraser", "polygon_add", "polygon_subtract", "flood_fill"]
TOOL_NAMES: tuple[ToolName, ...] = get_args(ToolName)


class ToolHost(Protocol):
    """What a tool needs from the canvas."""

    @property
    def document(self) -> ImageDocument | None: ...

    @property
    def brush_size(self) -> int: ...

    @property
    def zoom(self) -> float: ...

    def scene(self) -> QGraphicsScene: ...

    def show_status(self, message: str) -> None: ...


class CanvasTool:
    """Base class: every handler does nothing, so a tool overrides only what it uses."""

    name: ToolName
    shows_brush_cursor = False

    def __init__(self, host: ToolHost) -> None:
        self._host = host

    def press(self, x: float, y: float) -> None:
        """Handle the left button going down at image point (x, y)."""

    def move(self, x: float, y: float) -> None:
        """Handle the mouse moving with the left button down."""

    def hover(self, x: float, y: float) -> None:
        """Handle the mouse moving with no button down."""

    def release(self, x: float, y: float) -> None:
        """Handle the left button going up."""

    def double_click(self, x: float, y: float) -> None:
        """Handle a left double click (it follows a press and a release at the same point)."""

    def key_press(self, key: Qt.Key) -> bool:
        """Handle a key; return True when the tool used it."""
        return False

    def cancel(self) -> None:
        """Stop any operation in progress, for example when the tool or image changes."""

    def editable_key(self) -> int | None:
        return editable_active_key(self._host)


def editable_active_key(host: ToolHost) -> int | None:
    """Return the active object's key if it may be edited; else show why and return None."""
    document = host.document
    if document is None:
        host.show_status("Open an image first.")
        return None
    key = document.active_key
    if key is None:
        host.show_status("Select an object to edit, or add one.")
        return None
    layer = document.object(key)
    if not layer.visible:
        host.show_status(f"'{layer.label}' is hidden: show it to edit it.")
        return None
    try:
        document.validate_editable(key)
    except ObjectNotEditableError as error:
        host.show_status(str(error))
        return None
    return key


def create_tool(name: ToolName, host: ToolHost) -> CanvasTool:
    """Create the tool called `name` for `host`."""
    # Imported here because each tool module imports this one for CanvasTool.
    from textmask_desktop.canvas.brush_tool import BrushTool
    from textmask_desktop.canvas.fill_tool import FloodFillTool
    from textmask_desktop.canvas.polygon_tool import PolygonTool

    if name == "brush":
        return BrushTool(host, erase=False)
    if name == "eraser":
        return BrushTool(host, erase=True)
    if name == "polygon_add":
        return PolygonTool(host, subtract=False)
    if name == "polygon_subtract":
        return PolygonTool(host, subtract=True)
    if name == "flood_fill":
        return FloodFillTool(host)
    raise ValueError(f"Unknown tool {name!r}: use one of {', '.join(TOOL_NAMES)}.")
