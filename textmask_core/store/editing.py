"""Object edits made of several statements: create, change, save a whole image, merge.

Every function here runs inside the caller's transaction, so each edit is atomic.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

import numpy as np

from textmask_core.store import labels, objects
from textmask_core.store.records import (
    MASK_ORIGINS,
    ImageRecord,
    MaskOrigin,
    ObjectRecord,
    ObjectState,
)
from textmask_core.store.rle import EncodedMask, encode_mask

logger = logging.getLogger(__name__)


def check_origin(origin: str) -> None:
    if origin not in MASK_ORIGINS:
        raise ValueError(f"Invalid mask origin {origin!r}; use one of {', '.join(MASK_ORIGINS)}.")


def check_prompt(prompt: object) -> None:
    if not isinstance(prompt, str):
        raise TypeError(f"A prompt must be a string, got {type(prompt).__name__}.")


def check_mask_fits(image: ImageRecord, mask: EncodedMask) -> None:
    """Raise ValueError when the image size is known and the mask has another size."""
    if image.width is None or image.height is None:
        return
    if (mask.height, mask.width) != (image.height, image.width):
        raise ValueError(
            f"Mask of {mask.width}x{mask.height} pixels does not fit image {image.path} of "
            f"{image.width}x{image.height} pixels; masks must have the image's size."
        )


def create_object(
    conn: sqlite3.Connection,
    image: ImageRecord,
    label: str,
    prompt: str,
    mask: EncodedMask,
    origin: MaskOrigin,
    model_name: str | None,
    *,
    visible: bool = True,
    locked: bool = False,
) -> int:
    """Insert an object with its first revision and return its id."""
    label_record = labels.ensure_label(conn, label)
    object_id = objects.insert_object(
        conn, image.id, label_record.id, prompt, visible=visible, locked=locked
    )
    objects.insert_revision(conn, object_id, 1, mask, origin, model_name)
    return object_id


def write_mask(
    conn: sqlite3.Connection,
    current: ObjectRecord,
    mask: EncodedMask,
    origin: MaskOrigin,
    model_name: str | None,
) -> bool:
    """Append a revision unless it would repeat the latest one; return whether it did."""
    if (current.mask, current.origin, current.model_name) == (mask, origin, model_name):
        return False
    objects.append_revision(conn, current, mask, origin, model_name)
    return True


def update_fields(
    conn: sqlite3.Connection,
    current: ObjectRecord,
    *,
    label: str | None = None,
    prompt: str | None = None,
    visible: bool | None = None,
    locked: bool | None = None,
) -> None:
    """Change the given fields of an object; None leaves a field as it is."""
    fields: dict[str, object] = {}
    if label is not None:
        label_id = labels.ensure_label(conn, label).id
        if label_id != current.label_id:
            fields["label_id"] = label_id
    if prompt is not None and prompt != current.prompt:
        fields["prompt"] = prompt
    if visible is not None and visible != current.visible:
        fields["visible"] = bool(visible)
    if locked is not None and locked != current.locked:
        fields["locked"] = bool(locked)
    objects.update_fields(conn, current.id, fields)


def save_states(
    conn: sqlite3.Connection,
    image: ImageRecord,
    states: Sequence[ObjectState],
    masks: Sequence[EncodedMask],
) -> list[int]:
    """Make the image's stored objects equal ``states`` and return their ids in order.

    ``masks`` are the encoded masks of ``states``. Stored objects missing from
    ``states`` are deleted. Raises ValueError for an id that is not on this image.
    """
    stored = {record.id: record for record in objects.select_objects(conn, image.id)}
    kept_ids = {state.object_id for state in states if state.object_id is not None}
    foreign = sorted(kept_ids - stored.keys())
    if foreign:
        raise ValueError(
            f"Objects {foreign} are not on image {image.id} ({image.path}); "
            "pass object_id=None for objects that are not stored yet."
        )
    for object_id in stored.keys() - kept_ids:
        objects.delete_object(conn, object_id)
    pairs = zip(states, masks, strict=True)
    return [_save_state(conn, image, state, mask, stored) for state, mask in pairs]


def _save_state(
    conn: sqlite3.Connection,
    image: ImageRecord,
    state: ObjectState,
    mask: EncodedMask,
    stored: dict[int, ObjectRecord],
) -> int:
    if state.object_id is None:
        return create_object(
            conn,
            image,
            state.label,
            state.prompt,
            mask,
            state.origin,
            state.model_name,
            visible=state.visible,
            locked=state.locked,
        )
    current = stored[state.object_id]
    update_fields(
        conn,
        current,
        label=state.label,
        prompt=state.prompt,
        visible=state.visible,
        locked=state.locked,
    )
    write_mask(conn, current, mask, state.origin, state.model_name)
    return current.id


def merge(conn: sqlite3.Connection, records: Sequence[ObjectRecord], into_label: str | None) -> int:
    """Unite the masks of ``records`` into the first one, delete the rest, return its id.

    The merged mask is an edit by the user. The first object keeps its prompt and gets
    ``into_label`` when one is given.
    """
    target, *others = records
    decoded = [record.mask.decode() for record in records]
    shapes = {mask.shape for mask in decoded}
    if len(shapes) != 1:
        raise ValueError(f"Cannot merge masks of different sizes {sorted(shapes)}.")
    union = np.logical_or.reduce(decoded)
    update_fields(conn, target, label=into_label)
    objects.append_revision(conn, target, encode_mask(union), "edited", None)
    for record in others:
        objects.delete_object(conn, record.id)
    logger.debug("Merged objects %s into object %d", [r.id for r in others], target.id)
    return target.id
