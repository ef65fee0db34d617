"""``ProjectStore``: the SQLite database of one image folder's annotations."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePath
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from textmask_core.errors import StoreError
from textmask_core.store import editing, images, labels, objects, schema, training
from textmask_core.store.connection import configure, connect, transaction
from textmask_core.store.location import default_store_path
from textmask_core.store.records import (
    ImageRecord,
    ImageStatus,
    LabelRecord,
    MaskOrigin,
    ObjectRecord,
    ObjectState,
    RevisionRecord,
    TrainingSample,
)
from textmask_core.store.rle import encode_mask

logger = logging.getLogger(__name__)


class ProjectStore:
    """The annotation database of an image folder: images, labels, objects, mask history.

    Open it with ``ProjectStore.open``. Each write method is one transaction. A lock
    serializes the calls, so one store may be shared by the GUI thread and a worker.
    Lookups by id raise StoreError when the id does not exist, and invalid arguments
    raise ValueError or TypeError before anything is written.
    """

    def __init__(self, conn: sqlite3.Connection, image_folder: Path, path: Path) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._image_folder = image_folder.resolve()
        # The absolute form first, so that path mapping rarely needs to resolve links.
        self._folder_forms = (Path(os.path.abspath(image_folder)), self._image_folder)
        self._path = path
        self._lock = threading.RLock()

    # Opening and closing

    @classmethod
    def open(cls, image_folder: Path, store_path: Path | None = None) -> ProjectStore:
        """Open the project of ``image_folder``, creating or migrating its database.

        ``store_path`` defaults to ``default_store_path(image_folder)``. Raises StoreError
        when the folder is missing, or the file is no TextMask database, or comes from a
        newer TextMask.
        """
        image_folder = Path(image_folder)
        if not image_folder.is_dir():
            raise StoreError(
                f"Image folder {image_folder} not found or not a folder; choose an existing folder."
            )
        path = Path(store_path) if store_path is not None else default_store_path(image_folder)
        conn = connect(path)
        try:
            schema.check_project(conn, path)
            configure(conn, path)
            version = schema.migrate(conn, path)
            _record_image_folder(conn, path, image_folder.resolve())
        except BaseException:
            conn.close()
            raise
        logger.info("Opened project %s (schema version %d) for %s", path, version, image_folder)
        return cls(conn, image_folder, path)

    def close(self) -> None:
        """Close the database; later calls raise StoreError. Closing twice is allowed."""
        with self._lock:
            if self._conn is None:
                return
            self._conn.close()
            self._conn = None
        logger.info("Closed project %s", self._path)

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def image_folder(self) -> Path:
        """The image folder, resolved."""
        return self._image_folder

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def schema_version(self) -> int:
        with self._read() as conn:
            return schema.read_version(conn)

    # Images

    def sync_images(self, paths: Iterable[Path]) -> int:
        """Add the image files that are not in the project yet; return how many were added.

        ``paths`` are absolute paths inside the image folder, or paths relative to it.
        Existing images keep their rows. Raises ValueError, and adds nothing, when a path
        lies outside the folder.
        """
        relative_paths = [images.relative_image_path(self._folder_forms, path) for path in paths]
        with self._write() as conn:
            added = images.insert_images(conn, relative_paths)
        logger.info("Added %d of %d images to %s", added, len(relative_paths), self._path)
        return added

    def list_images(self, status: ImageStatus | None = None) -> list[ImageRecord]:
        """Return the images, all or those with ``status``, in natural path order.

        Natural order compares digit runs as numbers and ignores case, so "img2.png"
        comes before "img10.png" and "B.png" after "a.png".
        """
        with self._read() as conn:
            return images.select_images(conn, status)

    def get_image(self, image_id: int) -> ImageRecord:
        with self._read() as conn:
            return images.require_image(conn, image_id)

    def image_by_path(self, path: str | PurePath) -> ImageRecord | None:
        """Return the image at ``path`` (absolute, or relative to the folder), None if absent.

        Raises ValueError for a path outside the image folder.
        """
        relative_path = images.relative_image_path(self._folder_forms, path)
        with self._read() as conn:
            return images.select_image_by_path(conn, relative_path)

    def absolute_path(self, image: ImageRecord) -> Path:
        """Return the absolute path of an image's file."""
        return self._image_folder / image.path

    def set_image_status(
        self, image_id: int, status: ImageStatus, error: str | None = None
    ) -> ImageRecord:
        """Set an image's status; ``error`` is the reason and is only valid for "unreadable"."""
        images.check_status(status)
        if error is not None and status != "unreadable":
            raise ValueError(
                f"An error text is only valid with status 'unreadable', not {status!r}."
            )
        with self._write() as conn:
            images.require_image(conn, image_id)
            images.update_status(conn, image_id, status, error)
            return images.require_image(conn, image_id)

    def set_image_size(self, image_id: int, width: int, height: int) -> ImageRecord:
        """Record an image's size in pixels (after EXIF orientation).

        Later masks of this image must have this size. NOTE: masks stored before are not
        checked against a changed size.
        """
        if width <= 0 or height <= 0:
            raise ValueError(f"Invalid image size {width}x{height}; both sides must be positive.")
        with self._write() as conn:
            images.require_image(conn, image_id)
            images.update_size(conn, image_id, int(width), int(height))
            return images.require_image(conn, image_id)

    def count_by_status(self) -> dict[ImageStatus, int]:
        """Return the number of images per status, including statuses with none."""
        with self._read() as conn:
            return images.count_by_status(conn)

    # Labels

    def add_label(self, name: str, colour: str | None = None) -> LabelRecord:
        """Return the label called ``name``, creating it first if needed.

        A new label goes to the end of the order and gets ``colour``, or the first palette
        colour no label uses yet. An existing label (ASCII case ignored) is returned
        unchanged, even when ``colour`` differs.
        """
        with self._write() as conn:
            return labels.ensure_label(conn, name, colour)

    def list_labels(self) -> list[LabelRecord]:
        """Return the labels in their order; COCO category ids are list index plus 1."""
        with self._read() as conn:
            return labels.select_labels(conn)

    def rename_label(self, name: str, new_name: str) -> LabelRecord:
        """Rename a label. A change of case only is allowed; another label's name is not."""
        new_name = labels.normalize_name(new_name)
        with self._write() as conn:
            label = self._require_label(conn, name)
            clash = labels.select_label(conn, new_name)
            if clash is not None and clash.id != label.id:
                raise ValueError(
                    f"Cannot rename label {label.name!r} to {new_name!r}: that label exists. "
                    "Move its objects to the other label with update_object or merge_objects."
                )
            labels.update_name(conn, label.id, new_name)
            return self._require_label(conn, new_name)

    def set_label_colour(self, name: str, colour: str) -> LabelRecord:
        """Set a label's colour (``#rrggbb``)."""
        colour = labels.normalize_colour(colour)
        with self._write() as conn:
            label = self._require_label(conn, name)
            labels.update_colour(conn, label.id, colour)
            return self._require_label(conn, name)

    # Objects

    def add_object(
        self,
        image_id: int,
        label: str,
        prompt: str,
        mask: NDArray[np.bool_],
        origin: MaskOrigin,
        model_name: str | None,
    ) -> ObjectRecord:
        """Store a new object with ``mask`` as revision 1, creating the label if needed."""
        labels.normalize_name(label)
        editing.check_prompt(prompt)
        editing.check_origin(origin)
        encoded = encode_mask(mask)
        with self._write() as conn:
            image = images.require_image(conn, image_id)
            editing.check_mask_fits(image, encoded)
            object_id = editing.create_object(
                conn, image, label, prompt, encoded, origin, model_name
            )
            record = objects.require_object(conn, object_id)
        logger.debug("Added object %d (%s) to image %d", object_id, origin, image_id)
        return record

    def update_object_mask(
        self,
        object_id: int,
        mask: NDArray[np.bool_],
        origin: MaskOrigin = "edited",
        model_name: str | None = None,
    ) -> ObjectRecord:
        """Store ``mask`` as the object's next revision.

        Nothing is written when mask, origin and model name equal the latest revision.
        """
        editing.check_origin(origin)
        encoded = encode_mask(mask)
        with self._write() as conn:
            current = objects.require_object(conn, object_id)
            editing.check_mask_fits(images.require_image(conn, current.image_id), encoded)
            written = editing.write_mask(conn, current, encoded, origin, model_name)
            record = objects.require_object(conn, object_id)
        if written:
            logger.debug("Object %d has mask revision %d (%s)", object_id, record.revision, origin)
        return record

    def update_object(
        self,
        object_id: int,
        *,
        label: str | None = None,
        prompt: str | None = None,
        visible: bool | None = None,
        locked: bool | None = None,
    ) -> ObjectRecord:
        """Change an object's label, prompt or flags; None leaves a field as it is.

        A new label name creates the label. ``locked`` is stored for the editor, and the
        store does not stop writes to locked objects.
        """
        if label is not None:
            labels.normalize_name(label)
        if prompt is not None:
            editing.check_prompt(prompt)
        with self._write() as conn:
            current = objects.require_object(conn, object_id)
            editing.update_fields(
                conn, current, label=label, prompt=prompt, visible=visible, locked=locked
            )
            return objects.require_object(conn, object_id)

    def delete_object(self, object_id: int) -> None:
        """Delete an object and its revisions for good; its id is never reused."""
        with self._write() as conn:
            objects.require_object(conn, object_id)
            objects.delete_object(conn, object_id)
        logger.debug("Deleted object %d", object_id)

    def list_objects(self, image_id: int) -> list[ObjectRecord]:
        """Return an image's objects in creation order."""
        with self._read() as conn:
            images.require_image(conn, image_id)
            return objects.select_objects(conn, image_id)

    def get_object(self, object_id: int) -> ObjectRecord:
        with self._read() as conn:
            return objects.require_object(conn, object_id)

    def object_mask(self, object_id: int) -> NDArray[np.bool_]:
        """Return the object's current mask, decoded to a boolean H×W array."""
        return self.get_object(object_id).mask.decode()

    def list_revisions(self, object_id: int) -> list[RevisionRecord]:
        """Return every revision of an object's mask, oldest first."""
        with self._read() as conn:
            objects.require_object(conn, object_id)
            return objects.select_revisions(conn, object_id)

    def latest_revision(self, object_id: int) -> RevisionRecord:
        return self.list_revisions(object_id)[-1]

    def first_predicted_revision(self, object_id: int) -> RevisionRecord | None:
        """Return the earliest revision that came from a model, None if none did."""
        with self._read() as conn:
            objects.require_object(conn, object_id)
            return objects.select_first_predicted(conn, object_id)

    def merge_objects(
        self, object_ids: Sequence[int], into_label: str | None = None
    ) -> ObjectRecord:
        """Unite the masks of objects on one image into the first object; delete the others.

        The merged mask is a new revision with origin "edited". The first object keeps its
        id and prompt, and takes ``into_label`` when given.
        """
        if len(set(object_ids)) != len(object_ids) or len(object_ids) < 2:
            raise ValueError(f"Merging needs two or more distinct object ids, got {object_ids}.")
        if into_label is not None:
            labels.normalize_name(into_label)
        with self._write() as conn:
            records = [objects.require_object(conn, object_id) for object_id in object_ids]
            image_ids = sorted({record.image_id for record in records})
            if len(image_ids) > 1:
                raise ValueError(f"Cannot merge objects of different images {image_ids}.")
            merged_id = editing.merge(conn, records, into_label)
            return objects.require_object(conn, merged_id)

    def save_image_objects(
        self, image_id: int, states: Sequence[ObjectState], *, status: ImageStatus
    ) -> list[ObjectRecord]:
        """Write the whole object state of an image and its status in one transaction.

        New states (``object_id`` None) are inserted. Stored objects get the state's
        fields, and a new revision when mask, origin or model name changed. Stored objects
        missing from ``states`` are deleted. Returns the records in the order of
        ``states``. On any error nothing is written.
        """
        images.check_status(status)
        if status == "unreadable":
            raise ValueError("An image with objects cannot be saved as 'unreadable'.")
        _check_states(states)
        encoded = [encode_mask(state.mask) for state in states]
        with self._write() as conn:
            image = images.require_image(conn, image_id)
            for mask in encoded:
                editing.check_mask_fits(image, mask)
            object_ids = editing.save_states(conn, image, states, encoded)
            images.update_status(conn, image_id, status, None)
            records = [objects.require_object(conn, object_id) for object_id in object_ids]
        logger.debug("Saved %d objects of image %d as %s", len(records), image_id, status)
        return records

    # Training

    def training_samples(
        self,
        labels: Sequence[str] | None = None,
        statuses: Sequence[ImageStatus] = ("edited", "done"),
    ) -> list[TrainingSample]:
        """Return the masks the user edited or accepted, on images with one of ``statuses``.

        An object qualifies when its latest revision is an edit or its image is "done".
        ``labels`` limits the result to those label names. Each sample carries the
        earliest predicted revision of its object as ``predicted_mask``, or None.
        """
        with self._read() as conn:
            return training.select_samples(conn, self._image_folder, labels, statuses)

    # Helpers

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._require_open()
            try:
                yield conn
            except sqlite3.Error as exc:
                message = f"Reading the project database {self._path} failed: {exc}"
                raise StoreError(message) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, transaction(self._require_open(), self._path) as conn:
            yield conn

    def _require_open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"The project store {self._path} is closed; open it again.")
        return self._conn

    @staticmethod
    def _require_label(conn: sqlite3.Connection, name: str) -> LabelRecord:
        label = labels.select_label(conn, labels.normalize_name(name))
        if label is None:
            raise StoreError(f"Label {name!r} not found in the project; add it with add_label.")
        return label


def _check_states(states: Sequence[ObjectState]) -> None:
    ids = [state.object_id for state in states if state.object_id is not None]
    if len(ids) != len(set(ids)):
        raise ValueError(f"Each object may appear once in a save, got object ids {ids}.")
    for state in states:
        labels.normalize_name(state.label)
        editing.check_prompt(state.prompt)
        editing.check_origin(state.origin)


def _record_image_folder(conn: sqlite3.Connection, path: Path, image_folder: Path) -> None:
    """Store the image folder's path, so that a database outside the folder can be traced."""
    row = conn.execute("SELECT value FROM project_info WHERE key = 'image_folder'").fetchone()
    if row is not None and row[0] == str(image_folder):
        return
    with transaction(conn, path):
        conn.execute(
            "INSERT OR REPLACE INTO project_info (key, value) VALUES ('image_folder', ?)",
            (str(image_folder),),
        )
