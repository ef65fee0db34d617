"""Side-panel widths: the photo keeps most of the window, however narrow the window gets.

QMainWindow keeps its dock widgets at their size when the window shrinks and takes the width
from the central widget, so in a narrow window the panels would squeeze the photo. The window
calls fit_side_docks on every resize to shrink them back to a share of the width.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

SIDE_PANEL_SHARE = 0.4  # the image list and the Annotate panel together, of the window width


def shrunk_widths(
    window_width: int,
    widths: Sequence[int],
    minimums: Sequence[int],
    share: float = SIDE_PANEL_SHARE,
) -> list[int] | None:
    """Return smaller panel widths that fit `share` of `window_width`, or None if they fit.

    Each panel keeps its part of the space it had, and never goes below its minimum, so the
    result can still exceed the share in a window too narrow for the minimums.
    """
    budget = int(window_width * share)
    total = sum(widths)
    if total <= budget or total <= 0:
        return None
    pairs = zip(widths, minimums, strict=True)
    scaled = [max(minimum, width * budget // total) for width, minimum in pairs]
    return None if scaled == list(widths) else scaled


def fit_side_docks(window: QMainWindow, docks: Sequence[QDockWidget]) -> None:
    """Shrink the visible, docked side panels of `window` when they take too much width."""
    docked = [dock for dock in docks if dock.isVisible() and not dock.isFloating()]
    widths = [dock.width() for dock in docked]
    minimums = [dock.minimumSizeHint().width() for dock in docked]
    new_widths = shrunk_widths(window.width(), widths, minimums)
    if new_widths is not None:
        window.resizeDocks(list(docked), new_widths, Qt.Orientation.Horizontal)
