"""MagicBrush edit turns as training data: (source image, instruction, mask of the edit region).

Two layouts are read: the local release (``edit_sessions.json`` beside ``images/<img_id>/``)
and the released table with the columns ``img_id, turn_index, source_img, mask_img,
instruction, target_img`` in parquet files (needs pyarrow). Masks come in two conventions,
detected per mask: white (bright) pixels mark the edit region, or, in RGBA files with
transparent pixels, the transparent pixels do.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from textmask_core.atomic import atomic_write_bytes
from textmask_core.errors import MaskFormatError
from textmask_training.data.sample import ImageSize, Sample

logger = logging.getLogger(__name__)

SESSIONS_FILE = "edit_sessions.json"
PARQUET_COLUMNS = ("img_id", "turn_index", "source_img", "mask_img", "instruction")
MaskConvention = Literal["white", "transparent"]


@dataclass(frozen=True)
class MagicBrushMask:
    """Reads a MagicBrush mask file as the edit region at the source image's size."""

    path: Path

    def __call__(self, image_size: ImageSize) -> NDArray[np.bool_]:
        region, convention = read_edit_region(self.path)
        logger.debug("mask %s: %s pixels mark the edit", self.path, convention)
        height, width = image_size
        if region.shape == (height, width):
            return region
        # Nearest neighbour keeps the mask binary; MagicBrush masks may differ from the image size.
        resized = cv2.resize(
            region.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
        )
        return resized.astype(bool)


def read_edit_region(path: Path) -> tuple[NDArray[np.bool_], MaskConvention]:
    """Return the edit region of a mask file and the convention it was found in.

    A mask with an alpha channel that has a transparent pixel (alpha < 128) uses the
    transparent convention; any other mask uses the white one (gray level >= 128).
    """
    with Image.open(path) as image:
        image.load()
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        if has_alpha:
            alpha = np.asarray(image.convert("RGBA"))[:, :, 3]
            if (alpha < 128).any():
                return alpha < 128, "transparent"
        gray = np.asarray(image.convert("L"))
    return gray >= 128, "white"


def magicbrush_samples(path: str | Path, extract_dir: Path | None = None) -> list[Sample]:
    """Read a MagicBrush folder (local layout or parquet files) or a single parquet file.

    Images stored as bytes in parquet are written once to ``extract_dir`` (named by content
    hash), so the rest of training reads files. Rows are keyed by session (``img_id``).
    """
    path = Path(path)
    if path.is_dir() and (path / SESSIONS_FILE).is_file():
        return _local_samples(path)
    parquet_files = [path] if path.suffix == ".parquet" else sorted(path.glob("**/*.parquet"))
    if not path.exists() or not parquet_files:
        raise FileNotFoundError(
            f"{path} is not a MagicBrush dataset: expected a folder with {SESSIONS_FILE} and "
            "images/<img_id>/, or parquet files with the columns " + ", ".join(PARQUET_COLUMNS)
        )
    if extract_dir is None:
        raise ValueError("reading MagicBrush parquet files needs a folder to extract images into")
    return _parquet_samples(parquet_files, extract_dir)


def _local_samples(root: Path) -> list[Sample]:
    sessions = json.loads((root / SESSIONS_FILE).read_text(encoding="utf-8"))
    if not isinstance(sessions, dict):
        raise MaskFormatError(f"{root / SESSIONS_FILE} must map each img_id to a list of turns")
    samples = []
    for img_id, turns in sessions.items():
        for number, turn in enumerate(turns, start=1):
            folder = root / "images" / str(img_id)
            try:
                image, mask, text = (
                    folder / turn["input"],
                    folder / turn["mask"],
                    turn["instruction"],
                )
            except (KeyError, TypeError) as error:
                raise MaskFormatError(
                    f"{root / SESSIONS_FILE}: turn {number} of session {img_id} lacks the key "
                    f"{error}; each turn needs input, mask and instruction"
                ) from error
            samples.append(_sample(image, mask, text, img_id, f"magicbrush {root}"))
    return samples


def _sample(image: Path, mask: Path, text: str, img_id: object, source: str) -> Sample:
    return Sample(
        image_path=image,
        text=" ".join(str(text).split()),
        mask=MagicBrushMask(mask),
        image_key=f"magicbrush-session {img_id}",
        source=source,
    )


def _parquet_samples(files: list[Path], extract_dir: Path) -> list[Sample]:
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise ImportError(
            "reading MagicBrush parquet files needs pyarrow; install it with: "
            "pip install textmask[parquet]"
        ) from error
    samples = []
    for file in files:
        table = parquet.ParquetFile(file)
        missing = [name for name in PARQUET_COLUMNS if name not in table.schema_arrow.names]
        if missing:
            raise MaskFormatError(f"{file} lacks the column(s) {', '.join(missing)}")
        for row in _parquet_rows(table):
            image = _image_file(row["source_img"], file, extract_dir)
            mask = _image_file(row["mask_img"], file, extract_dir)
            samples.append(
                _sample(image, mask, row["instruction"], row["img_id"], f"magicbrush {file}")
            )
    return samples


def _parquet_rows(table: Any) -> Iterator[dict[str, Any]]:
    # Reading by batches keeps memory at a few images; target_img is never read.
    for batch in table.iter_batches(batch_size=16, columns=list(PARQUET_COLUMNS)):
        yield from batch.to_pylist()


def _image_file(value: Any, parquet_file: Path, extract_dir: Path) -> Path:
    """Return a file for an image cell: a dict with bytes and/or path, raw bytes, or a path."""
    if isinstance(value, (bytes, bytearray)):
        data, path = bytes(value), None
    elif isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
    else:
        data, path = None, value
    if data:
        return _extract(bytes(data), extract_dir)
    if isinstance(path, str) and path:
        file = Path(path) if Path(path).is_absolute() else parquet_file.parent / path
        if file.is_file():
            return file
    raise MaskFormatError(f"{parquet_file}: an image cell has neither bytes nor an existing path")


def _extract(data: bytes, extract_dir: Path) -> Path:
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    with Image.open(io.BytesIO(data)) as image:
        suffix = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}.get(image.format or "", ".png")
    target = extract_dir / digest[:2] / f"{digest}{suffix}"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
    return target
