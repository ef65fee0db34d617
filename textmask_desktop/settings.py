"""Typed application settings stored with QSettings, so they persist across restarts."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal, get_args

from PySide6.QtCore import QSettings

logger = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda", "mps"]
DEVICES: tuple[Device, ...] = get_args(Device)

ORGANIZATION = "TextMask"
APPLICATION = "TextMask"
MAX_RECENT_FOLDERS = 10


class AppSettings:
    """Typed view of the application's QSettings.

    Every getter validates what it reads, because an ini file edited by hand or written by an
    older version can contain anything. An invalid value is logged and replaced by the default.
    """

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._qsettings = (
            qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)
        )

    @property
    def qsettings(self) -> QSettings:
        return self._qsettings

    def sync(self) -> None:
        """Write pending changes to disk now instead of at the next event-loop pass."""
        self._qsettings.sync()

    # Compute device and model.

    @property
    def device(self) -> Device:
        value = str(self._qsettings.value("model/device", "auto"))
        if value not in DEVICES:
            logger.warning("Ignoring invalid device %r in settings; using 'auto'", value)
            return "auto"
        return value  # type: ignore[return-value]

    @device.setter
    def device(self, value: Device) -> None:
        if value not in DEVICES:
            raise ValueError(f"Invalid device {value!r}: expected one of {', '.join(DEVICES)}")
        self._qsettings.setValue("model/device", value)

    @property
    def last_model(self) -> str | None:
        value = self._qsettings.value("model/last", "")
        return str(value) or None

    @last_model.setter
    def last_model(self, value: str | None) -> None:
        self._qsettings.setValue("model/last", value or "")

    # Prediction and display.

    @property
    def threshold(self) -> float:
        return self._read_float("prediction/threshold", 0.5, low=0.0, high=1.0)

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._write_float("prediction/threshold", value, low=0.0, high=1.0)

    @property
    def overlay_opacity(self) -> float:
        return self._read_float("display/overlay_opacity", 0.5, low=0.0, high=1.0)

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        self._write_float("display/overlay_opacity", value, low=0.0, high=1.0)

    @property
    def brush_size(self) -> int:
        return self._read_int("editing/brush_size", 20, low=1, high=500)

    @brush_size.setter
    def brush_size(self, value: int) -> None:
        self._write_int("editing/brush_size", value, low=1, high=500)

    @property
    def autosave(self) -> bool:
        value = str(self._qsettings.value("editing/autosave", "true")).lower()
        return value not in ("false", "0", "no")

    @autosave.setter
    def autosave(self, value: bool) -> None:
        self._qsettings.setValue("editing/autosave", "true" if value else "false")

    @property
    def max_pixels(self) -> int | None:
        """Pixel limit per image, or None to keep the image loader's default.

        Larger images are rejected as possible decompression bombs.
        """
        if not self._qsettings.contains("images/max_pixels"):
            return None
        return self._read_int("images/max_pixels", 0, low=1, high=2**40) or None

    @max_pixels.setter
    def max_pixels(self, value: int | None) -> None:
        if value is None:
            self._qsettings.remove("images/max_pixels")
            return
        self._write_int("images/max_pixels", value, low=1, high=2**40)

    # Folders.

    @property
    def recent_folders(self) -> list[Path]:
        raw = self._qsettings.value("folders/recent", "[]")
        try:
            names = json.loads(str(raw))
        except json.JSONDecodeError:
            logger.warning("Ignoring unreadable recent-folder list in settings: %r", raw)
            return []
        if not isinstance(names, list):
            return []
        return [Path(name) for name in names if isinstance(name, str)]

    def add_recent_folder(self, folder: Path) -> None:
        """Move `folder` to the top of the recent list, keeping at most MAX_RECENT_FOLDERS."""
        folder = folder.resolve()
        folders = [folder] + [path for path in self.recent_folders if path != folder]
        names = [str(path) for path in folders[:MAX_RECENT_FOLDERS]]
        self._qsettings.setValue("folders/recent", json.dumps(names))

    def clear_recent_folders(self) -> None:
        self._qsettings.setValue("folders/recent", "[]")

    def store_location(self, folder: Path) -> Path | None:
        """Return the project-store path chosen for a read-only `folder`, if one was chosen."""
        mapping = self._read_store_locations()
        value = mapping.get(str(folder.resolve()))
        return Path(value) if value else None

    def set_store_location(self, folder: Path, store_path: Path) -> None:
        mapping = self._read_store_locations()
        mapping[str(folder.resolve())] = str(store_path)
        self._qsettings.setValue("folders/store_locations", json.dumps(mapping))

    # Window state is opaque bytes owned by Qt.

    def window_geometry(self) -> bytes | None:
        value = self._qsettings.value("window/geometry")
        return bytes(value) if value else None

    def set_window_geometry(self, value: bytes) -> None:
        self._qsettings.setValue("window/geometry", value)

    # Helpers.

    def _read_store_locations(self) -> dict[str, str]:
        raw = self._qsettings.value("folders/store_locations", "{}")
        try:
            mapping = json.loads(str(raw))
        except json.JSONDecodeError:
            logger.warning("Ignoring unreadable store-location map in settings: %r", raw)
            return {}
        if not isinstance(mapping, dict):
            return {}
        return {str(key): str(value) for key, value in mapping.items()}

    def _read_float(self, key: str, default: float, *, low: float, high: float) -> float:
        raw = self._qsettings.value(key, default)
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            logger.warning("Ignoring invalid %s=%r in settings; using %s", key, raw, default)
            return default
        if not low <= value <= high:
            logger.warning("Ignoring out-of-range %s=%r in settings; using %s", key, raw, default)
            return default
        return value

    def _write_float(self, key: str, value: float, *, low: float, high: float) -> None:
        if not low <= value <= high:
            raise ValueError(f"Invalid {key}={value!r}: expected a number from {low} to {high}")
        self._qsettings.setValue(key, float(value))

    def _read_int(self, key: str, default: int, *, low: int, high: int) -> int:
        raw = self._qsettings.value(key, default)
        try:
            value = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            logger.warning("Ignoring invalid %s=%r in settings; using %s", key, raw, default)
            return default
        if not low <= value <= high:
            logger.warning("Ignoring out-of-range %s=%r in settings; using %s", key, raw, default)
            return default
        return value

    def _write_int(self, key: str, value: int, *, low: int, high: int) -> None:
        if not low <= value <= high:
            raise ValueError(
                f"Invalid {key}={value!r}: expected a whole number from {low} to {high}"
            )
        self._qsettings.setValue(key, int(value))
