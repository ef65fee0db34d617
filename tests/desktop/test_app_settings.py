"""AppSettings: typed values that persist across restarts and reject bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_support import make_settings

from textmask_desktop.dialogs.settings_dialog import SettingsDialog


def test_settings_defaults(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.device == "auto"
    assert settings.threshold == 0.5
    assert settings.autosave is True
    assert settings.max_pixels is None
    assert settings.recent_folders == []
    assert settings.last_model is None


def test_settings_persist_across_instances(tmp_path: Path) -> None:
    first = make_settings(tmp_path)
    first.device = "cpu"
    first.threshold = 0.35
    first.overlay_opacity = 0.8
    first.brush_size = 42
    first.autosave = False
    first.max_pixels = 5_000_000
    first.last_model = "tiny"
    first.sync()

    second = make_settings(tmp_path)
    assert second.device == "cpu"
    assert second.threshold == pytest.approx(0.35)
    assert second.overlay_opacity == pytest.approx(0.8)
    assert second.brush_size == 42
    assert second.autosave is False
    assert second.max_pixels == 5_000_000
    assert second.last_model == "tiny"


def test_recent_folders_most_recent_first(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    for index in range(12):
        settings.add_recent_folder(tmp_path / f"folder{index}")
    settings.add_recent_folder(tmp_path / "folder5")
    recent = make_settings(tmp_path).recent_folders
    assert recent[0] == (tmp_path / "folder5").resolve()
    assert len(recent) == 10
    assert len(set(recent)) == 10


def test_invalid_values_rejected(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(ValueError, match="threshold"):
        settings.threshold = 1.5
    with pytest.raises(ValueError, match="device"):
        settings.device = "tpu"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="brush_size"):
        settings.brush_size = 0


def test_hand_edited_garbage_falls_back(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.qsettings.setValue("prediction/threshold", "lots")
    settings.qsettings.setValue("model/device", "quantum")
    settings.qsettings.setValue("folders/recent", "not json")
    assert settings.threshold == 0.5
    assert settings.device == "auto"
    assert settings.recent_folders == []


def test_store_location_per_folder(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    folder = tmp_path / "photos"
    assert settings.store_location(folder) is None
    settings.set_store_location(folder, tmp_path / "elsewhere" / "project.sqlite")
    again = make_settings(tmp_path)
    assert again.store_location(folder) == tmp_path / "elsewhere" / "project.sqlite"


def test_settings_dialog_writes_values(qtbot, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.device_box.setCurrentText("cpu")
    dialog.threshold_box.setValue(0.7)
    dialog.brush_box.setValue(12)
    dialog.autosave_box.setChecked(False)
    dialog.pixel_limit_box.setValue(50)
    dialog.accept()

    reread = make_settings(tmp_path)
    assert reread.device == "cpu"
    assert reread.threshold == pytest.approx(0.7)
    assert reread.brush_size == 12
    assert reread.autosave is False
    assert reread.max_pixels == 50_000_000
