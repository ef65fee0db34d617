"""PNG export: object masks, index maps and labels.txt, re-read from disk."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from textmask_core.errors import MaskFormatError
from textmask_core.formats.png import export_png, palette
from textmask_core.formats.records import ExportImage, ExportObject
from textmask_core.imageio import load_mask

LABELS = ["cat", "donut", "big/red cat?"]


@pytest.fixture
def donut(cases_dir):
    return load_mask(cases_dir / "mask_donut.png")


@pytest.fixture
def two_parts(cases_dir):
    return load_mask(cases_dir / "mask_two_parts.png")


@pytest.fixture
def images(tmp_path, donut, two_parts):
    root = tmp_path / "photos"
    overlap = np.zeros((120, 160), dtype=bool)
    overlap[0:40, 0:60] = True  # covers part of the first rectangle of two_parts
    return [
        ExportImage(root / "donut.jpg", 2, 200, 200, [ExportObject("donut", "ring", donut)]),
        ExportImage(
            root / "site a" / "two.png",
            1,
            160,
            120,
            [
                ExportObject("cat", "two cats", two_parts),
                ExportObject("big/red cat?", "red", overlap),
            ],
        ),
    ]


def _read(path):
    with Image.open(path) as image:
        return image.mode, np.array(image), image.getpalette()


def test_object_masks_round_trip(images, tmp_path, donut, two_parts):
    out = tmp_path / "out"

    summary = export_png(images, LABELS, out, image_root=tmp_path / "photos")

    mode, pixels, _ = _read(out / "objects" / "donut" / "1_donut.png")
    assert mode == "L"
    assert set(np.unique(pixels)) == {0, 255}
    np.testing.assert_array_equal(pixels == 255, donut)
    assert int((pixels == 255).sum()) == 8400  # the hole stays empty
    np.testing.assert_array_equal(
        load_mask(out / "objects" / "site a" / "two" / "1_cat.png"), two_parts
    )
    assert (out / "objects" / "site a" / "two" / "2_big_red_cat.png").is_file()
    assert summary.annotations == 3
    assert summary.images == 2
    assert not summary.cancelled


def test_index_maps(images, tmp_path, donut, two_parts):
    out = tmp_path / "out"

    export_png(images, LABELS, out, image_root=tmp_path / "photos")

    mode, donut_map, colours = _read(out / "index_maps" / "donut.png")
    assert mode == "P"
    np.testing.assert_array_equal(donut_map == 2, donut)
    assert donut_map[100, 100] == 0  # the hole is background
    assert set(np.unique(donut_map)) == {0, 2}
    assert colours[:12] == [c for colour in palette(3) for c in colour]

    _, two_map, _ = _read(out / "index_maps" / "site a" / "two.png")
    overlap = images[1].objects[1].mask
    np.testing.assert_array_equal(two_map == 3, overlap)  # the later object is painted on top
    np.testing.assert_array_equal(two_map == 1, two_parts & ~overlap)
    assert two_map.shape == (120, 160)


def test_labels_file(images, tmp_path):
    out = tmp_path / "out"

    export_png(images, LABELS, out, image_root=tmp_path / "photos")

    lines = (out / "labels.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#")
    rows = [line.split("\t") for line in lines[1:]]
    assert [(row[0], row[1]) for row in rows] == [
        ("0", "background"),
        ("1", "cat"),
        ("2", "donut"),
        ("3", "big/red cat?"),
    ]
    assert [tuple(int(value) for value in row[2:]) for row in rows] == palette(3)
    assert rows[0][2:] == ["0", "0", "0"]
    assert len(set(palette(3))) == 4


def test_default_root_is_common_folder(images, tmp_path):
    out = tmp_path / "out"

    export_png(images, LABELS, out)

    assert (out / "index_maps" / "site a" / "two.png").is_file()
    assert (out / "index_maps" / "donut.png").is_file()


def test_same_stem_gets_unique_names(tmp_path, two_parts):
    root = tmp_path / "photos"
    images = [
        ExportImage(root / "a.jpg", 1, 160, 120, [ExportObject("cat", "c", two_parts)]),
        ExportImage(root / "A.png", 2, 160, 120, [ExportObject("cat", "c", two_parts)]),
    ]

    export_png(images, ["cat"], tmp_path / "out", image_root=root)

    assert sorted(p.name for p in (tmp_path / "out" / "index_maps").iterdir()) == [
        "A_png.png",
        "a.png",
    ]
    assert (tmp_path / "out" / "objects" / "A_png" / "1_cat.png").is_file()


def test_non_ascii_label_and_path(tmp_path, two_parts):
    root = tmp_path / "fotos été"
    images = [
        ExportImage(root / "chat ñ.jpg", 1, 160, 120, [ExportObject("chat noir", "c", two_parts)])
    ]

    export_png(images, ["chat noir"], tmp_path / "out", image_root=root)

    written = tmp_path / "out" / "objects" / "chat ñ" / "1_chat_noir.png"
    np.testing.assert_array_equal(load_mask(written), two_parts)


def test_empty_mask_skipped_and_numbering_kept(tmp_path, two_parts):
    empty = np.zeros((120, 160), dtype=bool)
    objects = [ExportObject("cat", "gone", empty), ExportObject("cat", "here", two_parts)]
    images = [ExportImage(tmp_path / "a.png", 1, 160, 120, objects)]

    summary = export_png(images, ["cat"], tmp_path / "out", image_root=tmp_path)

    assert [p.name for p in (tmp_path / "out" / "objects" / "a").iterdir()] == ["2_cat.png"]
    assert summary.skipped == {"empty mask": 1}
    assert summary.annotations == 1
    assert "1 empty mask" in summary.describe()


def test_image_without_objects_gets_blank_index_map(tmp_path):
    images = [ExportImage(tmp_path / "a.png", 1, 7, 5, [])]

    export_png(images, ["cat"], tmp_path / "out", image_root=tmp_path)

    _, pixels, _ = _read(tmp_path / "out" / "index_maps" / "a.png")
    assert pixels.shape == (5, 7)
    assert not pixels.any()


def test_mask_size_must_match(tmp_path, two_parts):
    images = [ExportImage(tmp_path / "a.png", 1, 120, 160, [ExportObject("cat", "c", two_parts)])]

    with pytest.raises(MaskFormatError, match="160x120"):
        export_png(images, ["cat"], tmp_path / "out", image_root=tmp_path)


def test_label_checks(tmp_path, two_parts):
    images = [ExportImage(tmp_path / "a.png", 1, 160, 120, [ExportObject("dog", "d", two_parts)])]

    with pytest.raises(ValueError, match="'dog'"):
        export_png(images, ["cat"], tmp_path / "out", image_root=tmp_path)
    with pytest.raises(ValueError, match="at most 255"):
        export_png([], [f"label {n}" for n in range(256)], tmp_path / "out")
    with pytest.raises(ValueError, match="tab or line break"):
        export_png([], ["a\tb"], tmp_path / "out")


def test_cancel_keeps_finished_images(images, tmp_path):
    calls = []

    summary = export_png(
        images,
        LABELS,
        tmp_path / "out",
        image_root=tmp_path / "photos",
        progress=lambda done, total: calls.append((done, total)),
        cancel=lambda: len(calls) >= 1,
    )

    assert calls == [(1, 2)]
    assert summary.cancelled
    assert summary.images == 1
    # Images are exported in id order, so only "site a/two.png" (id 1) was written.
    assert [p.name for p in (tmp_path / "out" / "index_maps").rglob("*.png")] == ["two.png"]
    assert (tmp_path / "out" / "labels.txt").is_file()
    assert "cancelled after 1 of 2 images" in summary.describe()


def test_export_replaces_previous_files(images, tmp_path, donut):
    out = tmp_path / "out"
    export_png(images, LABELS, out, image_root=tmp_path / "photos")
    shrunk = donut.copy()
    shrunk[:, :100] = False
    images[0] = ExportImage(images[0].path, 2, 200, 200, [ExportObject("donut", "ring", shrunk)])

    export_png(images, LABELS, out, image_root=tmp_path / "photos")

    np.testing.assert_array_equal(load_mask(out / "objects" / "donut" / "1_donut.png"), shrunk)
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
