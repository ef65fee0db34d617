"""PNG mask export: one binary PNG per object and one index map per image.

Layout under ``out_dir`` (the image's folders below the image root are kept):

    labels.txt                                   index, name and RGB colour of each class
    index_maps/<folders>/<image stem>.png        palette PNG, one index per pixel
    objects/<folders>/<image stem>/<n>_<label>.png   8-bit, 255 inside, 0 outside

In an index map, index 0 is background and index k is category k of the label list (1-based,
the same ids as the COCO export). Objects are painted in order, so where objects overlap the
later one wins. ``<n>`` is the object's 1-based position in its image, so an object skipped for
an empty mask leaves a gap in the numbering.
"""

from __future__ import annotations

import colorsys
import io
import logging
import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from textmask_core.atomic import atomic_write_bytes
from textmask_core.formats.records import (
    SKIP_EMPTY_MASK,
    CancelCheck,
    ExportImage,
    ExportSummary,
    ProgressCallback,
    category_ids,
    checked_object,
    images_by_id,
    report_progress,
    should_stop,
)
from textmask_core.masks import Mask

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.txt"
INDEX_MAPS_FOLDER = "index_maps"
OBJECTS_FOLDER = "objects"
BACKGROUND_NAME = "background"
MAX_PNG_LABELS = 255  # a palette PNG has 256 indices and index 0 is background
_MAX_NAME_LENGTH = 60


def export_png(
    images: Sequence[ExportImage],
    labels: Sequence[str],
    out_dir: Path,
    *,
    image_root: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> ExportSummary:
    """Write object masks, index maps and ``labels.txt`` under ``out_dir``.

    ``image_root`` is the folder whose subfolders are kept in the output; by default it is the
    deepest folder that contains all the images. ``progress(done, total)`` is called after each
    image. When ``cancel()`` returns True the export stops before the next image, and the files
    already written stay. Existing files with the same names are replaced; other files in
    ``out_dir`` are left alone.
    """
    categories = category_ids(labels)
    _check_png_labels(labels)
    ordered = images_by_id(images)
    root = Path(image_root) if image_root is not None else _common_folder(ordered)
    out_folder = Path(out_dir)
    out_folder.mkdir(parents=True, exist_ok=True)
    stems = _unique_stems(ordered, root)
    _write_labels_file(out_folder / LABELS_FILE, labels)
    skipped: Counter[str] = Counter()
    written_objects = 0
    for done, image in enumerate(ordered):
        if should_stop(cancel):
            logger.info("PNG export to %s cancelled after %d images", out_folder, done)
            return _summary(out_folder, len(ordered), done, written_objects, skipped, True)
        stem = stems[image.image_id]
        written_objects += _export_image(image, categories, out_folder, stem, skipped)
        report_progress(progress, done + 1, len(ordered))
    summary = _summary(out_folder, len(ordered), len(ordered), written_objects, skipped, False)
    logger.info("%s", summary.describe())
    return summary


def _export_image(
    image: ExportImage,
    categories: dict[str, int],
    out_folder: Path,
    stem: PurePosixPath,
    skipped: Counter[str],
) -> int:
    """Write one image's object PNGs and index map; return the number of object PNGs."""
    index_map = np.zeros((image.height, image.width), dtype=np.uint8)
    written = 0
    for number, obj in enumerate(image.objects, start=1):
        category_id, mask = checked_object(image, obj, categories)
        if not mask.any():
            logger.info("Skipping object %r of %s: its mask is empty", obj.label, image.path)
            skipped[SKIP_EMPTY_MASK] += 1
            continue
        object_path = out_folder / OBJECTS_FOLDER / stem / f"{number}_{_safe_name(obj.label)}.png"
        _write_png(object_path, _binary_image(mask))
        index_map[mask] = category_id
        written += 1
    index_path = out_folder / INDEX_MAPS_FOLDER / stem.with_name(stem.name + ".png")
    _write_png(index_path, _index_image(index_map, len(categories)))
    return written


def _summary(
    out_folder: Path, total: int, done: int, objects: int, skipped: Counter[str], cancelled: bool
) -> ExportSummary:
    return ExportSummary(
        format="png",
        out_path=out_folder,
        total_images=total,
        images=done,
        annotations=objects,
        skipped=dict(skipped),
        cancelled=cancelled,
    )


def _check_png_labels(labels: Sequence[str]) -> None:
    if len(labels) > MAX_PNG_LABELS:
        raise ValueError(
            f"PNG index maps hold at most {MAX_PNG_LABELS} labels, the project has {len(labels)}; "
            "export COCO instead"
        )
    for label in labels:
        if any(character in label for character in "\t\r\n"):
            raise ValueError(
                f"Label {label!r} contains a tab or line break, which labels.txt cannot hold; "
                "rename the label"
            )


def _common_folder(images: Sequence[ExportImage]) -> Path:
    if not images:
        return Path(".")
    folders = [os.path.abspath(Path(image.path).parent) for image in images]
    return Path(os.path.commonpath(folders))


def _unique_stems(images: Sequence[ExportImage], root: Path) -> dict[int, PurePosixPath]:
    """Map each image id to its output path without suffix, e.g. ``site_a/img_001``.

    Two images with one stem in one folder ("a.jpg", "a.png") get "a" and "a_png". Names are
    compared case-insensitively, as Windows and macOS file systems do.
    """
    absolute_root = Path(os.path.abspath(root))
    used: set[str] = set()
    stems: dict[int, PurePosixPath] = {}
    for image in images:
        relative = _relative_path(Path(image.path), absolute_root)
        candidate = relative.with_suffix("")
        if candidate.as_posix().casefold() in used:
            candidate = candidate.with_name(f"{candidate.name}_{relative.suffix.lstrip('.')}")
        suffix_number = 2
        base = candidate
        while candidate.as_posix().casefold() in used:
            candidate = base.with_name(f"{base.name}_{suffix_number}")
            suffix_number += 1
        used.add(candidate.as_posix().casefold())
        stems[image.image_id] = candidate
    return stems


def _relative_path(path: Path, absolute_root: Path) -> PurePosixPath:
    full = Path(os.path.abspath(absolute_root / path))
    try:
        return PurePosixPath(full.relative_to(absolute_root).as_posix())
    except ValueError:
        raise ValueError(
            f"Image {path} is not inside the image root {absolute_root}; pass the project's "
            "image folder as image_root"
        ) from None


def _safe_name(label: str) -> str:
    """Return ``label`` as a file-name part: letters, digits, ".", "-" and "_" only."""
    cleaned = re.sub(r"[^\w.-]+", "_", label).strip("._")
    return cleaned[:_MAX_NAME_LENGTH] or "object"


def _binary_image(mask: Mask) -> Image.Image:
    return Image.fromarray(np.where(mask, np.uint8(255), np.uint8(0)))


def _index_image(index_map: NDArray[np.uint8], label_count: int) -> Image.Image:
    height, width = index_map.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(index_map).tobytes())
    image.putpalette([channel for colour in palette(label_count) for channel in colour])
    return image


def palette(label_count: int) -> list[tuple[int, int, int]]:
    """Return the index-map colours: black for background, then one colour per label.

    Hues step by the golden ratio of a turn, so neighbouring ids get clearly different colours.
    """
    colours = [(0, 0, 0)]
    for index in range(label_count):
        hue = (index * 0.618033988749895) % 1.0
        red, green, blue = colorsys.hsv_to_rgb(hue, 0.65, 0.95)
        colours.append((round(red * 255), round(green * 255), round(blue * 255)))
    return colours


def _write_png(path: Path, image: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def _write_labels_file(path: Path, labels: Sequence[str]) -> None:
    """Write one tab-separated line per index: index, name, red, green, blue."""
    lines = ["# index\tname\tred\tgreen\tblue"]
    names = [BACKGROUND_NAME, *labels]
    for index, (name, colour) in enumerate(zip(names, palette(len(labels)), strict=True)):
        lines.append("\t".join([str(index), name, *(str(channel) for channel in colour)]))
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
