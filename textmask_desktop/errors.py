"""The one error channel: full traceback to the log file, one short message to the user."""

from __future__ import annotations

import errno
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import platformdirs
from PySide6.QtCore import QObject, Signal

from textmask_core.errors import (
    CheckpointError,
    DeviceUnavailableError,
    EncoderWeightsMissingError,
    ImageReadError,
    ImageTooLargeError,
    MaskFormatError,
    ModelNotFoundError,
    StoreError,
)

logger = logging.getLogger(__name__)

LOG_FILE_NAME = "textmask.log"


def log_file_path() -> Path:
    """Return the log file that app.run_app writes (it may not exist yet)."""
    return Path(platformdirs.user_log_dir("TextMask", appauthor=False)) / LOG_FILE_NAME


@dataclass(frozen=True)
class UserMessage:
    """Message for the user: which action failed, why, and what to do next."""

    title: str
    text: str
    hint: str


def describe_error(action: str, error: BaseException) -> UserMessage:
    """Turn `error` raised while doing `action` ("Prediction", "Export") into a UserMessage."""
    title = f"{action} failed"
    text, hint = _explain(error)
    return UserMessage(title=title, text=text, hint=hint)


def _explain(error: BaseException) -> tuple[str, str]:
    # Subclasses come before their base classes: ImageTooLargeError is an ImageReadError.
    if isinstance(error, ImageTooLargeError):
        return str(error), "Raise the pixel limit in Settings if you trust this file."
    if isinstance(error, ImageReadError):
        return (
            f"Cannot read {error.path.name}: {error.reason}.",
            "Check or replace the file; the other images in the folder still work.",
        )
    if isinstance(error, StoreError):
        return (
            str(error),
            "Check that the project folder is writable and the disk is not full. "
            "Your edits stay in memory and are saved at the next successful save.",
        )
    if isinstance(error, (ModelNotFoundError, CheckpointError)):
        return str(error), "Choose another model in the Model menu."
    if isinstance(error, EncoderWeightsMissingError):
        return str(error), "Install the package named above, or choose another model."
    if isinstance(error, DeviceUnavailableError):
        return str(error), "Choose 'auto' or 'cpu' as the device in Settings."
    if isinstance(error, MaskFormatError):
        return str(error), "Check the mask or annotation file named above."
    return _explain_system_error(error)


def _explain_system_error(error: BaseException) -> tuple[str, str]:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return "The disk is full.", "Free some disk space and try again."
    if isinstance(error, PermissionError):
        return (
            f"Permission denied: {error.filename or error}.",
            "Choose a location you can write to, or change the file permissions.",
        )
    if isinstance(error, MemoryError) or "out of memory" in str(error).lower():
        return (
            "The computer ran out of memory.",
            "Close other programs, lower the pixel limit, or choose the CPU device in Settings.",
        )
    if isinstance(error, OSError):
        return str(error), "Check the file or folder named above and try again."
    return (
        f"Unexpected error: {type(error).__name__}: {error}",
        f"The full error is in the log file {log_file_path()}; "
        "please include it when you report the problem.",
    )


class ErrorChannel(QObject):
    """Logs every reported error with its traceback and emits one message for the user.

    The main window connects `reported` to a dialog. Reporting is safe from any thread because
    Qt queues the signal to the GUI thread.
    """

    reported = Signal(object)  # UserMessage

    def report(
        self, action: str, error: BaseException, message: UserMessage | None = None
    ) -> UserMessage:
        """Log `error` with its traceback and emit one message about the failed `action`.

        `message` replaces the text made by describe_error when the caller can say more.
        """
        message = message or describe_error(action, error)
        exc_info = (type(error), error, error.__traceback__)
        logger.error("%s: %s", message.title, message.text, exc_info=exc_info)
        self.reported.emit(message)
        return message

    def warn(self, message: UserMessage) -> None:
        """Log and emit a message that has no exception behind it."""
        logger.warning("%s: %s", message.title, message.text)
        self.reported.emit(message)


def install_excepthook(channel: ErrorChannel) -> Callable[[], None]:
    """Route uncaught exceptions (GUI thread and Python threads) to `channel`.

    Returns a function that puts the previous hooks back.
    """
    previous = sys.excepthook
    previous_thread_hook = threading.excepthook

    def hook(
        kind: type[BaseException], error: BaseException, traceback: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, error, traceback)
            return
        channel.report("An operation", error.with_traceback(traceback))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    def restore() -> None:
        sys.excepthook = previous
        threading.excepthook = previous_thread_hook

    sys.excepthook = hook
    threading.excepthook = thread_hook
    return restore
