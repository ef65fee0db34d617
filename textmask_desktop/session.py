"""The annotation session: the open project, the current image and the one "save or keep" gate.

Every way of leaving an image (next, previous, next not done, a click in the list, closing the
window, switching the model, starting a fine-tune, opening another folder) calls
`save_or_keep`. It writes the document's objects to the project store in one transaction. When
that fails, the document stays in memory, is marked unsaved and is retried at the next gate.
The user gets one message per run of failures, not one per attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QObject, QTimer, Signal

from textmask_core.errors import ImageReadError, StoreError
from textmask_core.imageio import load_image
from textmask_core.store import ImageRecord, ImageStatus, MaskOrigin, ObjectState, ProjectStore
from textmask_desktop.document import ImageDocument, ObjectLayer, ObjectSnapshot
from textmask_desktop.errors import ErrorChannel, UserMessage, describe_error
from textmask_desktop.settings import AppSettings

logger = logging.getLogger(__name__)

LeaveReason = Literal[
    "next",
    "previous",
    "next-not-done",
    "list",
    "close",
    "model-switch",
    "fine-tune",
    "open-folder",
    "export",
    "batch",
    "mark-done",
    "autosave",
]
AUTOSAVE_DELAY_MS = 250


def status_after_save(current: ImageStatus, origins: Sequence[MaskOrigin]) -> ImageStatus:
    """Return the status an image gets when objects with mask `origins` are saved.

    "done" stays "done". An image with a mask the user changed is "edited". An image whose
    masks all come unchanged from the model is "predicted", unless it was "edited" before.
    """
    if current == "done":
        return "done"
    if "edited" in origins:
        return "edited"
    if current == "edited":
        return "edited"
    return "predicted" if origins else "new"


def to_store_states(snapshots: Sequence[ObjectSnapshot], stored_ids: set[int]) -> list[ObjectState]:
    """Convert document snapshots to store states.

    An id that is no longer in the store becomes None, so the object is inserted again. That
    happens when an object was deleted, saved, and then brought back by undo.
    """
    return [
        ObjectState(
            object_id=snapshot.object_id if snapshot.object_id in stored_ids else None,
            label=snapshot.label,
            prompt=snapshot.prompt,
            mask=snapshot.mask,
            origin=snapshot.origin,
            model_name=snapshot.model_name,
            visible=snapshot.visible,
            locked=snapshot.locked,
        )
        for snapshot in snapshots
    ]


def initial_active_key(
    layers: Sequence[ObjectLayer], remembered_object_id: int | None = None
) -> int | None:
    """Return the key of the object the tools should edit when an image opens.

    That is the object that was active when the user left the image (`remembered_object_id`,
    a store id), while it is still visible and unlocked; else the first visible, unlocked
    object; else None, and the tools ask the user to select or add an object.
    """
    editable = [layer for layer in layers if layer.visible and not layer.locked]
    for layer in editable:
        if remembered_object_id is not None and layer.object_id == remembered_object_id:
            return layer.key
    return editable[0].key if editable else None


class AnnotationSession(QObject):
    """Owns the project store and the current ImageDocument; the widgets only display them."""

    document_changed = Signal(object)  # the new current ImageDocument, or None
    image_status_changed = Signal(object, str, str)  # path, status, reason (for unreadable)
    unsaved_changed = Signal(int)  # number of images whose edits are not in the store
    labels_changed = Signal(list)  # label names in project order

    def __init__(
        self, settings: AppSettings, channel: ErrorChannel, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._channel = channel
        self._store: ProjectStore | None = None
        self._document: ImageDocument | None = None
        self._current_path: Path | None = None
        self._unsaved: dict[Path, ImageDocument] = {}
        self._active_object_ids: dict[Path, int] = {}  # the active object when an image was left
        self._failure_reported = False
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self._autosave_timer.timeout.connect(self._autosave)

    # State

    @property
    def channel(self) -> ErrorChannel:
        return self._channel

    @property
    def store(self) -> ProjectStore | None:
        return self._store

    @property
    def document(self) -> ImageDocument | None:
        return self._document

    @property
    def current_path(self) -> Path | None:
        return self._current_path

    @property
    def unsaved_paths(self) -> list[Path]:
        """Images whose edits failed to save and are kept in memory, plus a dirty current one."""
        paths = list(self._unsaved)
        if self._document is not None and self._document.is_dirty:
            if self._current_path not in self._unsaved:
                paths.append(self._current_path)  # type: ignore[arg-type]
        return paths

    @property
    def has_unsaved(self) -> bool:
        return bool(self.unsaved_paths)

    @property
    def failed_save_paths(self) -> list[Path]:
        """Images whose last save failed; their edits are kept in memory until a save works."""
        return list(self._unsaved)

    def require_store(self) -> ProjectStore:
        if self._store is None:
            raise RuntimeError("No project is open: open a folder first.")
        return self._store

    # Projects

    def open_project(self, folder: Path, store_path: Path | None = None) -> list[ImageRecord]:
        """Open (or create) the project of `folder` and return the images it already lists.

        This does not scan the folder, so that a large project shows at once: run a
        FolderScanWorker next to add new files. The caller must have passed the gate for the
        previous project. Raises StoreError when the database cannot be opened.
        """
        if not folder.is_dir():
            raise NotADirectoryError(f"Image folder not found or not a folder: {folder}")
        store = ProjectStore.open(folder, store_path)
        try:
            records = store.list_images()
        except BaseException:
            store.close()
            raise
        self._close_store()
        self._store = store
        logger.info("Opened %s: %d stored images, database %s", folder, len(records), store.path)
        self.labels_changed.emit(self.label_names())
        return records

    def close_project(self) -> None:
        """Close the store; unsaved documents are dropped, so pass the gate first."""
        self._set_document(None, None)
        if self._unsaved:
            logger.warning("Dropping unsaved edits of %d images", len(self._unsaved))
        self._unsaved.clear()
        self._active_object_ids.clear()
        self._close_store()
        self.unsaved_changed.emit(0)

    def label_names(self) -> list[str]:
        if self._store is None:
            return []
        return [label.name for label in self._store.list_labels()]

    def label_colours(self) -> dict[str, str]:
        if self._store is None:
            return {}
        return {label.name: label.colour for label in self._store.list_labels()}

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # The gate

    def save_or_keep(self, reason: LeaveReason) -> bool:
        """Save the current document and retry earlier failed saves.

        Returns True when nothing unsaved is left. On a failure the edits stay in memory,
        and the user gets one message until a save succeeds again.
        """
        self._autosave_timer.stop()
        if self._document is not None and self._current_path is not None:
            if self._document.is_dirty:
                logger.debug("Saving %s (%s)", self._current_path, reason)
                self._save(self._current_path, self._document)
        for path, document in list(self._unsaved.items()):
            if document is not self._document:
                self._save(path, document)
        return not self.has_unsaved

    def open_image(self, path: Path, reason: LeaveReason) -> ImageDocument | None:
        """Pass the gate, then make `path` the current image.

        Returns the document, or None when the file is unreadable; then the image is marked
        unreadable with the reason, and no document is shown.
        """
        self.save_or_keep(reason)
        document = self._unsaved.get(path) or self._load_document(path)
        if document is not None and document.active_key is None:
            remembered = self._active_object_ids.get(path)
            document.set_active(initial_active_key(document.objects, remembered))
        self._set_document(path if document is not None else None, document)
        return document

    def mark_current_done(self) -> bool:
        """Save the current image with status "done"; False when the save failed."""
        if self._document is None or self._current_path is None:
            return False
        return self._save(self._current_path, self._document, status="done")

    def save_current(self) -> bool:
        if self._document is None or self._current_path is None:
            return True
        if not self._document.is_dirty:
            return True
        return self._save(self._current_path, self._document)

    # Loading

    def _load_document(self, path: Path) -> ImageDocument | None:
        store = self.require_store()
        record = self._require_record(path)
        try:
            image = load_image(path, max_pixels=self._settings.max_pixels)
        except ImageReadError as error:
            logger.info("Cannot open %s: %s", path, error.reason)
            self._set_status(record, "unreadable", error.reason)
            return None
        if (record.width, record.height) != (image.width, image.height):
            try:
                store.set_image_size(record.id, image.width, image.height)
            except StoreError:
                logger.warning("Cannot store the size of %s", path, exc_info=True)
        document = ImageDocument(image)
        colours = self.label_colours()
        for stored in store.list_objects(record.id):
            document.load_saved_object(
                stored.mask.decode(),
                stored.label,
                object_id=stored.id,
                prompt=stored.prompt,
                origin=stored.origin,
                model_name=stored.model_name,
                visible=stored.visible,
                locked=stored.locked,
                colour=colours.get(stored.label),
            )
        return document

    def _require_record(self, path: Path) -> ImageRecord:
        store = self.require_store()
        record = store.image_by_path(path)
        if record is None:
            # The folder scan may not have reached this file yet: add it now.
            store.sync_images([path])
            record = store.image_by_path(path)
        if record is None:
            raise StoreError(f"Image {path} cannot be added to the project; reopen the folder.")
        return record

    def _set_document(self, path: Path | None, document: ImageDocument | None) -> None:
        if self._document is not None:
            self._remember_active(self._current_path, self._document)
            self._document.undo_stack.indexChanged.disconnect(self._schedule_autosave)
        self._document = document
        self._current_path = path
        if document is not None:
            document.undo_stack.indexChanged.connect(self._schedule_autosave)
        self.document_changed.emit(document)

    def _remember_active(self, path: Path | None, document: ImageDocument) -> None:
        if path is None:
            return
        key = document.active_key
        object_id = document.object(key).object_id if key is not None else None
        if object_id is None:
            # No active object, or one whose save failed: a kept document keeps its own key.
            self._active_object_ids.pop(path, None)
        else:
            self._active_object_ids[path] = object_id

    # Saving

    def _save(self, path: Path, document: ImageDocument, status: ImageStatus | None = None) -> bool:
        revision = document.revision
        snapshots = document.object_states()
        try:
            record = self._require_record(path)
            store = self.require_store()
            stored_ids = {stored.id for stored in store.list_objects(record.id)}
            states = to_store_states(snapshots, stored_ids)
            origins = [snapshot.origin for snapshot in snapshots]
            new_status = status or status_after_save(record.status, origins)
            saved = store.save_image_objects(record.id, states, status=new_status)
        except Exception as error:  # noqa: BLE001 - whatever failed, the edits must be kept
            self._keep_unsaved(path, document, error)
            return False
        document.assign_object_ids(
            {snapshot.key: stored.id for snapshot, stored in zip(snapshots, saved, strict=True)}
        )
        document.mark_saved(revision)
        self._saved(path, record, new_status)
        return True

    def _saved(self, path: Path, record: ImageRecord, status: ImageStatus) -> None:
        had_unsaved = self._unsaved.pop(path, None) is not None
        if not self._unsaved:
            self._failure_reported = False
        if record.status != status:
            self.image_status_changed.emit(path, status, "")
        if had_unsaved:
            logger.info("Saved the kept edits of %s", path)
        self.unsaved_changed.emit(len(self.unsaved_paths))
        self.labels_changed.emit(self.label_names())

    def _keep_unsaved(self, path: Path, document: ImageDocument, error: Exception) -> None:
        self._unsaved[path] = document
        self.unsaved_changed.emit(len(self.unsaved_paths))
        if self._failure_reported:
            logger.warning("Saving %s failed again: %s", path, error)
            return
        self._failure_reported = True
        reason = describe_error("Saving", error).text
        message = UserMessage(
            title="Edits not saved",
            text=f"The edits to {path.name} could not be written to the project: {reason}",
            hint="They are kept in memory and saved again each time you change image. "
            "Fix the cause (a read-only folder, a full disk) before you close TextMask.",
        )
        self._channel.report("Saving", error, message)

    def mark_unreadable(self, path: Path, reason: str) -> None:
        """Record that `path` cannot be decoded, for example when a batch skipped it."""
        self._set_status(self._require_record(path), "unreadable", reason)

    def _set_status(self, record: ImageRecord, status: ImageStatus, reason: str = "") -> None:
        path = self.require_store().absolute_path(record)
        try:
            self.require_store().set_image_status(record.id, status, reason or None)
        except StoreError:
            logger.warning("Cannot store status %s of %s", status, path, exc_info=True)
        self.image_status_changed.emit(path, status, reason)

    # Autosave

    def _schedule_autosave(self, _index: int = 0) -> None:
        if self._settings.autosave:
            self._autosave_timer.start()

    def _autosave(self) -> None:
        document = self._document
        if document is None or not document.is_dirty:
            return
        if document.stroke_open:
            # Saving closes the open stroke's undo step, so a save in mid-stroke would split
            # one stroke into several undo steps. Wait for the button release instead.
            self._autosave_timer.start()
            return
        self.save_current()

    # Batch results

    def add_predicted_object(
        self, path: Path, prompt: str, mask: NDArray[np.bool_], model_name: str
    ) -> bool:
        """Store a batch prediction for `path` as a "predicted" object; False if it was empty.

        An open document gets it as an undoable object, so the next save keeps it. A stored
        object with the same prompt whose mask is still "predicted" gets the new mask instead
        of a twin.
        """
        if not mask.any():
            return False
        document = self._unsaved.get(path) or (
            self._document if path == self._current_path else None
        )
        if document is not None:
            document.add_object(
                mask, prompt, prompt=prompt, origin="predicted", model_name=model_name
            )
            return True
        store = self.require_store()
        record = self._require_record(path)
        twins = [
            stored
            for stored in store.list_objects(record.id)
            if stored.prompt == prompt and stored.origin == "predicted"
        ]
        if twins:
            store.update_object_mask(twins[0].id, mask, "predicted", model_name)
        else:
            store.add_object(record.id, prompt, prompt, mask, "predicted", model_name)
        if record.status in ("new", "unreadable"):
            self._set_status(record, "predicted")
        return True
