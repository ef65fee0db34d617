"""The main window's actions and menus, built in one place so the shortcut list stays complete."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QMainWindow, QMenu

from textmask_desktop.canvas.actions import create_actions
from textmask_desktop.canvas.tools import TOOL_NAMES
from textmask_desktop.canvas.view import MaskCanvas

ZOOM_ACTIONS = ("zoom_fit", "zoom_actual_size", "zoom_in", "zoom_out")
BRUSH_ACTIONS = ("brush_smaller", "brush_larger")
MASK_ACTIONS = ("fill_holes", "remove_specks", "grow", "shrink", "clear")


@dataclass(frozen=True)
class WindowActions:
    open_folder: QAction
    recent_menu: QMenu
    export: QAction
    batch: QAction
    settings: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    next_image: QAction
    previous_image: QAction
    next_not_done: QAction
    mark_done: QAction
    predict: QAction
    accept: QAction
    canvas: dict[str, QAction]  # from textmask_desktop.canvas.actions: tools, zoom, mask commands
    model_menu: QMenu
    model_group: QActionGroup
    fine_tune: QAction
    shortcuts: QAction

    def all_actions(self) -> list[QAction]:
        fixed = [
            self.open_folder, self.export, self.batch, self.settings, self.quit, self.undo,
            self.redo, self.next_image, self.previous_image, self.next_not_done,
            self.mark_done, self.predict, self.accept, self.fine_tune, self.shortcuts,
        ]  # fmt: skip
        return fixed + list(self.canvas.values())


def _action(window: QMainWindow, text: str, shortcut: str | QKeySequence | None = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    window.addAction(action)  # shortcuts work even while the menu bar is hidden
    return action


def build_actions(window: QMainWindow, undo_group: QUndoGroup, canvas: MaskCanvas) -> WindowActions:
    """Create the actions and the menu bar of `window`; the caller connects the triggers."""
    undo = undo_group.createUndoAction(window, "&Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo = undo_group.createRedoAction(window, "&Redo")
    redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
    window.addAction(undo)
    window.addAction(redo)
    canvas_actions = create_actions(window, canvas)
    window.addActions(list(canvas_actions.values()))
    actions = WindowActions(
        open_folder=_action(window, "&Open Folder…", QKeySequence.StandardKey.Open),
        recent_menu=QMenu("Open &Recent", window),
        export=_action(window, "&Export…", "Ctrl+E"),
        batch=_action(window, "&Batch Predict…", "Ctrl+B"),
        settings=_action(window, "&Settings…", "Ctrl+,"),
        quit=_action(window, "&Quit", QKeySequence.StandardKey.Quit),
        undo=undo,
        redo=redo,
        next_image=_action(window, "&Next Image", "PgDown"),
        previous_image=_action(window, "&Previous Image", "PgUp"),
        next_not_done=_action(window, "Next &Not-Done Image", "Shift+PgDown"),
        mark_done=_action(window, "Mark &Done and Go to Next", "Ctrl+Return"),
        predict=_action(window, "&Predict", "Ctrl+P"),
        accept=_action(window, "&Accept Prediction", "Ctrl+Shift+A"),
        canvas=canvas_actions,
        model_menu=QMenu("&Model", window),
        model_group=QActionGroup(window),
        fine_tune=_action(window, "&Fine-tune on Corrected Masks…", "Ctrl+Shift+T"),
        shortcuts=_action(window, "&Keyboard Shortcuts", "F1"),
    )
    _fill_menus(window, actions)
    return actions


def _fill_menus(window: QMainWindow, actions: WindowActions) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions.open_folder)
    file_menu.addMenu(actions.recent_menu)
    file_menu.addSeparator()
    file_menu.addAction(actions.export)
    file_menu.addAction(actions.batch)
    file_menu.addSeparator()
    file_menu.addAction(actions.settings)
    file_menu.addAction(actions.quit)

    edit_menu = bar.addMenu("&Edit")
    edit_menu.addAction(actions.undo)
    edit_menu.addAction(actions.redo)
    edit_menu.addSeparator()
    edit_menu.addAction(actions.predict)
    edit_menu.addAction(actions.accept)
    edit_menu.addSeparator()
    for name in (*TOOL_NAMES, *BRUSH_ACTIONS):
        edit_menu.addAction(actions.canvas[name])
    mask_menu = edit_menu.addMenu("&Mask")
    for name in MASK_ACTIONS:
        mask_menu.addAction(actions.canvas[name])

    image_menu = bar.addMenu("&Image")
    for action in (actions.next_image, actions.previous_image, actions.next_not_done):
        image_menu.addAction(action)
    image_menu.addAction(actions.mark_done)
    image_menu.addSeparator()
    for name in ZOOM_ACTIONS:
        image_menu.addAction(actions.canvas[name])

    bar.addMenu(actions.model_menu)
    actions.model_group.setExclusive(True)

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions.shortcuts)
