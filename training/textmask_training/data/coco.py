"""COCO instance files as training data: category names as texts, optional referring sentences.

Each (image, category) pair becomes one row whose mask unites that category's annotations.
A referring file adds one row per sentence whose mask is its annotation alone. It is JSON
(``{"<annotation id>": ["sentence", ...]}`` or a list of objects with ``annotation_id`` and
``text``) or CSV with the columns ``annotation_id,text``.

Masks are decoded when a row is loaded, not when the file is read, so large files fit in memory.
``textmask_core.formats.import_coco`` decodes every mask at once, which suits project import.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from numpy.typing import NDArray

from textmask_core.errors import MaskFormatError
from textmask_core.masks import decode_rle, polygons_to_mask
from textmask_training.data.sample import ImageSize, Sample

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class CocoMask:
    """The union of COCO segmentations (polygons or RLE) of one image, decoded on demand."""

    segmentations: tuple[Any, ...]

    def __call__(self, image_size: ImageSize) -> NDArray[np.bool_]:
        height, width = image_size
        mask = np.zeros(image_size, dtype=bool)
        for segmentation in self.segmentations:
            if isinstance(segmentation, list):
                mask |= polygons_to_mask(segmentation, height, width)
            elif isinstance(segmentation, dict):
                mask |= decode_rle(segmentation)
            else:
                raise MaskFormatError(
                    "a COCO segmentation must be polygons or RLE, got "
                    f"{type(segmentation).__name__}"
                )
        return mask


def coco_samples(
    instances: str | Path, image_root: str | Path | None = None, referring: str | Path | None = None
) -> list[Sample]:
    """Read a COCO instances file; images are found under ``image_root`` (default: its folder)."""
    instances = Path(instances)
    document = _read_json(instances)
    root = Path(image_root) if image_root is not None else instances.parent
    source = f"coco {instances}"
    try:
        categories = {entry["id"]: str(entry["name"]) for entry in document["categories"]}
        images = {
            entry["id"]: _image_path(root, entry["file_name"]) for entry in document["images"]
        }
        annotations = document["annotations"]
        samples = _category_rows(annotations, images, categories, source)
        if referring is not None:
            samples += _referring_rows(
                annotations, images, _read_referring(Path(referring)), source
            )
    except (KeyError, TypeError) as error:
        raise MaskFormatError(
            f"{instances} is not a valid COCO instances file: an entry lacks the key {error} "
            "or names an unknown image or category id"
        ) from error
    logger.info("%s: %d rows on %d images", instances, len(samples), len(images))
    return samples


def _category_rows(
    annotations: list[dict[str, Any]],
    images: dict[int, Path],
    categories: dict[int, str],
    source: str,
) -> list[Sample]:
    grouped: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for annotation in annotations:
        grouped[(annotation["image_id"], annotation["category_id"])].append(
            annotation["segmentation"]
        )
    image_rank = {image_id: rank for rank, image_id in enumerate(images)}
    ordered = sorted(grouped, key=lambda key: (image_rank[key[0]], key[1]))
    return [
        _sample(
            images[image_id],
            categories[category_id],
            tuple(grouped[(image_id, category_id)]),
            image_id,
            source,
        )
        for image_id, category_id in ordered
    ]


def _referring_rows(
    annotations: list[dict[str, Any]],
    images: dict[int, Path],
    sentences: dict[int, list[str]],
    source: str,
) -> list[Sample]:
    by_id = {annotation["id"]: annotation for annotation in annotations}
    unknown = sorted(set(sentences) - set(by_id))
    if unknown:
        raise MaskFormatError(
            f"the referring sentences name annotation id(s) {unknown[:5]} that the instances "
            "file does not have"
        )
    return [
        _sample(
            images[by_id[annotation_id]["image_id"]],
            text,
            (by_id[annotation_id]["segmentation"],),
            by_id[annotation_id]["image_id"],
            source,
        )
        for annotation_id, texts in sentences.items()
        for text in texts
    ]


def _sample(
    image: Path, text: str, segmentations: tuple[Any, ...], image_id: int, source: str
) -> Sample:
    return Sample(
        image_path=image,
        text=text,
        mask=CocoMask(segmentations),
        image_key=f"coco-image {image_id}",
        source=source,
    )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"COCO file {path} not found")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MaskFormatError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(document, dict) or not all(
        isinstance(document.get(section), list)
        for section in ("images", "annotations", "categories")
    ):
        raise MaskFormatError(
            f"{path} is not a COCO instances file: it needs the lists images, "
            "annotations and categories"
        )
    return document


def _image_path(root: Path, file_name: str) -> Path:
    name = PurePosixPath(str(file_name).replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts:
        raise MaskFormatError(
            f"COCO file_name {file_name!r} must be a path inside the image folder"
        )
    return root / name


def _read_referring(path: Path) -> dict[int, list[str]]:
    """Return annotation id -> sentences from a referring JSON or CSV file."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            pairs = [(row.get("annotation_id"), row.get("text")) for row in csv.DictReader(handle)]
    else:
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict):
            pairs = [(key, text) for key, texts in document.items() for text in texts]
        else:
            pairs = [(entry.get("annotation_id"), entry.get("text")) for entry in document]
    sentences: dict[int, list[str]] = defaultdict(list)
    for annotation_id, text in pairs:
        if annotation_id in (None, "") or not text or not str(text).strip():
            raise MaskFormatError(f"{path}: each sentence needs an annotation_id and a text")
        sentences[int(annotation_id)].append(" ".join(str(text).split()))
    return dict(sentences)
