"""Database location of a project: inside the image folder, or in the user data folder."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import platformdirs

logger = logging.getLogger(__name__)

STORE_FOLDER_NAME = ".textmask"
STORE_FILE_NAME = "project.sqlite"
APP_NAME = "TextMask"


def in_folder_store_path(image_folder: Path) -> Path:
    """Return ``<image folder>/.textmask/project.sqlite``."""
    return Path(image_folder).resolve() / STORE_FOLDER_NAME / STORE_FILE_NAME


def fallback_store_path(image_folder: Path) -> Path:
    """Return the database path in the user data folder for an image folder.

    The folder name is the first 16 hex digits of the SHA-1 of the resolved folder path,
    so every image folder gets its own database, found again on the next start.
    """
    resolved = str(Path(image_folder).resolve())
    digest = hashlib.sha1(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(platformdirs.user_data_dir(APP_NAME)) / "projects" / digest / STORE_FILE_NAME


def default_store_path(image_folder: Path) -> Path:
    """Return the in-folder database path if it can be written, else the fallback path.

    SQLite in WAL mode creates ``-wal`` and ``-shm`` files next to the database, so the
    folder that will contain the database must be writable, not only the file.
    Writability follows ``os.access``, so for root (who ignores permission bits) only a
    read-only mount counts as read-only.
    """
    in_folder = in_folder_store_path(image_folder)
    if _can_create_in(in_folder.parent):
        return in_folder
    fallback = fallback_store_path(image_folder)
    logger.info("Image folder %s is read-only; the project database is %s", image_folder, fallback)
    return fallback


def _can_create_in(folder: Path) -> bool:
    """Return whether files can be created in ``folder``, or ``folder`` itself created."""
    if folder.is_dir():
        return os.access(folder, os.W_OK | os.X_OK)
    if folder.exists():
        return False  # a file of that name is in the way
    parent = folder.parent
    return parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)
