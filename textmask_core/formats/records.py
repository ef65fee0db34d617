"""Export inputs and results, and the checks that COCO and PNG export share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np

from textmask_core.errors import MaskFormatError
from textmask_core.masks import Mask, as_mask

ProgressCallback: TypeAlias = Callable[[int, int], None]  # (images done, images in total)
CancelCheck: TypeAlias = Callable[[], bool]  # returns True to stop before the next image
ExportFormat = Literal["coco", "png"]

SKIP_EMPTY_MASK = "empty mask"


@dataclass(frozen=True, eq=False)
class ExportObject:
    """One labelled object of an image: its mask and the prompt that produced it."""

    label: str  # must be one of the export's labels
    prompt: str
    mask: Mask  # H×W bool, the size of the image as displayed
    object_id: int | None = None  # the project's id for the object, kept in COCO files


@dataclass(frozen=True, eq=False)
class ExportImage:
    """One image to export, with its stable id and its size after EXIF orientation."""

    path: Path
    image_id: int
    width: int
    height: int
    objects: Sequence[ExportObject]


# import_coco returns the same type that export_coco takes, so an import can be exported again.
ImportedImage: TypeAlias = ExportImage


@dataclass(frozen=True)
class ExportSummary:
    """The outcome of one export, for the log and for the message shown to the user."""

    format: ExportFormat
    out_path: Path  # the COCO file, or the PNG folder
    total_images: int  # images passed to the exporter
    images: int  # images written
    annotations: int  # COCO annotations, or PNG object masks, written
    skipped: Mapping[str, int] = field(default_factory=dict)  # reason -> objects not written
    rle_fallbacks: int = 0  # polygon mode: objects written as RLE instead of polygons
    rle_fallback_reasons: Mapping[str, int] = field(default_factory=dict)  # reason -> objects
    cancelled: bool = False

    def describe(self) -> str:
        """Return a one-paragraph summary for people."""
        sentences = [self._outcome()]
        skipped_count = sum(self.skipped.values())
        if skipped_count:
            sentences.append(
                f"Skipped {_count(skipped_count, 'object')} ({_reasons(self.skipped)})."
            )
        if self.rle_fallbacks:
            verb = "was" if self.rle_fallbacks == 1 else "were"
            sentences.append(
                f"{_count(self.rle_fallbacks, 'object')} could not be written as polygons "
                f"({_reasons(self.rle_fallback_reasons)}) and {verb} written as RLE masks."
            )
        return " ".join(sentences)

    def _outcome(self) -> str:
        written = (
            f"{_count(self.annotations, 'annotation')} for {_count(self.images, 'image')}"
            if self.format == "coco"
            else f"{_count(self.annotations, 'object mask')} and index maps for "
            f"{_count(self.images, 'image')}"
        )
        if not self.cancelled:
            return f"Exported {written} to {self.out_path}."
        if self.format == "coco":
            return (
                f"Export cancelled after {self.images} of {self.total_images} images; "
                f"{self.out_path} was not written."
            )
        return (
            f"Export cancelled after {self.images} of {self.total_images} images; "
            f"the files for those images are in {self.out_path}."
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _reasons(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{number} {reason}" for reason, number in sorted(counts.items()))


def category_ids(labels: Sequence[str]) -> dict[str, int]:
    """Map each label to its 1-based category id, in the order of the project's label list."""
    ids: dict[str, int] = {}
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"Every label must be a non-empty string, got {label!r}")
        if label in ids:
            raise ValueError(f"Label {label!r} appears twice in the label list {list(labels)}")
        ids[label] = len(ids) + 1
    return ids


def images_by_id(images: Sequence[ExportImage]) -> list[ExportImage]:
    """Return the images sorted by id, so output order does not depend on visiting order."""
    seen: dict[int, Path] = {}
    for image in images:
        if isinstance(image.image_id, bool) or not isinstance(image.image_id, int):
            raise ValueError(f"Image id of {image.path} must be an int, got {image.image_id!r}")
        if image.image_id in seen:
            raise ValueError(
                f"Image id {image.image_id} is used by both {seen[image.image_id]} and "
                f"{image.path}; every image needs its own id"
            )
        seen[image.image_id] = image.path
        if image.width <= 0 or image.height <= 0:
            raise ValueError(f"Image {image.path} has invalid size {image.width}x{image.height}")
    return sorted(images, key=lambda image: image.image_id)


def checked_object(
    image: ExportImage, obj: ExportObject, categories: Mapping[str, int]
) -> tuple[int, Mask]:
    """Return the object's category id and its mask as bool, after checking label and size."""
    if obj.label not in categories:
        raise ValueError(
            f"Object label {obj.label!r} in {image.path} is not in the label list "
            f"{list(categories)}; add it to the project's labels or relabel the object"
        )
    mask = np.asarray(obj.mask)
    if mask.shape != (image.height, image.width):
        raise MaskFormatError(
            f"Mask of object {obj.label!r} in {image.path} is {_shape_text(mask.shape)} but the "
            f"image is {image.width}x{image.height} (width x height); masks must have the size "
            "of the image after EXIF orientation"
        )
    return categories[obj.label], as_mask(mask)


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) != 2:
        return f"of shape {shape}"
    return f"{shape[1]}x{shape[0]}"


def should_stop(cancel: CancelCheck | None) -> bool:
    return cancel is not None and bool(cancel())


def report_progress(progress: ProgressCallback | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
