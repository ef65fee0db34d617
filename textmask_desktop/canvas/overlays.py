"""The scene items of one document: the image, one overlay per visible object and the preview."""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene

from textmask_desktop.canvas.layers import OBJECT_Z, ImageItem, MaskImageItem, PreviewItem
from textmask_desktop.document import ImageDocument

logger = logging.getLogger(__name__)


class DocumentOverlays:
    """Keeps the scene's items in step with a document: call sync() after objects_changed and
    refresh() after mask_changed.
    """

    def __init__(self, scene: QGraphicsScene) -> None:
        self._scene = scene
        self._document: ImageDocument | None = None
        self._image_item: ImageItem | None = None
        self._object_items: dict[int, MaskImageItem] = {}
        self._preview: PreviewItem | None = None
        self._opacity = 0.5
        self._zoom = 1.0

    @property
    def object_items(self) -> dict[int, MaskImageItem]:
        return dict(self._object_items)

    @property
    def preview(self) -> PreviewItem | None:
        return self._preview

    def show_document(self, document: ImageDocument | None) -> None:
        """Replace every item with those of `document` (None leaves the scene empty)."""
        self.clear_preview()
        for item in self._object_items.values():
            self._scene.removeItem(item)
        self._object_items = {}
        if self._image_item is not None:
            self._scene.removeItem(self._image_item)
            self._image_item = None
        self._document = document
        if document is not None:
            self._image_item = ImageItem(document.image.pixels)
            self._image_item.set_zoom(self._zoom)
            self._scene.addItem(self._image_item)
            self.sync()

    def sync(self) -> None:
        """Create, update or remove object items to match the document's objects."""
        document = self._document
        if document is None:
            return
        keys = set()
        for index, layer in enumerate(document.objects):
            keys.add(layer.key)
            item = self._object_items.get(layer.key)
            if item is None:
                item = MaskImageItem(layer.mask, layer.colour, self._opacity)
                item.set_zoom(self._zoom)
                self._scene.addItem(item)
                self._object_items[layer.key] = item
            item.set_mask(layer.mask)
            item.set_colour(layer.colour)
            item.setVisible(layer.visible)
            item.setZValue(OBJECT_Z + index)
        for key in set(self._object_items) - keys:
            self._scene.removeItem(self._object_items.pop(key))

    def refresh(self, key: int, rect: QRect) -> None:
        item = self._object_items.get(key)
        if item is not None:
            item.refresh(rect)

    def set_opacity(self, opacity: float) -> None:
        self._opacity = opacity
        for item in self._object_items.values():
            item.set_overlay_opacity(opacity)
        if self._preview is not None:
            self._preview.set_overlay_opacity(opacity)

    def set_zoom(self, scale: float) -> None:
        self._zoom = scale
        if self._image_item is not None:
            self._image_item.set_zoom(scale)
        for item in self._object_items.values():
            item.set_zoom(scale)
        if self._preview is not None:
            self._preview.set_zoom(scale)

    def set_preview(
        self, probabilities: NDArray[np.float32], threshold: float, colour: QColor | str
    ) -> None:
        document = self._document
        if document is None:
            raise ValueError("Cannot show a preview without an image: open an image first.")
        shape = (document.height, document.width)
        if probabilities.shape != shape:
            raise ValueError(
                f"Preview probabilities have shape {probabilities.shape}; the image needs {shape}."
            )
        self.clear_preview()
        self._preview = PreviewItem(probabilities, threshold, QColor(colour).name())
        self._preview.set_overlay_opacity(self._opacity)
        self._preview.set_zoom(self._zoom)
        self._scene.addItem(self._preview)

    def clear_preview(self) -> None:
        if self._preview is not None:
            self._scene.removeItem(self._preview)
            self._preview = None
