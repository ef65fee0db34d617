"""The image list: statuses, unreadable reasons, filters, thumbnails and navigation order."""

from __future__ import annotations

from pathlib import Path

from app_support import GOOD_IMAGE, SECOND_IMAGE, make_folder, make_window
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon

from textmask_desktop.image_list import (
    ImageEntry,
    ImageListPanel,
    make_thumbnail,
    next_not_done,
    step_path,
)


def _entries(*statuses: str) -> list[ImageEntry]:
    return [ImageEntry(Path(f"{index}.jpg"), status) for index, status in enumerate(statuses)]


def test_step_path_stops_at_ends() -> None:
    paths = [Path("a"), Path("b"), Path("c")]
    assert step_path(paths, Path("a"), +1) == Path("b")
    assert step_path(paths, Path("c"), +1) is None
    assert step_path(paths, Path("a"), -1) is None
    assert step_path(paths, None, +1) == Path("a")
    assert step_path(paths, None, -1) == Path("c")
    assert step_path([], None, +1) is None


def test_next_not_done_wraps_and_skips() -> None:
    entries = _entries("done", "new", "unreadable", "done", "edited")
    assert next_not_done(entries, Path("1.jpg")) == Path("4.jpg")
    assert next_not_done(entries, Path("4.jpg")) == Path("1.jpg")
    assert next_not_done(_entries("done", "done"), Path("0.jpg")) is None


def test_thumbnail_keeps_orientation(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "images", ("exif_orientation6.jpg",))
    thumbnail = make_thumbnail(folder / "a.jpg", 64)
    assert (thumbnail.width(), thumbnail.height()) == (48, 64)


def test_panel_filters_and_tooltips(qtbot, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "images")
    panel = ImageListPanel()
    qtbot.addWidget(panel)
    panel.set_entries([ImageEntry(path) for path in sorted(folder.iterdir())])
    panel.show()

    model = panel.model
    qtbot.waitUntil(lambda: model.entry(2).status == "unreadable", timeout=10_000)
    qtbot.waitUntil(lambda: panel.model.loader.wait(0))
    tooltip = model.data(model.index(2), Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith(str(folder / "c.jpg"))
    assert "Unreadable:" in tooltip
    assert isinstance(model.data(model.index(0), Qt.ItemDataRole.DecorationRole), QIcon)

    model.set_status(folder / "a.jpg", "done")
    panel.set_filter("Unreadable")
    assert [entry.path.name for entry in panel.shown_entries()] == ["c.jpg"]
    panel.set_filter("Not done")
    assert [entry.path.name for entry in panel.shown_entries()] == ["b.jpg"]
    panel.set_filter("All images")
    assert panel.count_label.text() == "3 of 3 images"


def test_click_emits_path(qtbot, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "images")
    panel = ImageListPanel()
    qtbot.addWidget(panel)
    panel.set_entries([ImageEntry(path) for path in sorted(folder.iterdir())])
    panel.show()
    rect = panel.view.visualRect(panel.proxy.index(1, 0))
    with qtbot.waitSignal(panel.image_clicked) as blocker:
        qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [folder / "b.jpg"]
    panel.model.loader.wait(10_000)


def test_subfolder_images_are_reported(qtbot, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "images", (GOOD_IMAGE, SECOND_IMAGE))
    make_folder(folder / "day2", (GOOD_IMAGE, SECOND_IMAGE, GOOD_IMAGE))
    make_folder(folder / ".thumbnails", (GOOD_IMAGE,))  # hidden folders are not counted
    window = make_window(qtbot, tmp_path)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)

    assert [entry.path.name for entry in window.image_list.model.entries()] == ["a.jpg", "b.jpg"]
    assert window.folder_opener.subfolder_images == 3
    assert window.statusBar().currentMessage() == (
        "2 images in images. 3 images in subfolders are not shown: open a subfolder to label them."
    )
    assert window.image_list.count_label.text() == (
        "2 of 2 images\n3 more in subfolders, not listed"
    )
    window.close()


def test_one_subfolder_image_is_singular(qtbot, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "images", (GOOD_IMAGE,))
    make_folder(folder / "more", (SECOND_IMAGE,))
    window = make_window(qtbot, tmp_path)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)

    message = window.statusBar().currentMessage()
    assert message.startswith("1 image in images. ")
    assert "1 image in subfolders is not shown" in message
    window.close()


def test_flat_folder_has_no_subfolder_note(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    window.open_folder(make_folder(tmp_path / "images", (GOOD_IMAGE, SECOND_IMAGE)))
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)

    assert window.folder_opener.subfolder_images == 0
    assert "subfolder" not in window.statusBar().currentMessage()
    assert window.image_list.count_label.text() == "2 of 2 images"
    window.close()
