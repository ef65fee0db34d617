"""The row type that every data source produces: an image, a text and the mask it names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from textmask_core.errors import MaskFormatError
from textmask_core.imageio import load_mask

ImageSize = tuple[int, int]
"""(height, width) in pixels."""

MaskReader = Callable[[ImageSize], NDArray[np.bool_]]
"""A picklable callable that returns the mask at the given image size."""


@dataclass(frozen=True, eq=False)
class Sample:
    """One (image, text, mask) row of a training or validation set.

    ``mask`` is a mask file (nonzero = inside), a boolean H×W array, a ``MaskReader``, or None
    for a row whose target is empty (the text names nothing in the image). ``image_key``
    identifies the image for splitting: rows with the same key always land in the same split.
    ``source`` describes where the row came from, for logs and checkpoint metadata.
    """

    image_path: Path
    text: str
    mask: Path | NDArray[np.bool_] | MaskReader | None
    image_key: str
    source: str

    def load_mask(self, image_size: ImageSize) -> NDArray[np.bool_]:
        """Return the boolean mask; raise ``MaskFormatError`` unless it has ``image_size``."""
        if self.mask is None:
            return np.zeros(image_size, dtype=bool)
        if isinstance(self.mask, Path):
            mask = load_mask(self.mask)
        elif isinstance(self.mask, np.ndarray):
            mask = self.mask.astype(bool, copy=False)
        else:
            mask = self.mask(image_size)
        if mask.shape != tuple(image_size):
            raise MaskFormatError(
                f"the mask of {self.text!r} on {self.image_path} is "
                f"{mask.shape[1]}x{mask.shape[0]} pixels but the image is "
                f"{image_size[1]}x{image_size[0]}; masks must have the image's size"
            )
        return mask


def distinct_images(samples: list[Sample]) -> list[Path]:
    """Return the image paths in first-seen order, each once."""
    return list(dict.fromkeys(sample.image_path for sample in samples))


def check_files_exist(samples: list[Sample]) -> None:
    """Raise ``FileNotFoundError`` naming up to three missing image or mask files."""
    paths = [sample.image_path for sample in samples]
    for sample in samples:
        # A mask reader that names its file (MagicBrush) is checked like a mask path.
        mask_file = getattr(sample.mask, "path", sample.mask)
        if isinstance(mask_file, Path):
            paths.append(mask_file)
    missing = [path for path in dict.fromkeys(paths) if not path.is_file()]
    if missing:
        shown = ", ".join(str(path) for path in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise FileNotFoundError(
            f"{len(missing)} file(s) named by the training data are missing: {shown}{more}"
        )
