"""Helpers shared by the application-shell tests (test_app_*.py): settings, folders, windows."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QSettings

from textmask_desktop.errors import ErrorChannel
from textmask_desktop.main_window import MainWindow
from textmask_desktop.settings import AppSettings

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"
GOOD_IMAGE = "exif_orientation6.jpg"  # 480×640 as displayed
SECOND_IMAGE = "grayscale.jpg"
UNREADABLE_IMAGE = "truncated.jpg"


def make_settings(root: Path) -> AppSettings:
    """Settings kept in an ini file under `root`; two calls with one root share the values."""
    return AppSettings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))


def make_folder(
    folder: Path, names: tuple[str, ...] = (GOOD_IMAGE, SECOND_IMAGE, UNREADABLE_IMAGE)
) -> Path:
    """Copy case images into `folder` as a.jpg, b.jpg, … so they sort in the given order."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        shutil.copyfile(CASES / name, folder / f"{chr(ord('a') + index)}{Path(name).suffix}")
    return folder


def make_window(qtbot, root: Path) -> MainWindow:  # noqa: ANN001 - qtbot is pytest-qt's fixture
    settings = make_settings(root)
    settings.device = "cpu"
    window = MainWindow(settings, ErrorChannel())
    qtbot.addWidget(window)
    return window
