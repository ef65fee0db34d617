"""Manifest CSV files (``image,text,mask``) as training samples."""

from __future__ import annotations

import os
from pathlib import Path

from textmask_core.manifest import read_manifest
from textmask_training.data.sample import Sample


def manifest_samples(path: str | Path) -> list[Sample]:
    """Read a manifest; each row becomes a sample keyed by its image path relative to the CSV.

    An all-zero mask file is an absent row: the text names nothing in that image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"manifest {path} not found; pass the path of a CSV file with "
            "the header image,text,mask"
        )
    root = path.parent
    source = f"manifest {path}"
    return [
        Sample(
            image_path=row.image,
            text=row.text,
            mask=row.mask,
            image_key=Path(os.path.relpath(row.image, root)).as_posix(),
            source=source,
        )
        for row in read_manifest(path)
    ]
