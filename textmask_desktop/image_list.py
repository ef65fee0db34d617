"""The image list: a model of the folder's images with lazy thumbnails, and its filtered view."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListView, QVBoxLayout, QWidget

from textmask_core.errors import ImageReadError
from textmask_core.imageio import load_thumbnail
from textmask_core.store.records import IMAGE_STATUSES, ImageStatus
from textmask_desktop.counting import count_noun

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = 64
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_COLOURS: dict[ImageStatus, str] = {
    "new": "#9e9e9e",
    "predicted": "#1e88e5",
    "edited": "#fb8c00",
    "done": "#43a047",
    "unreadable": "#e53935",
}
NOT_DONE_FILTER = "not done"
UNSAVED_COLOUR = "#e53935"
UNSAVED_TEXT = "unsaved edits"


@dataclass(frozen=True)
class ImageEntry:
    """One row of the list: an image file, its review status and why it is unreadable."""

    path: Path
    status: ImageStatus = "new"
    reason: str = ""


def make_thumbnail(path: Path, size: int = THUMBNAIL_SIZE) -> QImage:
    """Load `path` reduced to fit a `size` square, oriented as displayed.

    Raises ImageReadError for files that cannot be decoded. Safe to call off the GUI thread.
    """
    pixels = load_thumbnail(path, size).pixels
    height, width = pixels.shape[:2]
    image = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    # The QImage above borrows the NumPy buffer; copy() gives it memory of its own.
    return image.copy()


class ThumbnailLoader(QObject):
    """Makes thumbnails in a QThreadPool, newest request first.

    Scrolling through a large folder requests many rows that leave the screen before their turn
    comes. So the queue keeps only the latest MAX_PENDING requests and serves the newest first.
    A dropped row is requested again when it is painted again.
    """

    loaded = Signal(object, QImage)  # path, thumbnail
    failed = Signal(object, str)  # path, reason
    MAX_PENDING = 256

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool()  # no parent: Python owns it, so it outlives Qt teardown
        self._pool.setMaxThreadCount(max_threads)
        self._lock = threading.Lock()
        self._pending: deque[Path] = deque()
        self._queued: set[Path] = set()
        self._active_tasks = 0

    def request(self, path: Path) -> None:
        with self._lock:
            if path in self._queued:
                return
            self._pending.append(path)
            self._queued.add(path)
            while len(self._pending) > self.MAX_PENDING:
                self._queued.discard(self._pending.popleft())
            if self._active_tasks >= self._pool.maxThreadCount():
                return
            self._active_tasks += 1
        self._pool.start(_ThumbnailTask(self))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._queued.clear()

    def wait(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def _next_path(self) -> Path | None:
        with self._lock:
            if not self._pending:
                self._active_tasks -= 1
                return None
            path = self._pending.pop()
            self._queued.discard(path)
            return path

    def _load_all(self) -> None:
        while (path := self._next_path()) is not None:
            try:
                image = make_thumbnail(path)
            except ImageReadError as error:
                self.failed.emit(path, error.reason)
            except Exception as error:  # noqa: BLE001 - a broken file must not stop the queue
                logger.warning("Thumbnail of %s failed", path, exc_info=True)
                self.failed.emit(path, f"{type(error).__name__}: {error}")
            else:
                self.loaded.emit(path, image)


class _ThumbnailTask(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        self._loader._load_all()


class ImageListModel(QAbstractListModel):
    """Rows of ImageEntry; thumbnails are requested when a row is first painted."""

    status_changed = Signal(object, str)  # path, new status
    unreadable_found = Signal(object, str)  # path, reason: a thumbnail could not be decoded
    MAX_CACHED_THUMBNAILS = 2000

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: list[ImageEntry] = []
        self._rows: dict[Path, int] = {}
        self._thumbnails: OrderedDict[Path, QIcon] = OrderedDict()
        self._unsaved: frozenset[Path] = frozenset()
        self._placeholders = {status: _status_icon(status) for status in IMAGE_STATUSES}
        self.loader = ThumbnailLoader(parent=self)
        self.loader.loaded.connect(self._on_thumbnail_loaded)
        self.loader.failed.connect(self._on_thumbnail_failed)

    def set_entries(self, entries: list[ImageEntry]) -> None:
        self.beginResetModel()
        self.loader.clear()
        self._entries = list(entries)
        self._rows = {entry.path: row for row, entry in enumerate(self._entries)}
        self._thumbnails.clear()
        self.endResetModel()

    def entries(self) -> list[ImageEntry]:
        return list(self._entries)

    def entry(self, row: int) -> ImageEntry:
        return self._entries[row]

    def row_of(self, path: Path) -> int | None:
        return self._rows.get(path)

    def set_status(self, path: Path, status: ImageStatus, reason: str = "") -> None:
        row = self._rows.get(path)
        if row is None:
            logger.debug("Ignoring status %s for %s: not in the list", status, path)
            return
        entry = self._entries[row]
        if entry.status == status and entry.reason == reason:
            return
        self._entries[row] = replace(entry, status=status, reason=reason)
        index = self.index(row)
        self.dataChanged.emit(index, index)
        self.status_changed.emit(path, status)

    def set_unsaved(self, paths: Iterable[Path]) -> None:
        """Mark the images whose edits are kept in memory because saving them failed."""
        unsaved = frozenset(paths)
        changed, self._unsaved = unsaved ^ self._unsaved, unsaved
        for path in changed:
            row = self._rows.get(path)
            if row is not None:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def unsaved_count(self) -> int:
        return sum(1 for path in self._unsaved if path in self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        unsaved = entry.path in self._unsaved
        if role == Qt.ItemDataRole.DisplayRole:
            state = f"{entry.status}, {UNSAVED_TEXT}" if unsaved else entry.status
            return f"{entry.path.name}\n{state}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(entry)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(entry, unsaved)
        if role == Qt.ItemDataRole.ForegroundRole and unsaved:
            return QColor(UNSAVED_COLOUR)
        if role == STATUS_ROLE:
            return entry.status
        if role == PATH_ROLE:
            return entry.path
        return None

    def _decoration(self, entry: ImageEntry) -> QIcon:
        if entry.status == "unreadable":
            return self._placeholders["unreadable"]
        icon = self._thumbnails.get(entry.path)
        if icon is None:
            self.loader.request(entry.path)
            return self._placeholders[entry.status]
        self._thumbnails.move_to_end(entry.path)
        return icon

    def _on_thumbnail_loaded(self, path: Path, image: QImage) -> None:
        row = self._rows.get(path)
        if row is None:
            return
        # QPixmap may only be made on the GUI thread, so the loader hands over a QImage.
        self._thumbnails[path] = QIcon(QPixmap.fromImage(image))
        while len(self._thumbnails) > self.MAX_CACHED_THUMBNAILS:
            self._thumbnails.popitem(last=False)
        index = self.index(row)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def _on_thumbnail_failed(self, path: Path, reason: str) -> None:
        logger.info("Image %s is unreadable: %s", path, reason)
        self.set_status(path, "unreadable", reason)
        self.unreadable_found.emit(path, reason)


def _tooltip(entry: ImageEntry, unsaved: bool) -> str:
    if entry.status == "unreadable":
        return f"{entry.path}\nUnreadable: {entry.reason}"
    text = f"{entry.path}\nStatus: {entry.status}"
    if unsaved:
        text += (
            "\nUnsaved edits: saving them failed, so they are kept in memory and saved again "
            "each time you change image."
        )
    return text


def _status_icon(status: ImageStatus) -> QIcon:
    """Draw the placeholder shown until the thumbnail is ready: a grey square, coloured corner."""
    pixmap = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    pixmap.fill(QColor("#3a3a3a"))
    painter = QPainter(pixmap)
    painter.fillRect(0, 0, THUMBNAIL_SIZE // 4, THUMBNAIL_SIZE // 4, QColor(STATUS_COLOURS[status]))
    if status == "unreadable":
        painter.setPen(QColor(STATUS_COLOURS[status]))
        painter.drawLine(8, 8, THUMBNAIL_SIZE - 8, THUMBNAIL_SIZE - 8)
        painter.drawLine(THUMBNAIL_SIZE - 8, 8, 8, THUMBNAIL_SIZE - 8)
    painter.end()
    return QIcon(pixmap)


class StatusFilterModel(QSortFilterProxyModel):
    """Shows the rows whose status is in the chosen set (all rows when the set is empty)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._statuses: frozenset[str] = frozenset()

    def set_statuses(self, statuses: frozenset[str]) -> None:
        self._statuses = statuses
        self.beginFilterChange()
        self.endFilterChange()

    def filterAcceptsRow(
        self,
        source_row: int,
        source_parent: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if not self._statuses:
            return True
        index = self.sourceModel().index(source_row, 0, source_parent)
        return index.data(STATUS_ROLE) in self._statuses


FILTERS: dict[str, frozenset[str]] = {
    "All images": frozenset(),
    "Not done": frozenset({"new", "predicted", "edited"}),
    **{status.capitalize(): frozenset({status}) for status in IMAGE_STATUSES},
}


class ImageListPanel(QWidget):
    """The list view with its status filter; emits image_clicked when the user picks a row."""

    image_clicked = Signal(object)  # Path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ImageListModel(self)
        self.proxy = StatusFilterModel(self)
        self.proxy.setSourceModel(self.model)

        self.filter_box = QComboBox(self)
        self.filter_box.addItems(list(FILTERS))
        self.filter_box.currentTextChanged.connect(self._on_filter_changed)
        self.count_label = QLabel(self)
        self.count_label.setWordWrap(True)  # the line may grow longer than the dock is wide
        self._unlisted = 0

        self.view = QListView(self)
        self.view.setModel(self.proxy)
        self.view.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        # Uniform sizes let the view lay out 10,000 rows without asking each one for its size.
        self.view.setUniformItemSizes(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(200)
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.view.clicked.connect(self._on_clicked)

        header = QHBoxLayout()
        header.addWidget(QLabel("Show:", self))
        header.addWidget(self.filter_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)
        self.model.modelReset.connect(self._update_count)
        self.model.dataChanged.connect(self._update_count)

    def set_entries(self, entries: list[ImageEntry]) -> None:
        self.model.set_entries(entries)

    def set_unsaved(self, paths: Iterable[Path]) -> None:
        """Mark the images whose edits failed to save, in their rows and in the count line."""
        self.model.set_unsaved(paths)
        self._update_count()

    def set_unlisted_count(self, count: int) -> None:
        """Say under the list that `count` images in subfolders are not listed."""
        self._unlisted = count
        self._update_count()

    def select_path(self, path: Path) -> None:
        """Highlight `path` without emitting image_clicked."""
        row = self.model.row_of(path)
        if row is None:
            return
        proxy_index = self.proxy.mapFromSource(self.model.index(row))
        if proxy_index.isValid():
            self.view.setCurrentIndex(proxy_index)
            self.view.scrollTo(proxy_index)

    def selected_paths(self) -> list[Path]:
        """Return the paths of the selected rows, in list order."""
        rows = sorted(self.proxy.mapToSource(index).row() for index in self.view.selectedIndexes())
        return [self.model.entry(row).path for row in rows]

    def shown_entries(self) -> list[ImageEntry]:
        """Return the entries that pass the filter, in list order."""
        rows = (
            self.proxy.mapToSource(self.proxy.index(row, 0)).row()
            for row in range(self.proxy.rowCount())
        )
        return [self.model.entry(row) for row in rows]

    def set_filter(self, name: str) -> None:
        self.filter_box.setCurrentText(name)

    def _on_filter_changed(self, name: str) -> None:
        self.proxy.set_statuses(FILTERS.get(name, frozenset()))
        self._update_count()

    def _on_clicked(self, proxy_index: QModelIndex) -> None:
        path = proxy_index.data(PATH_ROLE)
        if path is not None:
            self.image_clicked.emit(path)

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        parts = [f"{shown} of {count_noun(total, 'image')}"]
        unsaved = self.model.unsaved_count()
        if unsaved:
            parts.append(f"{unsaved} with {UNSAVED_TEXT}")
        if self._unlisted:
            parts.append(f"{self._unlisted} more in subfolders, not listed")
        self.count_label.setText("\n".join(parts))


def step_path(paths: list[Path], current: Path | None, step: int) -> Path | None:
    """Return the path `step` rows from `current` (no wrap-around), or None past either end.

    With no current image, a forward step starts at the first row and a backward one at the last.
    """
    if not paths:
        return None
    if current not in paths:
        return paths[0] if step > 0 else paths[-1]
    row = paths.index(current) + step
    return paths[row] if 0 <= row < len(paths) else None


def next_not_done(entries: list[ImageEntry], current: Path | None) -> Path | None:
    """Return the first image after `current` (wrapping around) that is new, predicted or edited."""
    paths = [entry.path for entry in entries]
    start = paths.index(current) + 1 if current in paths else 0
    for offset in range(len(entries)):
        entry = entries[(start + offset) % len(entries)]
        if entry.status in ("new", "predicted", "edited") and entry.path != current:
            return entry.path
    return None
