"""Default export paths, and the message for an export that cannot be written.

The default is next to the images. When the image folder is read-only (the project database
then lives in the user data folder), the default moves to a folder the user can write to.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from textmask_core.formats.project import ExportFormatName
from textmask_desktop.errors import UserMessage

logger = logging.getLogger(__name__)

COCO_FILE_NAME = "textmask_coco.json"
PNG_FOLDER_NAME = "textmask_masks"
READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def can_write_into(folder: Path) -> bool:
    """Return whether new files can be created in `folder`.

    NOTE: this follows os.access, which root passes for any folder on a writable file system,
    and which on Windows reads only the read-only attribute. So a True may still fail; the
    export reports that failure with describe_write_failure.
    """
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def export_folder_candidates(image_folder: Path, store_path: Path) -> list[Path]:
    """Return the folders to try for the default output, most natural first.

    The image folder, then the user's Documents and home folders, then the database's folder.
    """
    documents = Path(platformdirs.user_documents_dir())
    return [image_folder, documents, Path.home(), store_path.parent]


def default_output_folder(candidates: Sequence[Path]) -> Path:
    """Return the first writable folder of `candidates`, or the first one when none is."""
    for folder in candidates:
        if can_write_into(folder):
            return folder
    logger.warning("None of %s is writable; suggesting the first for export", list(candidates))
    return candidates[0]


def default_output(folder: Path, image_folder: Path, export_format: ExportFormatName) -> Path:
    """Return the default COCO file or PNG folder in `folder` for the project of `image_folder`.

    Outside the image folder the name starts with the image folder's name, so exports of
    several projects into Documents do not overwrite each other.
    """
    name = PNG_FOLDER_NAME if export_format == "png" else COCO_FILE_NAME
    if folder.resolve() != image_folder.resolve():
        name = f"{image_folder.name}_{name}"
    return folder / name


def describe_write_failure(
    chosen: Path, error: OSError, suggestion: Path | None
) -> UserMessage | None:
    """Explain why the export to `chosen` could not be written, naming `chosen`, not temp files.

    The writers write through a temporary file beside the target, so `error.filename` may be
    that file; only its folder is shown. Returns None for errors that are not about writing.
    """
    if error.errno not in READ_ONLY_ERRNOS and error.errno != errno.ENOSPC:
        return None
    folder = Path(error.filename).parent if error.filename else chosen.parent
    if error.errno == errno.ENOSPC:
        reason = "the disk is full"
    elif error.errno == errno.EROFS:
        reason = f"{folder} is on a read-only file system"
    else:
        reason = f"you have no permission to write in {folder}, so it is read-only for you"
    where = f", for example in {suggestion}" if suggestion is not None else ""
    return UserMessage(
        title="Export failed",
        text=f"Cannot write {chosen}: {reason}.",
        hint=f"Choose an output path in a folder you can write to{where}, and export again.",
    )
