"""Opening a folder fast: show the images the project lists at once, then scan in a worker.

A folder of 10,000 images takes about half a second to list and as long again to add to a new
project database, so the scan runs in a FolderScanWorker and the list updates when it ends.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from textmask_core.store import ImageRecord
from textmask_desktop.errors import ErrorChannel
from textmask_desktop.image_list import ImageEntry, ImageListPanel
from textmask_desktop.session import AnnotationSession
from textmask_desktop.workers import FolderScan, FolderScanWorker, WorkerPool

logger = logging.getLogger(__name__)


class FolderOpener(QObject):
    """Fills the image list from the store, then from a scan of the folder."""

    scan_finished = Signal()

    def __init__(
        self,
        session: AnnotationSession,
        image_list: ImageListPanel,
        channel: ErrorChannel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._image_list = image_list
        self._channel = channel
        self._pool = WorkerPool(1, self)
        self._worker: FolderScanWorker | None = None
        self._subfolder_images = 0

    @property
    def is_scanning(self) -> bool:
        return self._worker is not None

    @property
    def subfolder_images(self) -> int:
        """Images in subfolders of the folder, found by the last scan; the list omits them."""
        return self._subfolder_images

    def show_records(self, records: list[ImageRecord]) -> list[ImageEntry]:
        """Show the stored images (files deleted since are found later) and return them."""
        store = self._session.require_store()
        entries = [
            ImageEntry(store.absolute_path(record), record.status, record.error or "")
            for record in records
        ]
        self._image_list.set_entries(entries)
        return entries

    def start_scan(self, folder: Path) -> FolderScanWorker:
        self.shutdown()
        self._set_subfolder_images(0)
        worker = FolderScanWorker(self._session.require_store(), folder)
        worker.signals.item.connect(lambda paths: self._on_paths(worker, paths))
        worker.signals.result.connect(lambda scan: self._on_scan(worker, scan))
        worker.signals.error.connect(lambda error: self._on_error(worker, error))
        worker.signals.finished.connect(lambda: self._on_finished(worker))
        self._worker = worker
        self._pool.start(worker)
        return worker

    def shutdown(self) -> None:
        """Cancel a running scan and wait for it, for example before the store closes."""
        if self._worker is not None:
            self._worker.cancel()
        self._pool.wait()
        self._worker = None

    def _on_paths(self, worker: FolderScanWorker, paths: tuple[Path, ...]) -> None:
        # A new project lists nothing yet: show the files now, their rows follow.
        if worker is self._worker and self._image_list.model.rowCount() == 0:
            self._image_list.set_entries([ImageEntry(path) for path in paths])

    def _on_scan(self, worker: FolderScanWorker, scan: FolderScan | None) -> None:
        if worker is not self._worker or scan is None:
            return
        self._set_subfolder_images(scan.subfolder_images)
        store = self._session.require_store()
        on_disk = set(scan.paths)
        entries = [
            ImageEntry(store.absolute_path(record), record.status, record.error or "")
            for record in scan.records
        ]
        entries = [entry for entry in entries if entry.path in on_disk]
        shown = self._image_list.model.entries()
        if [entry.path for entry in entries] != [entry.path for entry in shown]:
            self._image_list.set_entries(entries)
            if self._session.current_path is not None:
                self._image_list.select_path(self._session.current_path)

    def _set_subfolder_images(self, count: int) -> None:
        self._subfolder_images = count
        self._image_list.set_unlisted_count(count)

    def _on_error(self, worker: FolderScanWorker, error: BaseException) -> None:
        if worker is self._worker:
            self._channel.report(f"Reading the folder {worker.folder}", error)

    def _on_finished(self, worker: FolderScanWorker) -> None:
        if worker is self._worker:
            self._worker = None
            self.scan_finished.emit()
