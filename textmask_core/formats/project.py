"""Turn a project's stored objects into export records for the COCO and PNG writers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from textmask_core.errors import ImageReadError
from textmask_core.formats.records import ExportImage, ExportObject, ExportSummary
from textmask_core.imageio import read_image_size
from textmask_core.store import ImageRecord, ProjectStore

logger = logging.getLogger(__name__)

ImageSelection = Literal["all", "done"]
ExportFormatName = Literal["coco-rle", "coco-polygon", "png"]


@dataclass(frozen=True)
class LeftOutImage:
    """An image of the selection that an export leaves out, and why."""

    path: str  # relative to the image folder, with "/" separators, as the store keeps it
    reason: str


@dataclass(frozen=True)
class ProjectExportImages:
    """The images an export writes, and those of the selection it leaves out as unreadable."""

    images: tuple[ExportImage, ...]
    left_out: tuple[LeftOutImage, ...]


UNREADABLE_REASON = "the image could not be read"  # for images stored without an error text


def collect_project_export(
    store: ProjectStore, selection: ImageSelection = "all"
) -> ProjectExportImages:
    """Collect the project's images and their objects' current masks, and the images left out.

    Image ids are the store's ids, so they stay the same across exports. An image marked
    unreadable, or whose size was never stored and whose file header cannot be read, is left
    out with its reason.
    """
    # NOTE: every mask of the selection is decoded into memory at once, because the writers
    # take a sequence. A project of many large photos needs that much memory to export.
    images: list[ExportImage] = []
    left_out: list[LeftOutImage] = []
    for record in store.list_images("done" if selection == "done" else None):
        if record.status == "unreadable":
            left_out.append(LeftOutImage(record.path, record.error or UNREADABLE_REASON))
            continue
        try:
            images.append(_export_image(store, record))
        except ImageReadError as error:
            logger.warning("leaving %s out of the export: %s", record.path, error.reason)
            left_out.append(LeftOutImage(record.path, error.reason))
    return ProjectExportImages(tuple(images), tuple(left_out))


def _export_image(store: ProjectStore, record: ImageRecord) -> ExportImage:
    """Build one image's export record.

    Raises ImageReadError when the size was never stored and the file header cannot be read.
    """
    width, height = record.width, record.height
    if width is None or height is None:
        width, height = read_image_size(store.absolute_path(record))
    objects = [
        ExportObject(label=obj.label, prompt=obj.prompt, mask=obj.mask.decode(), object_id=obj.id)
        for obj in store.list_objects(record.id)
    ]
    return ExportImage(
        path=store.absolute_path(record),
        image_id=record.id,
        width=width,
        height=height,
        objects=objects,
    )


def project_export_images(
    store: ProjectStore, selection: ImageSelection = "all"
) -> list[ExportImage]:
    """Collect the project's images and their objects' current masks.

    Image ids are the store's ids, so they stay the same across exports. Unreadable images are
    left out; ``collect_project_export`` also returns which ones and why.
    """
    return list(collect_project_export(store, selection).images)


def export_project(
    store: ProjectStore,
    out_path: Path,
    export_format: ExportFormatName,
    *,
    selection: ImageSelection = "all",
    split_components: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ExportSummary:
    """Export a project as COCO (RLE or polygons) to ``out_path``, or as PNG files into it.

    Category ids follow the project's label list, so they are stable across exports.
    """
    images = project_export_images(store, selection)
    return write_project_export(
        store,
        images,
        out_path,
        export_format,
        split_components=split_components,
        progress=progress,
        cancel=cancel,
    )


def write_project_export(
    store: ProjectStore,
    images: Sequence[ExportImage],
    out_path: Path,
    export_format: ExportFormatName,
    *,
    split_components: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ExportSummary:
    """Export already collected images of the project, as ``export_project`` does.

    Lets a caller keep ``collect_project_export``'s list of left-out images for its summary.
    """
    from textmask_core.formats.coco import export_coco
    from textmask_core.formats.png import export_png

    labels = [label.name for label in store.list_labels()]
    if export_format == "png":
        return export_png(
            images,
            labels,
            out_path,
            image_root=store.image_folder,
            progress=progress,
            cancel=cancel,
        )
    geometry = "polygon" if export_format == "coco-polygon" else "rle"
    return export_coco(
        images,
        labels,
        store.image_folder,
        out_path,
        geometry=geometry,
        split_components=split_components,
        progress=progress,
        cancel=cancel,
    )
