"""The main window: wires the image list, canvas, prompt and objects panels to the session."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QResizeEvent, QShowEvent, QUndoGroup
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from textmask_core.model import DEFAULT_MODEL, list_models, resolve_model
from textmask_core.predictor import Prediction
from textmask_desktop.canvas.view import MaskCanvas
from textmask_desktop.counting import count_noun
from textmask_desktop.dialogs.batch_dialog import BatchDialog
from textmask_desktop.dialogs.error_dialog import ErrorPresenter
from textmask_desktop.dialogs.export_dialog import ExportDialog
from textmask_desktop.dialogs.settings_dialog import SettingsDialog
from textmask_desktop.dialogs.shortcuts_dialog import ShortcutsDialog, shortcut_rows
from textmask_desktop.dock_sizing import fit_side_docks
from textmask_desktop.document import ImageDocument
from textmask_desktop.errors import ErrorChannel
from textmask_desktop.finetune_panel import FineTuneDialog
from textmask_desktop.folder_opener import FolderOpener
from textmask_desktop.image_list import ImageEntry, ImageListPanel, next_not_done, step_path
from textmask_desktop.menus import build_actions
from textmask_desktop.model_menu import (
    UNTRAINED_HINT,
    UNTRAINED_WARNING,
    describe_model,
    fill_model_menu,
    is_trained,
    model_menu_items,
    short_model_name,
)
from textmask_desktop.objects_panel import ObjectsPanel
from textmask_desktop.prediction_controller import PredictionController
from textmask_desktop.prompt_panel import PromptPanel
from textmask_desktop.session import AnnotationSession, LeaveReason
from textmask_desktop.settings import AppSettings
from textmask_desktop.status_widgets import StatusWidgets
from textmask_desktop.workers import PredictionOutcome

logger = logging.getLogger(__name__)

PREVIEW_COLOUR = "#ffd600"
STATUS_TIMEOUT_MS = 6000
IMAGE_LIST_WIDTH = 200  # pixels, at the start; the user may drag the panels wider
ANNOTATE_WIDTH = 300


class MainWindow(QMainWindow):
    """The TextMask window. Logic lives in the session, controllers, panels and dialogs."""

    def __init__(
        self, settings: AppSettings, channel: ErrorChannel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.channel = channel
        self.errors = ErrorPresenter(self)
        channel.reported.connect(self.errors.show)
        self.session = AnnotationSession(settings, channel, self)
        self.predictions = PredictionController(channel, self)
        self.undo_group = QUndoGroup(self)
        self.folder: Path | None = None
        self.image_list = ImageListPanel(self)
        self.folder_opener = FolderOpener(self.session, self.image_list, channel, self)

        self.canvas = MaskCanvas(parent=self)
        self.canvas_message = QLabel("Open a folder of images (File > Open Folder).", self)
        self.canvas_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.canvas_message.setWordWrap(True)
        self.center = QStackedWidget(self)
        self.prompt_panel = PromptPanel(settings.threshold, self)
        self._shown_prediction: Prediction | None = None  # the prediction in the preview
        self.objects_panel = ObjectsPanel(self)
        self.status_widgets = StatusWidgets(self.statusBar())
        self.docks: list[QDockWidget] = []
        self.window_actions = build_actions(self, self.undo_group, self.canvas)
        self._build_layout()
        self._connect()
        self._apply_settings()
        self._update_title()

    # Layout and wiring

    def _build_layout(self) -> None:
        self.center.addWidget(self.canvas_message)
        self.center.addWidget(self.canvas)
        self.setCentralWidget(self.center)
        self._add_dock("Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.prompt_panel)
        side_layout.addWidget(QLabel("Objects", side))
        side_layout.addWidget(self.objects_panel, 1)
        self._add_dock("Annotate", side, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks(self.docks, [IMAGE_LIST_WIDTH, ANNOTATE_WIDTH], Qt.Orientation.Horizontal)
        self.resize(1280, 800)

    def _add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(area, dock)
        self.docks.append(dock)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.isVisible():
            fit_side_docks(self, self.docks)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        fit_side_docks(self, self.docks)  # a restored or resized window may start narrow

    def _connect(self) -> None:
        session, actions = self.session, self.window_actions
        session.document_changed.connect(self._show_document)
        self.folder_opener.scan_finished.connect(self._on_scan_finished)
        session.image_status_changed.connect(self.image_list.model.set_status)
        self.image_list.model.unreadable_found.connect(self._store_unreadable)
        session.unsaved_changed.connect(self._show_unsaved_count)
        session.labels_changed.connect(self.prompt_panel.set_label_names)
        self.image_list.image_clicked.connect(lambda path: self.open_image(path, "list"))
        self.canvas.status_message.connect(self.show_message)
        self.objects_panel.status_message.connect(self.show_message)

        self.prompt_panel.predict_requested.connect(self.predict)
        self.prompt_panel.threshold_changed.connect(self._on_threshold_changed)
        self.prompt_panel.accept_requested.connect(self.accept_prediction)
        self.prompt_panel.discard_requested.connect(self.discard_prediction)
        self.prompt_panel.show_anyway_requested.connect(self._show_vetoed_mask)
        self.predictions.busy_changed.connect(self.prompt_panel.set_busy)
        self.predictions.prediction_ready.connect(self._show_prediction)
        self.predictions.prediction_failed.connect(lambda _: self.prompt_panel.clear_prediction())
        self.predictions.model_loading.connect(self._on_model_loading)
        self.predictions.model_ready.connect(self._on_model_ready)
        self.predictions.model_failed.connect(self._on_model_failed)

        actions.open_folder.triggered.connect(self.choose_folder)
        actions.export.triggered.connect(self.show_export_dialog)
        actions.batch.triggered.connect(self.show_batch_dialog)
        actions.settings.triggered.connect(self.show_settings)
        actions.quit.triggered.connect(self.close)
        actions.next_image.triggered.connect(self.go_next)
        actions.previous_image.triggered.connect(self.go_previous)
        actions.next_not_done.triggered.connect(self.go_next_not_done)
        actions.mark_done.triggered.connect(self.mark_done_and_next)
        actions.predict.triggered.connect(self.prompt_panel.request_prediction)
        actions.accept.triggered.connect(self.prompt_panel.request_accept)
        actions.fine_tune.triggered.connect(self.start_fine_tune)
        actions.shortcuts.triggered.connect(self.show_shortcuts)
        self.canvas.brush_size_changed.connect(self._on_brush_size_changed)

    def _apply_settings(self) -> None:
        self.canvas.set_overlay_opacity(self.settings.overlay_opacity)
        self.canvas.set_brush_size(self.settings.brush_size)
        self.prompt_panel.set_threshold(self.settings.threshold)
        geometry = self.settings.window_geometry()
        if geometry:
            self.restoreGeometry(geometry)
        self._fill_recent_menu()
        self._fill_model_menu()

    # Start-up, folders and models

    def start(self, folder: Path | None, model: str | None = None) -> None:
        """Load `model` (default: the last used one) and open `folder` when given."""
        self.switch_model(model or self.settings.last_model or DEFAULT_MODEL)
        if folder is not None:
            self.open_folder(folder)

    def choose_folder(self) -> None:
        start = str(self.folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open image folder", start)
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> bool:
        """Pass the gate, open `folder` as the project and show its first image."""
        self.session.save_or_keep("open-folder")
        if self.session.has_unsaved and not self._confirm_discard("open another folder"):
            return False
        try:
            self.folder_opener.shutdown()
            self.session.close_project()
            records = self.session.open_project(folder, self.settings.store_location(folder))
        except Exception as error:  # noqa: BLE001 - any failure is reported
            self.channel.report(f"Opening {folder}", error)
            return False
        self.folder = folder.resolve()
        entries = self.folder_opener.show_records(records)
        self.folder_opener.start_scan(self.folder)
        self.settings.add_recent_folder(folder)
        self._fill_recent_menu()
        self._update_title()
        store_path = self.session.require_store().path
        self.status_widgets.show_database(store_path, self.folder)
        self.show_message(f"Project database: {store_path}")
        if entries:
            self.open_image(entries[0].path, "list")
        return True

    def _store_unreadable(self, path: Path, reason: str) -> None:
        try:
            self.session.mark_unreadable(path, reason)
        except Exception:  # noqa: BLE001 - the list shows it either way; only the store lags
            logger.warning("Storing the unreadable status of %s failed", path, exc_info=True)

    def _on_scan_finished(self) -> None:
        entries = self.image_list.model.entries()
        folder_name = self.folder.name if self.folder is not None else ""
        message = f"{count_noun(len(entries), 'image')} in {folder_name}."
        hidden = self.folder_opener.subfolder_images
        if hidden:
            verb = "is" if hidden == 1 else "are"
            message += (
                f" {count_noun(hidden, 'image')} in subfolders {verb} not shown: "
                "open a subfolder to label them."
            )
        self.show_message(message)
        if self.session.current_path is None and self.session.document is None and entries:
            self.open_image(entries[0].path, "list")

    def switch_model(self, name: str) -> None:
        """Pass the gate, then load model `name` in the background."""
        self.session.save_or_keep("model-switch")
        self.predictions.load_model(name, self.settings.device)

    def _on_model_loading(self, name: str) -> None:
        self.status_widgets.show_model(f"{short_model_name(name)} (loading…)", name)

    def _on_model_ready(self, name: str) -> None:
        self.settings.last_model = name
        self._show_loaded_model()
        self._fill_model_menu()

    def _on_model_failed(self, name: str) -> None:
        if self.predictions.handle is None:
            self.status_widgets.show_model(f"none ({short_model_name(name)} failed to load)")
            return
        self._show_loaded_model()
        still = self.predictions.handle.entry.name
        self.show_message(f"Loading {short_model_name(name)} failed; still using {still}.")

    def _show_loaded_model(self) -> None:
        """Name the loaded model in the status bar, and warn everywhere when it is untrained."""
        handle = self.predictions.handle
        if handle is None:
            return
        entry = handle.entry
        untrained = not is_trained(entry)
        tooltip = UNTRAINED_HINT if untrained else str(entry.path)
        self.status_widgets.show_model(describe_model(entry), tooltip, untrained=untrained)
        self.prompt_panel.set_model_warning(UNTRAINED_WARNING if untrained else "", UNTRAINED_HINT)

    def _fill_model_menu(self) -> None:
        handle = self.predictions.handle
        items = model_menu_items(
            list_models(),
            resolve_model(DEFAULT_MODEL),
            handle.entry if handle is not None else None,
            handle.name if handle is not None else None,
        )
        actions = self.window_actions
        fill_model_menu(actions.model_menu, actions.model_group, items, self.switch_model)
        actions.model_menu.addSeparator()
        actions.model_menu.addAction(actions.fine_tune)

    def _fill_recent_menu(self) -> None:
        menu = self.window_actions.recent_menu
        menu.clear()
        for folder in self.settings.recent_folders:
            action = menu.addAction(str(folder))
            action.triggered.connect(lambda _checked=False, folder=folder: self.open_folder(folder))
        menu.setEnabled(bool(menu.actions()))

    # Navigation: every path goes through open_image and so through the session's gate

    def open_image(self, path: Path, reason: LeaveReason) -> ImageDocument | None:
        try:
            document = self.session.open_image(path, reason)
        except Exception as error:  # noqa: BLE001 - reported, the window stays usable
            self.channel.report(f"Opening {path.name}", error)
            return None
        if document is None:
            entry = self._entry(path)
            reason = entry.reason if entry is not None else "the file cannot be decoded"
            self.canvas_message.setText(f"Cannot show {path.name}: {reason}.")
            self.image_list.select_path(path)
        return document

    def go_next(self) -> None:
        self._step(+1, "next")

    def go_previous(self) -> None:
        self._step(-1, "previous")

    def go_next_not_done(self) -> None:
        path = next_not_done(self.image_list.shown_entries(), self.session.current_path)
        if path is None:
            self.show_message("Every image is done.")
            return
        self.open_image(path, "next-not-done")

    def mark_done_and_next(self) -> None:
        if self.session.mark_current_done():
            self.go_next_not_done()

    def _step(self, step: int, reason: LeaveReason) -> None:
        paths = [entry.path for entry in self.image_list.shown_entries()]
        path = step_path(paths, self.session.current_path, step)
        if path is None:
            self.show_message("No more images in this direction.")
            return
        self.open_image(path, reason)

    def _entry(self, path: Path) -> ImageEntry | None:
        row = self.image_list.model.row_of(path)
        return None if row is None else self.image_list.model.entry(row)

    def _show_document(self, document: ImageDocument | None) -> None:
        self._shown_prediction = None
        self.canvas.set_preview(None, self.prompt_panel.threshold, PREVIEW_COLOUR)
        self.canvas.set_document(document)
        self.objects_panel.set_document(document)
        self.prompt_panel.clear_prediction()
        self.center.setCurrentWidget(self.canvas if document is not None else self.canvas_message)
        if document is not None:
            if document.undo_stack not in self.undo_group.stacks():
                self.undo_group.addStack(document.undo_stack)
            self.undo_group.setActiveStack(document.undo_stack)
        else:
            self.undo_group.setActiveStack(None)
        if self.session.current_path is not None:
            self.image_list.select_path(self.session.current_path)
        self._update_title()

    # Prediction

    def predict(self, prompt: str) -> None:
        document = self.session.document
        if document is None:
            self.show_message("Open an image first.")
            return
        self.predictions.predict(document.image, prompt)  # type: ignore[arg-type]

    def _show_prediction(self, outcome: PredictionOutcome) -> None:
        document = self.session.document
        if document is None or Path(document.image.path) != outcome.image_path:
            logger.info("Dropping a prediction for %s: that image is closed", outcome.image_path)
            return
        prediction = outcome.prediction
        self._shown_prediction = prediction
        self.canvas.set_preview(
            prediction.probabilities, self.prompt_panel.threshold, PREVIEW_COLOUR
        )
        self.prompt_panel.set_prediction_ready(
            outcome.prompt, prediction.presence, prediction.is_present
        )

    def _show_vetoed_mask(self) -> None:
        """Preview the pixel probabilities that a low presence score had hidden."""
        if self._shown_prediction is None:
            return
        self.canvas.set_preview(
            self._shown_prediction.pixel_probabilities,
            self.prompt_panel.threshold,
            PREVIEW_COLOUR,
        )

    def _on_threshold_changed(self, threshold: float) -> None:
        self.canvas.set_preview_threshold(threshold)
        self.settings.threshold = threshold

    def accept_prediction(self, label: str, prompt: str) -> int | None:
        """Add the previewed mask as an object named `label`; return its key."""
        document = self.session.document
        mask = self.canvas.preview_mask()
        if document is None or mask is None:
            return None
        if self.prompt_panel.is_mask_hidden:
            self.show_message(
                "The model judged the prompt absent and hid its mask: press Show mask anyway "
                "first, or paint by hand."
            )
            return None
        if not mask.any():
            self.show_message("The mask is empty at this threshold: lower it, or paint by hand.")
            return None
        key = document.add_object(
            mask, label, prompt=prompt, origin="predicted", model_name=self.predictions.model_name
        )
        self.discard_prediction()
        self.show_message(f"Added '{label}'.")
        return key

    def discard_prediction(self) -> None:
        self._shown_prediction = None
        self.canvas.set_preview(None, self.prompt_panel.threshold, PREVIEW_COLOUR)
        self.prompt_panel.clear_prediction()

    # Dialogs

    def show_export_dialog(self) -> ExportDialog | None:
        if self.session.store is None:
            self.show_message("Open a folder first.")
            return None
        self.session.save_or_keep("export")
        dialog = ExportDialog(self.session.require_store(), self.channel, self)
        dialog.open()
        return dialog

    def show_batch_dialog(self) -> BatchDialog | None:
        if self.session.store is None or self.predictions.handle is None:
            self.show_message("Open a folder and load a model first.")
            return None
        self.session.save_or_keep("batch")
        dialog = BatchDialog(
            self.session,
            self.predictions,
            self.image_list.model.entries(),
            self.image_list.selected_paths(),
            self.settings,
            self,
        )
        dialog.prompt_edit.setText(self.prompt_panel.prompt_edit.text())
        dialog.open()
        return dialog

    def show_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.canvas.set_overlay_opacity(self.settings.overlay_opacity)
            self.canvas.set_brush_size(self.settings.brush_size)

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(shortcut_rows(self.window_actions.all_actions()), self)
        dialog.open()
        return dialog

    def start_fine_tune(self) -> FineTuneDialog | None:
        """Pass the gate, so the training data includes the current edits, then open the panel."""
        self.session.save_or_keep("fine-tune")
        if self.session.store is None:
            self.show_message("Open a folder with corrected masks first.")
            return None
        dialog = FineTuneDialog(self, self.session, self.predictions, self.settings, self.channel)
        dialog.finished.connect(lambda _result: self._fill_model_menu())  # list new models
        dialog.open()
        return dialog

    # Status and closing

    def show_message(self, message: str) -> None:
        self.statusBar().showMessage(message, STATUS_TIMEOUT_MS)

    def _show_unsaved_count(self, count: int) -> None:
        self.status_widgets.show_unsaved(count)
        self.image_list.set_unsaved(self.session.failed_save_paths)
        self.setWindowModified(count > 0)

    def _on_brush_size_changed(self, size: int) -> None:
        self.settings.brush_size = size

    def _update_title(self) -> None:
        name = self.session.current_path.name if self.session.current_path else ""
        folder = str(self.folder) if self.folder else "no folder"
        self.setWindowTitle(f"{name + ' – ' if name else ''}{folder}[*] – TextMask")

    def _confirm_discard(self, action: str) -> bool:
        count = len(self.session.unsaved_paths)
        answer = QMessageBox.warning(
            self,
            "Unsaved edits",
            f"Saving failed, so the edits to {count_noun(count, 'image')} are only in memory.\n"
            f"If you {action} now, they are lost. Fix the cause first (see the earlier "
            "message), or continue and lose them.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event: QCloseEvent) -> None:
        self.session.save_or_keep("close")
        if self.session.has_unsaved and not self._confirm_discard("close TextMask"):
            event.ignore()
            return
        for dialog in self.findChildren(QDialog):
            dialog.reject()  # the batch, export and fine-tune dialogs cancel and wait here
        self.predictions.shutdown()
        self.folder_opener.shutdown()
        self.image_list.model.loader.clear()
        self.image_list.model.loader.wait(10_000)
        self.session.close_project()
        self.settings.set_window_geometry(bytes(self.saveGeometry().data()))
        self.settings.sync()
        event.accept()
