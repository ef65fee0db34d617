"""Export: COCO with RLE or polygon masks, or PNG masks, for all images or the done ones."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from textmask_core.formats.project import ExportFormatName, ImageSelection
from textmask_core.formats.records import ExportSummary
from textmask_core.store import ProjectStore
from textmask_desktop.dialogs.export_paths import (
    default_output,
    default_output_folder,
    describe_write_failure,
    export_folder_candidates,
)
from textmask_desktop.errors import ErrorChannel
from textmask_desktop.workers import ExportWorker, WorkerPool

logger = logging.getLogger(__name__)

FORMATS: dict[ExportFormatName, str] = {
    "coco-rle": "COCO JSON, masks as RLE (exact, keeps holes)",
    "coco-polygon": "COCO JSON, masks as polygons (RLE where a polygon cannot be exact)",
    "png": "PNG masks: one file per object, index maps and labels.txt",
}
SELECTIONS: dict[ImageSelection, str] = {"all": "All images", "done": "Done images only"}


class ExportDialog(QDialog):
    """Runs an ExportWorker with progress and cancel, and shows its summary at the end."""

    def __init__(
        self, store: ProjectStore, channel: ErrorChannel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export annotations")
        self._store = store
        self._channel = channel
        self._pool = WorkerPool(1, self)
        self.worker: ExportWorker | None = None
        self.summary: ExportSummary | None = None
        self._chosen_output: Path | None = None
        self.output_folder = default_output_folder(
            export_folder_candidates(store.image_folder, store.path)
        )

        self.format_box = QComboBox(self)
        for name, text in FORMATS.items():
            self.format_box.addItem(text, name)
        self.format_box.currentIndexChanged.connect(self._on_format_changed)
        self.selection_box = QComboBox(self)
        for name, text in SELECTIONS.items():
            self.selection_box.addItem(text, name)
        self.split_box = QCheckBox("One annotation per connected part", self)
        self.output_edit = QLineEdit(str(self._default_output("coco-rle")), self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_edit, 1)
        output_row.addWidget(browse)
        self.folder_note = QLabel(self)
        self.folder_note.setWordWrap(True)
        if self.output_folder.resolve() != store.image_folder.resolve():
            self.folder_note.setText(
                f"The image folder {store.image_folder} is read-only, so the export goes to "
                f"{self.output_folder} unless you choose another path."
            )
        self.folder_note.setVisible(bool(self.folder_note.text()))

        self.progress_bar = QProgressBar(self)
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.export_button = QPushButton("Export", self)
        self.export_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close_button = QPushButton("Close", self)
        close_button.clicked.connect(self.reject)

        form = QFormLayout()
        form.addRow("Format", self.format_box)
        form.addRow("Images", self.selection_box)
        form.addRow("", self.split_box)
        form.addRow("Output", output_row)
        form.addRow("", self.folder_note)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.export_button, self.cancel_button, close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.summary_label)
        layout.addLayout(buttons)
        self.resize(560, 260)

    @property
    def export_format(self) -> ExportFormatName:
        return self.format_box.currentData()

    def set_options(
        self, export_format: ExportFormatName, selection: ImageSelection, output: Path
    ) -> None:
        self.format_box.setCurrentIndex(self.format_box.findData(export_format))
        self.selection_box.setCurrentIndex(self.selection_box.findData(selection))
        self.output_edit.setText(str(output))

    def start(self) -> ExportWorker | None:
        output = Path(self.output_edit.text().strip()).expanduser()
        if not self.output_edit.text().strip():
            self.summary_label.setText("Choose an output path first.")
            return None
        self._chosen_output = output
        self.worker = ExportWorker(
            self._store,
            output,
            self.export_format,
            self.selection_box.currentData(),
            self.split_box.isChecked(),
        )
        signals = self.worker.signals
        signals.progress.connect(self._on_progress)
        signals.result.connect(self._on_result)
        signals.error.connect(self._on_error)
        signals.finished.connect(self._on_finished)
        self.export_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.summary_label.setText(f"Exporting to {output}…")
        self._pool.start(self.worker)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def reject(self) -> None:
        self.cancel()
        self._pool.wait(30_000)
        super().reject()

    def _browse(self) -> None:
        current = self.output_edit.text()
        if self.export_format == "png":
            chosen = QFileDialog.getExistingDirectory(self, "Folder for PNG masks", current)
        else:
            chosen, _ = QFileDialog.getSaveFileName(
                self, "COCO file", current, "COCO JSON (*.json)"
            )
        if chosen:
            self.output_edit.setText(chosen)

    def _default_output(self, export_format: ExportFormatName) -> Path:
        return default_output(self.output_folder, self._store.image_folder, export_format)

    def _on_format_changed(self) -> None:
        self.split_box.setEnabled(self.export_format != "png")
        current = Path(self.output_edit.text())
        if current in {self._default_output(name) for name in FORMATS}:
            self.output_edit.setText(str(self._default_output(self.export_format)))

    def _on_progress(self, done: int, total: int, _message: str) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)

    def _on_result(self, summary: ExportSummary | None) -> None:
        self.summary = summary
        self.summary_label.setText(summary.describe() if summary else "Export cancelled.")

    def _on_error(self, error: BaseException) -> None:
        explained = None
        if isinstance(error, OSError) and self._chosen_output is not None:
            suggestion: Path | None = self.output_folder
            if self.output_folder.resolve() == self._chosen_output.parent.resolve():
                suggestion = None  # the default folder is the one that just failed
            explained = describe_write_failure(self._chosen_output, error, suggestion)
        message = self._channel.report("Export", error, explained)
        self.summary_label.setText(f"{message.text} {message.hint}")

    def _on_finished(self) -> None:
        self.export_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
