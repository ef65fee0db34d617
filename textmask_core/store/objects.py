"""SQL for objects and their mask revisions.

An object row stores the number of its latest revision, and its mask, origin and model
name are read from that revision, so the current mask is stored once. A caller that
inserts an object must insert its revision 1 in the same transaction, as
``editing.create_object`` does. Transactions belong to the caller.
"""

from __future__ import annotations

import sqlite3

from textmask_core.errors import StoreError
from textmask_core.store.records import MaskOrigin, ObjectRecord, RevisionRecord
from textmask_core.store.rle import EncodedMask
from textmask_core.store.timestamps import now_text, parse_time

_OBJECT_QUERY = """
    SELECT o.id, o.image_id, l.name, o.label_id, o.prompt,
           r.mask_height, r.mask_width, r.mask_counts, o.revision, r.origin, r.model_name,
           o.visible, o.locked, o.created_at, o.updated_at
    FROM objects AS o
    JOIN labels AS l ON l.id = o.label_id
    JOIN mask_revisions AS r ON r.object_id = o.id AND r.revision = o.revision
"""
_REVISION_COLUMNS = (
    "object_id, revision, mask_height, mask_width, mask_counts, origin, model_name, created_at"
)


def insert_object(
    conn: sqlite3.Connection,
    image_id: int,
    label_id: int,
    prompt: str,
    *,
    visible: bool = True,
    locked: bool = False,
) -> int:
    """Insert an object row at revision 1 and return its id; revision 1 must follow."""
    now = now_text()
    cursor = conn.execute(
        "INSERT INTO objects (image_id, label_id, prompt, revision, visible, locked,"
        " created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
        (image_id, label_id, prompt, visible, locked, now, now),
    )
    return int(cursor.lastrowid)


def insert_revision(
    conn: sqlite3.Connection,
    object_id: int,
    revision: int,
    mask: EncodedMask,
    origin: MaskOrigin,
    model_name: str | None,
) -> None:
    conn.execute(
        f"INSERT INTO mask_revisions ({_REVISION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (object_id, revision, mask.height, mask.width, mask.counts, origin, model_name, now_text()),
    )


def append_revision(
    conn: sqlite3.Connection,
    current: ObjectRecord,
    mask: EncodedMask,
    origin: MaskOrigin,
    model_name: str | None,
) -> None:
    """Store ``mask`` as the object's next revision and make it the current mask."""
    revision = current.revision + 1
    insert_revision(conn, current.id, revision, mask, origin, model_name)
    conn.execute(
        "UPDATE objects SET revision = ?, updated_at = ? WHERE id = ?",
        (revision, now_text(), current.id),
    )


def update_fields(conn: sqlite3.Connection, object_id: int, fields: dict[str, object]) -> None:
    """Set the given columns (label_id, prompt, visible, locked) of one object."""
    allowed = {"label_id", "prompt", "visible", "locked"}
    unknown = set(fields) - allowed
    assert not unknown, f"update_fields got unknown columns {unknown}"
    if not fields:
        return
    assignments = ", ".join(f"{column} = ?" for column in fields)
    conn.execute(
        f"UPDATE objects SET {assignments}, updated_at = ? WHERE id = ?",
        (*fields.values(), now_text(), object_id),
    )


def delete_object(conn: sqlite3.Connection, object_id: int) -> None:
    """Delete an object; its revisions go with it (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM objects WHERE id = ?", (object_id,))


def select_object(conn: sqlite3.Connection, object_id: int) -> ObjectRecord | None:
    row = conn.execute(f"{_OBJECT_QUERY} WHERE o.id = ?", (object_id,)).fetchone()
    return None if row is None else _to_object(row)


def require_object(conn: sqlite3.Connection, object_id: int) -> ObjectRecord:
    """Return the object with this id or raise StoreError."""
    record = select_object(conn, object_id)
    if record is None:
        raise StoreError(f"Object {object_id} not found in the project; it may have been deleted.")
    return record


def select_objects(conn: sqlite3.Connection, image_id: int) -> list[ObjectRecord]:
    """Return the objects of an image in creation order."""
    rows = conn.execute(f"{_OBJECT_QUERY} WHERE o.image_id = ? ORDER BY o.id", (image_id,))
    return [_to_object(row) for row in rows]


def select_revisions(conn: sqlite3.Connection, object_id: int) -> list[RevisionRecord]:
    rows = conn.execute(
        f"SELECT {_REVISION_COLUMNS} FROM mask_revisions WHERE object_id = ? ORDER BY revision",
        (object_id,),
    )
    return [_to_revision(row) for row in rows]


def select_first_predicted(conn: sqlite3.Connection, object_id: int) -> RevisionRecord | None:
    row = conn.execute(
        f"SELECT {_REVISION_COLUMNS} FROM mask_revisions"
        " WHERE object_id = ? AND origin = 'predicted' ORDER BY revision LIMIT 1",
        (object_id,),
    ).fetchone()
    return None if row is None else _to_revision(row)


def _to_object(row: tuple) -> ObjectRecord:
    (object_id, image_id, label, label_id, prompt, height, width, counts) = row[:8]
    (revision, origin, model_name, visible, locked, created_at, updated_at) = row[8:]
    return ObjectRecord(
        id=object_id,
        image_id=image_id,
        label=label,
        label_id=label_id,
        prompt=prompt,
        mask=EncodedMask(height=height, width=width, counts=bytes(counts)),
        revision=revision,
        origin=origin,
        model_name=model_name,
        visible=bool(visible),
        locked=bool(locked),
        created_at=parse_time(created_at),
        updated_at=parse_time(updated_at),
    )


def _to_revision(row: tuple) -> RevisionRecord:
    object_id, revision, height, width, counts, origin, model_name, created_at = row
    return RevisionRecord(
        object_id=object_id,
        revision=revision,
        mask=EncodedMask(height=height, width=width, counts=bytes(counts)),
        origin=origin,
        model_name=model_name,
        created_at=parse_time(created_at),
    )
