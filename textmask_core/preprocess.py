"""The resize rule shared by prediction and training.

An image of any size is resized so that its longer side equals ``input_size`` (aspect ratio
kept) and padded at the right and bottom to an ``input_size`` square with the encoder's mean
colour, which is zero after normalisation. Model outputs are mapped back by undoing exactly
these steps, so a mask always has the original image's width and height.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from numpy.typing import NDArray


@dataclass(frozen=True)
class Letterbox:
    """Geometry of one resize: sizes are (height, width) in pixels."""

    original_size: tuple[int, int]
    resized_size: tuple[int, int]
    input_size: int


def letterbox_geometry(height: int, width: int, input_size: int) -> Letterbox:
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    scale = input_size / max(height, width)
    resized = (max(1, round(height * scale)), max(1, round(width * scale)))
    return Letterbox(original_size=(height, width), resized_size=resized, input_size=input_size)


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
) -> tuple[torch.Tensor, Letterbox]:
    """Return the normalised, padded (3, S, S) float32 tensor for an (H, W, 3) uint8 RGB image."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {pixels.dtype} {pixels.shape}")
    geometry = letterbox_geometry(pixels.shape[0], pixels.shape[1], input_size)
    resized = resize_image(pixels, geometry.resized_size)
    normalised = normalise(resized, mean, std)  # (3, h, w)
    canvas = torch.zeros((3, input_size, input_size), dtype=torch.float32)
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
    """Map a (h, w) output over the padded square back to the original (H, W) image.

    The map is first resized to the padded square, cropped to the resized image and then
    resized to the original size, so pixel (x, y) of the result covers pixel (x, y) of the photo.
    """
    square = geometry.input_size
    full = cv2.resize(values, (square, square), interpolation=cv2.INTER_LINEAR)
    crop = full[: geometry.resized_size[0], : geometry.resized_size[1]]
    height, width = geometry.original_size
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
