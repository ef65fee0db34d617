"""The project store: one SQLite database per image folder with labels, objects and masks.

See docs/project-store.md for the schema, the migration rule, the durability choice and
where the database lives.
"""

from textmask_core.store.location import default_store_path, fallback_store_path
from textmask_core.store.records import (
    IMAGE_STATUSES,
    MASK_ORIGINS,
    ImageRecord,
    ImageStatus,
    LabelRecord,
    MaskOrigin,
    ObjectRecord,
    ObjectState,
    RevisionRecord,
    TrainingSample,
)
from textmask_core.store.rle import EncodedMask, encode_mask
from textmask_core.store.schema import SCHEMA_VERSION
from textmask_core.store.store import ProjectStore

__all__ = [
    "IMAGE_STATUSES",
    "MASK_ORIGINS",
    "SCHEMA_VERSION",
    "EncodedMask",
    "ImageRecord",
    "ImageStatus",
    "LabelRecord",
    "MaskOrigin",
    "ObjectRecord",
    "ObjectState",
    "ProjectStore",
    "RevisionRecord",
    "TrainingSample",
    "default_store_path",
    "encode_mask",
    "fallback_store_path",
]
