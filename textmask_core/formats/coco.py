"""COCO instance-segmentation export (and, re-exported here, import).

The file has ``info``, ``licenses``, ``images``, ``annotations`` and ``categories``:

- category ids are 1-based, in the order of the project's label list, so they are the same in
  every export;
- image ids are the ids given by the caller, and ``file_name`` is the path relative to the image
  root with "/" separators;
- each object is one annotation (``iscrowd`` 0) covering all of its parts, unless
  ``split_components`` makes one annotation per 8-connected part; the extra keys ``prompt`` and,
  when known, ``object_id`` keep TextMask's data (pycocotools ignores unknown keys);
- ``area`` and ``bbox`` are measured on the decoded written geometry, not on the input mask;
- objects with an empty mask are not written.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from textmask_core import __version__
from textmask_core.atomic import atomic_write_bytes
from textmask_core.formats.coco_import import import_coco
from textmask_core.formats.records import (
    SKIP_EMPTY_MASK,
    CancelCheck,
    ExportImage,
    ExportObject,
    ExportSummary,
    ImportedImage,
    ProgressCallback,
    category_ids,
    checked_object,
    images_by_id,
    report_progress,
    should_stop,
)
from textmask_core.masks import (
    Mask,
    bbox,
    connected_components,
    decode_rle,
    encode_rle,
    mask_to_polygons,
    polygons_to_mask,
)

__all__ = [
    "ExportImage",
    "ExportObject",
    "ExportSummary",
    "Geometry",
    "ImportedImage",
    "export_coco",
    "import_coco",
]

logger = logging.getLogger(__name__)

Geometry = Literal["rle", "polygon"]

FALLBACK_HAS_HOLES = "with holes"
FALLBACK_TOO_SMALL = "too small for a polygon"
FALLBACK_INEXACT = "polygon differs from the mask"


def export_coco(
    images: Sequence[ExportImage],
    labels: Sequence[str],
    image_root: Path,
    out_path: Path,
    *,
    geometry: Geometry = "rle",
    split_components: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> ExportSummary:
    """Write the images' objects as a COCO instances JSON file, atomically.

    ``geometry="polygon"`` writes polygons along pixel edges. An object whose polygons would not
    give back exactly its pixels (it has holes, or a part too small to outline) is written as
    RLE instead, with ``iscrowd`` 0, and counted in ``rle_fallbacks``.

    ``progress(done, total)`` is called after each image. When ``cancel()`` returns True, the
    export stops and writes nothing.

    Raises ValueError for a label missing from ``labels``, duplicate image ids or an image
    outside ``image_root``, and MaskFormatError for a mask whose size differs from its image.
    """
    if geometry not in get_args(Geometry):
        raise ValueError(f"geometry must be one of {get_args(Geometry)}, got {geometry!r}")
    categories = category_ids(labels)
    ordered = images_by_id(images)
    writer = _AnnotationWriter(categories, geometry, split_components)
    image_entries: list[dict[str, Any]] = []
    for done, image in enumerate(ordered):
        if should_stop(cancel):
            logger.info("COCO export to %s cancelled after %d images", out_path, done)
            return writer.summary(Path(out_path), len(ordered), done, cancelled=True)
        image_entries.append(_image_entry(image, Path(image_root)))
        writer.add_image(image)
        report_progress(progress, done + 1, len(ordered))
    document = {
        "info": _info(),
        "licenses": [],
        "images": image_entries,
        "annotations": writer.annotations,
        "categories": [{"id": number, "name": name} for name, number in categories.items()],
    }
    out_file = Path(out_path)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_file, json.dumps(document, ensure_ascii=False).encode("utf-8"))
    summary = writer.summary(out_file, len(ordered), len(ordered), cancelled=False)
    logger.info("%s", summary.describe())
    return summary


class _AnnotationWriter:
    """Builds the annotation entries and counts what was skipped or written as RLE."""

    def __init__(
        self, categories: Mapping[str, int], geometry: Geometry, split_components: bool
    ) -> None:
        self.categories = categories
        self.geometry = geometry
        self.split_components = split_components
        self.annotations: list[dict[str, Any]] = []
        self.skipped: Counter[str] = Counter()
        self.fallbacks: Counter[str] = Counter()

    def add_image(self, image: ExportImage) -> None:
        for obj in image.objects:
            category_id, mask = checked_object(image, obj, self.categories)
            if not mask.any():
                logger.info("Skipping object %r of %s: its mask is empty", obj.label, image.path)
                self.skipped[SKIP_EMPTY_MASK] += 1
                continue
            parts = connected_components(mask) if self.split_components else [mask]
            for part in parts:
                self._add_annotation(image, obj, category_id, part)

    def _add_annotation(
        self, image: ExportImage, obj: ExportObject, category_id: int, mask: Mask
    ) -> None:
        segmentation, written = self._encode(mask, image, obj)
        x, y, width, height = bbox(written)
        annotation: dict[str, Any] = {
            "id": len(self.annotations) + 1,
            "image_id": image.image_id,
            "category_id": category_id,
            "segmentation": segmentation,
            "area": float(written.sum()),
            "bbox": [float(x), float(y), float(width), float(height)],
            "iscrowd": 0,
            "prompt": obj.prompt,
        }
        if obj.object_id is not None:
            annotation["object_id"] = obj.object_id
        self.annotations.append(annotation)

    def _encode(self, mask: Mask, image: ExportImage, obj: ExportObject) -> tuple[Any, Mask]:
        """Return the segmentation to write and the pixels it decodes to."""
        if self.geometry == "polygon":
            conversion = mask_to_polygons(mask)
            reason = _polygon_fallback_reason(conversion.has_holes, conversion.dropped_parts)
            if reason is None:
                written = polygons_to_mask(conversion.polygons, image.height, image.width)
                if (written == mask).all():
                    return conversion.polygons, written
                reason = FALLBACK_INEXACT
            logger.info("Writing object %r of %s as RLE: %s", obj.label, image.path, reason)
            self.fallbacks[reason] += 1
        rle = encode_rle(mask)
        return rle, decode_rle(rle)

    def summary(self, out_path: Path, total: int, done: int, *, cancelled: bool) -> ExportSummary:
        return ExportSummary(
            format="coco",
            out_path=out_path,
            total_images=total,
            images=done,
            annotations=0 if cancelled else len(self.annotations),
            skipped=dict(self.skipped),
            rle_fallbacks=sum(self.fallbacks.values()),
            rle_fallback_reasons=dict(self.fallbacks),
            cancelled=cancelled,
        )


def _polygon_fallback_reason(has_holes: bool, dropped_parts: int) -> str | None:
    if has_holes:
        return FALLBACK_HAS_HOLES
    if dropped_parts:
        return FALLBACK_TOO_SMALL
    return None


def _image_entry(image: ExportImage, image_root: Path) -> dict[str, Any]:
    return {
        "id": image.image_id,
        "file_name": _relative_file_name(image.path, image_root),
        "width": image.width,
        "height": image.height,
    }


def _relative_file_name(path: Path, image_root: Path) -> str:
    """Return ``path`` relative to ``image_root`` with "/" separators.

    Paths are made absolute and normalised but symlinks are not resolved, so an image reached
    through a linked subfolder keeps its path inside the root.
    """
    root = Path(os.path.abspath(image_root))
    full = Path(os.path.abspath(root / path))
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        raise ValueError(
            f"Image {path} is not inside the image root {root}; pass the project's image "
            "folder as image_root"
        ) from None


def _info() -> dict[str, Any]:
    return {
        "description": "Exported by TextMask",
        "version": __version__,
        "date_created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
