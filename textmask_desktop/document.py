"""The image document: one image, its objects and their masks, with undo and an exact dirty state.

The document uses no widgets. The canvas draws it and the tools change it, always through
the methods below, which push undo commands (see textmask_desktop.undo).

Dirty state: each undo command carries the revision number it creates, and undo() restores
the number from before it. mark_saved() remembers the current number, so `is_dirty` is False
exactly when the content is the saved content: undoing back to the saved state makes the
document clean, and undoing past it after a save makes it dirty again.

Undo memory: mask edits keep the changed rectangle only, bit-packed and compressed, and the
stack keeps the latest UNDO_LIMIT commands; undo_memory_bytes() reports the total.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QColor, QUndoStack

from textmask_desktop.canvas.geometry import PixelPatch, PixelRect, image_rect
from textmask_desktop.undo import (
    AddObjectCommand,
    DeleteObjectCommand,
    DocumentCommand,
    MaskEditCommand,
    MergeObjectsCommand,
    RegionChange,
    SetPropertyCommand,
    StoredLayer,
    StrokeCommand,
)

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

ObjectOrigin = Literal["predicted", "edited"]
"""Source of an object's current mask: a model prediction, or a change by the user."""

# Commands kept. A 1400 px diagonal stroke keeps about 3 KB (measured); an edit can keep at
# most 2 bits per pixel of its changed rectangle, before compression.
UNDO_LIMIT = 200
OBJECT_COLOURS = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#fabed4",
    "#469990",
    "#dcbeff",
    "#9a6324",
    "#fffac8",
    "#800000",
    "#aaffc3",
    "#808000",
)


class DocumentImage(Protocol):
    """The part of textmask_core.imageio.LoadedImage that the document uses."""

    pixels: NDArray[np.uint8]  # H×W×3 RGB
    width: int
    height: int
    path: Path


class ObjectNotEditableError(ValueError):
    """An edit was requested on an object that is locked or no longer exists."""


@dataclass(eq=False)
class ObjectLayer:
    """One object of the current image. Change it through ImageDocument, never directly."""

    key: int  # stable within the document, unlike object_id which is None until saved
    mask: NDArray[np.bool_]  # H×W at the image size, C-contiguous; edited in place
    label: str
    prompt: str = ""
    colour: str = "#e6194b"  # "#rrggbb", display only, not saved
    object_id: int | None = None  # the project store's id, None while the object is new
    origin: ObjectOrigin = "predicted"
    model_name: str | None = None  # None for masks made by hand
    visible: bool = True
    locked: bool = False


@dataclass(frozen=True, eq=False)
class ObjectSnapshot:
    """The data the save path writes for one object, field for field the store's ObjectState."""

    key: int
    object_id: int | None
    label: str
    prompt: str
    mask: NDArray[np.bool_]
    origin: ObjectOrigin
    model_name: str | None
    visible: bool
    locked: bool


class ImageDocument(QObject):
    """One image and its objects, with an undo stack and an exact dirty state."""

    objects_changed = Signal()  # objects were added, removed, reordered or renamed
    mask_changed = Signal(int, QRect)  # key, changed rectangle in image pixels
    dirty_changed = Signal(bool)
    active_changed = Signal(object)  # the new active key, or None

    def __init__(self, image: DocumentImage, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._image = image
        self._layers: list[ObjectLayer] = []
        self._active_key: int | None = None
        self._next_key = 1
        self._revision = 0
        self._saved_revision = 0
        self._last_revision = 0
        self._stroke: _OpenStroke | None = None
        self._undo_stack = QUndoStack(self)
        self._undo_stack.setUndoLimit(UNDO_LIMIT)

    # Read access

    @property
    def image(self) -> DocumentImage:
        return self._image

    @property
    def width(self) -> int:
        return self._image.width

    @property
    def height(self) -> int:
        return self._image.height

    @property
    def objects(self) -> tuple[ObjectLayer, ...]:
        """The objects in drawing order: later objects are drawn on top."""
        return tuple(self._layers)

    @property
    def keys(self) -> list[int]:
        return [layer.key for layer in self._layers]

    def has_object(self, key: int) -> bool:
        return any(layer.key == key for layer in self._layers)

    def object(self, key: int) -> ObjectLayer:
        for layer in self._layers:
            if layer.key == key:
                return layer
        raise KeyError(f"No object with key {key} in this document; known keys: {self.keys}.")

    @property
    def undo_stack(self) -> QUndoStack:
        return self._undo_stack

    @property
    def revision(self) -> int:
        """Number of the current content; equal numbers mean equal content."""
        return self._revision

    @property
    def saved_revision(self) -> int:
        return self._saved_revision

    @property
    def is_dirty(self) -> bool:
        return self._revision != self._saved_revision

    def undo_memory_bytes(self) -> int:
        """Return the bytes the undo stack keeps for its commands' mask data."""
        total = 0
        for index in range(self._undo_stack.count()):
            command = self._undo_stack.command(index)
            if isinstance(command, DocumentCommand):
                total += command.memory_bytes()
        return total

    # Active object

    @property
    def active_key(self) -> int | None:
        return self._active_key

    def set_active(self, key: int | None) -> None:
        if key is not None and not self.has_object(key):
            raise KeyError(f"Cannot activate object {key}: no such key; known keys: {self.keys}.")
        if key != self._active_key:
            self._active_key = key
            self.active_changed.emit(key)

    # Loading and saving

    def load_saved_object(
        self,
        mask: NDArray[np.bool_],
        label: str,
        *,
        object_id: int,
        prompt: str = "",
        origin: ObjectOrigin = "predicted",
        model_name: str | None = None,
        visible: bool = True,
        locked: bool = False,
        colour: QColor | str | None = None,
    ) -> int:
        """Add an object read from the project store; the document stays clean, no undo step.

        Call it only while opening the image, before any undoable edit.
        """
        if self._undo_stack.count() > 0:
            raise RuntimeError(
                "load_saved_object() was called after an edit: load stored objects first."
            )
        layer = self._new_layer(mask, label, prompt, colour, origin, model_name, visible, locked)
        layer.object_id = object_id
        self.insert_layer(layer, len(self._layers))
        return layer.key

    def object_states(self, *, copy_masks: bool = True) -> list[ObjectSnapshot]:
        """Return what the save path writes, one snapshot per object in drawing order.

        Masks are copies by default, so a save on another thread cannot see later edits. Pass
        the matching `revision` to mark_saved() when that save succeeds.
        """
        return [
            ObjectSnapshot(
                key=layer.key,
                object_id=layer.object_id,
                label=layer.label,
                prompt=layer.prompt,
                mask=layer.mask.copy() if copy_masks else layer.mask,
                origin=layer.origin,
                model_name=layer.model_name,
                visible=layer.visible,
                locked=layer.locked,
            )
            for layer in self._layers
        ]

    def mark_saved(self, revision: int | None = None) -> None:
        """Record that `revision` (default: the current one) is what the store now holds.

        A stroke in progress ends its undo step here, so the rest of the stroke becomes a new,
        dirty step instead of silently changing the saved one.
        """
        self._close_stroke_command()
        was_dirty = self.is_dirty
        self._saved_revision = self._revision if revision is None else revision
        if self.is_dirty != was_dirty:
            self.dirty_changed.emit(self.is_dirty)

    def assign_object_ids(self, mapping: Mapping[int, int]) -> None:
        """Store the database ids a save gave to new objects; `mapping` is key → object id."""
        for key, object_id in mapping.items():
            if self.has_object(key):
                self.object(key).object_id = object_id
            else:
                logger.warning("Ignored object id %s for key %s: no such object", object_id, key)

    # Undoable edits

    def add_object(
        self,
        mask: NDArray[np.bool_],
        label: str,
        *,
        prompt: str = "",
        origin: ObjectOrigin = "predicted",
        model_name: str | None = None,
        colour: QColor | str | None = None,
        visible: bool = True,
        locked: bool = False,
    ) -> int:
        """Add a new object (undoable), make it the active object and return its key."""
        layer = self._new_layer(mask, label, prompt, colour, origin, model_name, visible, locked)
        self._push(AddObjectCommand(self, layer, f"Add {label}"))
        self.set_active(layer.key)
        return layer.key

    def delete_object(self, key: int) -> None:
        self.validate_editable(key)
        self._push(DeleteObjectCommand(self, [key], f"Delete {self.object(key).label}"))

    def merge_objects(self, keys: Iterable[int]) -> int:
        """Unite the masks of `keys` into the first key's object, delete the rest (undoable)."""
        keys = list(dict.fromkeys(keys))
        if len(keys) < 2:
            raise ValueError(f"Cannot merge {keys}: select at least two objects.")
        for key in keys:
            self.validate_editable(key)
        target, others = keys[0], keys[1:]
        text = f"Merge {len(keys)} objects into {self.object(target).label}"
        self._push(MergeObjectsCommand(self, target, others, text))
        return target

    def set_label(self, key: int, label: str) -> None:
        if not label.strip():
            raise ValueError("Object label is empty: type a label such as 'car'.")
        self._push_property(key, "label", label, f"Rename to {label}")

    def set_visible(self, key: int, visible: bool) -> None:
        self._push_property(key, "visible", visible, "Show object" if visible else "Hide object")

    def set_locked(self, key: int, locked: bool) -> None:
        self._push_property(key, "locked", locked, "Lock object" if locked else "Unlock object")

    def set_colour(self, key: int, colour: QColor | str) -> None:
        """Change the display colour; colours are not saved, so this is no undo step."""
        self.object(key).colour = _colour_name(colour)
        self.objects_changed.emit()

    def apply_mask_edit(
        self,
        key: int,
        region: PixelRect | QRect,
        new_values: NDArray[np.bool_],
        text: str = "Edit mask",
    ) -> bool:
        """Replace the mask values in `region` (undoable); return False when nothing changed.

        `new_values` has the region's shape. The undo step keeps only the sub-rectangle that
        actually changed, so a full-image region costs little when the change is small.
        """
        self.validate_editable(key)
        rect = _pixel_rect(region)
        if rect != rect.intersected(image_rect(self.width, self.height)) or rect.is_empty:
            raise ValueError(
                f"Mask edit region {rect} is not inside the {self.width}×{self.height} image."
            )
        new_values = np.asarray(new_values, dtype=np.bool_)
        if new_values.shape != (rect.height, rect.width):
            raise ValueError(
                f"Mask edit values have shape {new_values.shape}; "
                f"the region {rect} needs ({rect.height}, {rect.width})."
            )
        layer = self.object(key)
        change = RegionChange.between(rect, layer.mask[rect.slices], new_values)
        if change is None:
            return False
        self._push(MaskEditCommand(self, key, change, layer.origin, text))
        return True

    def replace_mask(self, key: int, mask: NDArray[np.bool_], text: str) -> bool:
        """Replace an object's whole mask (undoable); return False when nothing changed."""
        return self.apply_mask_edit(key, image_rect(self.width, self.height), mask, text)

    def validate_editable(self, key: int) -> None:
        """Raise ObjectNotEditableError unless `key` can be edited.

        The error message is written for the status bar: it names the object and the fix.
        """
        if not self.has_object(key):
            raise ObjectNotEditableError(f"Object {key} no longer exists: select another object.")
        layer = self.object(key)
        if layer.locked:
            raise ObjectNotEditableError(f"'{layer.label}' is locked: unlock it to edit it.")

    # Strokes: one undo step from press to release

    def begin_stroke(self, key: int, value: bool, text: str) -> None:
        """Start a brush (value True) or eraser (value False) stroke on object `key`."""
        self.validate_editable(key)
        self.end_stroke()
        self._stroke = _OpenStroke(key, value, text)

    def paint_stroke(self, patch: PixelPatch) -> PixelRect | None:
        """Paint one stroke segment; return the rectangle that changed, None if none did.

        Returns None without painting when no stroke is open or it was undone meanwhile.
        """
        stroke = self._stroke
        if stroke is None or stroke.cancelled or not self.has_object(stroke.key):
            return None
        if stroke.command is None:
            layer = self.object(stroke.key)
            command = StrokeCommand(self, stroke.key, stroke.value, layer.origin, stroke.text)
            changed = command.paint(patch)
            if changed is None:
                return None
            self._push(command, close_stroke=False)
            stroke.command = command
        else:
            changed = stroke.command.paint(patch)
        if changed is not None:
            self.mask_changed.emit(stroke.key, _qrect(changed))
        return changed

    def end_stroke(self) -> None:
        if self._stroke is not None:
            self._close_stroke_command()
            self._stroke = None

    @property
    def stroke_open(self) -> bool:
        return self._stroke is not None

    # Hooks for the undo commands in textmask_desktop.undo; nothing else calls them.

    def allocate_revision(self) -> int:
        self._last_revision += 1
        return self._last_revision

    def set_revision(self, revision: int) -> None:
        was_dirty = self.is_dirty
        self._revision = revision
        if self.is_dirty != was_dirty:
            self.dirty_changed.emit(self.is_dirty)

    def write_mask(self, key: int, rect: PixelRect, values: NDArray[np.bool_]) -> None:
        self.object(key).mask[rect.slices] = values
        self.mask_changed.emit(key, _qrect(rect))

    def set_origin(self, key: int, origin: ObjectOrigin) -> None:
        self.object(key).origin = origin

    def set_property(self, key: int, name: str, value: object) -> None:
        setattr(self.object(key), name, value)
        self.objects_changed.emit()

    def insert_layer(self, layer: ObjectLayer, index: int) -> None:
        self._layers.insert(index, layer)
        self.objects_changed.emit()

    def remove_layer(self, key: int) -> StoredLayer:
        layer = self.object(key)
        index = self._layers.index(layer)
        stored = StoredLayer.store(layer, index)
        del self._layers[index]
        if self._active_key == key:
            self.set_active(None)
        self.objects_changed.emit()
        return stored

    def stroke_reverted(self, command: StrokeCommand) -> None:
        """Stop the open stroke whose command was just undone, until the button is released."""
        if self._stroke is not None and self._stroke.command is command:
            self._stroke.command = None
            self._stroke.cancelled = True

    # Internals

    def _push(self, command: DocumentCommand, *, close_stroke: bool = True) -> None:
        if close_stroke:
            self._close_stroke_command()
        self._undo_stack.push(command)

    def _push_property(self, key: int, name: str, value: object, text: str) -> None:
        if getattr(self.object(key), name) != value:
            self._push(SetPropertyCommand(self, key, name, value, text))

    def _close_stroke_command(self) -> None:
        """End the open stroke's undo step; the stroke itself goes on with a new step."""
        if self._stroke is not None and self._stroke.command is not None:
            self._stroke.command.close()
            self._stroke.command = None

    def _new_layer(
        self,
        mask: NDArray[np.bool_],
        label: str,
        prompt: str,
        colour: QColor | str | None,
        origin: ObjectOrigin,
        model_name: str | None,
        visible: bool,
        locked: bool,
    ) -> ObjectLayer:
        mask = np.asarray(mask)
        if mask.shape != (self.height, self.width):
            raise ValueError(
                f"Mask for '{label}' has shape {mask.shape}; "
                f"the image needs ({self.height}, {self.width})."
            )
        key = self._next_key
        self._next_key += 1
        colour_name = _colour_name(colour) if colour is not None else _default_colour(key)
        # A private C-contiguous copy: the canvas draws straight from this buffer.
        own_mask = np.array(mask, dtype=np.bool_, order="C", copy=True)
        return ObjectLayer(
            key, own_mask, label, prompt, colour_name, None, origin, model_name, visible, locked
        )


@dataclass(eq=False)
class _OpenStroke:
    key: int
    value: bool
    text: str
    command: StrokeCommand | None = None  # None until the first change, or after a save
    cancelled: bool = False  # the stroke was undone while the button was still down


def _default_colour(key: int) -> str:
    return OBJECT_COLOURS[(key - 1) % len(OBJECT_COLOURS)]


def _colour_name(colour: QColor | str) -> str:
    parsed = QColor(colour)
    if not parsed.isValid():
        raise ValueError(f"Invalid colour {colour!r}: use '#rrggbb', for example '#e6194b'.")
    return parsed.name()


def _pixel_rect(region: PixelRect | QRect) -> PixelRect:
    if isinstance(region, QRect):
        return PixelRect(region.x(), region.y(), region.width(), region.height())
    return region


def _qrect(rect: PixelRect) -> QRect:
    return QRect(rect.x, rect.y, rect.width, rect.height)
