"""Opening the SQLite connection and running write transactions.

Durability: the database runs in WAL mode with ``synchronous=FULL``. In WAL mode FULL
syncs the log on every commit, so a transaction whose commit has returned survives a
crash of the process and, on a disk that honours syncs, a loss of power.
``synchronous=NORMAL`` would sync only at checkpoints: a committed transaction survives a
crash of the process but can be lost when the machine loses power. A user's save must
never be lost, and one save writes one image's objects, so the extra sync per commit is
worth its cost.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textmask_core.errors import StoreError

logger = logging.getLogger(__name__)

# Time in seconds that a statement waits for another connection's lock before it fails.
BUSY_TIMEOUT_S = 10.0


def connect(path: Path) -> sqlite3.Connection:
    """Open the database file at ``path``, creating an empty file if there is none.

    The connection is in autocommit mode (``isolation_level=None``), because every write
    goes through ``transaction``, which issues BEGIN and COMMIT itself.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(
            f"Cannot open the project database {path}: {exc}. "
            "Check that the folder exists and is writable, or choose another database path."
        ) from exc
    return conn


def configure(conn: sqlite3.Connection, path: Path) -> None:
    """Switch on WAL, full syncs and foreign keys; run only after the file was checked.

    NOTE: WAL is unsafe for a database on a network file system that several machines
    open, because its locks rely on shared memory. Nothing here detects that case.
    """
    try:
        journal_mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot configure the project database {path}: {exc}") from exc
    if journal_mode != "wal":
        # SQLite keeps the old journal mode when its file system layer cannot provide the
        # shared memory that WAL needs. The rollback journal is still safe, only slower.
        logger.warning("%s uses journal mode %s because WAL is not available", path, journal_mode)


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """Run the block as one write transaction: commit on success, roll back on any error.

    BEGIN IMMEDIATE takes the write lock at the start. A deferred transaction that reads
    first and writes later could fail with "database is locked" halfway through, when
    another connection wrote in between. SQLite errors are raised as StoreError, other
    errors propagate unchanged after the rollback.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot start a write to {path}: {exc}") from exc
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn, path)
        raise StoreError(f"Writing to the project database {path} failed: {exc}") from exc
    except BaseException:
        _rollback(conn, path)
        raise


def _rollback(conn: sqlite3.Connection, path: Path) -> None:
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        logger.exception("Rollback of a failed write to %s failed", path)
