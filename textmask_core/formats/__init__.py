"""Export and import of masks: COCO instance JSON and PNG mask folders."""

from textmask_core.formats.coco import Geometry, export_coco, import_coco
from textmask_core.formats.png import export_png
from textmask_core.formats.records import ExportImage, ExportObject, ExportSummary, ImportedImage

__all__ = [
    "ExportImage",
    "ExportObject",
    "ExportSummary",
    "Geometry",
    "ImportedImage",
    "export_coco",
    "export_png",
    "import_coco",
]
