"""Schema of the project database and the migrations that build it.

The schema version is ``PRAGMA user_version``. Migration N takes a database from version
N-1 to N, and ``MIGRATIONS`` lists them in order, so the latest version is its length.
Each migration runs in its own transaction together with the ``user_version`` update, and
a failed migration leaves the database at the previous version. Released migrations never
change: a schema change is a new migration at the end of the list.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from textmask_core.errors import StoreError
from textmask_core.store.connection import transaction

logger = logging.getLogger(__name__)

# "TXMK" in ASCII, written to the SQLite header to distinguish a TextMask project from
# other SQLite files.
APPLICATION_ID = 0x54584D4B

_SCHEMA_V1 = (
    """
    CREATE TABLE project_info (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE images (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE CHECK (path <> ''),
        width INTEGER CHECK (width IS NULL OR width > 0),
        height INTEGER CHECK (height IS NULL OR height > 0),
        status TEXT NOT NULL DEFAULT 'new'
            CHECK (status IN ('new', 'predicted', 'edited', 'done', 'unreadable')),
        error TEXT,
        added_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CHECK ((width IS NULL) = (height IS NULL))
    )
    """,
    """
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (name <> ''),
        colour TEXT NOT NULL CHECK (
            length(colour) = 7 AND colour GLOB '#*' AND NOT substr(colour, 2) GLOB '*[^0-9a-f]*'
        ),
        position INTEGER NOT NULL UNIQUE
    )
    """,
    """
    CREATE TABLE objects (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        label_id INTEGER NOT NULL REFERENCES labels (id),
        prompt TEXT NOT NULL,
        revision INTEGER NOT NULL CHECK (revision >= 1),
        visible INTEGER NOT NULL DEFAULT 1 CHECK (visible IN (0, 1)),
        locked INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX objects_by_image ON objects (image_id)",
    "CREATE INDEX objects_by_label ON objects (label_id)",
    """
    CREATE TABLE mask_revisions (
        object_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
        revision INTEGER NOT NULL CHECK (revision >= 1),
        mask_height INTEGER NOT NULL CHECK (mask_height > 0),
        mask_width INTEGER NOT NULL CHECK (mask_width > 0),
        mask_counts BLOB NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('predicted', 'edited')),
        model_name TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (object_id, revision)
    )
    """,
    f"PRAGMA application_id = {APPLICATION_ID}",
)


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1:
        conn.execute(statement)


@dataclass(frozen=True)
class Migration:
    """One step of the schema, from ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create images, labels, objects and mask revisions", _create_tables),
)
SCHEMA_VERSION = len(MIGRATIONS)


def read_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_project(
    conn: sqlite3.Connection, path: Path, latest_version: int = SCHEMA_VERSION
) -> int:
    """Return the schema version, or raise StoreError if the file is no TextMask project.

    A file is accepted when its header has the TextMask application id, or when it is a
    blank SQLite database (application id 0, version 0, no tables), which the first
    migration turns into a project.
    """
    try:
        application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = read_version(conn)
        table_count = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is not a TextMask project database ({exc}). "
            "Choose another database path, or move this file away."
        ) from exc

    is_blank = application_id == 0 and version == 0 and table_count == 0
    if application_id != APPLICATION_ID and not is_blank:
        raise StoreError(
            f"{path} is an SQLite database of another program, not a TextMask project. "
            "Choose another database path."
        )
    if version > latest_version:
        raise StoreError(
            f"{path} has schema version {version}, written by a newer TextMask; this "
            f"version reads up to schema version {latest_version}. Update TextMask to open it."
        )
    return version


def migrate(
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Apply the missing migrations in order and return the resulting schema version.

    ``migrations`` must be numbered 1, 2, ... in order; tests pass their own list.
    """
    for migration in migrations[check_project(conn, path, len(migrations)) :]:
        with transaction(conn, path):
            # Another process may have migrated while this one waited for the write lock.
            if read_version(conn) >= migration.version:
                continue
            logger.info(
                "Migrating %s to schema version %d: %s",
                path,
                migration.version,
                migration.description,
            )
            migration.apply(conn)
            conn.execute(f"PRAGMA user_version = {migration.version}")
    return read_version(conn)
