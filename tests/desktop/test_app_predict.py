"""Prediction with the real tiny model in a worker, the threshold preview, accept, batch, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app_support import make_folder, make_window
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from PySide6.QtCore import Qt

from textmask_core.store import ProjectStore
from textmask_desktop.dialogs.batch_dialog import batch_paths, describe_batch
from textmask_desktop.image_list import ImageEntry
from textmask_desktop.main_window import MainWindow
from textmask_desktop.workers import BatchSummary


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "images")


@pytest.fixture
def window(qtbot, tmp_path: Path, folder: Path) -> MainWindow:
    window = make_window(qtbot, tmp_path)
    window.show()
    window.start(folder, "tiny")
    qtbot.waitUntil(lambda: window.predictions.model_name == "tiny", timeout=30_000)
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)
    _always_present(window)
    yield window
    window.close()


def _always_present(window: MainWindow) -> None:
    # The tiny model has random weights, so its presence score is random too; with a presence
    # threshold of 0 every prediction keeps its pixel probabilities and masks are non-empty.
    window.predictions.handle.predictor.presence_threshold = 0.0


def _predict(qtbot, window: MainWindow, prompt: str) -> None:
    window.prompt_panel.prompt_edit.setText(prompt)
    with qtbot.waitSignal(window.predictions.prediction_ready, timeout=30_000):
        window.prompt_panel.prompt_edit.returnPressed.emit()
    qtbot.waitUntil(lambda: not window.predictions.is_busy)


def test_predict_shows_preview_at_image_size(qtbot, window: MainWindow) -> None:
    _predict(qtbot, window, "red box")
    preview = window.canvas.preview_mask()
    assert preview is not None
    assert preview.shape == (640, 480)
    assert window.prompt_panel.accept_button.isEnabled()
    assert window.prompt_panel.label_edit.text() == "red box"


def test_predict_runs_off_gui_thread(qtbot, window: MainWindow) -> None:
    threads = []
    original = window.predictions.handle.predictor.predict

    def recording_predict(prompt: str):  # noqa: ANN202
        import threading

        threads.append(threading.current_thread())
        return original(prompt)

    window.predictions.handle.predictor.predict = recording_predict
    _predict(qtbot, window, "box")
    import threading

    assert threads
    assert threads[0] is not threading.main_thread()


def test_threshold_slider_updates_preview(qtbot, window: MainWindow) -> None:
    _predict(qtbot, window, "box")
    probabilities = window.canvas.overlays.preview.probabilities
    calls = []
    window.predictions.prediction_ready.connect(calls.append)

    window.prompt_panel.threshold_slider.setValue(10)
    low = window.canvas.preview_mask()
    window.prompt_panel.threshold_slider.setValue(90)
    high = window.canvas.preview_mask()

    assert np.array_equal(low, probabilities >= 0.10)
    assert np.array_equal(high, probabilities >= 0.90)
    assert low.sum() >= high.sum()
    assert calls == [], "moving the slider must not rerun the model"
    assert window.settings.threshold == pytest.approx(0.90)


def test_accept_stores_object_with_label(qtbot, window: MainWindow, folder: Path) -> None:
    _predict(qtbot, window, "box")
    window.prompt_panel.threshold_slider.setValue(1)  # the tiny model's masks are random
    window.prompt_panel.label_edit.setText("crate")
    window.prompt_panel.accept_button.click()

    document = window.session.document
    assert [layer.label for layer in document.objects] == ["crate"]
    assert document.objects[0].prompt == "box"
    assert window.canvas.preview_mask() is None
    qtbot.waitUntil(lambda: not document.is_dirty)  # autosave
    assert window.session.label_names() == ["crate"]
    completions = window.prompt_panel.label_edit.completer().model().stringList()
    assert completions == ["crate"]
    with ProjectStore.open(folder) as store:
        record = store.image_by_path(folder / "a.jpg")
        stored = store.list_objects(record.id)
    assert [(item.label, item.prompt, item.model_name) for item in stored] == [
        ("crate", "box", "tiny")
    ]


def test_batch_paths_by_scope() -> None:
    entries = [
        ImageEntry(Path("a.jpg"), "new"),
        ImageEntry(Path("b.jpg"), "done"),
        ImageEntry(Path("c.jpg"), "edited"),
        ImageEntry(Path("d.jpg"), "unreadable", "truncated"),
    ]
    assert batch_paths(entries, [], "all") == [
        Path(name) for name in "a.jpg b.jpg c.jpg d.jpg".split()
    ]
    assert batch_paths(entries, [], "not-done") == [Path("a.jpg"), Path("c.jpg")]
    assert batch_paths(entries, [Path("c.jpg"), Path("b.jpg")], "selected") == [
        Path("b.jpg"),
        Path("c.jpg"),
    ]


def test_batch_lists_unreadable(qtbot, window: MainWindow, folder: Path) -> None:
    window.settings.threshold = 0.01  # the tiny model's masks are random; keep them non-empty
    dialog = window.show_batch_dialog()
    dialog.prompt_edit.setText("thing")
    dialog.set_scope("all")
    with qtbot.waitSignal(window.predictions.busy_changed, timeout=60_000) as blocker:
        worker = dialog.start()
        assert worker is not None
    qtbot.waitUntil(
        lambda: dialog.summary is not None and not window.predictions.is_busy, timeout=60_000
    )
    del blocker

    summary = dialog.summary
    assert summary.total == 3
    assert summary.predicted == 2
    assert [path.name for path, _ in summary.unreadable] == ["c.jpg"]
    assert "c.jpg" in dialog.report.toPlainText()
    assert window.image_list.model.entry(1).status == "predicted"
    assert window.image_list.model.entry(2).status == "unreadable"
    with ProjectStore.open(folder) as store:
        record = store.image_by_path(folder / "b.jpg")
        stored = store.list_objects(record.id)
    assert [(item.label, item.origin) for item in stored] == [("thing", "predicted")]
    dialog.reject()


def test_batch_cancel_stops_early(qtbot, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "many", names=("grayscale.jpg",) * 12)
    window = make_window(qtbot, tmp_path)
    window.settings.threshold = 0.01
    window.start(folder, "tiny")
    qtbot.waitUntil(lambda: window.predictions.model_name == "tiny", timeout=30_000)
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)
    _always_present(window)
    dialog = window.show_batch_dialog()
    dialog.prompt_edit.setText("thing")
    dialog.set_scope("all")
    worker = dialog.start()
    worker.signals.item.connect(lambda _item: worker.cancel())
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not window.predictions.is_busy)

    summary = dialog.summary
    assert summary.cancelled
    assert 1 <= summary.predicted < 12
    assert describe_batch(summary, summary.predicted).startswith("Cancelled")

    def predicted_count() -> int:
        return sum(entry.status == "predicted" for entry in window.image_list.model.entries())

    # The open image gets its object through the document and is saved by autosave.
    qtbot.waitUntil(lambda: predicted_count() == summary.predicted)
    dialog.reject()
    window.close()


def test_describe_batch_counts() -> None:
    summary = BatchSummary("car", 5, 4, ((Path("x.jpg"), "empty file"),), cancelled=False)
    text = describe_batch(summary, found=3)
    assert text.splitlines()[0] == 'Finished: "car" on 5 of 5 images.'
    assert "Found something in 3 images; 1 gave an empty mask." in text
    assert "x.jpg: empty file" in text
    assert "1 unreadable file was skipped:" in text


def test_describe_batch_singular() -> None:
    summary = BatchSummary("car", 1, 1, (), cancelled=False)
    text = describe_batch(summary, found=1)
    assert text.splitlines()[0] == 'Finished: "car" on 1 of 1 image.'
    assert text.splitlines()[1] == "Found something in 1 image; 0 gave empty masks."


def test_export_coco_rereads(qtbot, window: MainWindow, folder: Path, tmp_path: Path) -> None:
    document = window.session.document
    donut = np.zeros((document.height, document.width), dtype=np.bool_)
    donut[100:200, 100:200] = True
    donut[130:170, 130:170] = False
    document.add_object(donut, "donut", prompt="ring", origin="edited")

    dialog = window.show_export_dialog()
    out = tmp_path / "export" / "coco.json"
    dialog.set_options("coco-polygon", "all", out)
    worker = dialog.start()
    with qtbot.waitSignal(worker.signals.finished, timeout=30_000):
        pass
    assert dialog.summary is not None
    assert "Exported 1 annotation" in dialog.summary_label.text()

    coco = COCO(str(out))
    assert [category["name"] for category in coco.loadCats(coco.getCatIds())] == ["donut"]
    annotations = coco.loadAnns(coco.getAnnIds())
    assert len(annotations) == 1
    decoded = coco.annToMask(annotations[0]).astype(bool)
    assert decoded.shape == (640, 480)
    assert np.array_equal(decoded, donut)
    image = coco.loadImgs(annotations[0]["image_id"])[0]
    assert (image["width"], image["height"], image["file_name"]) == (480, 640, "a.jpg")
    assert coco_mask.area(coco_mask.encode(np.asfortranarray(decoded.astype(np.uint8)))) == 8400
    assert json.loads(out.read_text())["categories"][0]["id"] == 1
    dialog.reject()


def test_show_anyway_reveals_a_vetoed_mask(qtbot, window: MainWindow) -> None:
    # A presence threshold above any sigmoid output makes the model call every prompt absent.
    window.predictions.handle.predictor.presence_threshold = 1.5
    panel = window.prompt_panel
    _predict(qtbot, window, "box")
    assert not window.canvas.preview_mask().any()
    assert "probably not in this image" in panel.presence_label.text()
    assert panel.show_anyway_button.isVisibleTo(panel)
    assert window.accept_prediction("box", "box") is None
    assert "Show mask anyway" in window.statusBar().currentMessage()

    qtbot.mouseClick(panel.show_anyway_button, Qt.MouseButton.LeftButton)

    probabilities = window.canvas.overlays.preview.probabilities
    assert probabilities.max() >= panel.threshold  # the random tiny model marks some pixels
    np.testing.assert_array_equal(window.canvas.preview_mask(), probabilities >= panel.threshold)
    assert not panel.show_anyway_button.isVisibleTo(panel)
    assert "shown although" in panel.presence_label.text()

    assert window.accept_prediction("box", "box") is not None
    assert not panel.show_anyway_button.isVisibleTo(panel)


def test_new_prediction_hides_show_anyway(qtbot, window: MainWindow) -> None:
    window.predictions.handle.predictor.presence_threshold = 1.5
    panel = window.prompt_panel
    _predict(qtbot, window, "box")
    assert panel.show_anyway_button.isVisibleTo(panel)

    panel.prompt_edit.setText("crate")
    with qtbot.waitSignal(window.predictions.prediction_ready, timeout=30_000):
        panel.prompt_edit.returnPressed.emit()
        # Until the prediction for "crate" arrives, the hidden mask of "box" is not offered.
        assert not panel.show_anyway_button.isVisibleTo(panel)
        assert not panel.is_mask_hidden
    assert panel.show_anyway_button.isVisibleTo(panel)
