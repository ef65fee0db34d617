"""The objects panel: selection drives the active object; edits go through the undo stack."""

from __future__ import annotations

import numpy as np
import pytest
from document_support import make_document, rect_mask
from PySide6.QtCore import Qt

from textmask_desktop.document import ImageDocument
from textmask_desktop.objects_panel import LOCKED_COLUMN, VISIBLE_COLUMN, ObjectsPanel


@pytest.fixture
def document() -> ImageDocument:
    document = make_document(64, 48)
    document.add_object(rect_mask(64, 48, 0, 0, 10, 10), "left", prompt="left thing")
    document.add_object(rect_mask(64, 48, 30, 0, 40, 10), "right")
    return document


@pytest.fixture
def panel(qtbot, document: ImageDocument) -> ObjectsPanel:
    panel = ObjectsPanel()
    qtbot.addWidget(panel)
    panel.set_document(document)
    return panel


def test_rows_follow_document(panel: ObjectsPanel, document: ImageDocument) -> None:
    tree = panel.tree
    assert tree.topLevelItemCount() == 2
    assert tree.topLevelItem(0).text(0) == "left"
    assert tree.topLevelItem(0).text(1) == "left thing"
    document.undo_stack.undo()
    assert tree.topLevelItemCount() == 1
    document.undo_stack.redo()
    assert tree.topLevelItemCount() == 2


def test_selecting_row_activates_object(panel: ObjectsPanel, document: ImageDocument) -> None:
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    assert document.active_key == document.objects[0].key


def test_visibility_and_lock_are_undoable(panel: ObjectsPanel, document: ImageDocument) -> None:
    item = panel.tree.topLevelItem(1)
    item.setCheckState(VISIBLE_COLUMN, Qt.CheckState.Unchecked)
    assert document.objects[1].visible is False
    panel.tree.topLevelItem(1).setCheckState(LOCKED_COLUMN, Qt.CheckState.Checked)
    assert document.objects[1].locked is True
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.objects[1].visible is True
    assert document.objects[1].locked is False


def test_merge_selected_unites_masks(panel: ObjectsPanel, document: ImageDocument) -> None:
    panel.tree.topLevelItem(0).setSelected(True)
    panel.tree.topLevelItem(1).setSelected(True)
    assert panel.merge_button.isEnabled()
    panel.merge_button.click()
    assert [layer.label for layer in document.objects] == ["left"]
    assert int(np.count_nonzero(document.objects[0].mask)) == 200


def test_delete_selected_and_rename(panel: ObjectsPanel, document: ImageDocument) -> None:
    panel.tree.topLevelItem(1).setSelected(True)
    panel.delete_button.click()
    assert [layer.label for layer in document.objects] == ["left"]
    panel.tree.topLevelItem(0).setText(0, "  door  ")
    assert document.objects[0].label == "door"


def test_locked_object_cannot_be_deleted(
    qtbot, panel: ObjectsPanel, document: ImageDocument
) -> None:
    document.set_locked(document.objects[0].key, True)
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    with qtbot.waitSignal(panel.status_message) as blocker:
        panel.delete_button.click()
    assert "locked" in blocker.args[0]
    assert len(document.objects) == 2
