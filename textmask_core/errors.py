"""Exceptions raised by TextMask for bad input, missing files and unusable models."""

from __future__ import annotations

from pathlib import Path


class TextMaskError(Exception):
    """Base class for every error TextMask raises on purpose."""


class ImageReadError(TextMaskError):
    """An image file could not be decoded: truncated, empty, not an image or too large."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot read image {self.path}: {reason}")


class ImageTooLargeError(ImageReadError):
    """An image has more pixels than the configured limit (a decompression-bomb guard)."""

    def __init__(self, path: str | Path, pixel_count: int, max_pixels: int) -> None:
        self.pixel_count = pixel_count
        self.max_pixels = max_pixels
        super().__init__(
            path,
            f"it has {pixel_count:,} pixels, more than the limit of {max_pixels:,}; "
            "raise the pixel limit in the settings (or TEXTMASK_MAX_PIXELS) if you trust this file",
        )


class MaskFormatError(TextMaskError):
    """A mask or an annotation file is invalid: wrong size, bad RLE, unsafe path."""


class CheckpointError(TextMaskError):
    """A checkpoint folder is missing, corrupt, foreign or does not match its model config."""


class ModelNotFoundError(TextMaskError):
    """No model of the given name or path exists."""


class EncoderWeightsMissingError(TextMaskError):
    """Pretrained encoder weights are not installed or not found on disk."""


class DeviceUnavailableError(TextMaskError):
    """A compute device that was named explicitly cannot be used."""


class StoreError(TextMaskError):
    """The project database cannot be opened, migrated or written."""
