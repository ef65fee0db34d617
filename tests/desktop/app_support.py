"""Helpers shared by the application-shell tests (test_app_*.py): isolated settings and folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from textmask_desktop.settings import AppSettings

SHARED = Path("/work/shared")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def isolate_home(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Point HOME and the XDG folders at `root`, so logs, models and stores land there."""
    for name, sub in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        folder = root / sub
        folder.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(folder))


def make_settings(root: Path) -> AppSettings:
    """Settings kept in an ini file under `root`; two calls with one root share the values."""
    return AppSettings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))


def copy_fixture(name: str, folder: Path, new_name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (new_name or name)
    shutil.copyfile(FIXTURES / name, target)
    return target
