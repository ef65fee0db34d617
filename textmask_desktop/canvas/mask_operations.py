"""Whole-mask commands on one object: fill holes, remove specks, grow, shrink and clear."""

from __future__ import annotations

import logging
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from textmask_core import masks
from textmask_desktop.document import ImageDocument

logger = logging.getLogger(__name__)

MaskOperation = Literal["fill_holes", "remove_specks", "grow", "shrink", "clear"]
MASK_OPERATIONS: tuple[MaskOperation, ...] = get_args(MaskOperation)

OPERATION_TEXT: dict[MaskOperation, str] = {
    "fill_holes": "Fill holes",
    "remove_specks": "Remove specks",
    "grow": "Grow mask",
    "shrink": "Shrink mask",
    "clear": "Clear mask",
}


def compute_mask_operation(
    mask: NDArray[np.bool_], operation: MaskOperation, amount: int = 0
) -> NDArray[np.bool_]:
    """Return the result of `operation` on `mask`; the input is not changed.

    `amount` is the minimum part size in pixels for remove_specks and the distance in pixels
    for grow and shrink; the other operations ignore it.
    """
    if operation in ("remove_specks", "grow", "shrink") and amount < 1:
        raise ValueError(
            f"{OPERATION_TEXT[operation]} needs an amount of at least 1 px, got {amount}."
        )
    if operation == "fill_holes":
        return masks.fill_holes(mask)
    if operation == "remove_specks":
        return masks.remove_specks(mask, amount)
    if operation == "grow":
        return masks.grow(mask, amount)
    if operation == "shrink":
        return masks.shrink(mask, amount)
    if operation == "clear":
        return np.zeros_like(mask)
    raise ValueError(
        f"Unknown mask operation {operation!r}: use one of {', '.join(MASK_OPERATIONS)}."
    )


def apply_mask_operation(
    document: ImageDocument, key: int, operation: MaskOperation, amount: int = 0
) -> bool:
    """Run `operation` on object `key` as one undo step; return False when nothing changed.

    Raises ObjectNotEditableError when the object is locked or gone.
    """
    document.validate_editable(key)
    result = compute_mask_operation(document.object(key).mask, operation, amount)
    text = OPERATION_TEXT[operation]
    if amount and operation != "fill_holes" and operation != "clear":
        text = f"{text} ({amount} px)"
    return document.replace_mask(key, result, text)
