"""Turn a project's stored objects into export records for the COCO and PNG writers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from textmask_core.errors import ImageReadError
from textmask_core.formats.records import ExportImage, ExportObject, ExportSummary
from textmask_core.imageio import read_image_size
from textmask_core.store import ProjectStore

logger = logging.getLogger(__name__)

ImageSelection = Literal["all", "done"]
ExportFormatName = Literal["coco-rle", "coco-polygon", "png"]


def project_export_images(
    store: ProjectStore, selection: ImageSelection = "all"
) -> list[ExportImage]:
    """Collect the project's images and their objects' current masks.

    Image ids are the store's ids, so they stay the same across exports. Unreadable images are
    left out; an image whose size was never stored gets it from its file header.
    """
    # NOTE: every mask of the selection is decoded into memory at once, because the writers
    # take a sequence; a project of many large photos needs that much memory to export.
    images = []
    for record in store.list_images("done" if selection == "done" else None):
        if record.status == "unreadable":
            continue
        width, height = record.width, record.height
        if width is None or height is None:
            try:
                width, height = read_image_size(store.absolute_path(record))
            except ImageReadError as error:
                logger.warning("leaving %s out of the export: %s", record.path, error.reason)
                continue
        objects = [
            ExportObject(
                label=obj.label, prompt=obj.prompt, mask=obj.mask.decode(), object_id=obj.id
            )
            for obj in store.list_objects(record.id)
        ]
        images.append(
            ExportImage(
                path=store.absolute_path(record),
                image_id=record.id,
                width=width,
                height=height,
                objects=objects,
            )
        )
    return images


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
    from textmask_core.formats.coco import export_coco
    from textmask_core.formats.png import export_png

    images = project_export_images(store, selection)
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
