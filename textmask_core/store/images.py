"""SQL for the images table, and the mapping of file paths to stored relative paths.

The functions here run single statements on a connection. Transactions belong to the
caller, so several of them can form one atomic write.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

from textmask_core.errors import StoreError
from textmask_core.store.records import IMAGE_STATUSES, ImageRecord, ImageStatus
from textmask_core.store.timestamps import now_text, parse_time

_COLUMNS = "id, path, width, height, status, error, added_at, updated_at"
_DIGIT_RUNS = re.compile(r"(\d+)")


def relative_image_path(folders: Sequence[Path], path: str | PurePath) -> str:
    """Return ``path`` relative to the image folder, with "/" separators.

    ``folders`` are the image folder's absolute and resolved forms. A relative ``path``
    is taken as relative to the image folder. Raises ValueError for a path outside it.
    """
    candidate = Path(path)
    if candidate.is_absolute():
        candidate = _relative_to_any(folders, candidate)
    if not candidate.parts or ".." in candidate.parts:
        raise ValueError(
            f"Image path {str(path)!r} is not a file inside the image folder {folders[0]}."
        )
    relative = candidate.as_posix()
    if not relative.isascii():
        _check_utf8(relative)
    return relative


def _check_utf8(relative: str) -> None:
    # Linux file names may be any bytes; Python keeps invalid ones as lone surrogates,
    # which SQLite text cannot store.
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"Image path {relative!r} is not valid UTF-8; rename the file to add it."
        ) from exc


def _relative_to_any(folders: Sequence[Path], path: Path) -> Path:
    normalized = Path(os.path.abspath(path))
    for folder in folders:
        if normalized.is_relative_to(folder):
            return normalized.relative_to(folder)
    # Resolving costs a system call per path component, so it is the last resort.
    resolved = normalized.resolve()
    for folder in folders:
        if resolved.is_relative_to(folder):
            return resolved.relative_to(folder)
    raise ValueError(f"Image path {str(path)!r} is not inside the image folder {folders[0]}.")


def natural_key(path: str) -> tuple[object, ...]:
    """Return a sort key that orders "img2.png" before "img10.png", ignoring case."""
    parts = _DIGIT_RUNS.split(path.casefold())
    # re.split with a group alternates text and digit runs, so every position has one type.
    key = tuple(int(part) if index % 2 else part for index, part in enumerate(parts))
    return (key, path)


def insert_images(conn: sqlite3.Connection, relative_paths: Iterable[str]) -> int:
    """Insert the paths that are not stored yet and return how many were inserted."""
    now = now_text()
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO images (path, added_at, updated_at) VALUES (?, ?, ?)",
        ((path, now, now) for path in relative_paths),
    )
    return conn.total_changes - before


def select_images(conn: sqlite3.Connection, status: ImageStatus | None) -> list[ImageRecord]:
    if status is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM images").fetchall()
    else:
        check_status(status)
        rows = conn.execute(f"SELECT {_COLUMNS} FROM images WHERE status = ?", (status,))
    records = [_to_record(row) for row in rows]
    records.sort(key=lambda record: natural_key(record.path))
    return records


def select_image(conn: sqlite3.Connection, image_id: int) -> ImageRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM images WHERE id = ?", (image_id,)).fetchone()
    return None if row is None else _to_record(row)


def require_image(conn: sqlite3.Connection, image_id: int) -> ImageRecord:
    """Return the image with this id or raise StoreError."""
    record = select_image(conn, image_id)
    if record is None:
        raise StoreError(f"Image {image_id} not found in the project; reload the image list.")
    return record


def select_image_by_path(conn: sqlite3.Connection, relative_path: str) -> ImageRecord | None:
    query = f"SELECT {_COLUMNS} FROM images WHERE path = ?"
    row = conn.execute(query, (relative_path,)).fetchone()
    return None if row is None else _to_record(row)


def update_status(
    conn: sqlite3.Connection, image_id: int, status: ImageStatus, error: str | None
) -> None:
    conn.execute(
        "UPDATE images SET status = ?, error = ?, updated_at = ? WHERE id = ?",
        (status, error, now_text(), image_id),
    )


def update_size(conn: sqlite3.Connection, image_id: int, width: int, height: int) -> None:
    conn.execute(
        "UPDATE images SET width = ?, height = ?, updated_at = ? WHERE id = ?",
        (width, height, now_text(), image_id),
    )


def count_by_status(conn: sqlite3.Connection) -> dict[ImageStatus, int]:
    counts: dict[ImageStatus, int] = dict.fromkeys(IMAGE_STATUSES, 0)
    for status, count in conn.execute("SELECT status, COUNT(*) FROM images GROUP BY status"):
        counts[status] = count
    return counts


def check_status(status: str) -> None:
    if status not in IMAGE_STATUSES:
        choices = ", ".join(IMAGE_STATUSES)
        raise ValueError(f"Invalid image status {status!r}; use one of {choices}.")


def _to_record(row: tuple) -> ImageRecord:
    image_id, path, width, height, status, error, added_at, updated_at = row
    return ImageRecord(
        id=image_id,
        path=path,
        width=width,
        height=height,
        status=status,
        error=error,
        added_at=parse_time(added_at),
        updated_at=parse_time(updated_at),
    )
