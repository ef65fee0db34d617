"""Mask helpers: RLE, polygons, measurements and edits, checked against pycocotools and numpy."""

from __future__ import annotations

import cv2
import numpy as np
import pycocotools.mask as coco_mask
import pytest

from textmask_core.errors import MaskFormatError
from textmask_core.imageio import load_mask
from textmask_core.masks import (
    area,
    as_mask,
    bbox,
    connected_components,
    decode_rle,
    encode_rle,
    fill_holes,
    flood_fill,
    grow,
    mask_to_polygons,
    polygons_to_mask,
    remove_specks,
    shrink,
)


@pytest.fixture
def donut(cases_dir):
    return load_mask(cases_dir / "mask_donut.png")


@pytest.fixture
def sliver(cases_dir):
    return load_mask(cases_dir / "mask_sliver_1x5.png")


@pytest.fixture
def two_parts(cases_dir):
    return load_mask(cases_dir / "mask_two_parts.png")


def _random_masks(count: int, seed: int = 0):
    """Yield noisy masks and smooth blobs of random sizes, including 1-pixel-wide ones."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        height, width = (int(side) for side in rng.integers(1, 60, size=2))
        if index % 2:
            noise = rng.random((height, width)).astype(np.float32)
            yield cv2.GaussianBlur(noise, (0, 0), 2.0) > 0.5
        else:
            yield rng.random((height, width)) < rng.uniform(0.1, 0.9)


def _column_major_runs(mask: np.ndarray) -> list[int]:
    """Count runs down the columns, starting with a (possibly empty) run of zeros."""
    runs, current, length = [], False, 0
    for value in mask.T.reshape(-1):
        if value == current:
            length += 1
        else:
            runs.append(length)
            current, length = bool(value), 1
    runs.append(length)
    return runs


# --- RLE ---------------------------------------------------------------------------------------


def test_rle_round_trip_fixtures(donut, sliver, two_parts):
    for mask in (donut, sliver, two_parts):
        rle = encode_rle(mask)
        assert isinstance(rle["counts"], str)
        assert rle["size"] == [mask.shape[0], mask.shape[1]]
        np.testing.assert_array_equal(decode_rle(rle), mask)
        pycoco_rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
        assert int(coco_mask.area(pycoco_rle)) == int(mask.sum())


def test_rle_round_trip_random():
    for mask in _random_masks(60):
        rle = encode_rle(mask)
        np.testing.assert_array_equal(decode_rle(rle), mask)
        assert decode_rle({"size": rle["size"], "counts": rle["counts"].encode()}).dtype == bool


def test_rle_accepts_uncompressed_counts(two_parts):
    counts = _column_major_runs(two_parts)

    decoded = decode_rle({"size": list(two_parts.shape), "counts": counts})

    np.testing.assert_array_equal(decoded, two_parts)


def test_rle_encodes_empty_and_full():
    for mask in (np.zeros((3, 4), dtype=bool), np.ones((3, 4), dtype=bool)):
        np.testing.assert_array_equal(decode_rle(encode_rle(mask)), mask)


@pytest.mark.parametrize("counts", [[5, 2], [5, 2, 2, 2, 100]])
def test_rle_uncompressed_wrong_sum(counts):
    with pytest.raises(MaskFormatError) as caught:
        decode_rle({"size": [4, 5], "counts": counts})

    assert str(sum(counts)) in str(caught.value)
    assert "20" in str(caught.value)


def test_rle_compressed_wrong_sum(two_parts):
    left_part = encode_rle(two_parts[:, :100])["counts"]
    counts = encode_rle(two_parts)["counts"]

    with pytest.raises(MaskFormatError, match="sum to 12000 but a 120x160 mask has 19200"):
        decode_rle({"size": [120, 160], "counts": left_part})
    with pytest.raises(MaskFormatError, match="sum to 19200"):
        decode_rle({"size": [119, 160], "counts": counts})


@pytest.mark.parametrize(
    "rle",
    [
        {"size": [4], "counts": "1"},
        {"size": [4, -5], "counts": [0]},
        {"size": [4, 5], "counts": None},
        {"size": [4, 5], "counts": "\x01"},
        {"size": [4, 5], "counts": "4o"},  # ends inside a multi-character number
        {"size": [4, 5], "counts": [10, -1, 11]},
        {"size": [4, 5], "counts": [10.0, 10]},
        {"counts": "1"},
    ],
)
def test_rle_malformed(rle):
    with pytest.raises(MaskFormatError):
        decode_rle(rle)


# --- polygons ----------------------------------------------------------------------------------


def test_polygons_exact_for_hole_free_masks():
    for mask in _random_masks(120, seed=1):
        height, width = mask.shape
        conversion = mask_to_polygons(mask)

        rasterised = polygons_to_mask(conversion.polygons, height, width)

        np.testing.assert_array_equal(rasterised, fill_holes(mask))
        assert conversion.has_holes == bool((fill_holes(mask) & ~mask).any())
        assert conversion.dropped_parts == 0
        for polygon in conversion.polygons:
            assert len(polygon) >= 6
            assert len(polygon) % 2 == 0
            assert all(float(value).is_integer() for value in polygon)  # pixel corners


def test_polygon_of_donut_reports_hole(donut):
    conversion = mask_to_polygons(donut)

    assert conversion.has_holes
    assert len(conversion.polygons) == 1
    filled = polygons_to_mask(conversion.polygons, *donut.shape)
    assert int(filled.sum()) == 10_000  # the outline alone covers the hole


def test_polygon_of_sliver_has_four_corners(sliver):
    conversion = mask_to_polygons(sliver)
    ys, xs = np.nonzero(sliver)
    x0, y0 = int(xs.min()), int(ys.min())

    assert len(conversion.polygons) == 1
    corners = sorted(zip(conversion.polygons[0][::2], conversion.polygons[0][1::2], strict=True))
    assert corners == [(x0, y0), (x0, y0 + 1), (x0 + 5, y0), (x0 + 5, y0 + 1)]
    np.testing.assert_array_equal(polygons_to_mask(conversion.polygons, 64, 64), sliver)


def test_single_pixel_and_diagonal_pixels():
    mask = np.zeros((5, 5), dtype=bool)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = True

    conversion = mask_to_polygons(mask)

    assert len(conversion.polygons) == 1  # diagonal neighbours are one 8-connected part
    np.testing.assert_array_equal(polygons_to_mask(conversion.polygons, 5, 5), mask)


def test_polygons_of_two_parts(two_parts):
    conversion = mask_to_polygons(two_parts)

    assert len(conversion.polygons) == 2
    assert not conversion.has_holes
    np.testing.assert_array_equal(
        polygons_to_mask(conversion.polygons, *two_parts.shape), two_parts
    )


def test_polygons_of_empty_mask():
    conversion = mask_to_polygons(np.zeros((4, 4), dtype=bool))

    assert conversion.polygons == []
    assert not conversion.has_holes
    assert not polygons_to_mask([], 4, 4).any()


@pytest.mark.parametrize(
    "polygon",
    [[0, 0, 4, 4], [0, 0, 4, 0, 4], [0, 0, 4, 0, float("nan"), 4], ["0", 0, 4, 0, 4, 4]],
)
def test_polygons_to_mask_rejects_invalid(polygon):
    with pytest.raises(MaskFormatError, match="Polygon 0"):
        polygons_to_mask([polygon], 8, 8)


# --- measurements ------------------------------------------------------------------------------


def test_bbox_and_area_match_numpy(donut, sliver, two_parts):
    for mask in (donut, sliver, two_parts):
        ys, xs = np.nonzero(mask)
        expected = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert bbox(mask) == tuple(int(value) for value in expected)
        assert area(mask) == len(xs)


def test_bbox_matches_pycocotools(two_parts):
    rle = encode_rle(two_parts)
    pycoco_rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}

    assert list(bbox(two_parts)) == [int(value) for value in coco_mask.toBbox(pycoco_rle)]


def test_bbox_of_empty_mask():
    assert bbox(np.zeros((3, 3), dtype=bool)) == (0, 0, 0, 0)
    assert area(np.zeros((3, 3), dtype=bool)) == 0


def test_connected_components(two_parts):
    parts = connected_components(two_parts)

    assert len(parts) == 2
    assert not (parts[0] & parts[1]).any()
    np.testing.assert_array_equal(parts[0] | parts[1], two_parts)
    assert sorted(area(part) for part in parts) == [1200, 2000]
    first_pixels = [np.flatnonzero(part.reshape(-1))[0] for part in parts]
    assert first_pixels == sorted(first_pixels)


def test_components_join_diagonal_neighbours():
    mask = np.eye(4, dtype=bool)

    assert len(connected_components(mask)) == 1
    assert connected_components(np.zeros((2, 2), dtype=bool)) == []


def test_as_mask_rejects_floats_and_wrong_shapes():
    with pytest.raises(TypeError, match="threshold"):
        as_mask(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="2-D"):
        as_mask(np.zeros((2, 2, 1), dtype=bool))
    np.testing.assert_array_equal(as_mask(np.array([[0, 255]], dtype=np.uint8)), [[False, True]])


# --- edits -------------------------------------------------------------------------------------


def test_fill_holes_donut(donut):
    filled = fill_holes(donut)

    assert area(filled) == 10_000
    assert (filled >= donut).all()


def test_fill_holes_keeps_bays_open_to_border():
    mask = np.zeros((6, 6), dtype=bool)
    mask[:, 1] = mask[:, 4] = True
    mask[5, 1:5] = True  # a U shape whose opening touches the top border

    np.testing.assert_array_equal(fill_holes(mask), mask)


def test_fill_holes_inside_diagonal_ring():
    # A diamond of diagonal steps is closed for the 8-connected foreground.
    mask = np.zeros((5, 5), dtype=bool)
    for y, x in [(0, 2), (1, 1), (1, 3), (2, 0), (2, 4), (3, 1), (3, 3), (4, 2)]:
        mask[y, x] = True

    filled = fill_holes(mask)

    assert filled[2, 2]
    assert filled[1, 2]
    assert filled[2, 1]
    assert not filled[0, 0]


def test_remove_specks(two_parts, donut):
    remaining = remove_specks(two_parts, 1500)

    assert area(remaining) == 2000
    assert (remaining <= two_parts).all()
    np.testing.assert_array_equal(remove_specks(two_parts, 0), two_parts)
    np.testing.assert_array_equal(remove_specks(donut, 100), donut)  # the hole stays
    assert not remove_specks(two_parts, 10_000).any()
    with pytest.raises(ValueError, match="min_pixels"):
        remove_specks(two_parts, -1)


def test_grow_is_round():
    point = np.zeros((21, 21), dtype=bool)
    point[10, 10] = True

    grown = grow(point, 5)

    ys, xs = np.nonzero(grown)
    distances = np.hypot(ys - 10, xs - 10)
    assert distances.max() <= 5.5
    assert grown[10, 15]
    assert grown[15, 10]
    assert grown[10, 5]
    assert not grown[15, 15]  # a square kernel would include the corner


def test_shrink_undoes_grow_of_a_square():
    square = np.zeros((30, 30), dtype=bool)
    square[10:20, 8:22] = True

    np.testing.assert_array_equal(shrink(grow(square, 3), 3), square)
    assert area(shrink(square, 2)) == 6 * 10


def test_shrink_keeps_image_border():
    mask = np.zeros((10, 10), dtype=bool)
    mask[:, :4] = True  # cut by the left border

    shrunk = shrink(mask, 1)

    assert shrunk[5, 0]
    assert shrunk[5, 2]
    assert not shrunk[5, 3]


def test_grow_and_shrink_zero_and_negative(two_parts):
    np.testing.assert_array_equal(grow(two_parts, 0), two_parts)
    np.testing.assert_array_equal(shrink(two_parts, 0), two_parts)
    with pytest.raises(ValueError, match="shrink"):
        grow(two_parts, -2)
    with pytest.raises(ValueError, match="grow"):
        shrink(two_parts, -2)


def test_flood_fill_donut_hole(donut):
    filled = flood_fill(donut, 100, 100, True)

    assert area(filled) == 10_000
    assert area(donut) == 8400  # the input is not changed


def test_flood_fill_erases_one_part(two_parts):
    first, second = connected_components(two_parts)
    ys, xs = np.nonzero(first)

    erased = flood_fill(two_parts, int(xs[0]), int(ys[0]), False)

    np.testing.assert_array_equal(erased, second)


def test_flood_fill_does_not_leak_through_diagonal_gaps():
    mask = np.zeros((5, 5), dtype=bool)
    for y, x in [(0, 2), (1, 1), (1, 3), (2, 0), (2, 4), (3, 1), (3, 3), (4, 2)]:
        mask[y, x] = True

    filled = flood_fill(mask, 2, 2, True)

    np.testing.assert_array_equal(filled, fill_holes(mask))
    erased = flood_fill(mask, 2, 0, False)
    assert not erased.any()  # the diagonal ring is one 8-connected part


def test_flood_fill_same_value_and_bounds(two_parts):
    np.testing.assert_array_equal(flood_fill(two_parts, 0, 0, False), two_parts)
    with pytest.raises(ValueError, match="outside"):
        flood_fill(two_parts, 160, 0, True)
    with pytest.raises(ValueError, match="outside"):
        flood_fill(two_parts, 0, -1, True)
