"""Scene items that draw the image, each object's mask overlay and the prediction preview.

A mask overlay is an 8-bit indexed QImage that points straight at the object's NumPy mask
buffer (a bool is one byte, 0 or 1), with a two-entry colour table: transparent, then the
object's colour at the overlay opacity. An edit therefore needs no pixel conversion at all:
the item only repaints the changed rectangle. This also costs a quarter of the memory of an
ARGB32 copy (48 MB instead of 192 MB for an 8000×6000 image). The raster engine samples
indexed images through the colour table, so drawing costs follow the screen area drawn.
Two things keep that area small: items draw only within the bounds of their True pixels,
and below 50 % zoom they draw from a reduced copy (see canvas.overview).
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from textmask_desktop.canvas.geometry import (
    PixelRect,
    bounding_rect,
    mask_outline,
    threshold_probabilities,
)
from textmask_desktop.canvas.overview import ReducedMask, reduction_for_zoom

logger = logging.getLogger(__name__)

SHARP_PIXELS_FROM_ZOOM = 2.0  # from this zoom up, pixels are drawn as crisp squares
# From this zoom up, masks get an opaque outline. It is computed at paint time for the exposed
# pixels only, which at 100 % zoom are at most as many as the screen has.
OUTLINE_FROM_ZOOM = 1.0
IMAGE_Z = 0.0
OBJECT_Z = 1.0  # plus the object's index, so later objects are drawn on top
PREVIEW_Z = 10_000.0
TOOL_Z = 20_000.0  # polygon outlines and the brush cursor


def image_to_pixmap(pixels: NDArray[np.uint8]) -> QPixmap:
    """Convert H×W×3 RGB pixels to a QPixmap (one full copy, done once per image)."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"Image pixels must be uint8 H×W×3, got {pixels.dtype} {pixels.shape}.")
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    image = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image)  # copies, so `pixels` may be freed afterwards


class ImageItem(QGraphicsPixmapItem):
    """The photo; smooth when zoomed out, crisp pixels when zoomed in."""

    def __init__(self, pixels: NDArray[np.uint8]) -> None:
        super().__init__(image_to_pixmap(pixels))
        self.setZValue(IMAGE_Z)
        self.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.set_zoom(1.0)

    def set_zoom(self, scale: float) -> None:
        mode = (
            Qt.TransformationMode.FastTransformation
            if scale >= SHARP_PIXELS_FROM_ZOOM
            else Qt.TransformationMode.SmoothTransformation
        )
        if mode != self.transformationMode():
            self.setTransformationMode(mode)


class MaskImageItem(QGraphicsItem):
    """Draws a boolean H×W array as one translucent colour, without copying the array.

    The caller must keep the array alive and C-contiguous while the item shows it, and call
    refresh() with the changed rectangle after writing into it.
    """

    def __init__(self, mask: NDArray[np.bool_], colour: str, opacity: float) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._colour = QColor(colour)
        self._opacity = opacity
        self._sharp = False
        self._mask = mask
        self._image = QImage()
        # Bounds of the True pixels; edits only widen them, so they may be larger than needed.
        self._content: PixelRect | None = None
        self._reduced: dict[int, ReducedMask] = {}
        self._wrap(mask)

    @property
    def mask(self) -> NDArray[np.bool_]:
        return self._mask

    def set_mask(self, mask: NDArray[np.bool_]) -> None:
        """Show another array (for example after an object was restored by undo)."""
        if mask is self._mask:
            return
        resized = mask.shape != self._mask.shape
        if resized:
            self.prepareGeometryChange()
        self._wrap(mask)
        self.update()

    def set_colour(self, colour: str) -> None:
        if QColor(colour) != self._colour:
            self._colour = QColor(colour)
            self._update_colour_table()

    def set_overlay_opacity(self, opacity: float) -> None:
        if opacity != self._opacity:
            self._opacity = opacity
            self._update_colour_table()

    def set_zoom(self, scale: float) -> None:
        self._sharp = scale >= SHARP_PIXELS_FROM_ZOOM

    def refresh(self, rect: QRect) -> None:
        """Repaint `rect` (image pixels) after the array changed there."""
        changed = PixelRect(rect.x(), rect.y(), rect.width(), rect.height())
        self._content = changed.united(self._content)
        for reduced in self._reduced.values():
            reduced.invalidate(changed)
        # One more pixel on each side: the outline of the pixels next to an edit may change.
        self.update(QRectF(rect).adjusted(-1, -1, 1, 1))

    def refresh_all(self) -> None:
        """Repaint everything after the whole array changed."""
        self._content = bounding_rect(self._mask)
        height, width = self._mask.shape
        for reduced in self._reduced.values():
            reduced.invalidate(PixelRect(0, 0, width, height))
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        content = self._content
        if self._opacity <= 0 or self._image.isNull() or content is None:
            return
        # Draw only exposed pixels with content; aligning outwards keeps whole source pixels.
        bounds = QRect(content.x, content.y, content.width, content.height)
        exposed = option.exposedRect.toAlignedRect().intersected(bounds)
        if exposed.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not self._sharp)
        scale = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        factor = reduction_for_zoom(scale)
        if factor == 1:
            painter.drawImage(QRectF(exposed), self._image, QRectF(exposed))
            if scale >= OUTLINE_FROM_ZOOM:
                self._draw_outline(painter, exposed)
            return
        reduced = self._reduced_mask(factor)
        source = QRectF(
            exposed.x() / factor,
            exposed.y() / factor,
            exposed.width() / factor,
            exposed.height() / factor,
        )
        painter.drawImage(QRectF(exposed), reduced.image, source)

    def _draw_outline(self, painter: QPainter, exposed: QRect) -> None:
        rect = PixelRect(exposed.x(), exposed.y(), exposed.width(), exposed.height())
        outline = np.ascontiguousarray(mask_outline(self._mask, rect))
        image = QImage(
            outline.data, rect.width, rect.height, rect.width, QImage.Format.Format_Indexed8
        )
        colour = QColor(self._colour)
        colour.setAlphaF(max(0.0, min(1.0, 0.5 + self._opacity)))
        image.setColorTable([QColor(0, 0, 0, 0).rgba(), colour.rgba()])
        painter.drawImage(QRectF(exposed), image)

    def _reduced_mask(self, factor: int) -> ReducedMask:
        reduced = self._reduced.get(factor)
        if reduced is None:
            reduced = ReducedMask(self._mask, factor, self._table_colour())
            self._reduced[factor] = reduced
        reduced.update(self._mask)
        return reduced

    def _wrap(self, mask: NDArray[np.bool_]) -> None:
        if mask.dtype != np.bool_ or mask.ndim != 2 or not mask.flags.c_contiguous:
            raise ValueError(
                f"Overlay masks must be C-contiguous 2-D bool arrays, got {mask.dtype} "
                f"{mask.shape} (contiguous: {mask.flags.c_contiguous})."
            )
        self._mask = mask
        height, width = mask.shape
        # The QImage shares the array's buffer: values 0 and 1 index the colour table below.
        self._image = QImage(mask.data, width, height, width, QImage.Format.Format_Indexed8)
        self._content = bounding_rect(mask)
        self._reduced = {}
        self._update_colour_table()

    def _table_colour(self) -> QColor:
        colour = QColor(self._colour)
        colour.setAlphaF(max(0.0, min(1.0, self._opacity)))
        return colour

    def _update_colour_table(self) -> None:
        colour = self._table_colour()
        self._image.setColorTable([QColor(0, 0, 0, 0).rgba(), colour.rgba()])
        for reduced in self._reduced.values():
            reduced.set_colour(colour)
        self.update()


class PreviewItem(MaskImageItem):
    """The mask of a prediction in progress: probabilities kept, re-thresholded on demand."""

    def __init__(self, probabilities: NDArray[np.float32], threshold: float, colour: str) -> None:
        self._probabilities = np.ascontiguousarray(probabilities, dtype=np.float32)
        self._threshold = threshold
        mask = threshold_probabilities(self._probabilities, threshold)
        super().__init__(mask, colour, opacity=0.5)
        self.setZValue(PREVIEW_Z)

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def probabilities(self) -> NDArray[np.float32]:
        return self._probabilities

    def set_threshold(self, threshold: float) -> None:
        """Recompute the shown mask in place from the kept probabilities; no model runs."""
        threshold_probabilities(self._probabilities, threshold, out=self.mask)
        self._threshold = threshold
        self.refresh_all()
