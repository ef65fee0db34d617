"""The objects panel: the current image's objects with colour, label, prompt, visibility, lock."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from textmask_desktop.document import ImageDocument, ObjectNotEditableError

logger = logging.getLogger(__name__)

LABEL_COLUMN, PROMPT_COLUMN, VISIBLE_COLUMN, LOCKED_COLUMN = range(4)
KEY_ROLE = Qt.ItemDataRole.UserRole + 1
# Short headers keep the two check-box columns narrow; the tooltips give the full meaning.
HEADERS = ("Label", "Prompt", "Show", "Lock")
HEADER_TOOLTIPS = (
    "The object's label; double-click to rename it",
    "The prompt that made the mask",
    "Visible: untick to hide the object",
    "Locked: tick to protect the object from edits",
)
MIN_SECTION_WIDTH = 24  # pixels; about a check box
# Styles give push buttons a minimum width of about 80 px; less lets the panel get narrower.
MIN_BUTTON_WIDTH = 50


class ObjectsPanel(QWidget):
    """Lists the document's objects; selecting one makes it the object the tools edit.

    Every change goes through the document's undoable methods, so the panel never edits a
    layer directly and follows the document again on undo and redo.
    """

    status_message = Signal(str)  # why an edit was not made, for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document: ImageDocument | None = None
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(list(HEADERS))
        for column, tooltip in enumerate(HEADER_TOOLTIPS):
            self.tree.headerItem().setToolTip(column, tooltip)
        self.tree.setRootIsDecorated(False)
        _fit_columns(self.tree.header())
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        self.tree.itemChanged.connect(self._on_item_changed)

        self.new_button = QPushButton("New", self)
        self.new_button.setToolTip("Add an empty object to paint by hand")
        self.new_button.clicked.connect(lambda: self.add_empty_object("object"))
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.clicked.connect(self.delete_selected)
        self.merge_button = QPushButton("Merge", self)
        self.merge_button.setToolTip("Unite the selected objects into the first one")
        self.merge_button.clicked.connect(self.merge_selected)

        buttons = QHBoxLayout()
        for button in (self.new_button, self.delete_button, self.merge_button):
            button.setMinimumWidth(MIN_BUTTON_WIDTH)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def set_document(self, document: ImageDocument | None) -> None:
        if self._document is not None:
            self._document.objects_changed.disconnect(self.refresh)
            self._document.active_changed.disconnect(self._select_active)
        self._document = document
        if document is not None:
            document.objects_changed.connect(self.refresh)
            document.active_changed.connect(self._select_active)
        self.refresh()

    def selected_keys(self) -> list[int]:
        """Return the selected objects' keys in list order."""
        items = sorted(self.tree.selectedItems(), key=self.tree.indexOfTopLevelItem)
        return [int(item.data(LABEL_COLUMN, KEY_ROLE)) for item in items]

    def refresh(self) -> None:
        """Rebuild the rows from the document (objects are few, so this stays cheap)."""
        with QSignalBlocker(self.tree):
            self.tree.clear()
            layers = self._document.objects if self._document is not None else ()
            for layer in layers:
                item = QTreeWidgetItem([layer.label, layer.prompt, "", ""])
                item.setData(LABEL_COLUMN, KEY_ROLE, layer.key)
                item.setIcon(LABEL_COLUMN, _swatch(layer.colour))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                item.setCheckState(VISIBLE_COLUMN, _check(layer.visible))
                item.setCheckState(LOCKED_COLUMN, _check(layer.locked))
                item.setToolTip(
                    LABEL_COLUMN, f"{layer.label}: {int(np.count_nonzero(layer.mask))} px"
                )
                self.tree.addTopLevelItem(item)
        self._select_active(self._document.active_key if self._document is not None else None)
        self._update_buttons()

    def add_empty_object(self, label: str) -> int | None:
        if self._document is None:
            return None
        mask = np.zeros((self._document.height, self._document.width), dtype=np.bool_)
        return self._document.add_object(mask, label, origin="edited")

    def delete_selected(self) -> None:
        if self._document is None:
            return
        for key in self.selected_keys():
            self._run(lambda key=key: self._document.delete_object(key))  # type: ignore[union-attr]

    def merge_selected(self) -> None:
        keys = self.selected_keys()
        if self._document is not None and len(keys) >= 2:
            self._run(lambda: self._document.merge_objects(keys))  # type: ignore[union-attr]

    def _run(self, edit: object) -> None:
        try:
            edit()  # type: ignore[operator]
        except ObjectNotEditableError as error:
            self.status_message.emit(str(error))

    def _select_active(self, key: int | None) -> None:
        if key is not None and key in self.selected_keys():
            self._update_buttons()  # keep a multiple selection made for merging
            return
        with QSignalBlocker(self.tree):
            for row in range(self.tree.topLevelItemCount()):
                item = self.tree.topLevelItem(row)
                is_active = item.data(LABEL_COLUMN, KEY_ROLE) == key
                if is_active:
                    self.tree.setCurrentItem(item)
                item.setSelected(is_active)
        self._update_buttons()

    def _on_selection_changed(self) -> None:
        keys = self.selected_keys()
        if self._document is not None:
            self._document.set_active(keys[0] if keys else None)
        self._update_buttons()

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._document is None:
            return
        key = int(item.data(LABEL_COLUMN, KEY_ROLE))
        if column == VISIBLE_COLUMN:
            self._document.set_visible(key, item.checkState(column) == Qt.CheckState.Checked)
        elif column == LOCKED_COLUMN:
            self._document.set_locked(key, item.checkState(column) == Qt.CheckState.Checked)
        elif column == LABEL_COLUMN:
            label = " ".join(item.text(column).split())
            if label:
                self._document.set_label(key, label)
            else:
                self.refresh()  # an empty label is not allowed: show the old one again
        else:
            self.refresh()  # the prompt records the request that made the mask, so it stays

    def _update_buttons(self) -> None:
        count = len(self.tree.selectedItems())
        self.new_button.setEnabled(self._document is not None)
        self.delete_button.setEnabled(count >= 1)
        self.merge_button.setEnabled(count >= 2)


def _fit_columns(header: QHeaderView) -> None:
    """Share the width between label and prompt; the check-box columns take what they need.

    So every column stays visible at any panel width without a horizontal scroll bar.
    """
    header.setStretchLastSection(False)
    header.setMinimumSectionSize(MIN_SECTION_WIDTH)
    header.setSectionResizeMode(LABEL_COLUMN, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(PROMPT_COLUMN, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(VISIBLE_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(LOCKED_COLUMN, QHeaderView.ResizeMode.ResizeToContents)


def _check(value: bool) -> Qt.CheckState:
    return Qt.CheckState.Checked if value else Qt.CheckState.Unchecked


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)
