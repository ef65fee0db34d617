"""Binary mask helpers: COCO RLE, polygons, measurements and the edits behind the brush tools.

A mask is a 2-D ``NDArray[np.bool_]`` of shape (height, width), True inside. Connectivity follows
the usual digital-topology pairing: foreground parts are 8-connected and background regions
(holes) are 4-connected, so a diagonal chain of pixels is one part and never leaks a fill.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypedDict

import cv2
import numpy as np
import pycocotools.mask as coco_mask
from numpy.typing import ArrayLike, NDArray

from textmask_core.errors import MaskFormatError

logger = logging.getLogger(__name__)

Mask: TypeAlias = NDArray[np.bool_]


class CompressedRle(TypedDict):
    """A COCO compressed RLE ready for JSON: column-major runs, ``counts`` as ASCII text."""

    size: list[int]  # [height, width]
    counts: str


@dataclass(frozen=True)
class PolygonConversion:
    """The outer outlines of a mask as COCO polygons, and what they cannot represent."""

    polygons: list[list[float]]  # COCO flat [x0, y0, x1, y1, ...], each with >= 3 points
    has_holes: bool  # True if the mask has holes, which the polygons (a union) would fill
    dropped_parts: int  # outlines left out because they had < 3 points or zero area


def as_mask(array: ArrayLike) -> Mask:
    """Return ``array`` as a 2-D boolean mask, nonzero = inside.

    Raises ValueError for anything but a non-empty 2-D array and TypeError for float arrays,
    which are usually probabilities that still need a threshold.
    """
    values = np.asarray(array)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"A mask must be a non-empty 2-D array, got shape {values.shape}")
    if values.dtype == np.bool_:
        return values
    if not np.issubdtype(values.dtype, np.integer):
        raise TypeError(
            f"A mask must have dtype bool or an integer dtype, got {values.dtype}; "
            "threshold probabilities first, for example `probabilities >= 0.5`"
        )
    return values != 0


def _as_uint8(pixels: Mask) -> NDArray[np.uint8]:
    """Return the mask as a C-contiguous 0/1 uint8 array, the form OpenCV expects."""
    return np.ascontiguousarray(pixels, dtype=np.uint8)


# --- RLE ---------------------------------------------------------------------------------------


def encode_rle(mask: ArrayLike) -> CompressedRle:
    """Encode a mask as COCO compressed RLE with ``counts`` as text (JSON-ready)."""
    pixels = np.asfortranarray(as_mask(mask), dtype=np.uint8)
    rle = coco_mask.encode(pixels)
    height, width = (int(side) for side in rle["size"])
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: Mapping[str, Any]) -> Mask:
    """Decode a COCO RLE, compressed (``counts`` str or bytes) or uncompressed (list of ints).

    Raises MaskFormatError when the size is invalid, the counts are malformed or they do not sum
    to height * width. pycocotools checks none of this for counts that sum to less, and then
    returns pixels from uninitialised memory.
    """
    height, width = _rle_size(rle)
    counts = rle.get("counts")
    if isinstance(counts, list):
        _check_counts_sum(_checked_count_list(counts), height, width)
        compressed = coco_mask.frPyObjects(
            {"size": [height, width], "counts": counts}, height, width
        )
    elif isinstance(counts, (str, bytes)):
        text = counts.encode("ascii") if isinstance(counts, str) else counts
        _check_counts_sum(_parse_compressed_counts(text), height, width)
        compressed = {"size": [height, width], "counts": text}
    else:
        raise MaskFormatError(
            f"RLE counts must be a string or a list of ints, got {type(counts).__name__}"
        )
    return np.ascontiguousarray(coco_mask.decode(compressed), dtype=bool)


def _rle_size(rle: Mapping[str, Any]) -> tuple[int, int]:
    size = rle.get("size") if isinstance(rle, Mapping) else None
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or not all(_is_int(side) and side >= 0 for side in size)
    ):
        raise MaskFormatError(f"RLE size must be [height, width] with two ints >= 0, got {size!r}")
    return int(size[0]), int(size[1])


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _checked_count_list(counts: list[Any]) -> list[int]:
    if not all(_is_int(count) and count >= 0 for count in counts):
        raise MaskFormatError("Uncompressed RLE counts must all be ints >= 0")
    return [int(count) for count in counts]


def _check_counts_sum(counts: Sequence[int], height: int, width: int) -> None:
    total = sum(counts)
    if total != height * width:
        raise MaskFormatError(
            f"RLE counts sum to {total} but a {height}x{width} mask has {height * width} "
            "pixels; the annotation is corrupt or its size is wrong"
        )


def _parse_compressed_counts(text: bytes) -> list[int]:
    """Parse the COCO compressed counts string into run lengths.

    Each run length is stored in 6-bit characters (value + 48), least significant 5 bits first.
    Bit 0x20 marks that another character follows and bit 0x10 of the last one is the sign. From
    the fourth run on, the stored number is the difference to the run two places before.
    """
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise MaskFormatError("Compressed RLE counts end in the middle of a number")
            code = text[position] - 48
            if not 0 <= code < 64:
                raise MaskFormatError(
                    f"Compressed RLE counts contain invalid byte {text[position]}"
                )
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            position += 1
            shift += 5
            if not more and code & 0x10:
                value -= 1 << shift
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            raise MaskFormatError(f"Compressed RLE counts decode to a negative run ({value})")
        counts.append(value)
    return counts


# --- polygons ----------------------------------------------------------------------------------

# Cells of background around the edge grid, so that no outline touches the grid's border.
_EDGE_GRID_PADDING = 1


def mask_to_polygons(mask: ArrayLike) -> PolygonConversion:
    """Trace the outer outline of each 8-connected part as a COCO polygon.

    The outlines run along pixel edges, where pixel (x, y) spans [x, x+1] x [y, y+1]. So
    ``polygons_to_mask`` of a hole-free mask gives back exactly its pixels, while outlines
    through pixel centres would lose about half of every boundary pixel. Holes are detected
    but not traced, because COCO merges an annotation's polygons by union and cannot cut holes.
    """
    pixels = as_mask(mask)
    if not pixels.any():
        return PolygonConversion(polygons=[], has_holes=False, dropped_parts=0)
    x0, y0, width, height = bbox(pixels)
    edges = _edge_grid(pixels[y0 : y0 + height, x0 : x0 + width])
    contours, hierarchy = cv2.findContours(edges, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    polygons: list[list[float]] = []
    has_holes = False
    dropped_parts = 0
    for contour, (_, _, _, parent) in zip(contours, hierarchy[0], strict=True):
        if parent != -1:  # RETR_CCOMP gives every hole outline a parent
            has_holes = True
            continue
        corners = _corner_points(contour.reshape(-1, 2), edges)
        # The edge grid is padded by one cell and has two cells per pixel.
        points = (corners - _EDGE_GRID_PADDING) / 2.0 + np.array([x0, y0])
        if len(points) < 3 or _polygon_area(points) == 0:
            dropped_parts += 1
            continue
        polygons.append(points.reshape(-1).tolist())
    return PolygonConversion(polygons=polygons, has_holes=has_holes, dropped_parts=dropped_parts)


def _edge_grid(pixels: Mask) -> NDArray[np.uint8]:
    """Draw the mask at double resolution, where even rows and columns are pixel edges.

    Pixel (x, y) becomes the 3x3 block of cells 2x..2x+2, 2y..2y+2 (before padding), so the
    boundary cells of the result lie exactly on pixel edges and corners.
    """
    height, width = pixels.shape
    pad = _EDGE_GRID_PADDING
    grid = np.zeros((2 * height + 1 + 2 * pad, 2 * width + 1 + 2 * pad), dtype=np.uint8)
    grid[1 + pad : 2 * height + pad : 2, 1 + pad : 2 * width + pad : 2] = pixels
    return cv2.dilate(grid, np.ones((3, 3), dtype=np.uint8))


def _corner_points(path: NDArray[np.intc], grid: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Turn a traced outline into axis-aligned steps and keep only its corners.

    The 8-connected trace cuts each concave corner with a diagonal step. The cell at the corner
    is foreground, so two steps through that cell replace the diagonal one.
    """
    following = np.roll(path, -1, axis=0)
    diagonal = np.flatnonzero((following[:, 0] != path[:, 0]) & (following[:, 1] != path[:, 1]))
    elbow_x_first = np.stack([following[diagonal, 0], path[diagonal, 1]], axis=1)
    elbow_y_first = np.stack([path[diagonal, 0], following[diagonal, 1]], axis=1)
    use_x_first = grid[elbow_x_first[:, 1], elbow_x_first[:, 0]] != 0
    elbows = np.where(use_x_first[:, np.newaxis], elbow_x_first, elbow_y_first)
    steps = np.insert(path, diagonal + 1, elbows, axis=0).astype(np.float64)
    incoming = steps - np.roll(steps, 1, axis=0)
    outgoing = np.roll(steps, -1, axis=0) - steps
    turns = incoming[:, 0] * outgoing[:, 1] - incoming[:, 1] * outgoing[:, 0]
    reverses = (incoming * outgoing).sum(axis=1) < 0
    return steps[(turns != 0) | reverses]


def _polygon_area(points: NDArray[np.float64]) -> float:
    """Return the unsigned shoelace area of a closed polygon."""
    x, y = points[:, 0], points[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2.0


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> Mask:
    """Rasterise COCO polygons (flat x, y lists) with pycocotools; overlapping polygons unite.

    Raises MaskFormatError for a polygon with fewer than 3 points, an odd number of coordinates
    or non-finite values. pycocotools would read a 4-number polygon as a box.
    """
    for index, polygon in enumerate(polygons):
        _check_polygon(polygon, index)
    if not polygons:
        return np.zeros((height, width), dtype=bool)
    flat = [[float(value) for value in polygon] for polygon in polygons]
    rles = coco_mask.frPyObjects(flat, height, width)
    return np.ascontiguousarray(coco_mask.decode(coco_mask.merge(rles)), dtype=bool)


def _check_polygon(polygon: Sequence[float], index: int) -> None:
    if isinstance(polygon, (str, bytes)) or not isinstance(polygon, Sequence):
        raise MaskFormatError(f"Polygon {index} must be a list of numbers, got {polygon!r:.80}")
    if len(polygon) < 6 or len(polygon) % 2:
        raise MaskFormatError(
            f"Polygon {index} has {len(polygon)} coordinates; it needs an even number, at least "
            "6 (3 points)"
        )
    if not all(isinstance(value, (int, float, np.number)) for value in polygon):
        raise MaskFormatError(f"Polygon {index} contains a value that is not a number")
    if not np.isfinite(np.asarray(polygon, dtype=np.float64)).all():
        raise MaskFormatError(f"Polygon {index} contains a NaN or infinite coordinate")


# --- measurements ------------------------------------------------------------------------------


def bbox(mask: ArrayLike) -> tuple[int, int, int, int]:
    """Return the COCO box ``(x, y, width, height)`` around the nonzero pixels; zeros if empty."""
    pixels = as_mask(mask)
    rows = np.flatnonzero(pixels.any(axis=1))
    columns = np.flatnonzero(pixels.any(axis=0))
    if rows.size == 0:
        return 0, 0, 0, 0
    x, y = int(columns[0]), int(rows[0])
    return x, y, int(columns[-1]) - x + 1, int(rows[-1]) - y + 1


def area(mask: ArrayLike) -> int:
    """Return the number of pixels inside the mask."""
    return int(np.count_nonzero(as_mask(mask)))


def connected_components(mask: ArrayLike) -> list[Mask]:
    """Split a mask into its 8-connected parts, in raster order of each part's first pixel.

    Each part is a full-size mask, so a mask with thousands of specks needs that many copies;
    call ``remove_specks`` first on noisy masks.
    """
    pixels = as_mask(mask)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(_as_uint8(pixels), connectivity=8)
    parts: list[Mask] = []
    for label in range(1, count):
        # Compare labels only inside the part's box: far faster than whole-image compares.
        x, y, width, height = (int(value) for value in stats[label, :4])
        part = np.zeros(pixels.shape, dtype=bool)
        part[y : y + height, x : x + width] = labels[y : y + height, x : x + width] == label
        parts.append(part)
    return parts


# --- edits -------------------------------------------------------------------------------------


def fill_holes(mask: ArrayLike) -> Mask:
    """Fill every background region (4-connected) that does not touch the image border."""
    pixels = as_mask(mask)
    # A one-pixel frame of background joins all border-touching background into one region.
    framed = np.pad(_as_uint8(pixels), 1)
    cv2.floodFill(framed, None, (0, 0), 1, flags=4)
    outside_or_inside = framed[1:-1, 1:-1] != 0
    return pixels | ~outside_or_inside


def remove_specks(mask: ArrayLike, min_pixels: int) -> Mask:
    """Drop 8-connected parts with fewer than ``min_pixels`` pixels; holes are left as they are."""
    if min_pixels < 0:
        raise ValueError(f"min_pixels must be >= 0, got {min_pixels}")
    pixels = as_mask(mask)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(_as_uint8(pixels), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False  # label 0 is the background
    return keep[labels]


def grow(mask: ArrayLike, pixels: int) -> Mask:
    """Dilate the mask by ``pixels`` with a round (elliptical) kernel."""
    return _morphology(mask, pixels, cv2.dilate, "grow")


def shrink(mask: ArrayLike, pixels: int) -> Mask:
    """Erode the mask by ``pixels`` with a round (elliptical) kernel.

    Outside the image counts as inside here (OpenCV's default border for erosion), so an object
    cut by the image border does not shrink away from the border.
    """
    return _morphology(mask, pixels, cv2.erode, "shrink")


def _morphology(mask: ArrayLike, pixels: int, operation: Any, name: str) -> Mask:
    if pixels < 0:
        other = "shrink" if name == "grow" else "grow"
        raise ValueError(f"{name} needs pixels >= 0, got {pixels}; use {other} instead")
    values = as_mask(mask)
    if pixels == 0:
        return values.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return operation(_as_uint8(values), kernel) != 0


def flood_fill(mask: ArrayLike, x: int, y: int, value: bool) -> Mask:
    """Set the region around pixel (x, y) to ``value``, like a paint bucket.

    The region is the pixels connected to (x, y) with the same value: 8-connected when (x, y) is
    inside (erasing a part) and 4-connected when it is outside (filling a hole without leaking
    through diagonal gaps).
    """
    pixels = as_mask(mask)
    height, width = pixels.shape
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"Point ({x}, {y}) is outside the {width}x{height} mask")
    if bool(pixels[y, x]) == bool(value):
        return pixels.copy()
    connectivity = 8 if pixels[y, x] else 4
    canvas = pixels.astype(np.uint8)
    cv2.floodFill(canvas, None, (int(x), int(y)), int(bool(value)), flags=connectivity)
    return canvas != 0
