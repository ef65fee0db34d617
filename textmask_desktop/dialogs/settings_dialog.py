"""The settings dialog: device, threshold, overlay opacity, brush size, autosave, pixel limit."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from textmask_desktop.counting import CountSpinBox
from textmask_desktop.settings import DEVICES, AppSettings

MEGAPIXEL = 1_000_000


class SettingsDialog(QDialog):
    """Edits AppSettings; the values are written only when the user presses OK."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TextMask settings")
        self._settings = settings

        self.device_box = QComboBox(self)
        self.device_box.addItems(list(DEVICES))
        self.device_box.setCurrentText(settings.device)
        self.device_box.setToolTip("Where the model runs; 'auto' picks a GPU when there is one")

        self.threshold_box = _fraction_box(settings.threshold, "Default mask threshold")
        self.opacity_box = _fraction_box(settings.overlay_opacity, "Opacity of mask overlays")

        self.brush_box = QSpinBox(self)
        self.brush_box.setRange(1, 500)
        self.brush_box.setSuffix(" px")
        self.brush_box.setValue(settings.brush_size)

        self.autosave_box = QCheckBox("Save each edit to the project as it is made", self)
        self.autosave_box.setChecked(settings.autosave)

        self.pixel_limit_box = CountSpinBox("megapixel", parent=self)
        self.pixel_limit_box.setRange(0, 100_000)
        self.pixel_limit_box.setSpecialValueText("loader default")
        self.pixel_limit_box.setToolTip(
            "Larger images are not opened, as a guard against decompression bombs"
        )
        limit = settings.max_pixels
        self.pixel_limit_box.setValue(0 if limit is None else max(1, limit // MEGAPIXEL))

        form = QFormLayout()
        form.addRow("Device", self.device_box)
        form.addRow("Threshold", self.threshold_box)
        form.addRow("Overlay opacity", self.opacity_box)
        form.addRow("Brush size", self.brush_box)
        form.addRow("Autosave", self.autosave_box)
        form.addRow("Pixel limit", self.pixel_limit_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def accept(self) -> None:
        self.apply()
        super().accept()

    def apply(self) -> None:
        """Write the dialog's values to the settings."""
        settings = self._settings
        settings.device = self.device_box.currentText()  # type: ignore[assignment]
        settings.threshold = self.threshold_box.value()
        settings.overlay_opacity = self.opacity_box.value()
        settings.brush_size = self.brush_box.value()
        settings.autosave = self.autosave_box.isChecked()
        megapixels = self.pixel_limit_box.value()
        settings.max_pixels = megapixels * MEGAPIXEL if megapixels else None
        settings.sync()


def _fraction_box(value: float, tooltip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, 1.0)
    box.setSingleStep(0.05)
    box.setDecimals(2)
    box.setValue(value)
    box.setToolTip(tooltip)
    return box
