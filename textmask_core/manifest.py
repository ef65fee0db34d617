"""Manifest CSV files: one row per (image, text, mask), paths relative to the manifest."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from textmask_core.errors import MaskFormatError

MANIFEST_COLUMNS = ("image", "text", "mask")


@dataclass(frozen=True)
class ManifestRow:
    image: Path
    text: str
    mask: Path
    line: int


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a manifest; relative paths are resolved against the manifest's folder.

    Raises ``FileNotFoundError`` for a missing file and ``MaskFormatError`` for missing
    columns or empty cells (with the line number).
    """
    path = Path(path)
    root = path.parent
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in MANIFEST_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise MaskFormatError(
                f"{path} lacks the column(s) {', '.join(missing)}; a manifest needs the header "
                f"{','.join(MANIFEST_COLUMNS)}"
            )
        rows = []
        for line, record in enumerate(reader, start=2):
            values = {column: (record.get(column) or "").strip() for column in MANIFEST_COLUMNS}
            empty = [column for column, value in values.items() if not value]
            if empty:
                raise MaskFormatError(f"{path}, line {line}: empty {', '.join(empty)}")
            rows.append(
                ManifestRow(
                    image=root / values["image"],
                    text=values["text"],
                    mask=root / values["mask"],
                    line=line,
                )
            )
    return rows
