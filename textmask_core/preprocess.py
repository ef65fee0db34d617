"""The resize rule shared by prediction and training.

An image of any size is resized, aspect ratio kept, to fit a canvas and padded at the right
and bottom with the encoder's mean colour, which is zero after normalisation. The canvas is an
``input_size`` square, or with aspect buckets, the rectangle of about ``input_size`` squared
pixels whose shape is closest to the image's: a tall photo then gets more pixels than padding.
Model outputs are mapped back by undoing exactly these steps, so a mask always has the original
image's width and height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

# Canvas shapes (width / height) of aspect buckets, and the multiple their sides round to,
# which is the encoder's coarsest stride.
ASPECT_BUCKETS = (1 / 2, 2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2, 2.0)
CANVAS_MULTIPLE = 32


@dataclass(frozen=True)
class Letterbox:
    """Geometry of one resize: sizes are (height, width) in pixels."""

    original_size: tuple[int, int]
    resized_size: tuple[int, int]
    canvas_size: tuple[int, int]


def canvas_size(height: int, width: int, input_size: int, aspect_buckets: bool) -> tuple[int, int]:
    """Return the (height, width) canvas an image of this size is padded to."""
    if not aspect_buckets:
        return input_size, input_size
    aspect = width / height
    bucket = min(ASPECT_BUCKETS, key=lambda ratio: abs(math.log(aspect / ratio)))
    return _multiple(input_size / math.sqrt(bucket)), _multiple(input_size * math.sqrt(bucket))


def _multiple(length: float) -> int:
    return max(CANVAS_MULTIPLE, round(length / CANVAS_MULTIPLE) * CANVAS_MULTIPLE)


def letterbox_geometry(
    height: int, width: int, input_size: int, canvas: bool | tuple[int, int] = False
) -> Letterbox:
    """Return the geometry that fits an image into its canvas.

    ``canvas`` is True for aspect buckets, False for the ``input_size`` square, or a given
    (height, width).
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if not isinstance(canvas, tuple):
        canvas = canvas_size(height, width, input_size, canvas)
    scale = min(canvas[0] / height, canvas[1] / width)
    resized = (
        min(canvas[0], max(1, round(height * scale))),
        min(canvas[1], max(1, round(width * scale))),
    )
    return Letterbox(original_size=(height, width), resized_size=resized, canvas_size=canvas)


def resize_image(pixels: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """Resize an (H, W, 3) image to ``size`` = (height, width): area filter down, linear up."""
    height, width = size
    shrinking = height < pixels.shape[0] or width < pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(pixels, (width, height), interpolation=interpolation)


def prepare_image(
    pixels: NDArray[np.uint8],
    input_size: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    canvas: bool | tuple[int, int] = False,
) -> tuple[torch.Tensor, Letterbox]:
    """Return the normalised, padded (3, canvas height, canvas width) float32 tensor for an
    (H, W, 3) uint8 RGB image. ``canvas`` is as in ``letterbox_geometry``."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {pixels.dtype} {pixels.shape}")
    geometry = letterbox_geometry(pixels.shape[0], pixels.shape[1], input_size, canvas)
    resized = resize_image(pixels, geometry.resized_size)
    normalised = normalise(resized, mean, std)  # (3, h, w)
    canvas = torch.zeros((3, *geometry.canvas_size), dtype=torch.float32)
    canvas[:, : geometry.resized_size[0], : geometry.resized_size[1]] = normalised
    return canvas, geometry


def normalise(
    pixels: NDArray[np.uint8], mean: tuple[float, ...], std: tuple[float, ...]
) -> torch.Tensor:
    """Turn (h, w, 3) uint8 RGB into (3, h, w) float32 ``(pixels / 255 - mean) / std``."""
    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float().div_(255.0)
    mean_tensor = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    std_tensor = torch.tensor(std, dtype=torch.float32)[:, None, None]
    return (tensor - mean_tensor) / std_tensor


def restore_map(values: NDArray[np.float32], geometry: Letterbox) -> NDArray[np.float32]:
    """Map a (h, w) output over the padded canvas back to the original (H, W) image.

    The map is first resized to the canvas, cropped to the resized image and then resized to
    the original size, so pixel (x, y) of the result covers pixel (x, y) of the photo.
    """
    canvas_height, canvas_width = geometry.canvas_size
    full = cv2.resize(values, (canvas_width, canvas_height), interpolation=cv2.INTER_LINEAR)
    crop = full[: geometry.resized_size[0], : geometry.resized_size[1]]
    height, width = geometry.original_size
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
