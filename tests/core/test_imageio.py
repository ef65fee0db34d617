"""Image loading: orientation, colour modes, unreadable files, pixel limit, paths, mask files."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textmask_core import imageio
from textmask_core.errors import ImageReadError, ImageTooLargeError
from textmask_core.imageio import (
    ALPHA_BACKGROUND_RGB,
    list_images,
    load_image,
    load_mask,
    load_thumbnail,
    read_image_size,
    save_mask_png,
)

RED = np.array([250, 40, 40])


@pytest.fixture(autouse=True)
def _default_pixel_limit(monkeypatch):
    """Start every test with no pixel-limit setting and no environment override."""
    monkeypatch.delenv(imageio.MAX_PIXELS_ENV_VAR, raising=False)
    imageio.set_max_pixels(None)
    yield
    imageio.set_max_pixels(None)


def _red_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """Return (left, top, right, bottom) of the clearly red pixels."""
    red = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] < 80) & (pixels[:, :, 2] < 80)
    rows, columns = np.nonzero(red)
    return int(columns.min()), int(rows.min()), int(columns.max()), int(rows.max())


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """Write a PNG whose header claims width x height but contains no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


# --- orientation -------------------------------------------------------------------------------


def test_exif_orientation6_loads_portrait(cases_dir):
    image = load_image(cases_dir / "exif_orientation6.jpg")

    assert (image.width, image.height) == (480, 640)
    assert image.pixels.shape == (640, 480, 3)
    left, top, right, bottom = _red_box(image.pixels)
    assert left > image.width // 2  # right half
    assert bottom < image.height // 2  # top half
    assert np.abs(image.pixels[(top + bottom) // 2, (left + right) // 2] - RED).max() < 20
    assert np.abs(image.pixels[20, 20].astype(int) - RED).max() > 100


def test_exif_orientation6_size_matches_load(cases_dir):
    path = cases_dir / "exif_orientation6.jpg"

    assert read_image_size(path) == (480, 640)
    thumbnail = load_thumbnail(path, 100)
    assert (thumbnail.width, thumbnail.height) == (75, 100)
    left, _, _, bottom = _red_box(thumbnail.pixels)
    assert left > thumbnail.width // 2
    assert bottom < thumbnail.height // 2


_ORIENTATION_TRANSFORMS = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: np.rot90(a, k=2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, k=1),
}


@pytest.mark.parametrize("orientation", sorted(_ORIENTATION_TRANSFORMS))
def test_every_exif_orientation(tmp_path, orientation):
    stored = np.random.default_rng(orientation).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"orientation{orientation}.png"
    Image.fromarray(stored).save(path, exif=exif.tobytes())

    expected = _ORIENTATION_TRANSFORMS[orientation](stored)
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.pixels, expected)
    assert read_image_size(path) == (expected.shape[1], expected.shape[0])
    assert load_mask(path).shape == expected.shape[:2]


# --- colour modes ------------------------------------------------------------------------------


def test_rgba_composited_on_background(cases_dir):
    path = cases_dir / "rgba_transparent.png"
    with Image.open(path) as original:
        rgba = np.array(original)

    image = load_image(path)

    assert image.source_mode == "RGBA"
    transparent = rgba[:, :, 3] == 0
    opaque = rgba[:, :, 3] == 255
    assert transparent.any()
    assert (image.pixels[transparent] == ALPHA_BACKGROUND_RGB).all()
    np.testing.assert_array_equal(image.pixels[opaque], rgba[opaque][:, :3])
    assert (image.width, image.height) == (rgba.shape[1], rgba.shape[0])


def test_half_transparent_pixels_blend(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[:, :, 0] = 255
    rgba[:, :, 3] = 128
    Image.fromarray(rgba).save(tmp_path / "half.png")

    pixels = load_image(tmp_path / "half.png").pixels

    expected = np.rint((np.array([255, 0, 0]) * 128 + np.array(ALPHA_BACKGROUND_RGB) * 127) / 255)
    np.testing.assert_array_equal(pixels[0, 0], expected)


def test_palette_image_matches_pillow_rgb(cases_dir):
    path = cases_dir / "palette.png"
    with Image.open(path) as original:
        expected = np.array(original.convert("RGB"))

    image = load_image(path)

    assert image.source_mode == "P"
    np.testing.assert_array_equal(image.pixels, expected)


def test_palette_with_transparency(tmp_path):
    indices = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    image = Image.frombytes("P", (2, 2), indices.tobytes())
    image.putpalette([0, 0, 255, 0, 255, 0])
    image.save(tmp_path / "p.png", transparency=0)

    pixels = load_image(tmp_path / "p.png").pixels

    assert tuple(pixels[0, 0]) == ALPHA_BACKGROUND_RGB
    assert tuple(pixels[0, 1]) == (0, 255, 0)


def test_grayscale_becomes_three_equal_channels(cases_dir):
    path = cases_dir / "grayscale.jpg"
    with Image.open(path) as original:
        gray = np.array(original)

    image = load_image(path)

    assert image.source_mode == "L"
    assert image.pixels.shape == (*gray.shape, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image.pixels[:, :, channel], gray)


def test_gray_with_alpha(tmp_path):
    pixels = np.array([[[200, 255], [200, 0]]], dtype=np.uint8)
    Image.fromarray(pixels, mode="LA").save(tmp_path / "la.png")

    loaded = load_image(tmp_path / "la.png").pixels

    assert tuple(loaded[0, 0]) == (200, 200, 200)
    assert tuple(loaded[0, 1]) == ALPHA_BACKGROUND_RGB


def test_cmyk_colours_are_right(cases_dir):
    # The CMYK file shows the same scene as rgba_transparent.png: a red box on a gradient.
    image = load_image(cases_dir / "cmyk.jpg")

    assert image.source_mode == "CMYK"
    assert (image.width, image.height) == (640, 480)
    left, top, right, bottom = _red_box(image.pixels)
    centre = image.pixels[(top + bottom) // 2, (left + right) // 2].astype(int)
    assert np.abs(centre - RED).max() < 20
    assert (right - left, bottom - top) > (50, 50)
    # The gradient's blue channel is about 90 everywhere outside the box.
    assert abs(int(image.pixels[400, 600, 2]) - 90) < 15


def test_16bit_gray_scaled_by_range(tmp_path):
    values = np.array([[0, 1000, 2000, 4000]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")

    image = load_image(tmp_path / "deep.png")

    assert image.source_mode.startswith("I")
    np.testing.assert_array_equal(image.pixels[0, :, 0], [0, 64, 128, 255])
    np.testing.assert_array_equal(image.pixels[:, :, 0], image.pixels[:, :, 2])


def test_float_image_scaled_with_zero_black(tmp_path):
    values = np.array([[-1.0, 0.0, 0.5, 1.0, np.nan]], dtype=np.float32)
    Image.fromarray(values).save(tmp_path / "float.tiff")

    image = load_image(tmp_path / "float.tiff")

    assert image.source_mode == "F"
    np.testing.assert_array_equal(image.pixels[0, :, 1], [0, 128, 191, 255, 0])


def test_32bit_positive_values_keep_zero_black(tmp_path):
    values = np.array([[0, 50_000, 100_000]], dtype=np.int32)
    Image.fromarray(values).save(tmp_path / "int.tiff")

    image = load_image(tmp_path / "int.tiff")

    assert image.source_mode == "I"
    np.testing.assert_array_equal(image.pixels[0, :, 0], [0, 128, 255])


def test_constant_16bit_image_is_white_not_black(tmp_path):
    Image.fromarray(np.full((3, 3), 700, dtype=np.uint16)).save(tmp_path / "flat.png")

    assert (load_image(tmp_path / "flat.png").pixels == 255).all()


def test_pixels_are_contiguous_rgb_uint8(cases_dir):
    for name in ("palette.png", "grayscale.jpg", "cmyk.jpg", "exif_orientation6.jpg"):
        pixels = load_image(cases_dir / name).pixels
        assert pixels.dtype == np.uint8, name
        assert pixels.ndim == 3, name
        assert pixels.shape[2] == 3, name
        assert pixels.flags.c_contiguous, name


# --- unreadable files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason_word"),
    [("truncated.jpg", "truncated"), ("empty.png", "empty"), ("not_an_image.jpg", "not an image")],
)
def test_unreadable_files_raise_with_reason(cases_dir, name, reason_word):
    path = cases_dir / name

    for reader in (load_image, load_mask, lambda p: load_thumbnail(p, 64)):
        with pytest.raises(ImageReadError) as caught:
            reader(path)
        assert caught.value.path == path
        assert reason_word in caught.value.reason
        assert str(path) in str(caught.value)


def test_header_readers_reject_non_images(cases_dir):
    for name in ("empty.png", "not_an_image.jpg"):
        with pytest.raises(ImageReadError):
            read_image_size(cases_dir / name)


def test_missing_file_raises(tmp_path):
    with pytest.raises(ImageReadError, match="does not exist"):
        load_image(tmp_path / "gone.jpg")


def test_folder_named_like_image_raises(tmp_path):
    (tmp_path / "folder.jpg").mkdir()

    with pytest.raises(ImageReadError, match="folder"):
        load_image(tmp_path / "folder.jpg")


# --- paths -------------------------------------------------------------------------------------


def test_paths_with_spaces_and_non_ascii(cases_dir, tmp_path):
    folder = tmp_path / "dossier été 写真"
    folder.mkdir()
    path = folder / "photo ñ 1.jpg"
    shutil.copy(cases_dir / "exif_orientation6.jpg", path)

    assert load_image(path).pixels.shape == (640, 480, 3)
    assert read_image_size(path) == (480, 640)
    assert load_thumbnail(path, 32).height == 32
    assert list_images(folder) == [path]

    mask = np.zeros((640, 480), dtype=bool)
    mask[10:20, 30:40] = True
    save_mask_png(folder / "masque ø.png", mask)
    np.testing.assert_array_equal(load_mask(folder / "masque ø.png"), mask)


# --- pixel limit -------------------------------------------------------------------------------


def test_pixel_limit_per_call(cases_dir):
    path = cases_dir / "grayscale.jpg"

    with pytest.raises(ImageTooLargeError) as caught:
        load_image(path, max_pixels=640 * 480 - 1)

    assert caught.value.pixel_count == 640 * 480
    assert caught.value.max_pixels == 640 * 480 - 1
    assert load_image(path, max_pixels=640 * 480).width == 640


def test_pixel_limit_setting_and_reset(cases_dir):
    path = cases_dir / "grayscale.jpg"
    assert imageio.get_max_pixels() == imageio.DEFAULT_MAX_PIXELS

    imageio.set_max_pixels(1000)
    assert imageio.get_max_pixels() == 1000
    with pytest.raises(ImageTooLargeError):
        load_image(path)
    with pytest.raises(ImageTooLargeError):
        load_mask(path)
    assert load_image(path, max_pixels=10**6).height == 480

    imageio.set_max_pixels(None)
    assert load_image(path).height == 480


def test_pixel_limit_from_environment(cases_dir, monkeypatch):
    monkeypatch.setenv(imageio.MAX_PIXELS_ENV_VAR, "1_000")
    assert imageio.get_max_pixels() == 1000
    with pytest.raises(ImageTooLargeError):
        load_image(cases_dir / "grayscale.jpg")

    imageio.set_max_pixels(10**6)  # an explicit setting wins over the environment
    assert load_image(cases_dir / "grayscale.jpg").width == 640


@pytest.mark.parametrize("text", ["lots", "-5", "0"])
def test_invalid_pixel_limit_environment(monkeypatch, text):
    monkeypatch.setenv(imageio.MAX_PIXELS_ENV_VAR, text)

    with pytest.raises(ValueError, match=imageio.MAX_PIXELS_ENV_VAR):
        imageio.get_max_pixels()


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_invalid_pixel_limit_values(value):
    with pytest.raises(ValueError, match="max_pixels"):
        imageio.set_max_pixels(value)


def test_pixel_limit_checked_before_decoding(tmp_path):
    # 100,000 x 100,000 pixels would need 30 GB; the header alone must be enough to reject it.
    path = _png_header_only(tmp_path / "bomb.png", 100_000, 100_000)

    with pytest.raises(ImageTooLargeError) as caught:
        load_image(path)

    assert caught.value.pixel_count == 10**10
    with pytest.raises(ImageTooLargeError):
        load_mask(path)
    with pytest.raises(ImageTooLargeError):
        load_thumbnail(path, 64)


def test_pillow_limit_does_not_undercut_ours(tmp_path):
    # 200 million pixels: under the default limit, but over twice Pillow's own default limit.
    path = _png_header_only(tmp_path / "big.png", 20_000, 10_000)

    assert read_image_size(path) == (20_000, 10_000)
    with pytest.raises(ImageReadError) as caught:
        load_image(path)  # passes the limit, then fails because there is no pixel data
    assert not isinstance(caught.value, ImageTooLargeError)


def test_pillow_bomb_error_becomes_read_error(cases_dir, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    with pytest.raises(ImageReadError, match="too large"):
        load_image(cases_dir / "grayscale.jpg")


# --- masks -------------------------------------------------------------------------------------


def test_16bit_mask_left_half(cases_dir):
    mask = load_mask(cases_dir / "mask_16bit_left_half.png")

    assert mask.dtype == np.bool_
    assert mask.shape == (50, 70)
    assert mask[:, :35].all()
    assert not mask[:, 35:].any()


def test_8bit_mask_fixtures(cases_dir):
    expected_areas = {"mask_donut.png": 8400, "mask_sliver_1x5.png": 5, "mask_two_parts.png": 3200}
    for name, expected in expected_areas.items():
        mask = load_mask(cases_dir / name)
        assert mask.dtype == np.bool_, name
        assert int(mask.sum()) == expected, name


def test_mask_modes_nonzero_rules(tmp_path):
    values = np.array([[0, 1], [2, 0]], dtype=np.uint8)
    expected = values != 0

    Image.fromarray(values != 0).save(tmp_path / "one_bit.png")
    palette = Image.frombytes("P", (2, 2), values.tobytes())
    palette.putpalette([255, 255, 255, 0, 0, 0, 9, 9, 9])  # index 0 is white, still outside
    palette.save(tmp_path / "palette.png")
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[:, :, 2] = values  # only the blue channel is set
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    rgba = np.full((2, 2, 4), 255, dtype=np.uint8)
    rgba[:, :, 3] = np.where(expected, 255, 0)  # white everywhere, transparent outside
    Image.fromarray(rgba).save(tmp_path / "rgba.png")

    for name in ("one_bit.png", "palette.png", "rgb.png", "rgba.png"):
        np.testing.assert_array_equal(load_mask(tmp_path / name), expected, err_msg=name)


def test_save_mask_png_writes_0_and_255(tmp_path):
    mask = np.zeros((4, 6), dtype=bool)
    mask[1:3, 2:5] = True
    path = tmp_path / "mask.png"
    path.write_bytes(b"old content")

    save_mask_png(path, mask)

    with Image.open(path) as written:
        assert written.mode == "L"
        np.testing.assert_array_equal(np.array(written), np.where(mask, 255, 0))
    np.testing.assert_array_equal(load_mask(path), mask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png"]


def test_save_mask_png_rejects_non_2d(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        save_mask_png(tmp_path / "bad.png", np.zeros((2, 2, 3), dtype=bool))
    assert list(tmp_path.iterdir()) == []


def test_save_mask_png_failure_leaves_no_temp_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        save_mask_png(tmp_path / "missing folder" / "mask.png", np.ones((2, 2), dtype=bool))
    assert list(tmp_path.iterdir()) == []


# --- thumbnails --------------------------------------------------------------------------------


def test_thumbnail_keeps_aspect_and_colours(cases_dir):
    full = load_image(cases_dir / "palette.png")
    thumbnail = load_thumbnail(cases_dir / "palette.png", 64)

    assert (thumbnail.width, thumbnail.height) == (64, 48)
    assert thumbnail.source_mode == "P"
    small = np.array(Image.fromarray(full.pixels).resize((64, 48), Image.Resampling.BOX))
    assert np.abs(small.astype(int) - thumbnail.pixels.astype(int)).mean() < 8


def test_thumbnail_never_enlarges(cases_dir):
    thumbnail = load_thumbnail(cases_dir / "mask_sliver_1x5.png", 1000)

    assert (thumbnail.width, thumbnail.height) == (64, 64)


@pytest.mark.parametrize("max_side", [0, -3, 1.5])
def test_thumbnail_rejects_invalid_side(cases_dir, max_side):
    with pytest.raises(ValueError, match="max_side"):
        load_thumbnail(cases_dir / "palette.png", max_side)


# --- folder listing ----------------------------------------------------------------------------


def test_list_images_natural_order(tmp_path):
    for name in ("img10.jpg", "img2.JPG", "img1.png", "notes.txt", ".hidden.jpg", "._img3.jpg"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "img0.webp").write_bytes(b"")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "img5.png").write_bytes(b"")
    (tmp_path / "folder.png").mkdir()

    flat = list_images(tmp_path)
    deep = list_images(tmp_path, recursive=True)

    assert [p.name for p in flat] == ["img1.png", "img2.JPG", "img10.jpg"]
    assert [p.relative_to(tmp_path).as_posix() for p in deep] == [
        "img1.png",
        "img2.JPG",
        "img10.jpg",
        "sub/img0.webp",
    ]


def test_list_images_suffixes_cover_all_formats(tmp_path):
    for suffix in imageio.IMAGE_SUFFIXES:
        (tmp_path / f"a{suffix.upper()}").write_bytes(b"")

    assert len(list_images(tmp_path)) == len(imageio.IMAGE_SUFFIXES)


def test_list_images_missing_folder(tmp_path):
    with pytest.raises(NotADirectoryError, match="not found"):
        list_images(tmp_path / "nowhere")
