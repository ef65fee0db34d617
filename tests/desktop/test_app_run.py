"""The real run_app entry point offscreen, the no-display check and the excepthook."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from app_support import make_folder, make_settings, make_window
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from textmask_core.errors import ImageReadError, StoreError
from textmask_core.store import ProjectStore
from textmask_desktop import app, cli
from textmask_desktop.errors import ErrorChannel, describe_error, install_excepthook, log_file_path
from textmask_desktop.main_window import MainWindow


def test_no_display_returns_nonzero(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    code = app.run_app(None, [])
    assert code == app.EXIT_NO_DISPLAY
    assert "QT_QPA_PLATFORM" in capsys.readouterr().err


def test_display_available_rules() -> None:
    assert app.display_available({"QT_QPA_PLATFORM": "offscreen"})
    assert app.display_available({"DISPLAY": ":0"}) or sys.platform != "linux"
    if sys.platform == "linux":
        assert not app.display_available({})


def _drive_window(seen: dict[str, object]) -> None:
    """Predict "box" in the first MainWindow once it is ready, accept it, then close."""

    def drive() -> None:
        windows = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        ]
        window = windows[0] if windows else None
        if window is None or window.predictions.model_name != "tiny" or not window.session.document:
            QTimer.singleShot(100, drive)
            return
        window.predictions.handle.predictor.presence_threshold = 0.0
        window.prompt_panel.prompt_edit.setText("box")
        window.predictions.prediction_ready.connect(lambda _outcome: accept(window))
        window.prompt_panel.request_prediction()

    def accept(window: MainWindow) -> None:
        window.prompt_panel.set_threshold(0.01)
        window.prompt_panel.accept_button.click()
        seen["objects"] = [layer.label for layer in window.session.document.objects]
        seen["title"] = window.windowTitle()
        window.close()

    QTimer.singleShot(0, drive)


def _stored_labels(folder: Path) -> list[str]:
    with ProjectStore.open(folder) as store:
        record = store.image_by_path(folder / "a.jpg")
        return [stored.label for stored in store.list_objects(record.id)]


def test_run_app_end_to_end(qtbot, tmp_path: Path) -> None:
    """Open a folder through run_app, predict, accept, and close; the object is stored."""
    folder = make_folder(tmp_path / "images")
    seen: dict[str, object] = {}
    _drive_window(seen)

    code = app.run_app(folder, [], model="tiny")

    assert code == 0
    assert seen["objects"] == ["box"]
    assert "a.jpg" in str(seen["title"])
    assert _stored_labels(folder) == ["box"]
    assert log_file_path().is_file()
    assert "Starting TextMask" in log_file_path().read_text()


def test_textmask_command_opens_window(qtbot, tmp_path: Path) -> None:
    """The `textmask FOLDER --model tiny` command line reaches the same window."""
    folder = make_folder(tmp_path / "images")
    seen: dict[str, object] = {}
    _drive_window(seen)

    code = cli.main([str(folder), "--model", "tiny"])

    assert code == 0
    assert seen["objects"] == ["box"]
    assert _stored_labels(folder) == ["box"]


def test_excepthook_reports_once(qtbot) -> None:
    channel = ErrorChannel()
    restore = install_excepthook(channel)
    try:
        with qtbot.waitSignal(channel.reported) as blocker:
            try:
                raise ValueError("boom")
            except ValueError as error:
                sys.excepthook(type(error), error, error.__traceback__)
    finally:
        restore()
    message = blocker.args[0]
    assert message.title == "An operation failed"
    assert "boom" in message.text
    assert str(log_file_path()) in message.hint


def test_error_messages_say_what_to_do() -> None:
    unreadable = describe_error("Opening", ImageReadError(Path("x.jpg"), "the file is empty"))
    assert unreadable.title == "Opening failed"
    assert unreadable.text == "Cannot read x.jpg: the file is empty."
    assert "other images" in unreadable.hint
    store = describe_error("Saving", StoreError("disk I/O error"))
    assert "writable" in store.hint
    full = describe_error("Export", OSError(28, "No space left on device"))
    assert full.text == "The disk is full."


def test_settings_persist_across_windows(qtbot, tmp_path: Path) -> None:
    first = make_window(qtbot, tmp_path)
    first.canvas.set_brush_size(33)
    first.prompt_panel.threshold_slider.setValue(42)
    first.canvas.set_overlay_opacity(0.7)
    first.settings.overlay_opacity = 0.7
    folder = make_folder(tmp_path / "images")
    first.open_folder(folder)
    qtbot.waitUntil(lambda: not first.folder_opener.is_scanning)
    first.close()

    second = make_window(qtbot, tmp_path)
    assert second.canvas.brush_size == 33
    assert second.prompt_panel.threshold == pytest.approx(0.42)
    assert second.canvas.overlay_opacity == pytest.approx(0.7)
    assert second.settings.recent_folders == [folder.resolve()]
    recent = [action.text() for action in second.window_actions.recent_menu.actions()]
    assert recent == [str(folder.resolve())]
    assert make_settings(tmp_path).brush_size == 33
    second.close()


def test_shortcuts_dialog_lists_actions(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    dialog = window.show_shortcuts()
    rows = {
        dialog.table.item(row, 1).text(): dialog.table.item(row, 0).text()
        for row in range(dialog.table.rowCount())
    }
    assert rows["Next Image"] == "PgDown"
    assert rows["Brush"] == "B"
    assert rows["Brush larger"] == "]"
    assert "Undo" in rows
    dialog.close()
    window.close()


def test_model_menu_lists_models(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    window.start(None, "tiny")
    qtbot.waitUntil(lambda: window.predictions.model_name == "tiny", timeout=30_000)
    texts = [action.text() for action in window.window_actions.model_menu.actions()]
    assert any(text.startswith("tiny") for text in texts)
    checked = [a.text() for a in window.window_actions.model_group.actions() if a.isChecked()]
    assert checked == ["tiny (untrained)"]
    assert window.settings.last_model == "tiny"
    window.close()


def test_quit_after_variable_closes_window(qtbot, tmp_path: Path, monkeypatch) -> None:
    """TEXTMASK_QUIT_AFTER_MS closes the window by itself, as built-app smoke tests need."""
    folder = make_folder(tmp_path / "images")
    monkeypatch.setenv(app.QUIT_AFTER_ENV_VAR, "1500")

    code = app.run_app(folder, [], model="tiny")

    assert code == 0
    assert QApplication.windowIcon().isNull() is False
    assert QApplication.desktopFileName() == "io.github.textmask.TextMask"
