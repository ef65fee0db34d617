"""Application entry point: logging, the uncaught-exception hook and the main window.

textmask_desktop.cli imports this module only when it opens the window, so the batch
subcommands never load Qt.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from textmask_desktop.desktop_entry import APP_ID, application_icon_paths
from textmask_desktop.errors import ErrorChannel, install_excepthook, log_file_path
from textmask_desktop.main_window import MainWindow
from textmask_desktop.settings import APPLICATION, ORGANIZATION, AppSettings

logger = logging.getLogger(__name__)

EXIT_NO_DISPLAY = 2
# Milliseconds after which the window closes by itself; for smoke tests of built apps.
QUIT_AFTER_ENV_VAR = "TEXTMASK_QUIT_AFTER_MS"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

NO_DISPLAY_MESSAGE = (
    "TextMask cannot open its window: no display was found (DISPLAY and WAYLAND_DISPLAY are "
    "unset).\nRun it inside a desktop session, or set QT_QPA_PLATFORM=offscreen to run without "
    "a screen (for tests and screenshots)."
)


def display_available(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Tell whether Qt can open a window: always on Windows and macOS, on Linux only with a
    display server or an explicit QT_QPA_PLATFORM."""
    if environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def configure_logging(level: int = logging.INFO) -> Path | None:
    """Send log records to a rotating file in the user log folder.

    Returns the log file path, or None when the folder cannot be created; then records go to
    stderr only, and the app still starts.
    """
    path = log_file_path()
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    for existing in root.handlers:
        if getattr(existing, "baseFilename", None) == str(path):
            return path  # run_app was called before in this process (tests)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as error:
        logging.basicConfig(level=level, format=LOG_FORMAT)
        logger.warning("Cannot write the log file %s (%s); logging to stderr", path, error)
        return None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    return path


def run_app(
    folder: Path | str | None = None,
    argv: Sequence[str] | None = None,
    *,
    model: str | None = None,
) -> int:
    """Open the TextMask window (on `folder` when given) and run until it closes.

    `argv` goes to QApplication (Qt options such as -platform); `model` is a model name or
    checkpoint folder to load instead of the last used one. Returns the process exit code:
    0 after a normal close, EXIT_NO_DISPLAY when no display is available and QT_QPA_PLATFORM
    is unset.
    """
    if not display_available():
        sys.stderr.write(NO_DISPLAY_MESSAGE + "\n")
        return EXIT_NO_DISPLAY

    log_path = configure_logging()
    logger.info("Starting TextMask (log file %s)", log_path)

    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    # Wayland compositors match the window to its menu entry by this id.
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(_application_icon())

    channel = ErrorChannel()
    restore_hooks = install_excepthook(channel)
    window = MainWindow(AppSettings(), channel)
    window.show()
    window.start(Path(folder) if folder is not None else None, model)
    _schedule_quit(window)
    try:
        code = app.exec()
    finally:
        restore_hooks()
    logger.info("TextMask closed with exit code %d", code)
    return int(code)


def _application_icon() -> QIcon:
    icon = QIcon()
    for path in application_icon_paths():
        icon.addFile(str(path))
    return icon


def _schedule_quit(window: MainWindow) -> None:
    value = os.environ.get(QUIT_AFTER_ENV_VAR)
    if not value:
        return
    try:
        milliseconds = int(value)
    except ValueError:
        logger.warning("ignoring %s=%r: not a number of milliseconds", QUIT_AFTER_ENV_VAR, value)
        return
    logger.info("closing the window after %d ms (%s)", milliseconds, QUIT_AFTER_ENV_VAR)
    QTimer.singleShot(milliseconds, window.close)
