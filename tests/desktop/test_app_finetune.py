"""Fine-tuning from the panel: the tiny preset trains on corrected masks in a worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_support import make_folder, make_window

from textmask_desktop.finetune_data import held_out_images
from textmask_desktop.finetune_panel import describe_outcome, new_model_folder
from textmask_desktop.main_window import MainWindow
from textmask_desktop.workers import TrainingOutcome


def test_held_out_images_keeps_one_for_training() -> None:
    assert held_out_images([1, 2, 3, 4, 5], 2) == {1, 3}
    assert held_out_images([7, 7, 7], 1) == set()
    assert held_out_images([1, 2], 5) == {1}
    assert held_out_images([1, 2, 3], 0) == set()


def test_new_model_folder_is_safe(tmp_path: Path) -> None:
    folder = new_model_folder("/some/path/my model!", tmp_path)
    assert folder.parent == tmp_path
    assert folder.name.startswith("my-model-ft-")


def test_describe_outcome_percentages() -> None:
    outcome = TrainingOutcome(0.25, 0.5, Path("x"), cancelled=False, steps=4)
    assert describe_outcome(outcome, 3) == (
        "Finished after 4 steps. Mean IoU on 3 held-back masks: before 25.0 %, after 50.0 %."
    )


def test_describe_outcome_singular() -> None:
    outcome = TrainingOutcome(0.25, None, Path("x"), cancelled=False, steps=1)
    assert describe_outcome(outcome, 1) == (
        "Finished after 1 step. Mean IoU on 1 held-back mask: before 25.0 %, after n/a."
    )
    cancelled = TrainingOutcome(None, None, None, cancelled=True, steps=1)
    assert describe_outcome(cancelled, 0) == "Fine-tuning was cancelled after 1 step."


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    names = ("exif_orientation6.jpg", "grayscale.jpg", "palette.png", "cmyk.jpg")
    folder = make_folder(tmp_path / "images", names)
    window = make_window(qtbot, tmp_path)
    window.settings.autosave = False
    window.start(folder, "tiny")
    qtbot.waitUntil(lambda: window.predictions.model_name == "tiny", timeout=30_000)
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)
    yield window
    window.close()


def _correct_every_image(window: MainWindow) -> None:
    for _ in range(4):
        document = window.session.document
        mask = np.zeros((document.height, document.width), dtype=np.bool_)
        mask[: document.height // 2, : document.width // 3] = True
        document.add_object(mask, "block", prompt="block", origin="edited")
        window.go_next()


def test_fine_tune_start_saves_current(qtbot, window: MainWindow) -> None:
    document = window.session.document
    mask = np.ones((document.height, document.width), dtype=np.bool_)
    document.add_object(mask, "all", origin="edited")
    dialog = window.start_fine_tune()
    assert dialog is not None
    assert not document.is_dirty
    assert window.session.label_names() == ["all"]
    assert dialog.image_list.count() == 1
    assert dialog.held_out_box.text() == "0 images"
    dialog.held_out_box.setValue(1)
    assert dialog.held_out_box.text() == "1 image"
    dialog.steps_box.setValue(1)
    assert dialog.steps_box.text() == "1 step"
    dialog.reject()


def test_fine_tune_tiny_and_switch(qtbot, window: MainWindow) -> None:
    _correct_every_image(window)
    dialog = window.start_fine_tune()
    assert dialog.image_list.count() == 4
    dialog.held_out_box.setValue(1)
    dialog.steps_box.setValue(2)
    worker = dialog.start()
    assert worker is not None
    with qtbot.waitSignal(worker.signals.finished, timeout=120_000):
        pass

    outcome = dialog.outcome
    assert outcome is not None
    assert not outcome.cancelled
    assert outcome.steps == 2
    assert outcome.iou_before is not None
    assert outcome.iou_after is not None
    assert outcome.checkpoint is not None and outcome.checkpoint.is_dir()
    assert len(dialog.chart.loss_points) == 2
    assert len(dialog.chart.iou_points) >= 2
    assert "held-back" in dialog.summary_label.text()

    with qtbot.waitSignal(window.predictions.model_ready, timeout=30_000) as ready:
        dialog.switch_button.click()
    assert ready.args == [str(outcome.checkpoint)]
    dialog.reject()

    # The new model is in the user folder: the menu lists it once, by name, and checks it.
    name = outcome.checkpoint.name
    texts = [action.text() for action in window.window_actions.model_group.actions()]
    assert texts.count(f"{name} (fine-tuned)") == 1
    assert not any(str(outcome.checkpoint) in text for text in texts)
    checked = [a.text() for a in window.window_actions.model_group.actions() if a.isChecked()]
    assert checked == [f"{name} (fine-tuned)"]
    assert window.status_widgets.model_label.text() == f"Model: {name}"


def test_closing_window_cancels_training(qtbot, window: MainWindow) -> None:
    _correct_every_image(window)
    dialog = window.start_fine_tune()
    dialog.steps_box.setValue(10_000)
    worker = dialog.start()
    qtbot.waitUntil(lambda: len(dialog.chart.loss_points) >= 1, timeout=60_000)

    window.close()

    assert worker.is_cancelled
    assert dialog.outcome is None or dialog.outcome.cancelled
    assert not window.isVisible()
