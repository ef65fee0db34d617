"""Pure geometry of the canvas: rectangles, brush footprints, polygons, hit tests and zoom steps.

Coordinates are image coordinates in pixels: x to the right, y down, and pixel (col, row)
covers the square [col, col + 1) × [row, row + 1), so its centre is (col + 0.5, row + 0.5).
A pixel belongs to a brush stroke or a polygon when its centre does. Nothing here imports Qt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

MIN_BRUSH_SIZE = 1
MAX_BRUSH_SIZE = 2000  # pixels
MIN_ZOOM = 0.01
MAX_ZOOM = 64.0
WHEEL_ZOOM_FACTOR = 1.25  # zoom factor per wheel notch (120 eighths of a degree)


@dataclass(frozen=True)
class PixelRect:
    """A rectangle of whole pixels: columns [x, x + width) and rows [y, y + height)."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def from_bounds(cls, left: int, top: int, right: int, bottom: int) -> PixelRect:
        """Build the rectangle of columns [left, right) and rows [top, bottom)."""
        return cls(left, top, max(0, right - left), max(0, bottom - top))

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def is_empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    @property
    def area(self) -> int:
        return 0 if self.is_empty else self.width * self.height

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices that index this rectangle in an H×W array."""
        return slice(self.y, self.bottom), slice(self.x, self.right)

    def united(self, other: PixelRect | None) -> PixelRect:
        """Return the bounding rectangle of both; an empty or missing rectangle adds nothing."""
        if other is None or other.is_empty:
            return self
        if self.is_empty:
            return other
        return PixelRect.from_bounds(
            min(self.x, other.x),
            min(self.y, other.y),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def intersected(self, other: PixelRect) -> PixelRect:
        return PixelRect.from_bounds(
            max(self.x, other.x),
            max(self.y, other.y),
            min(self.right, other.right),
            min(self.bottom, other.bottom),
        )

    def translated(self, dx: int, dy: int) -> PixelRect:
        return PixelRect(self.x + dx, self.y + dy, self.width, self.height)


@dataclass(frozen=True, eq=False)
class PixelPatch:
    """Boolean values for the pixels of `rect`; `values` has shape (rect.height, rect.width)."""

    rect: PixelRect
    values: NDArray[np.bool_]


def image_rect(width: int, height: int) -> PixelRect:
    return PixelRect(0, 0, width, height)


def pixel_at(x: float, y: float, width: int, height: int) -> tuple[int, int] | None:
    """Return the (col, row) of the pixel that contains image point (x, y), or None outside."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    col = math.floor(x)
    row = math.floor(y)
    if 0 <= col < width and 0 <= row < height:
        return col, row
    return None


def bounding_rect(mask: NDArray[np.bool_]) -> PixelRect | None:
    """Return the smallest rectangle that contains every True pixel, or None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return PixelRect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def changed_rect(before: NDArray[np.bool_], after: NDArray[np.bool_]) -> PixelRect | None:
    """Return the bounding rectangle of the pixels where `before` and `after` differ."""
    if before.shape != after.shape:
        raise ValueError(f"Cannot compare masks of shapes {before.shape} and {after.shape}.")
    return bounding_rect(before != after)


def snap_brush_centre(x: float, y: float, size: int) -> tuple[float, float]:
    """Move a brush centre to where a brush of `size` pixels covers a symmetric pixel block.

    An odd size centres on the pixel under the point, so size 1 paints exactly that pixel. An even
    size centres on the nearest pixel corner, so size 2 paints the 2×2 block around it.
    """
    if size % 2 == 1:
        return math.floor(x) + 0.5, math.floor(y) + 0.5
    return float(round(x)), float(round(y))


def segment_bounds(
    start: tuple[float, float], end: tuple[float, float], size: int, width: int, height: int
) -> PixelRect:
    """Return the pixels a brush stroke segment can touch, clipped to a width × height image."""
    radius = size / 2
    left = math.floor(min(start[0], end[0]) - radius)
    top = math.floor(min(start[1], end[1]) - radius)
    right = math.ceil(max(start[0], end[0]) + radius)
    bottom = math.ceil(max(start[1], end[1]) + radius)
    return PixelRect.from_bounds(left, top, right, bottom).intersected(image_rect(width, height))


def brush_segment(
    start: tuple[float, float], end: tuple[float, float], size: int, width: int, height: int
) -> PixelPatch | None:
    """Rasterise a round brush of diameter `size` dragged from `start` to `end`.

    Both points are brush centres in image coordinates (see snap_brush_centre). A pixel is inside
    when its centre lies within size / 2 of the segment. Only the segment's bounding rectangle is
    computed, so the cost depends on the brush and the segment, never on the image size.
    Returns None when the segment lies outside the image.
    """
    validate_brush_size(size)
    rect = segment_bounds(start, end, size, width, height)
    if rect.is_empty:
        return None
    # The brush shape (a capsule) is convex, so each row of it is one run of pixels. Computing
    # the runs' ends per row and filling them costs far less than a distance per pixel.
    centre_y = np.arange(rect.y, rect.bottom, dtype=np.float64) + 0.5
    left, right = _capsule_row_bounds(centre_y, start, end, size / 2)
    # First and last column whose centres lie in [left, right], relative to the rectangle and
    # clipped to it, so that int32 comparisons suffice (they halve the memory traffic).
    first = np.clip(np.ceil(left - 0.5) - rect.x, 0, rect.width).astype(np.int32)
    last = np.clip(np.floor(right - 0.5) - rect.x, -1, rect.width - 1).astype(np.int32)
    columns = np.arange(rect.width, dtype=np.int32)
    values = (columns >= first[:, None]) & (columns <= last[:, None])
    return PixelPatch(rect, values)


def _capsule_row_bounds(
    centre_y: NDArray[np.float64],
    start: tuple[float, float],
    end: tuple[float, float],
    radius: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return, per row centre y, the x range of the points within `radius` of the segment.

    The capsule is the union of the two end disks and the band of points whose projection falls
    on the segment. Its row range is the hull of the three shapes' row ranges, because a row
    of a convex set is one interval. Rows that miss it get left = inf and right = -inf.
    """
    left = np.full(centre_y.shape, np.inf)
    right = np.full(centre_y.shape, -np.inf)
    for centre_x, disk_y in (start, end):
        half_width_squared = radius * radius - (centre_y - disk_y) ** 2
        inside = half_width_squared >= 0
        half_width = np.sqrt(np.where(inside, half_width_squared, 0.0))
        left = np.where(inside, np.minimum(left, centre_x - half_width), left)
        right = np.where(inside, np.maximum(right, centre_x + half_width), right)
    band_left, band_right = _band_row_bounds(centre_y, start, end, radius)
    inside = band_left <= band_right
    left = np.where(inside, np.minimum(left, band_left), left)
    right = np.where(inside, np.maximum(right, band_right), right)
    return left, right


def _band_row_bounds(
    centre_y: NDArray[np.float64],
    start: tuple[float, float],
    end: tuple[float, float],
    radius: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return, per row, the x range where the projection parameter t is in [0, 1] and the
    perpendicular distance to the segment's line is at most `radius`.
    """
    step_x = end[0] - start[0]
    step_y = end[1] - start[1]
    length = math.hypot(step_x, step_y)
    if length == 0:
        return np.full(centre_y.shape, np.inf), np.full(centre_y.shape, -np.inf)
    low = np.full(centre_y.shape, -np.inf)
    high = np.full(centre_y.shape, np.inf)
    offset_y = centre_y - start[1]
    # Both conditions are linear in x: t = ((x - x0) * step_x + offset_y * step_y) / length**2
    # and perpendicular = ((x - x0) * step_y - offset_y * step_x) / length.
    for slope, constant, lower, upper in (
        (step_x, offset_y * step_y, 0.0, length * length),
        (step_y, -offset_y * step_x, -radius * length, radius * length),
    ):
        if slope == 0:
            outside = (constant < lower) | (constant > upper)
            low = np.where(outside, np.inf, low)
            continue
        bound_a = start[0] + (lower - constant) / slope
        bound_b = start[0] + (upper - constant) / slope
        low = np.maximum(low, np.minimum(bound_a, bound_b))
        high = np.minimum(high, np.maximum(bound_a, bound_b))
    return low, high


def validate_brush_size(size: int) -> None:
    if not MIN_BRUSH_SIZE <= size <= MAX_BRUSH_SIZE:
        raise ValueError(
            f"Brush size {size} px is out of range: use {MIN_BRUSH_SIZE} to {MAX_BRUSH_SIZE} px."
        )


def next_brush_size(size: int, direction: int) -> int:
    """Return the brush size one `[` (direction -1) or `]` (direction +1) step away.

    Steps are about 25 % so that a few presses cover the whole range, and at least 1 px.
    """
    if direction > 0:
        stepped = max(size + 1, round(size * 1.25))
    else:
        stepped = min(size - 1, round(size / 1.25))
    return min(MAX_BRUSH_SIZE, max(MIN_BRUSH_SIZE, stepped))


def rasterise_polygon(
    points: Sequence[tuple[float, float]], width: int, height: int
) -> PixelPatch | None:
    """Rasterise a closed polygon with the even-odd rule, sampling at pixel centres.

    `points` are vertices in image coordinates; the last connects back to the first. OpenCV's
    fillPoly is not used because it also colours every pixel an edge passes through, which makes
    a polygon grow by up to a pixel on each side. Returns None when no pixel centre is inside.
    """
    vertices = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(vertices) < 3 or not np.isfinite(vertices).all():
        return None
    left, top = (math.floor(value) for value in vertices.min(axis=0))
    right, bottom = (math.ceil(value) for value in vertices.max(axis=0))
    rect = PixelRect.from_bounds(left, top, right, bottom).intersected(image_rect(width, height))
    if rect.is_empty:
        return None
    rows, crossing_x = _edge_crossings(vertices, rect)
    # Toggle at the first pixel whose centre lies right of each crossing, then an exclusive-or
    # scan along each row marks the pixels with an odd number of crossings to their left.
    toggles = np.zeros((rect.height, rect.width + 1), dtype=np.uint8)
    columns = np.clip(np.ceil(crossing_x - 0.5).astype(np.int64) - rect.x, 0, rect.width)
    np.bitwise_xor.at(toggles, (rows - rect.y, columns), 1)
    inside = np.bitwise_xor.accumulate(toggles[:, : rect.width], axis=1).astype(bool)
    if not inside.any():
        return None
    return PixelPatch(rect, inside)


def _edge_crossings(
    vertices: NDArray[np.float64], rect: PixelRect
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Return, for every edge and every row centre it crosses inside `rect`, the row and x."""
    start = vertices
    end = np.roll(vertices, -1, axis=0)
    low_y = np.minimum(start[:, 1], end[:, 1])
    high_y = np.maximum(start[:, 1], end[:, 1])
    # Half-open in y: an edge crosses row centre cy when low_y <= cy < high_y, so a vertex shared
    # by two edges counts once and horizontal edges never count.
    first_row = np.maximum(np.ceil(low_y - 0.5).astype(np.int64), rect.y)
    stop_row = np.minimum(np.ceil(high_y - 0.5).astype(np.int64), rect.bottom)
    counts = np.maximum(stop_row - first_row, 0)
    edge_index = np.repeat(np.arange(len(vertices)), counts)
    row_offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = first_row[edge_index] + row_offset
    centre_y = rows + 0.5
    x0, y0 = start[edge_index, 0], start[edge_index, 1]
    x1, y1 = end[edge_index, 0], end[edge_index, 1]
    crossing_x = x0 + (centre_y - y0) * (x1 - x0) / (y1 - y0)
    return rows, crossing_x


def mask_outline(mask: NDArray[np.bool_], rect: PixelRect) -> NDArray[np.bool_]:
    """Return, for the pixels of `rect`, which mask pixels have a 4-connected neighbour outside.

    Neighbours beyond `rect` are read from `mask`. Neighbours beyond the image count as inside,
    so an object cut by the image border gets no outline along the border.
    """
    image = image_rect(mask.shape[1], mask.shape[0])
    padded = PixelRect(rect.x - 1, rect.y - 1, rect.width + 2, rect.height + 2).intersected(image)
    values = mask[padded.slices].view(np.uint8)
    # OpenCV's default border for erosion is the maximum value: outside counts as inside.
    eroded = cv2.erode(values, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
    inner = rect.translated(-padded.x, -padded.y)
    return (values[inner.slices] != 0) & (eroded[inner.slices] == 0)


def threshold_probabilities(
    probabilities: NDArray[np.float32], threshold: float, out: NDArray[np.bool_] | None = None
) -> NDArray[np.bool_]:
    """Return probabilities >= threshold, written into `out` when given (no new allocation)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"Threshold {threshold} is out of range: use a value from 0 to 1.")
    return np.greater_equal(probabilities, np.float32(threshold), out=out)


def clamp_zoom(scale: float) -> float:
    return min(MAX_ZOOM, max(MIN_ZOOM, scale))


def wheel_zoom(scale: float, angle_delta: int) -> float:
    """Return the zoom after a wheel turn of `angle_delta` eighths of a degree (120 per notch)."""
    return clamp_zoom(scale * WHEEL_ZOOM_FACTOR ** (angle_delta / 120))


def fit_zoom(image_width: int, image_height: int, view_width: int, view_height: int) -> float:
    """Return the largest zoom at which the whole image fits the view."""
    if image_width <= 0 or image_height <= 0:
        raise ValueError(f"Cannot fit an image of {image_width}×{image_height} px.")
    scale = min(max(view_width, 1) / image_width, max(view_height, 1) / image_height)
    return clamp_zoom(scale)
