"""Masks as COCO run-length encoding, the form in which the store keeps them.

The store writes the compressed RLE ``counts`` string of pycocotools (ASCII bytes,
column-major runs) with the mask's height and width, and no further compression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pycocotools.mask as coco_mask
from numpy.typing import NDArray

from textmask_core.masks import decode_rle


@dataclass(frozen=True)
class EncodedMask:
    """A binary mask in COCO compressed RLE."""

    height: int
    width: int
    counts: bytes  # the pycocotools compressed counts string

    def to_coco(self) -> dict[str, object]:
        """Return the mask as a COCO ``segmentation`` dict with ``counts`` as text."""
        return {"size": [self.height, self.width], "counts": self.counts.decode("ascii")}

    def decode(self) -> NDArray[np.bool_]:
        """Decode to a boolean H×W array (C order).

        Raises MaskFormatError when the stored counts are malformed or do not cover the size.
        """
        return decode_rle({"size": [self.height, self.width], "counts": self.counts})


def encode_mask(mask: NDArray[np.bool_]) -> EncodedMask:
    """Encode a 2-D mask (bool, or integers where nonzero is inside) as COCO RLE."""
    validate_mask(mask)
    pixels = np.asfortranarray(mask != 0, dtype=np.uint8)
    rle = coco_mask.encode(pixels)
    height, width = (int(side) for side in rle["size"])
    return EncodedMask(height=height, width=width, counts=bytes(rle["counts"]))


def validate_mask(mask: object) -> None:
    """Raise TypeError or ValueError unless ``mask`` is a non-empty 2-D bool or int array."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"A mask must be a numpy array, got {type(mask).__name__}.")
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"A mask must be a non-empty H×W array, got shape {mask.shape}.")
    if mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.integer):
        raise TypeError(
            f"A mask must have dtype bool (or an integer dtype), got {mask.dtype}; "
            "threshold probabilities first, for example `probabilities >= 0.5`."
        )
