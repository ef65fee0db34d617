"""The dialog that shows a UserMessage from the error channel."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

from textmask_desktop.errors import UserMessage, log_file_path

logger = logging.getLogger(__name__)


def build_error_box(parent: QWidget | None, message: UserMessage) -> QMessageBox:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(f"TextMask: {message.title}")
    box.setText(f"<b>{message.title}</b><br>{_escape(message.text)}")
    box.setInformativeText(f"{message.hint}\n\nDetails are in the log file: {log_file_path()}")
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    return box


class ErrorPresenter:
    """Shows error messages one at a time without blocking the event loop.

    A message whose title and text match the one on screen is only logged, so that an error
    repeated for many images (a batch, a read-only disk) opens one dialog, not hundreds.
    """

    def __init__(self, parent: QWidget | None) -> None:
        self._parent = parent
        self._box: QMessageBox | None = None
        self._shown: UserMessage | None = None
        self.suppressed_count = 0

    @property
    def current_box(self) -> QMessageBox | None:
        return self._box if self._box is not None and self._box.isVisible() else None

    def show(self, message: UserMessage) -> None:
        if self.current_box is not None and self._shown == message:
            self.suppressed_count += 1
            logger.info("Not showing a repeat of the open error dialog: %s", message.title)
            return
        self._box = build_error_box(self._parent, message)
        self._shown = message
        # open() is window-modal but returns at once, so workers and timers keep running.
        self._box.open()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
