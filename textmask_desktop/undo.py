"""Undo commands of the image document, and the compact storage they keep masks in.

Every change to an ImageDocument goes through one of these QUndoCommand subclasses, so the
QUndoStack can replay it and the document's revision follows the stack (see DocumentCommand).
Mask changes keep only the rectangle that changed: before and after values of that rectangle,
bit-packed and zlib-compressed, so the memory of an edit follows its size, not the image's.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PySide6.QtGui import QUndoCommand

from textmask_desktop.canvas.geometry import PixelPatch, PixelRect, bounding_rect, changed_rect

if TYPE_CHECKING:
    from textmask_desktop.document import ImageDocument, ObjectLayer, ObjectOrigin

logger = logging.getLogger(__name__)

STROKE_TILE = 256  # pixels; a stroke saves the original of each tile it touches once
_EMPTY_MASK: NDArray[np.bool_] = np.zeros((0, 0), dtype=np.bool_)


@dataclass(frozen=True, eq=False)
class PackedMask:
    """A boolean array stored as zlib-compressed bits (1 bit per pixel before compression)."""

    shape: tuple[int, int]
    data: bytes

    @classmethod
    def pack(cls, values: NDArray[np.bool_]) -> PackedMask:
        bits = np.packbits(values, axis=None)
        # Level 1: masks are long runs, so the fastest level already compresses them well.
        return cls((values.shape[0], values.shape[1]), zlib.compress(bits.tobytes(), 1))

    def unpack(self) -> NDArray[np.bool_]:
        count = self.shape[0] * self.shape[1]
        bits = np.unpackbits(np.frombuffer(zlib.decompress(self.data), dtype=np.uint8))
        return bits[:count].view(np.bool_).reshape(self.shape)

    @property
    def nbytes(self) -> int:
        return len(self.data)


@dataclass(frozen=True, eq=False)
class RegionChange:
    """The values of one rectangle of a mask before and after an edit."""

    rect: PixelRect
    before: PackedMask
    after: PackedMask

    @classmethod
    def between(
        cls, rect: PixelRect, before: NDArray[np.bool_], after: NDArray[np.bool_]
    ) -> RegionChange | None:
        """Pack the part of `rect` where `before` and `after` differ; None when nothing does."""
        changed = changed_rect(before, after)
        if changed is None:
            return None
        return cls(
            changed.translated(rect.x, rect.y),
            PackedMask.pack(before[changed.slices]),
            PackedMask.pack(after[changed.slices]),
        )

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


@dataclass(frozen=True, eq=False)
class StoredLayer:
    """An object taken out of the document: its fields, and its mask packed to its bounding box."""

    layer: ObjectLayer  # a copy whose mask is an empty placeholder
    index: int  # position in the document's object list (drawing order)
    image_shape: tuple[int, int]
    mask_rect: PixelRect | None  # None for an empty mask
    mask_bits: PackedMask | None

    @classmethod
    def store(cls, layer: ObjectLayer, index: int) -> StoredLayer:
        rect = bounding_rect(layer.mask)
        bits = None if rect is None else PackedMask.pack(layer.mask[rect.slices])
        shape = (layer.mask.shape[0], layer.mask.shape[1])
        return cls(dataclasses.replace(layer, mask=_EMPTY_MASK), index, shape, rect, bits)

    def restore(self) -> ObjectLayer:
        mask = np.zeros(self.image_shape, dtype=np.bool_)
        if self.mask_rect is not None and self.mask_bits is not None:
            mask[self.mask_rect.slices] = self.mask_bits.unpack()
        return dataclasses.replace(self.layer, mask=mask)

    @property
    def nbytes(self) -> int:
        return 0 if self.mask_bits is None else self.mask_bits.nbytes


class DocumentCommand(QUndoCommand):
    """Base class: applies or reverts a change and moves the document to the matching revision.

    Each command gets a new revision number when it is created. redo() sets the document to
    that revision and undo() back to the one before, so a document whose revision equals the
    saved revision has exactly the saved content, however it got there.
    """

    def __init__(self, document: ImageDocument, text: str) -> None:
        super().__init__(text)
        self._document = document
        self._revision_before = document.revision
        self._revision_after = document.allocate_revision()

    def redo(self) -> None:
        self._apply()
        self._document.set_revision(self._revision_after)

    def undo(self) -> None:
        self._revert()
        self._document.set_revision(self._revision_before)

    def _apply(self) -> None:
        raise NotImplementedError

    def _revert(self) -> None:
        raise NotImplementedError

    def memory_bytes(self) -> int:
        """Return the bytes this command keeps for undo and redo (an estimate of its data)."""
        return 0


class MaskEditCommand(DocumentCommand):
    """Replace one rectangle of an object's mask; the object becomes 'edited'."""

    def __init__(
        self,
        document: ImageDocument,
        key: int,
        change: RegionChange,
        origin: ObjectOrigin,
        text: str,
    ) -> None:
        super().__init__(document, text)
        self._key = key
        self._change = change
        self._origin_before = origin

    def _apply(self) -> None:
        self._document.write_mask(self._key, self._change.rect, self._change.after.unpack())
        self._document.set_origin(self._key, "edited")

    def _revert(self) -> None:
        self._document.write_mask(self._key, self._change.rect, self._change.before.unpack())
        self._document.set_origin(self._key, self._origin_before)

    def memory_bytes(self) -> int:
        return self._change.nbytes


class StrokeCommand(DocumentCommand):
    """One brush or eraser stroke, from press to release, painted into the mask as it goes.

    The stroke is pushed after its first change and keeps growing while it is open: each
    segment saves the original of the tiles it touches for the first time. close() turns the
    tiles into one RegionChange over the stroke's bounding rectangle and frees them. An undo
    while the stroke is open closes it first, so the stroke can never be half undone.
    """

    def __init__(
        self, document: ImageDocument, key: int, value: bool, origin: ObjectOrigin, text: str
    ) -> None:
        super().__init__(document, text)
        self._key = key
        self._value = value
        self._origin_before = origin
        self._tiles: dict[tuple[int, int], NDArray[np.bool_]] = {}
        self._changed: PixelRect | None = None
        self._change: RegionChange | None = None
        self._closed = False
        self._painted = False  # the first redo() runs when the first segment is already painted

    @property
    def is_open(self) -> bool:
        return not self._closed

    def paint(self, patch: PixelPatch) -> PixelRect | None:
        """Paint the patch's True pixels with the stroke's value; return the rectangle changed."""
        mask = self._document.object(self._key).mask
        region = mask[patch.rect.slices]
        # On booleans, a > b is a & ~b: one pass each, which matters for large brushes.
        if self._value:
            touched = np.greater(patch.values, region)
        else:
            touched = np.logical_and(patch.values, region)
        changed = bounding_rect(touched)
        if changed is None:
            return None
        changed = changed.translated(patch.rect.x, patch.rect.y)
        self._save_tiles(mask, changed)
        if self._value:
            np.logical_or(region, patch.values, out=region)
        else:
            np.greater(region, patch.values, out=region)
        self._changed = changed.united(self._changed)
        return changed

    def _save_tiles(self, mask: NDArray[np.bool_], rect: PixelRect) -> None:
        for tile_row in range(rect.y // STROKE_TILE, (rect.bottom - 1) // STROKE_TILE + 1):
            for tile_col in range(rect.x // STROKE_TILE, (rect.right - 1) // STROKE_TILE + 1):
                if (tile_row, tile_col) not in self._tiles:
                    tile = _tile_rect(tile_row, tile_col)
                    self._tiles[tile_row, tile_col] = mask[tile.slices].copy()

    def close(self) -> None:
        """Turn the saved tiles into one RegionChange; later paint() calls are a caller error."""
        if not self.is_open:
            return
        assert self._changed is not None, "a stroke is pushed only after its first change"
        mask = self._document.object(self._key).mask
        rect = self._changed
        after = mask[rect.slices].copy()
        before = after.copy()
        for (tile_row, tile_col), original in self._tiles.items():
            tile = _tile_rect(tile_row, tile_col)
            overlap = tile.intersected(rect)
            if overlap.is_empty:
                continue
            source = overlap.translated(-tile.x, -tile.y)
            target = overlap.translated(-rect.x, -rect.y)
            before[target.slices] = original[source.slices]
        self._change = RegionChange.between(rect, before, after)
        self._tiles = {}
        self._closed = True

    def _apply(self) -> None:
        if not self._painted:
            self._painted = True
            self._document.set_origin(self._key, "edited")
            return
        if self._change is not None:
            self._document.write_mask(self._key, self._change.rect, self._change.after.unpack())
        self._document.set_origin(self._key, "edited")

    def _revert(self) -> None:
        self.close()
        self._document.stroke_reverted(self)
        if self._change is not None:
            self._document.write_mask(self._key, self._change.rect, self._change.before.unpack())
        self._document.set_origin(self._key, self._origin_before)

    def memory_bytes(self) -> int:
        if self._change is not None:
            return self._change.nbytes
        return sum(tile.nbytes for tile in self._tiles.values())


def _tile_rect(tile_row: int, tile_col: int) -> PixelRect:
    # Tiles may reach past the image edge; slicing a NumPy array clips them.
    return PixelRect(tile_col * STROKE_TILE, tile_row * STROKE_TILE, STROKE_TILE, STROKE_TILE)


class AddObjectCommand(DocumentCommand):
    """Insert a new object; undo takes it out and keeps it packed."""

    def __init__(self, document: ImageDocument, layer: ObjectLayer, text: str) -> None:
        super().__init__(document, text)
        self._key = layer.key
        self._pending: ObjectLayer | None = layer
        self._stored: StoredLayer | None = None

    def _apply(self) -> None:
        if self._stored is not None:
            self._document.insert_layer(self._stored.restore(), self._stored.index)
            self._stored = None
        elif self._pending is not None:
            self._document.insert_layer(self._pending, len(self._document.objects))
            self._pending = None

    def _revert(self) -> None:
        self._stored = self._document.remove_layer(self._key)

    def memory_bytes(self) -> int:
        return 0 if self._stored is None else self._stored.nbytes


class DeleteObjectCommand(DocumentCommand):
    """Take objects out of the document, keeping them packed for undo."""

    def __init__(self, document: ImageDocument, keys: list[int], text: str) -> None:
        super().__init__(document, text)
        self._keys = keys
        self._stored: list[StoredLayer] = []

    def _apply(self) -> None:
        self._stored = [self._document.remove_layer(key) for key in self._keys]

    def _revert(self) -> None:
        # Reinsert in reverse so that each object gets back its original index.
        for stored in reversed(self._stored):
            self._document.insert_layer(stored.restore(), stored.index)
        self._stored = []

    def memory_bytes(self) -> int:
        return sum(stored.nbytes for stored in self._stored)


class MergeObjectsCommand(DocumentCommand):
    """Unite the masks of several objects into the first one and delete the others."""

    def __init__(self, document: ImageDocument, target: int, others: list[int], text: str) -> None:
        super().__init__(document, text)
        self._target = target
        self._origin_before = document.object(target).origin
        self._change = self._union_change(document, target, others)
        self._others = others
        self._stored: list[StoredLayer] = []

    @staticmethod
    def _union_change(
        document: ImageDocument, target: int, others: list[int]
    ) -> RegionChange | None:
        union: PixelRect | None = None
        for key in others:
            rect = bounding_rect(document.object(key).mask)
            if rect is not None:
                union = rect.united(union)
        if union is None:
            return None
        before = document.object(target).mask[union.slices]
        after = before.copy()
        for key in others:
            after |= document.object(key).mask[union.slices]
        return RegionChange.between(union, before, after)

    def _apply(self) -> None:
        if self._change is not None:
            self._document.write_mask(self._target, self._change.rect, self._change.after.unpack())
            self._document.set_origin(self._target, "edited")
        self._stored = [self._document.remove_layer(key) for key in self._others]

    def _revert(self) -> None:
        for stored in reversed(self._stored):
            self._document.insert_layer(stored.restore(), stored.index)
        self._stored = []
        if self._change is not None:
            self._document.write_mask(self._target, self._change.rect, self._change.before.unpack())
            self._document.set_origin(self._target, self._origin_before)

    def memory_bytes(self) -> int:
        change_bytes = 0 if self._change is None else self._change.nbytes
        return change_bytes + sum(stored.nbytes for stored in self._stored)


class SetPropertyCommand(DocumentCommand):
    """Change one saved property of an object: its label, visibility or lock."""

    def __init__(
        self, document: ImageDocument, key: int, name: str, value: object, text: str
    ) -> None:
        super().__init__(document, text)
        self._key = key
        self._name = name
        self._value = value
        self._value_before = getattr(document.object(key), name)

    def _apply(self) -> None:
        self._document.set_property(self._key, self._name, self._value)

    def _revert(self) -> None:
        self._document.set_property(self._key, self._name, self._value_before)
