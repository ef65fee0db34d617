"""Rows of the project store as frozen dataclasses, and the option strings they use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from textmask_core.store.rle import EncodedMask

ImageStatus = Literal["new", "predicted", "edited", "done", "unreadable"]
"""Review state of an image. ``unreadable`` images carry an error text."""

MaskOrigin = Literal["predicted", "edited"]
"""Source of a mask revision: a model prediction or a change by the user."""

IMAGE_STATUSES: tuple[ImageStatus, ...] = get_args(ImageStatus)
MASK_ORIGINS: tuple[MaskOrigin, ...] = get_args(MaskOrigin)


@dataclass(frozen=True)
class ImageRecord:
    """An image of the project folder."""

    id: int
    path: str  # relative to the image folder, with "/" separators
    width: int | None  # None until the size has been read
    height: int | None
    status: ImageStatus
    error: str | None  # the reason an image is unreadable, else None
    added_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LabelRecord:
    """A label (a COCO category)."""

    id: int
    name: str
    colour: str  # "#rrggbb", lower case
    position: int  # display order, 0-based; the COCO category id is its rank plus 1


@dataclass(frozen=True)
class ObjectRecord:
    """An annotated object with its current mask (the latest revision)."""

    id: int
    image_id: int
    label: str
    label_id: int
    prompt: str
    mask: EncodedMask
    revision: int  # number of the latest revision, 1-based
    origin: MaskOrigin  # origin of the latest revision
    model_name: str | None  # model of the latest revision, None for hand-made masks
    visible: bool
    locked: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RevisionRecord:
    """One stored version of an object's mask."""

    object_id: int
    revision: int
    mask: EncodedMask
    origin: MaskOrigin
    model_name: str | None
    created_at: datetime


@dataclass(frozen=True, eq=False)
class ObjectState:
    """The editor's state of one object, the input to ``save_image_objects``.

    ``object_id`` is None for an object that is not stored yet. ``mask`` is a boolean
    H×W array at the image's size.
    """

    object_id: int | None
    label: str
    prompt: str
    mask: NDArray[np.bool_]
    origin: MaskOrigin
    model_name: str | None = None
    visible: bool = True
    locked: bool = False


@dataclass(frozen=True, eq=False)
class TrainingSample:
    """A mask that the user edited or accepted, with the prediction it started from."""

    image_id: int
    object_id: int
    image_path: Path  # absolute
    label: str
    prompt: str
    mask: NDArray[np.bool_]  # the current mask, H×W
    predicted_mask: NDArray[np.bool_] | None  # earliest predicted revision, None if never predicted
