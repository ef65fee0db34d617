"""The status bar's permanent widgets: unsaved edits, a moved project database, the model.

Temporary messages disappear after a few seconds. So the facts the user must keep seeing
(which model runs, whether it is trained, where the database went) stay in these labels.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QStatusBar

from textmask_core.store.location import in_folder_store_path
from textmask_desktop.counting import count_noun

DATABASE_TEXT_WIDTH = 280  # pixels; the full path is in the tooltip
MIN_LABEL_WIDTH = 40  # a narrow window may squeeze the labels down to this
UNTRAINED_STYLE = "color: #c62828; font-weight: bold"


def display_path(path: Path, home: Path | None = None) -> str:
    """Return `path` with the home folder written as "~", as file managers show it."""
    home = home or Path.home()
    try:
        return str(Path("~") / path.relative_to(home))
    except ValueError:
        return str(path)


def database_moved(store_path: Path, image_folder: Path) -> bool:
    """Return whether the project database is not in the image folder (a read-only folder)."""
    return store_path.resolve() != in_folder_store_path(image_folder)


class StatusWidgets:
    """Creates the permanent labels in `bar` and updates their text."""

    def __init__(self, bar: QStatusBar) -> None:
        self.unsaved_label = QLabel(bar)
        self.database_label = QLabel(bar)
        self.database_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.database_label.hide()
        self.model_label = QLabel("No model", bar)
        for label in (self.unsaved_label, self.database_label, self.model_label):
            # An explicit minimum replaces the text width, so long texts never widen the window.
            label.setMinimumWidth(MIN_LABEL_WIDTH)
            bar.addPermanentWidget(label)

    def show_unsaved(self, count: int) -> None:
        text = f"{count_noun(count, 'image')} with unsaved edits" if count else ""
        self.unsaved_label.setText(text)

    def show_database(self, store_path: Path | None, image_folder: Path | None) -> None:
        """Show where the database is when it is not in the image folder; hide it otherwise."""
        if (
            store_path is None
            or image_folder is None
            or not database_moved(store_path, image_folder)
        ):
            self.database_label.hide()
            self.database_label.clear()
            return
        metrics = QFontMetrics(self.database_label.font())
        text = metrics.elidedText(
            f"Database: {display_path(store_path)}",
            Qt.TextElideMode.ElideMiddle,
            DATABASE_TEXT_WIDTH,
        )
        self.database_label.setText(text)
        self.database_label.setToolTip(
            f"The image folder {image_folder} is read-only, so this project's database is "
            f"{store_path}. Exports go to a folder you can write to."
        )
        self.database_label.show()

    def show_model(self, text: str, tooltip: str = "", *, untrained: bool = False) -> None:
        self.model_label.setText(f"Model: {text}")
        self.model_label.setToolTip(tooltip)
        self.model_label.setStyleSheet(UNTRAINED_STYLE if untrained else "")
