"""The save-or-keep gate: every way of leaving an image saves, failed saves keep the edits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from app_support import make_folder, make_window
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from textmask_core.store import ProjectStore
from textmask_desktop.document import ObjectLayer
from textmask_desktop.main_window import MainWindow
from textmask_desktop.session import initial_active_key


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "images")


@pytest.fixture
def window(qtbot, tmp_path: Path, folder: Path) -> MainWindow:
    window = make_window(qtbot, tmp_path)
    window.settings.autosave = False  # so that only the gate can save
    window.show()
    window.start(folder, "tiny")
    qtbot.waitUntil(lambda: window.predictions.model_name == "tiny", timeout=30_000)
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)
    yield window
    if window.isVisible():
        _allow_writes(window)
        window.close()


def _add_square(window: MainWindow, label: str = "square") -> int:
    document = window.session.document
    assert document is not None
    mask = np.zeros((document.height, document.width), dtype=np.bool_)
    mask[10:50, 20:60] = True
    return document.add_object(mask, label, prompt=label, origin="edited")


def _stored_labels(folder: Path, name: str) -> list[str]:
    with ProjectStore.open(folder) as store:
        record = store.image_by_path(folder / name)
        assert record is not None
        return [stored.label for stored in store.list_objects(record.id)]


def _block_writes(window: MainWindow) -> None:
    # SQLite's own read-only switch: every write fails as it does on a read-only file.
    window.session.require_store()._conn.execute("PRAGMA query_only = ON")


def _allow_writes(window: MainWindow) -> None:
    store = window.session.store
    if store is not None and store._conn is not None:
        store._conn.execute("PRAGMA query_only = OFF")


def _click_row(qtbot, window: MainWindow, row: int) -> None:
    view = window.image_list.view
    rect = view.visualRect(window.image_list.proxy.index(row, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_open_folder_marks_unreadable(qtbot, window: MainWindow) -> None:
    model = window.image_list.model
    assert [entry.path.name for entry in model.entries()] == ["a.jpg", "b.jpg", "c.jpg"]
    assert window.session.current_path is not None
    assert window.session.current_path.name == "a.jpg"
    assert window.session.document is not None
    assert (window.session.document.width, window.session.document.height) == (480, 640)

    qtbot.waitUntil(lambda: model.entry(2).status == "unreadable", timeout=10_000)
    tooltip = model.data(model.index(2), Qt.ItemDataRole.ToolTipRole)
    assert "truncated" in tooltip
    assert model.entry(0).status == "new"


def test_unreadable_image_never_shown(qtbot, window: MainWindow, folder: Path) -> None:
    document = window.open_image(folder / "c.jpg", "list")
    assert document is None
    assert window.session.document is None
    assert window.center.currentWidget() is window.canvas_message
    assert "c.jpg" in window.canvas_message.text()
    with ProjectStore.open(folder) as store:
        record = store.image_by_path(folder / "c.jpg")
        assert record is not None
        assert record.status == "unreadable"
        assert record.error


LEAVE_ACTIONS: dict[str, Callable[[object, MainWindow], None]] = {
    "next": lambda qtbot, window: window.go_next(),
    "next not done": lambda qtbot, window: window.go_next_not_done(),
    "list click": lambda qtbot, window: _click_row(qtbot, window, 1),
    "model switch": lambda qtbot, window: window.switch_model("tiny"),
}


@pytest.mark.parametrize("way", list(LEAVE_ACTIONS))
def test_leaving_image_saves(qtbot, window: MainWindow, folder: Path, way: str) -> None:
    _add_square(window)
    assert _stored_labels(folder, "a.jpg") == []

    LEAVE_ACTIONS[way](qtbot, window)

    assert _stored_labels(folder, "a.jpg") == ["square"]
    assert window.session.unsaved_paths == []
    assert window.image_list.model.entry(0).status == "edited"
    if way == "model switch":
        qtbot.waitUntil(lambda: not window.predictions.is_busy, timeout=30_000)


def test_closing_window_saves(qtbot, window: MainWindow, folder: Path) -> None:
    _add_square(window)
    window.close()
    assert not window.isVisible()
    assert _stored_labels(folder, "a.jpg") == ["square"]


def test_failed_save_keeps_edits_warns_once(qtbot, window: MainWindow, folder: Path) -> None:
    messages = []
    window.channel.reported.connect(messages.append)
    key = _add_square(window)
    document = window.session.document
    _block_writes(window)

    window.go_next()  # a.jpg fails to save
    window.go_next()  # the retry of a.jpg fails again; c.jpg is unreadable
    assert len(messages) == 1
    assert messages[0].title == "Edits not saved"
    assert "a.jpg" in messages[0].text
    assert [path.name for path in window.session.unsaved_paths] == ["a.jpg"]
    assert window.isWindowModified()

    reopened = window.open_image(folder / "a.jpg", "previous")
    assert reopened is document
    assert [layer.label for layer in reopened.objects] == ["square"]
    assert reopened.object(key).mask.sum() == 40 * 40

    _allow_writes(window)
    window.go_next()
    assert window.session.unsaved_paths == []
    assert _stored_labels(folder, "a.jpg") == ["square"]
    assert len(messages) == 1


def test_close_with_failed_save_asks(qtbot, window: MainWindow, folder: Path) -> None:
    _add_square(window)
    _block_writes(window)
    answers = []

    def answer_cancel() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.windowTitle() == "Unsaved edits":
            answers.append(box.text())
            box.button(QMessageBox.StandardButton.Cancel).click()
        else:
            QTimer.singleShot(50, answer_cancel)

    QTimer.singleShot(50, answer_cancel)
    window.close()
    assert answers, "closing with unsaved edits did not ask"
    assert window.isVisible()
    assert window.session.document is not None

    _allow_writes(window)
    window.close()
    assert not window.isVisible()
    assert _stored_labels(folder, "a.jpg") == ["square"]


def test_undo_switch_reopen_shows_undone(qtbot, window: MainWindow, folder: Path) -> None:
    window.settings.autosave = True
    _add_square(window, "first")
    _add_square(window, "second")
    qtbot.waitUntil(lambda: _stored_labels(folder, "a.jpg") == ["first", "second"])

    window.undo_group.undo()
    assert [layer.label for layer in window.session.document.objects] == ["first"]
    window.go_next()
    window.go_previous()

    assert [layer.label for layer in window.session.document.objects] == ["first"]
    assert _stored_labels(folder, "a.jpg") == ["first"]


def test_autosave_after_each_edit(qtbot, window: MainWindow, folder: Path) -> None:
    window.settings.autosave = True
    _add_square(window)
    qtbot.waitUntil(lambda: _stored_labels(folder, "a.jpg") == ["square"])
    assert not window.session.document.is_dirty


def test_brush_erase_undo_redo(qtbot, window: MainWindow) -> None:
    canvas = window.canvas
    key = _add_square(window)
    layer = window.session.document.object(key)
    before = int(layer.mask.sum())

    canvas.set_brush_size(10)
    canvas.set_tool("brush")
    canvas.tool.press(200.0, 300.0)
    canvas.tool.move(260.0, 300.0)
    canvas.tool.release(260.0, 300.0)
    painted = int(layer.mask.sum())
    assert painted > before
    assert layer.mask[300, 230]

    canvas.set_tool("eraser")
    canvas.tool.press(30.0, 30.0)
    canvas.tool.release(30.0, 30.0)
    erased = int(layer.mask.sum())
    assert erased < painted
    assert not layer.mask[30, 30]

    window.window_actions.undo.trigger()
    assert int(layer.mask.sum()) == painted
    window.window_actions.undo.trigger()
    assert int(layer.mask.sum()) == before
    window.window_actions.redo.trigger()
    assert int(layer.mask.sum()) == painted


def test_mark_done_moves_to_next(qtbot, window: MainWindow, folder: Path) -> None:
    _add_square(window)
    window.mark_done_and_next()
    assert window.image_list.model.entry(0).status == "done"
    assert window.session.current_path == folder / "b.jpg"
    with ProjectStore.open(folder) as store:
        assert store.image_by_path(folder / "a.jpg").status == "done"


def test_reopen_shows_stored_then_scans(qtbot, window: MainWindow, folder: Path) -> None:
    (folder / "b.jpg").unlink()
    (folder / "d.jpg").write_bytes((folder / "a.jpg").read_bytes())

    window.open_folder(folder)
    stored = [entry.path.name for entry in window.image_list.model.entries()]
    assert stored == ["a.jpg", "b.jpg", "c.jpg"]  # straight from the database
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)

    scanned = [entry.path.name for entry in window.image_list.model.entries()]
    assert scanned == ["a.jpg", "c.jpg", "d.jpg"]
    qtbot.waitUntil(lambda: window.image_list.model.entry(1).status == "unreadable")


def test_thumbnail_failure_is_stored(qtbot, window: MainWindow, folder: Path) -> None:
    qtbot.waitUntil(lambda: window.image_list.model.entry(2).status == "unreadable")
    with ProjectStore.open(folder) as store:
        record = store.image_by_path(folder / "c.jpg")
        assert record.status == "unreadable"
        assert "truncated" in record.error


def test_returning_selects_first_editable(qtbot, window: MainWindow, folder: Path) -> None:
    hidden = _add_square(window, "hidden")
    locked = _add_square(window, "locked")
    _add_square(window, "free")
    document = window.session.document
    document.set_visible(hidden, False)
    document.set_locked(locked, True)
    document.set_active(None)
    window.go_next()
    window.go_previous()

    document = window.session.document
    active = document.object(document.active_key)
    assert active.label == "free"
    assert window.objects_panel.selected_keys() == [document.active_key]
    canvas = window.canvas
    canvas.set_tool("brush")
    canvas.set_brush_size(10)
    canvas.tool.press(300.0, 400.0)
    canvas.tool.release(300.0, 400.0)
    assert active.mask[400, 300], "the brush paints on the selected object"


def test_returning_restores_last_active(qtbot, window: MainWindow) -> None:
    _add_square(window, "first")
    second = _add_square(window, "second")
    _add_square(window, "third")
    window.session.document.set_active(second)
    window.go_next()
    window.go_previous()

    document = window.session.document
    assert document.object(document.active_key).label == "second"


def test_no_objects_keeps_select_message(qtbot, window: MainWindow) -> None:
    window.go_next()
    assert window.session.document.active_key is None
    messages = []
    window.canvas.status_message.connect(messages.append)
    window.canvas.set_tool("brush")
    window.canvas.tool.press(10.0, 10.0)
    window.canvas.tool.release(10.0, 10.0)
    assert messages == ["Select an object to edit, or add one."]


def test_failed_save_marks_list_row(qtbot, window: MainWindow, folder: Path) -> None:
    model = window.image_list.model
    _add_square(window)
    _block_writes(window)
    window.go_next()

    first = model.index(0)
    assert model.data(first, Qt.ItemDataRole.DisplayRole) == "a.jpg\nnew, unsaved edits"
    assert "Unsaved edits" in model.data(first, Qt.ItemDataRole.ToolTipRole)
    assert model.data(first, Qt.ItemDataRole.ForegroundRole) is not None
    assert model.data(model.index(1), Qt.ItemDataRole.DisplayRole) == "b.jpg\nnew"
    assert window.image_list.count_label.text() == "3 of 3 images\n1 with unsaved edits"
    assert window.status_widgets.unsaved_label.text() == "1 image with unsaved edits"

    _allow_writes(window)
    window.go_next()
    assert model.data(first, Qt.ItemDataRole.DisplayRole) == "a.jpg\nedited"
    assert model.data(first, Qt.ItemDataRole.ForegroundRole) is None
    assert "unsaved" not in window.image_list.count_label.text()
    assert window.status_widgets.unsaved_label.text() == ""


def test_initial_active_key_rules() -> None:
    mask = np.zeros((2, 2), dtype=np.bool_)
    layers = [
        ObjectLayer(1, mask, "hidden", object_id=10, visible=False),
        ObjectLayer(2, mask, "locked", object_id=11, locked=True),
        ObjectLayer(3, mask, "first free", object_id=12),
        ObjectLayer(4, mask, "second free", object_id=13),
    ]
    assert initial_active_key(layers) == 3
    assert initial_active_key(layers, remembered_object_id=13) == 4
    assert initial_active_key(layers, remembered_object_id=11) == 3  # locked now
    assert initial_active_key(layers, remembered_object_id=99) == 3  # deleted since
    assert initial_active_key(layers[:2]) is None
    assert initial_active_key([]) is None
