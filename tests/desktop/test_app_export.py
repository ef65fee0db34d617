"""Export from a read-only image folder: a writable default path, and errors that name it."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from app_support import make_folder, make_window
from pycocotools.coco import COCO

from textmask_core.store import fallback_store_path
from textmask_desktop.dialogs.export_paths import (
    default_output,
    default_output_folder,
    describe_write_failure,
)
from textmask_desktop.main_window import MainWindow
from textmask_desktop.status_widgets import display_path


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder of images that the test process cannot write to.

    Root ignores permission bits, so for root the folder is a read-only bind mount.
    """
    if sys.platform == "win32":
        pytest.skip("Windows folders cannot be made read-only with permission bits")
    source = make_folder(tmp_path / "photos", ("exif_orientation6.jpg", "grayscale.jpg"))
    if os.geteuid() != 0:
        source.chmod(0o555)
        yield source
        source.chmod(0o755)
        return
    target = tmp_path / "read-only" / "photos"
    target.mkdir(parents=True)
    mount = ["mount", "--bind", "-o", "ro", str(source), str(target)]
    if subprocess.run(mount, capture_output=True, check=False).returncode != 0:
        pytest.skip("running as root, and a read-only bind mount is not allowed here")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


@pytest.fixture
def window(qtbot, tmp_path: Path, read_only_folder: Path) -> Iterator[MainWindow]:
    torch.set_num_threads(1)
    window = make_window(qtbot, tmp_path)
    window.show()
    window.start(read_only_folder, "tiny")
    qtbot.waitUntil(lambda: window.predictions.model_name == "tiny", timeout=30_000)
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)
    document = window.session.document
    mask = np.zeros((document.height, document.width), dtype=np.bool_)
    mask[100:200, 50:150] = True
    document.add_object(mask, "sign", prompt="sign", origin="edited")
    yield window
    window.close()


def _run_export(qtbot, dialog) -> None:  # noqa: ANN001 - an ExportDialog
    worker = dialog.start()
    assert worker is not None
    with qtbot.waitSignal(worker.signals.finished, timeout=30_000):
        pass


def test_moved_database_stays_in_status_bar(
    qtbot, window: MainWindow, read_only_folder: Path
) -> None:
    store_path = window.session.require_store().path
    assert store_path == fallback_store_path(read_only_folder)

    label = window.status_widgets.database_label
    assert not label.isHidden()
    assert label.text().startswith("Database: ")
    assert str(store_path) in label.toolTip()
    assert "read-only" in label.toolTip()
    qtbot.wait(100)
    window.go_next()
    assert not label.isHidden(), "the label must outlast the temporary messages"


def test_database_label_hidden_for_writable_folder(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    window.open_folder(make_folder(tmp_path / "writable"))
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)
    assert window.status_widgets.database_label.isHidden()
    window.close()


def test_export_suggests_writable_folder(
    qtbot, window: MainWindow, read_only_folder: Path, home: Path
) -> None:
    documents = home / "Documents"
    documents.mkdir()
    dialog = window.show_export_dialog()

    suggested = Path(dialog.output_edit.text())
    assert suggested == documents / "photos_textmask_coco.json"
    assert "read-only" in dialog.folder_note.text()
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("png"))
    assert Path(dialog.output_edit.text()) == documents / "photos_textmask_masks"
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("coco-rle"))

    _run_export(qtbot, dialog)
    assert dialog.summary is not None
    coco = COCO(str(suggested))
    assert [image["file_name"] for image in coco.loadImgs(coco.getImgIds())] == ["a.jpg", "b.jpg"]
    assert len(coco.getAnnIds()) == 1
    dialog.reject()


def test_export_into_read_only_names_choice(
    qtbot, window: MainWindow, read_only_folder: Path, home: Path
) -> None:
    messages = []
    window.channel.reported.connect(messages.append)
    dialog = window.show_export_dialog()
    chosen = read_only_folder / "labels.json"
    dialog.output_edit.setText(str(chosen))

    _run_export(qtbot, dialog)

    text = dialog.summary_label.text()
    assert dialog.summary is None
    assert f"Cannot write {chosen}" in text
    assert "read-only" in text
    assert ".tmp" not in text
    assert str(home) in text  # the writable folder suggested instead
    assert [message.title for message in messages] == ["Export failed"]
    assert ".tmp" not in messages[0].text
    assert not chosen.exists()
    dialog.reject()


def test_default_output_folder_order(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    writable = tmp_path / "writable"
    writable.mkdir()
    assert default_output_folder([missing, writable, tmp_path]) == writable
    assert default_output_folder([missing]) == missing
    images = tmp_path / "photos"
    images.mkdir()
    assert default_output(images, images, "coco-rle") == images / "textmask_coco.json"
    assert default_output(writable, images, "png") == writable / "photos_textmask_masks"


def test_write_failure_hides_temporary_file(tmp_path: Path) -> None:
    chosen = tmp_path / "ro" / "out.json"
    temporary = tmp_path / "ro" / ".out.json.0123456789ab.tmp"
    denied = PermissionError(errno.EACCES, "Permission denied", str(temporary))
    message = describe_write_failure(chosen, denied, tmp_path / "home")
    assert message is not None
    assert message.text == (
        f"Cannot write {chosen}: you have no permission to write in {chosen.parent}, "
        "so it is read-only for you."
    )
    assert str(tmp_path / "home") in message.hint
    read_only = OSError(errno.EROFS, "Read-only file system", str(temporary))
    assert "read-only file system" in describe_write_failure(chosen, read_only, None).text
    assert describe_write_failure(chosen, OSError(errno.EIO, "I/O error"), None) is None


def test_display_path_uses_tilde(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert display_path(home / ".local" / "x.sqlite", home) == "~/.local/x.sqlite"
    assert display_path(Path("/srv/x.sqlite"), home) == "/srv/x.sqlite"
