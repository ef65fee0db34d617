"""Batch prediction: one prompt on all, selected or not-done images, with progress and cancel."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from textmask_desktop.counting import count_noun, noun_for
from textmask_desktop.image_list import ImageEntry
from textmask_desktop.prediction_controller import PredictionController
from textmask_desktop.session import AnnotationSession
from textmask_desktop.settings import AppSettings
from textmask_desktop.workers import BatchItem, BatchSummary, BatchWorker

logger = logging.getLogger(__name__)

BatchScope = Literal["all", "selected", "not-done"]


def batch_paths(entries: list[ImageEntry], selected: list[Path], scope: BatchScope) -> list[Path]:
    """Return the images a batch of `scope` covers, in list order."""
    if scope == "selected":
        chosen = set(selected)
        return [entry.path for entry in entries if entry.path in chosen]
    if scope == "not-done":
        return [entry.path for entry in entries if entry.status in ("new", "predicted", "edited")]
    return [entry.path for entry in entries]


def describe_batch(summary: BatchSummary, found: int) -> str:
    """Return the report shown when a batch ends, listing unreadable files with reasons."""
    done = summary.predicted + len(summary.unreadable)
    head = "Cancelled" if summary.cancelled else "Finished"
    empty = summary.predicted - found
    lines = [
        f'{head}: "{summary.prompt}" on {done} of {count_noun(summary.total, "image")}.',
        f"Found something in {count_noun(found, 'image')}; "
        f"{empty} gave {'an empty mask' if empty == 1 else 'empty masks'}.",
        "New masks are marked 'predicted' until you review them.",
    ]
    if summary.unreadable:
        skipped = len(summary.unreadable)
        verb = noun_for(skipped, "was", "were")
        lines.append(f"{count_noun(skipped, 'unreadable file')} {verb} skipped:")
        lines += [f"  {path.name}: {reason}" for path, reason in summary.unreadable]
    return "\n".join(lines)


class BatchDialog(QDialog):
    """Runs a BatchWorker in the model pool and stores each result as it arrives."""

    def __init__(
        self,
        session: AnnotationSession,
        predictions: PredictionController,
        entries: list[ImageEntry],
        selected: list[Path],
        settings: AppSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch predict")
        self._session = session
        self._predictions = predictions
        self._entries = entries
        self._selected = selected
        self._settings = settings
        self.worker: BatchWorker | None = None
        self.summary: BatchSummary | None = None
        self._found = 0

        self.prompt_edit = QLineEdit(self)
        self.prompt_edit.setPlaceholderText('What to mask on every image, e.g. "car"')
        self.scope_buttons = QButtonGroup(self)
        scope_row = QHBoxLayout()
        for scope, text in (
            ("all", "All images"),
            ("selected", f"Selected ({len(selected)})"),
            ("not-done", "Not done"),
        ):
            button = QRadioButton(text, self)
            button.setProperty("scope", scope)
            self.scope_buttons.addButton(button)
            scope_row.addWidget(button)
        self.scope_buttons.buttons()[2 if not selected else 1].setChecked(True)

        self.progress_bar = QProgressBar(self)
        self.report = QPlainTextEdit(self)
        self.report.setReadOnly(True)
        self.start_button = QPushButton("Start", self)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.reject)

        form = QFormLayout()
        form.addRow("Prompt", self.prompt_edit)
        form.addRow("Images", scope_row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.report, 1)
        layout.addLayout(buttons)
        self.resize(520, 360)

    @property
    def scope(self) -> BatchScope:
        return self.scope_buttons.checkedButton().property("scope")

    def set_scope(self, scope: BatchScope) -> None:
        for button in self.scope_buttons.buttons():
            button.setChecked(button.property("scope") == scope)

    def start(self) -> BatchWorker | None:
        prompt = " ".join(self.prompt_edit.text().split())
        handle = self._predictions.handle
        paths = batch_paths(self._entries, self._selected, self.scope)
        if not prompt or handle is None or not paths:
            self.report.setPlainText(_why_not_started(prompt, handle is not None, paths))
            return None
        self._found = 0
        self.worker = BatchWorker(
            handle, paths, prompt, self._settings.threshold, self._settings.max_pixels
        )
        signals = self.worker.signals
        signals.progress.connect(self._on_progress)
        signals.item.connect(self._on_item)
        signals.result.connect(self._on_result)
        signals.error.connect(self._on_error)
        signals.finished.connect(self._on_finished)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, len(paths))
        self.report.setPlainText(f'Predicting "{prompt}" on {count_noun(len(paths), "image")}…')
        self._predictions.run(self.worker)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.report.appendPlainText("Cancelling after the current image…")

    def reject(self) -> None:
        self.cancel()
        super().reject()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"%v / %m  {message}")

    def _on_item(self, item: BatchItem) -> None:
        try:
            if item.mask is None:
                self._session.mark_unreadable(item.path, item.skipped_reason)
            elif self._session.add_predicted_object(
                item.path,
                self.worker.prompt,
                item.mask,
                self.worker.handle.name,  # type: ignore[union-attr]
            ):
                self._found += 1
        except Exception:  # noqa: BLE001 - one failed write must not stop the batch report
            logger.exception("Storing the batch result for %s failed", item.path)
            self.report.appendPlainText(f"Could not store the result for {item.path.name}.")

    def _on_result(self, summary: BatchSummary | None) -> None:
        if summary is not None:
            self.summary = summary
            self.report.setPlainText(describe_batch(summary, self._found))

    def _on_error(self, error: BaseException) -> None:
        self.report.appendPlainText(f"The batch stopped: {error}")
        self._session.channel.report("Batch prediction", error)

    def _on_finished(self) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)


def _why_not_started(prompt: str, has_model: bool, paths: list[Path]) -> str:
    if not prompt:
        return "Type a prompt first."
    if not has_model:
        return "No model is loaded: choose one in the Model menu."
    return "No images match this choice."
