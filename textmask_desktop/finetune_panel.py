"""Fine-tune the current model on the project's corrected masks, with a live chart and cancel.

The user picks labels and images (edited or done only), and how many images to hold back.
Training runs in a TrainingWorker; the chart shows the loss per step and the IoU on the
held-back masks. At the end the dialog shows that IoU before and after and offers to switch
to the new model, which is saved in the user's model folder and listed in the Model menu.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from textmask_core.model import user_models_dir
from textmask_core.store import TrainingSample
from textmask_desktop.counting import CountSpinBox, count_noun
from textmask_desktop.errors import ErrorChannel
from textmask_desktop.finetune_data import held_out_images, write_manifests
from textmask_desktop.prediction_controller import PredictionController
from textmask_desktop.session import AnnotationSession
from textmask_desktop.settings import AppSettings
from textmask_desktop.training_chart import TrainingChart
from textmask_desktop.workers import TrainingOutcome, TrainingWorker, WorkerPool

logger = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole + 1


def new_model_folder(base_model: str, root: Path | None = None) -> Path:
    """Return a new folder name for a fine-tuned model: <base>-ft-<date>-<time>."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(base_model).name).strip("-") or "model"
    return (root or user_models_dir()) / f"{safe}-ft-{time.strftime('%Y%m%d-%H%M%S')}"


def describe_outcome(outcome: TrainingOutcome, held_out_rows: int) -> str:
    if outcome.cancelled:
        return f"Fine-tuning was cancelled after {count_noun(outcome.steps, 'step')}."

    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f} %"

    return (
        f"Finished after {count_noun(outcome.steps, 'step')}. Mean IoU on "
        f"{count_noun(held_out_rows, 'held-back mask')}: before {percent(outcome.iou_before)}, "
        f"after {percent(outcome.iou_after)}."
    )


class FineTuneDialog(QDialog):
    """Choose data, run training in a worker, compare IoU, and switch to the new model."""

    def __init__(
        self,
        parent: QWidget | None,
        session: AnnotationSession,
        predictions: PredictionController,
        settings: AppSettings,
        channel: ErrorChannel,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune on corrected masks")
        self._session = session
        self._predictions = predictions
        self._settings = settings
        self._channel = channel
        self._pool = WorkerPool(1, self)
        self._held_out_rows = 0
        self.worker: TrainingWorker | None = None
        self.outcome: TrainingOutcome | None = None

        self.label_list = QListWidget(self)
        self.image_list = QListWidget(self)
        self.held_out_box = _spin(0, 10_000, 1, "image")
        self.steps_box = _spin(1, 100_000, 200, "step")
        self.chart = TrainingChart(self)
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.start_button = QPushButton("Start", self)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.switch_button = QPushButton("Use the new model", self)
        self.switch_button.setEnabled(False)
        self.switch_button.clicked.connect(self.switch_to_new_model)
        close_button = QPushButton("Close", self)
        close_button.clicked.connect(self.reject)
        self._build_layout(close_button)
        self._fill_lists()

    def _build_layout(self, close_button: QPushButton) -> None:
        lists = QHBoxLayout()
        for title, widget in (
            ("Labels", self.label_list),
            ("Edited or done images", self.image_list),
        ):
            column = QVBoxLayout()
            column.addWidget(QLabel(title, self))
            column.addWidget(widget)
            lists.addLayout(column)
        form = QFormLayout()
        form.addRow("Hold back for IoU", self.held_out_box)
        form.addRow("Training length", self.steps_box)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.switch_button, close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(lists)
        layout.addLayout(form)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.summary_label)
        layout.addLayout(buttons)
        self.resize(720, 620)

    def _fill_lists(self) -> None:
        store = self._session.require_store()
        for label in store.list_labels():
            self._add_checked(self.label_list, label.name, label.name)
        for status in ("edited", "done"):
            for record in store.list_images(status):
                self._add_checked(self.image_list, f"{record.path} ({status})", record.id)
        images = self.image_list.count()
        self.held_out_box.setValue(max(1, images // 5) if images > 1 else 0)

    @staticmethod
    def _add_checked(widget: QListWidget, text: str, value: object) -> None:
        item = QListWidgetItem(text, widget)
        item.setData(ID_ROLE, value)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)

    def checked_values(self, widget: QListWidget) -> list[object]:
        items = (widget.item(row) for row in range(widget.count()))
        return [item.data(ID_ROLE) for item in items if item.checkState() == Qt.CheckState.Checked]

    def selected_samples(self) -> list[TrainingSample]:
        labels = [str(name) for name in self.checked_values(self.label_list)]
        image_ids = set(self.checked_values(self.image_list))
        samples = self._session.require_store().training_samples(labels=labels)
        return [sample for sample in samples if sample.image_id in image_ids]

    def start(self) -> TrainingWorker | None:
        base_model = self._predictions.model_name
        samples = self.selected_samples()
        if base_model is None or not samples:
            self.summary_label.setText(
                "Load a model first." if base_model is None else
                "No corrected masks match this choice: edit some masks or mark images done."
            )  # fmt: skip
            return None
        out = new_model_folder(base_model)
        held_out = held_out_images(
            [sample.image_id for sample in samples], self.held_out_box.value()
        )
        manifests = write_manifests(samples, held_out, out.with_name(out.name + "-data"))
        self._held_out_rows = manifests.held_out_rows
        self.worker = TrainingWorker(
            self._config(base_model, out, manifests.train, manifests.held_out)
        )
        self.worker.signals.item.connect(self._on_record)
        self.worker.signals.result.connect(self._on_result)
        self.worker.signals.error.connect(self._on_error)
        self.worker.signals.finished.connect(self._on_finished)
        self.chart.clear()
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.summary_label.setText(
            f"Training on {count_noun(manifests.train_rows, 'mask')}, "
            f"{manifests.held_out_rows} held back…"
        )
        self._pool.start(self.worker)
        return self.worker

    def _config(self, base_model: str, out: Path, train_csv: Path, held_out_csv: Path):  # noqa: ANN202
        from textmask_training.api import TrainConfig

        return TrainConfig(
            train=(str(train_csv),),
            val=(str(held_out_csv),) if self._held_out_rows else (),
            out=out,
            model=base_model,
            max_steps=self.steps_box.value(),
            epochs=10_000,  # max_steps decides the length
            device=self._settings.device,
            tensorboard=False,
            patience=0,
        )

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.summary_label.setText("Cancelling after the current step…")

    def reject(self) -> None:
        self.cancel()
        self._pool.wait()
        super().reject()

    def switch_to_new_model(self) -> None:
        if self.outcome is not None and self.outcome.checkpoint is not None:
            self._session.save_or_keep("model-switch")
            self._predictions.load_model(str(self.outcome.checkpoint), self._settings.device)
            self.switch_button.setEnabled(False)

    def _on_record(self, record: object) -> None:
        kind = getattr(record, "kind", "")
        step = int(getattr(record, "step", 0))
        if kind == "step" and record.loss is not None:  # type: ignore[attr-defined]
            self.chart.add_loss(step, float(record.loss))  # type: ignore[attr-defined]
        elif kind == "eval" and record.metrics:  # type: ignore[attr-defined]
            iou = record.metrics.get("mean_iou")  # type: ignore[attr-defined]
            if iou is not None:
                self.chart.add_iou(step, float(iou))

    def _on_result(self, outcome: TrainingOutcome | None) -> None:
        self.outcome = outcome
        if outcome is None:
            return
        self.summary_label.setText(describe_outcome(outcome, self._held_out_rows))
        self.switch_button.setEnabled(not outcome.cancelled and outcome.checkpoint is not None)

    def _on_error(self, error: BaseException) -> None:
        message = self._channel.report("Fine-tuning", error)
        self.summary_label.setText(f"{message.text} {message.hint}")

    def _on_finished(self) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)


def _spin(low: int, high: int, value: int, unit: str) -> CountSpinBox:
    box = CountSpinBox(unit)
    box.setRange(low, high)
    box.setValue(value)
    return box
