"""Source arguments: a manifest CSV, a project folder, ``coco:...`` or ``magicbrush:...``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from textmask_core.store import ImageStatus
from textmask_training.data.coco import coco_samples
from textmask_training.data.magicbrush import magicbrush_samples
from textmask_training.data.manifest import manifest_samples
from textmask_training.data.project import DEFAULT_STATUSES, is_project_folder, project_samples
from textmask_training.data.sample import Sample

logger = logging.getLogger(__name__)

SourceKind = Literal["manifest", "project", "coco", "magicbrush"]

SOURCE_HELP = """\
A source is one of:
  PATH.csv                         a manifest with the columns image,text,mask (paths relative
                                   to the CSV; an all-zero mask means the text is absent)
  FOLDER                           a TextMask project (FOLDER/.textmask/project.sqlite): the
                                   masks you edited or accepted
  coco:PATH.json[:IMAGE_ROOT[:REFERRING]]
                                   COCO instances; texts are category names; IMAGE_ROOT defaults
                                   to the JSON's folder; REFERRING is a .json or .csv file of
                                   sentences per annotation id
  magicbrush:PATH                  MagicBrush: a folder with edit_sessions.json and images/,
                                   or parquet file(s) (needs pip install textmask[parquet])"""


@dataclass(frozen=True)
class SourceSpec:
    kind: SourceKind
    path: Path
    image_root: Path | None = None
    referring: Path | None = None


def parse_source(text: str) -> SourceSpec:
    """Parse a source argument; raise ``ValueError`` listing the valid forms when it fits none."""
    if text.startswith("coco:"):
        parts = _split_paths(text[len("coco:") :])
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise ValueError(
                f"invalid COCO source {text!r}; use coco:PATH.json[:IMAGE_ROOT[:REFERRING]]"
            )
        paths = [Path(part).expanduser() if part else None for part in parts] + [None, None]
        return SourceSpec("coco", paths[0], image_root=paths[1], referring=paths[2])
    if text.startswith("magicbrush:"):
        return SourceSpec("magicbrush", Path(text[len("magicbrush:") :]).expanduser())
    path = Path(text).expanduser()
    if path.suffix.lower() == ".csv":
        return SourceSpec("manifest", path)
    if path.is_dir() and is_project_folder(path):
        return SourceSpec("project", path)
    raise ValueError(f"{text!r} is not a training data source.\n{SOURCE_HELP}")


def _split_paths(text: str) -> list[str]:
    """Split on ':' but keep Windows drive letters ("C:\\data") with their path."""
    pieces = text.split(":")
    parts: list[str] = []
    for piece in pieces:
        if parts and len(parts[-1]) == 1 and parts[-1].isalpha() and piece[:1] in ("\\", "/"):
            parts[-1] += ":" + piece
        else:
            parts.append(piece)
    return parts


def load_source(
    spec: str | SourceSpec,
    *,
    labels: Sequence[str] | None = None,
    statuses: Sequence[ImageStatus] = DEFAULT_STATUSES,
    extract_dir: Path | None = None,
) -> list[Sample]:
    """Read every row of one source. ``labels`` and ``statuses`` select project objects."""
    spec = parse_source(spec) if isinstance(spec, str) else spec
    if spec.kind == "manifest":
        samples = manifest_samples(spec.path)
    elif spec.kind == "project":
        samples = project_samples(spec.path, labels=labels, statuses=statuses)
    elif spec.kind == "coco":
        samples = coco_samples(spec.path, spec.image_root, spec.referring)
    else:
        samples = magicbrush_samples(spec.path, extract_dir)
    logger.info("%s %s: %d rows", spec.kind, spec.path, len(samples))
    return samples
