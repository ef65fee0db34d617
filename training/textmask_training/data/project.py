"""TextMask projects as training data: the masks the user edited or accepted."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from textmask_core.store import ImageStatus, ProjectStore
from textmask_core.store.location import STORE_FILE_NAME, STORE_FOLDER_NAME
from textmask_training.data.sample import Sample

logger = logging.getLogger(__name__)

DEFAULT_STATUSES: tuple[ImageStatus, ...] = ("edited", "done")


def is_project_folder(path: Path) -> bool:
    """Return whether ``path`` is an image folder with a project database inside it."""
    return (path / STORE_FOLDER_NAME / STORE_FILE_NAME).is_file()


def project_samples(
    folder: str | Path,
    labels: Sequence[str] | None = None,
    statuses: Sequence[ImageStatus] = DEFAULT_STATUSES,
) -> list[Sample]:
    """Return one sample per qualifying object of the project in ``folder``.

    An object qualifies when its latest mask is an edit or its image is marked done (see
    ``ProjectStore.training_samples``). The text is the object's prompt, or its label when the
    prompt is empty. ``labels`` keeps only those label names; None keeps all.
    """
    folder = Path(folder)
    if not is_project_folder(folder):
        raise FileNotFoundError(
            f"{folder} has no TextMask project ({STORE_FOLDER_NAME}/{STORE_FILE_NAME} is missing); "
            "open the folder in TextMask and correct some masks first"
        )
    with ProjectStore.open(folder) as store:
        records = store.training_samples(labels=labels, statuses=statuses)
        image_folder = store.image_folder
    source = f"project {folder}"
    samples = [
        Sample(
            image_path=record.image_path,
            text=record.prompt.strip() or record.label,
            mask=record.mask,
            image_key=record.image_path.relative_to(image_folder).as_posix(),
            source=source,
        )
        for record in records
    ]
    logger.info("project %s: %d corrected masks", folder, len(samples))
    return samples
