"""The one image loader for display, model input and export, plus mask files and folder listing.

Every reader here applies the same rules, so the canvas, the model input, exported masks and
COCO sizes agree:

- The EXIF orientation tag (or the XMP ``tiff:Orientation``) is applied exactly once, read from
  the header only, with the same transposition table as ``PIL.ImageOps.exif_transpose``.
- Images come out as uint8 H×W×3 RGB. Transparent pixels are composited on
  ``ALPHA_BACKGROUND_RGB``. 16-bit, 32-bit integer and float images are scaled linearly from
  ``[min(0, lowest), max(0, highest)]`` of their own values to 0..255, so 0 stays black.
- A file is decoded completely before use, so a truncated file raises ``ImageReadError`` instead
  of being padded with grey.
- Images with more pixels than the limit raise ``ImageTooLargeError`` before decoding. The limit
  is, in order of precedence: the ``max_pixels`` argument, ``set_max_pixels``, the
  ``TEXTMASK_MAX_PIXELS`` environment variable, ``DEFAULT_MAX_PIXELS``.
"""

from __future__ import annotations

import io
import logging
import os
import re
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import ExifTags, Image, UnidentifiedImageError

from textmask_core.atomic import atomic_write_bytes
from textmask_core.errors import ImageReadError, ImageTooLargeError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}
)
# Transparent pixels are blended onto mid grey: it is neutral for the model and stays visible
# against both dark and light objects on the canvas.
ALPHA_BACKGROUND_RGB: tuple[int, int, int] = (128, 128, 128)
DEFAULT_MAX_PIXELS: int = 250_000_000
MAX_PIXELS_ENV_VAR: str = "TEXTMASK_MAX_PIXELS"

# Pillow's JPEG opener also returns the multi-picture (MPO) JPEGs that many phone cameras write.
_PILLOW_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "BMP", "TIFF", "WEBP")
_HIGH_BIT_DEPTH_MODES: frozenset[str] = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
_ALPHA_MODES: frozenset[str] = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
# The errors Pillow raises for corrupt data, from the decoders and from the metadata parsers.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
)
_TRANSPOSE_FOR_ORIENTATION: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIDE_SWAPPING_ORIENTATIONS: frozenset[int] = frozenset({5, 6, 7, 8})

# This module checks the pixel count itself, against a limit the user can raise. Pillow's own
# check (a warning above about 89 million pixels and an error above twice that, in Pillow 13)
# would reject images that this limit allows, so it is turned off for the whole process.
Image.MAX_IMAGE_PIXELS = None

_max_pixels_setting: int | None = None
_Pixels = TypeVar("_Pixels", bound=np.ndarray)


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image, oriented as it is displayed."""

    path: Path
    pixels: NDArray[np.uint8]  # H×W×3 RGB, C-contiguous
    source_mode: str  # the Pillow mode of the file before conversion, e.g. "CMYK" or "I;16"

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


# --- pixel limit -------------------------------------------------------------------------------


def get_max_pixels() -> int:
    """Return the pixel limit in force when no ``max_pixels`` argument is given."""
    if _max_pixels_setting is not None:
        return _max_pixels_setting
    text = os.environ.get(MAX_PIXELS_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(
            f"{MAX_PIXELS_ENV_VAR}={text!r} is not a positive whole number of pixels; "
            f"set it to a count such as {DEFAULT_MAX_PIXELS} or unset it"
        )
    return value


def set_max_pixels(max_pixels: int | None) -> None:
    """Set the process-wide pixel limit; ``None`` returns to the environment variable or default."""
    global _max_pixels_setting
    _max_pixels_setting = None if max_pixels is None else _checked_limit(max_pixels)


def _checked_limit(max_pixels: int) -> int:
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}")
    return max_pixels


def _effective_limit(max_pixels: int | None) -> int:
    return get_max_pixels() if max_pixels is None else _checked_limit(max_pixels)


def _check_pixel_count(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    pixel_count = size[0] * size[1]
    if pixel_count > max_pixels:
        raise ImageTooLargeError(path, pixel_count, max_pixels)


# --- opening and decoding ----------------------------------------------------------------------


@contextmanager
def _open_image(path: Path) -> Iterator[Image.Image]:
    """Open ``path`` lazily (header only) and close it afterwards; errors become ImageReadError."""
    try:
        image = Image.open(path, formats=_PILLOW_FORMATS)
    except FileNotFoundError:
        raise ImageReadError(path, "the file does not exist") from None
    except IsADirectoryError:
        raise ImageReadError(path, "it is a folder, not an image file") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, _unidentified_reason(path)) from None
    except Image.DecompressionBombError as error:
        # Raised only if other code has turned Pillow's own pixel check back on.
        raise ImageReadError(path, f"Pillow rejected it as too large: {error}") from None
    except _DECODE_ERRORS as error:
        raise ImageReadError(path, f"the file cannot be opened: {error}") from error
    with image:
        yield image


def _unidentified_reason(path: Path) -> str:
    try:
        if path.stat().st_size == 0:
            return "the file is empty (0 bytes)"
    except OSError as error:
        return f"the file cannot be opened: {error}"
    return "it is not an image in a supported format (JPEG, PNG, BMP, TIFF or WebP)"


def _decode(image: Image.Image, path: Path) -> None:
    """Decode all pixel data now, so that a truncated or corrupt file fails here."""
    # NOTE: this relies on PIL.ImageFile.LOAD_TRUNCATED_IMAGES being False, Pillow's default.
    # Code that sets it to True makes Pillow pad truncated files with grey instead of failing.
    try:
        image.load()
    except _DECODE_ERRORS as error:
        raise ImageReadError(path, f"the file is truncated or corrupt ({error})") from error


def _read_orientation(image: Image.Image, path: Path) -> int:
    """Return the EXIF orientation (1..8, 1 = as stored) found in the header."""
    try:
        # Image.Image.getexif reads only what the header parse found. PngImageFile.getexif would
        # decode the whole file first to look for an eXIf chunk after the pixel data, and then
        # read_image_size (header only) and load_image could disagree about the size.
        exif = Image.Image.getexif(image)
        orientation = exif.get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS as error:
        logger.warning("Ignoring unreadable EXIF data in %s: %s", path, error)
        return 1
    if isinstance(orientation, int) and orientation in _TRANSPOSE_FOR_ORIENTATION:
        return orientation
    return 1


def _apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    transpose = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return image if transpose is None else image.transpose(transpose)


def _read_decoded(
    path: Path, max_pixels: int | None, convert: Callable[[Image.Image], _Pixels]
) -> tuple[_Pixels, str]:
    """Open, check the pixel count, decode and orient one image, then ``convert`` it to an array.

    Returns the array and the file's Pillow mode. The conversion runs before the file is closed
    because closing a Pillow image frees its pixel data.
    """
    limit = _effective_limit(max_pixels)
    with _open_image(path) as image:
        _check_pixel_count(path, image.size, limit)
        orientation = _read_orientation(image, path)
        _decode(image, path)
        return convert(_apply_orientation(image, orientation)), image.mode


# --- colour conversion -------------------------------------------------------------------------


def _to_rgb(image: Image.Image, path: Path) -> NDArray[np.uint8]:
    """Convert any supported Pillow mode to a C-contiguous uint8 H×W×3 RGB array."""
    try:
        if image.mode in _HIGH_BIT_DEPTH_MODES:
            gray = _scale_to_uint8(np.asarray(image))
            return np.ascontiguousarray(np.repeat(gray[:, :, np.newaxis], 3, axis=2))
        if image.mode in _ALPHA_MODES or "transparency" in image.info:
            return _composite_on_background(np.asarray(image.convert("RGBA")))
        # NOTE: CMYK uses Pillow's plain formula and ignores an embedded ICC profile, so colours
        # of profiled print files are approximate.
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return np.array(rgb, dtype=np.uint8, order="C")
    except ValueError as error:
        raise ImageReadError(path, f"its colour mode {image.mode} is not supported") from error


def _scale_to_uint8(values: NDArray[np.generic]) -> NDArray[np.uint8]:
    """Scale ``[min(0, lowest), max(0, highest)]`` linearly to 0..255; NaN becomes 0."""
    data = values.astype(np.float32)
    finite = np.isfinite(data)
    if not finite.any():
        return np.zeros(data.shape, dtype=np.uint8)
    low = min(0.0, float(data[finite].min()))
    high = max(0.0, float(data[finite].max()))
    if high == low:
        return np.zeros(data.shape, dtype=np.uint8)
    scaled = (data - low) * (255.0 / (high - low))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _composite_on_background(rgba: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Blend RGBA onto ``ALPHA_BACKGROUND_RGB`` and return RGB."""
    # uint16 is wide enough: colour*alpha + background*(255-alpha) + 127 <= 255*255 + 127.
    colour = rgba[:, :, :3].astype(np.uint16)
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    background = np.array(ALPHA_BACKGROUND_RGB, dtype=np.uint16)
    blended = (colour * alpha + background * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(blended.astype(np.uint8))


# --- public readers ----------------------------------------------------------------------------


def load_image(path: str | Path, *, max_pixels: int | None = None) -> LoadedImage:
    """Decode an image file to RGB pixels, oriented as displayed, at its original size.

    Raises ``ImageReadError`` for a missing, empty, truncated or unsupported file and
    ``ImageTooLargeError`` (a subclass) when it has more pixels than the limit.
    """
    image_path = Path(path)
    pixels, source_mode = _read_decoded(
        image_path, max_pixels, lambda image: _to_rgb(image, image_path)
    )
    return LoadedImage(path=image_path, pixels=pixels, source_mode=source_mode)


def read_image_size(path: str | Path) -> tuple[int, int]:
    """Return ``(width, height)`` as displayed (after EXIF orientation), from the header only.

    The file is not decoded, so a truncated file still returns a size here; ``load_image``
    rejects it.
    """
    image_path = Path(path)
    with _open_image(image_path) as image:
        width, height = image.size
        if _read_orientation(image, image_path) in _SIDE_SWAPPING_ORIENTATIONS:
            return height, width
        return width, height


def load_thumbnail(
    path: str | Path, max_side: int, *, max_pixels: int | None = None
) -> LoadedImage:
    """Load an image reduced so that its longer side is at most ``max_side`` pixels.

    JPEG files are decoded at a reduced scale (Pillow ``draft``), which is much faster for large
    photos. The pixel limit applies to the size actually decoded, so a JPEG over the limit can
    still give a thumbnail while ``load_image`` rejects it.
    """
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side <= 0:
        raise ValueError(f"max_side must be a positive int, got {max_side!r}")
    image_path = Path(path)
    limit = _effective_limit(max_pixels)
    with _open_image(image_path) as image:
        source_mode = image.mode
        orientation = _read_orientation(image, image_path)
        image.draft(None, (max_side, max_side))
        _check_pixel_count(image_path, image.size, limit)
        _decode(image, image_path)
        rgb = _to_rgb(_apply_orientation(image, orientation), image_path)
    with Image.fromarray(rgb) as thumbnail:
        thumbnail.thumbnail((max_side, max_side))
        pixels = np.array(thumbnail, dtype=np.uint8, order="C")
    return LoadedImage(path=image_path, pixels=pixels, source_mode=source_mode)


# --- mask files --------------------------------------------------------------------------------


def load_mask(path: str | Path, *, max_pixels: int | None = None) -> NDArray[np.bool_]:
    """Read a mask image as a boolean H×W array, oriented like ``load_image``.

    Nonzero means inside, at any bit depth:

    - 1-bit, 8-bit, 16-bit, 32-bit and float gray: value != 0 (NaN is outside);
    - palette (P): palette index != 0, whatever colour index 0 has;
    - RGB: any channel != 0;
    - with alpha (LA, PA, RGBA): the colour rule above and alpha != 0, so both black opaque and
      transparent pixels are outside.
    """
    mask, _ = _read_decoded(Path(path), max_pixels, _nonzero_pixels)
    return mask


def _nonzero_pixels(image: Image.Image) -> NDArray[np.bool_]:
    mode = image.mode
    if mode in ("1", "L", "P") or mode in _HIGH_BIT_DEPTH_MODES:
        values = np.asarray(image)
        return np.ascontiguousarray((values != 0) & ~_is_nan(values))
    if mode in ("LA", "PA"):
        values = np.asarray(image.getchannel(0))
        alpha = np.asarray(image.getchannel("A"))
        return np.ascontiguousarray((values != 0) & (alpha != 0))
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(image).any(axis=2))
    rgba = np.asarray(image.convert("RGBA"))
    return np.ascontiguousarray(rgba[:, :, :3].any(axis=2) & (rgba[:, :, 3] != 0))


def _is_nan(values: NDArray[np.generic]) -> NDArray[np.bool_]:
    if np.issubdtype(values.dtype, np.floating):
        return np.isnan(values)
    return np.zeros(values.shape, dtype=bool)


def save_mask_png(path: str | Path, mask: ArrayLike) -> None:
    """Write a mask as an 8-bit grayscale PNG, 255 inside and 0 outside, atomically.

    ``mask`` is a 2-D array where nonzero means inside. The parent folder must exist.
    """
    values = np.asarray(mask)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"A mask must be a non-empty 2-D array, got shape {values.shape}")
    pixels = np.where(values != 0, np.uint8(255), np.uint8(0))
    buffer = io.BytesIO()
    with Image.fromarray(pixels) as image:
        image.save(buffer, format="PNG")
    atomic_write_bytes(Path(path), buffer.getvalue())


# --- folders -----------------------------------------------------------------------------------


def list_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    """List the image files in ``folder`` in natural order ("img2" before "img10").

    A file counts as an image when its suffix, in any case, is in ``IMAGE_SUFFIXES``. Hidden
    files and folders (names starting with ".") are skipped, which also skips the "._name.jpg"
    metadata files that macOS leaves on shared drives.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"Image folder not found or not a folder: {root}")
    candidates = root.rglob("*") if recursive else root.iterdir()
    images = [
        path
        for path in candidates
        if path.suffix.lower() in IMAGE_SUFFIXES
        and path.is_file()
        and not _is_hidden(path.relative_to(root))
    ]
    return sorted(images, key=lambda path: _natural_path_key(path.relative_to(root)))


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _natural_path_key(relative: Path) -> tuple[tuple[list[str | int], str], ...]:
    return tuple((_natural_key(part), part) for part in relative.parts)


def _natural_key(name: str) -> list[str | int]:
    # re.split with a capturing group puts text at even positions and digit runs at odd ones,
    # so two keys never compare a str with an int.
    parts = re.split(r"(\d+)", name.casefold())
    return [int(part) if index % 2 else part for index, part in enumerate(parts)]
