"""COCO instance-segmentation import, with the checks that keep a bad file from loading halfway.

The importer raises MaskFormatError for invalid JSON, missing sections, duplicate ids and unknown
image or category ids. It also rejects RLE whose counts do not sum to height * width, an RLE
``size`` that differs from the image entry and polygons with fewer than 3 points. A
``file_name`` must be relative and stay inside the image root, also after resolving ".." and
symbolic links.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from textmask_core.errors import MaskFormatError
from textmask_core.formats.records import ExportObject, ImportedImage
from textmask_core.masks import Mask, decode_rle, polygons_to_mask

logger = logging.getLogger(__name__)


def import_coco(json_path: Path, image_root: Path) -> list[ImportedImage]:
    """Read a COCO instances file into images with decoded masks, in the file's image order.

    Labels come from the category names and prompts from the ``prompt`` key (the category name
    when absent). Annotations of one image that share an ``object_id`` and category, as written
    by ``export_coco(split_components=True)``, are merged back into one object. The image files
    themselves are not opened.
    """
    path = Path(json_path)
    document = _read_document(path)
    categories = _categories(document, path)
    images = _images(document, Path(image_root), path)
    objects = _objects(document, images, categories, path)
    return [
        ImportedImage(
            path=entry.path,
            image_id=image_id,
            width=entry.width,
            height=entry.height,
            objects=objects.get(image_id, []),
        )
        for image_id, entry in images.items()
    ]


class _ImageEntry:
    def __init__(self, path: Path, width: int, height: int) -> None:
        self.path = path
        self.width = width
        self.height = height


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise MaskFormatError(f"{path} is not valid JSON: {error}") from error
    except UnicodeDecodeError as error:
        raise MaskFormatError(f"{path} is not UTF-8 text: {error}") from error
    if not isinstance(document, dict):
        raise MaskFormatError(f"{path} must contain a JSON object, not {type(document).__name__}")
    for section in ("images", "annotations", "categories"):
        if not isinstance(document.get(section), list):
            raise MaskFormatError(f"{path} has no {section!r} list; it is not a COCO file")
    return document


def _categories(document: Mapping[str, Any], path: Path) -> dict[int, str]:
    names: dict[int, str] = {}
    for entry in document["categories"]:
        category_id = _field(entry, "id", int, f"a category in {path}")
        name = _field(entry, "name", str, f"category {category_id} in {path}")
        if category_id in names:
            raise MaskFormatError(f"Category id {category_id} appears twice in {path}")
        names[category_id] = name
    return names


def _images(document: Mapping[str, Any], image_root: Path, path: Path) -> dict[int, _ImageEntry]:
    images: dict[int, _ImageEntry] = {}
    for entry in document["images"]:
        image_id = _field(entry, "id", int, f"an image in {path}")
        where = f"image {image_id} in {path}"
        file_name = _field(entry, "file_name", str, where)
        width = _field(entry, "width", int, where)
        height = _field(entry, "height", int, where)
        if image_id in images:
            raise MaskFormatError(f"Image id {image_id} appears twice in {path}")
        if width <= 0 or height <= 0:
            raise MaskFormatError(f"The size {width}x{height} of {where} is invalid")
        images[image_id] = _ImageEntry(
            _safe_image_path(image_root, file_name, where), width, height
        )
    return images


def _safe_image_path(image_root: Path, file_name: str, where: str) -> Path:
    """Join ``file_name`` to the root, rejecting names that would point outside it.

    Backslashes count as separators, because files written on Windows use them.
    """
    name = file_name.replace("\\", "/")
    windows = PureWindowsPath(file_name)
    if not name or name.startswith("/") or windows.drive or windows.is_absolute():
        raise MaskFormatError(
            f"file_name {file_name!r} of {where} must be a path relative to the image folder"
        )
    if ".." in PurePosixPath(name).parts:
        raise MaskFormatError(f"file_name {file_name!r} of {where} must not contain '..'")
    candidate = image_root / PurePosixPath(name)
    if not candidate.resolve().is_relative_to(image_root.resolve()):
        raise MaskFormatError(
            f"file_name {file_name!r} of {where} leads outside the image folder {image_root} "
            "through a symbolic link"
        )
    return candidate


def _objects(
    document: Mapping[str, Any],
    images: Mapping[int, _ImageEntry],
    categories: Mapping[int, str],
    path: Path,
) -> dict[int, list[ExportObject]]:
    objects: dict[int, list[ExportObject]] = {}
    positions: dict[tuple[int, int, int], int] = {}  # (image, object, category) -> list index
    for entry in document["annotations"]:
        annotation_id = _field(entry, "id", int, f"an annotation in {path}")
        where = f"annotation {annotation_id} in {path}"
        image_id = _known_id(entry, "image_id", images, where)
        category_id = _known_id(entry, "category_id", categories, where)
        image = images[image_id]
        mask = _segmentation_mask(entry.get("segmentation"), image.width, image.height, where)
        obj = _imported_object(entry, categories[category_id], mask, where)
        image_objects = objects.setdefault(image_id, [])
        if obj.object_id is None:
            image_objects.append(obj)
            continue
        key = (image_id, obj.object_id, category_id)
        if key in positions:
            first = image_objects[positions[key]]
            image_objects[positions[key]] = _with_mask(first, first.mask | mask)
        else:
            positions[key] = len(image_objects)
            image_objects.append(obj)
    return objects


def _known_id(entry: Any, key: str, known: Mapping[int, Any], where: str) -> int:
    value = _field(entry, key, int, where)
    if value not in known:
        listed = ", ".join(str(number) for number in sorted(known)[:20])
        raise MaskFormatError(f"{where} has unknown {key} {value}; the file defines: {listed}")
    return value


def _imported_object(entry: Mapping[str, Any], label: str, mask: Mask, where: str) -> ExportObject:
    prompt = entry.get("prompt", label)
    if not isinstance(prompt, str):
        raise MaskFormatError(f"prompt of {where} must be a string, got {prompt!r:.80}")
    object_id = entry.get("object_id")
    if object_id is not None and (isinstance(object_id, bool) or not isinstance(object_id, int)):
        raise MaskFormatError(f"object_id of {where} must be an int, got {object_id!r:.80}")
    return ExportObject(label=label, prompt=prompt, mask=mask, object_id=object_id)


def _with_mask(obj: ExportObject, mask: Mask) -> ExportObject:
    return ExportObject(label=obj.label, prompt=obj.prompt, mask=mask, object_id=obj.object_id)


def _segmentation_mask(segmentation: Any, width: int, height: int, where: str) -> Mask:
    """Decode polygons or RLE (compressed or uncompressed), checked against the image size."""
    try:
        if isinstance(segmentation, list):
            return polygons_to_mask(segmentation, height, width)
        if isinstance(segmentation, dict):
            size = segmentation.get("size")
            if size != [height, width]:
                raise MaskFormatError(
                    f"RLE size {size!r} differs from the image size [{height}, {width}] "
                    "(height, width)"
                )
            return np.ascontiguousarray(decode_rle(segmentation))
    except MaskFormatError as error:
        raise MaskFormatError(f"Invalid segmentation in {where}: {error}") from error
    raise MaskFormatError(
        f"Invalid segmentation in {where}: expected polygons (a list) or RLE (an object), "
        f"got {type(segmentation).__name__}"
    )


def _field(entry: Any, key: str, kind: type, where: str) -> Any:
    """Return ``entry[key]`` after checking that it exists and has type ``kind``."""
    if not isinstance(entry, Mapping):
        raise MaskFormatError(f"{where} must be a JSON object, got {entry!r:.80}")
    value = entry.get(key)
    if kind is int and isinstance(value, bool):
        value = None
    if not isinstance(value, kind):
        raise MaskFormatError(f"{key!r} of {where} must be a {kind.__name__}, got {value!r:.80}")
    return value
