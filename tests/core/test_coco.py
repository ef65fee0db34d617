"""COCO export and import, checked by re-reading every file with pycocotools."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from textmask_core.errors import MaskFormatError
from textmask_core.formats.coco import (
    ExportImage,
    ExportObject,
    export_coco,
    import_coco,
)
from textmask_core.imageio import load_mask, read_image_size
from textmask_core.masks import encode_rle

LABELS = ["cat", "donut", "sliver"]


@pytest.fixture
def donut(cases_dir):
    return load_mask(cases_dir / "mask_donut.png")


@pytest.fixture
def sliver(cases_dir):
    return load_mask(cases_dir / "mask_sliver_1x5.png")


@pytest.fixture
def two_parts(cases_dir):
    return load_mask(cases_dir / "mask_two_parts.png")


@pytest.fixture
def images(tmp_path, donut, sliver, two_parts):
    """Three images under tmp_path/"photos", one in a subfolder, with ids out of file order."""
    root = tmp_path / "photos"
    return [
        ExportImage(
            root / "donut.jpg",
            7,
            200,
            200,
            [ExportObject("donut", "a ring doughnut", donut, object_id=70)],
        ),
        ExportImage(
            root / "field" / "sliver.png",
            3,
            64,
            64,
            [ExportObject("sliver", "thin line", sliver, object_id=30)],
        ),
        ExportImage(
            root / "two.jpg",
            5,
            160,
            120,
            [ExportObject("cat", "two cats", two_parts, object_id=50)],
        ),
    ]


def _export(images, tmp_path, **options) -> tuple[COCO, dict]:
    out = tmp_path / "out" / "instances.json"
    summary = export_coco(images, LABELS, tmp_path / "photos", out, **options)
    coco = COCO(str(out))
    return coco, {"summary": summary, "path": out}


def _masks_by_object(coco: COCO) -> dict[int, np.ndarray]:
    """Union of annToMask over the annotations of each object_id."""
    union: dict[int, np.ndarray] = {}
    for annotation in coco.dataset["annotations"]:
        mask = coco.annToMask(annotation).astype(bool)
        key = annotation["object_id"]
        union[key] = union[key] | mask if key in union else mask
    return union


def _source_masks(images) -> dict[int, np.ndarray]:
    return {obj.object_id: obj.mask for image in images for obj in image.objects}


# --- what pycocotools reads back ---------------------------------------------------------------


@pytest.mark.parametrize("geometry", ["rle", "polygon"])
def test_export_decodes_to_exported_pixels(images, tmp_path, geometry):
    coco, result = _export(images, tmp_path, geometry=geometry)

    decoded = _masks_by_object(coco)
    for object_id, mask in _source_masks(images).items():
        np.testing.assert_array_equal(decoded[object_id], mask, err_msg=str(object_id))
    for annotation in coco.dataset["annotations"]:
        mask = coco.annToMask(annotation)
        ys, xs = np.nonzero(mask)
        box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert annotation["area"] == mask.sum()
        assert annotation["bbox"] == [float(value) for value in box]
        assert annotation["iscrowd"] == 0
    assert result["summary"].annotations == 3
    assert result["summary"].images == 3


@pytest.mark.parametrize("geometry", ["rle", "polygon"])
def test_donut_keeps_8400_pixels(images, tmp_path, geometry):
    coco, result = _export(images, tmp_path, geometry=geometry)

    (annotation,) = [a for a in coco.dataset["annotations"] if a["object_id"] == 70]
    assert int(coco.annToMask(annotation).sum()) == 8400
    assert isinstance(annotation["segmentation"], dict)  # holes need RLE, even in polygon mode
    if geometry == "polygon":
        assert result["summary"].rle_fallbacks == 1
        assert result["summary"].rle_fallback_reasons == {"with holes": 1}
        assert "RLE" in result["summary"].describe()


def test_polygon_mode_writes_valid_polygons(images, tmp_path):
    coco, result = _export(images, tmp_path, geometry="polygon")

    polygon_annotations = [
        a for a in coco.dataset["annotations"] if isinstance(a["segmentation"], list)
    ]
    assert {a["object_id"] for a in polygon_annotations} == {30, 50}
    for annotation in polygon_annotations:
        for polygon in annotation["segmentation"]:
            assert len(polygon) >= 6  # pycocotools reads 4 numbers as a box
            assert len(polygon) % 2 == 0
    (sliver,) = [a for a in polygon_annotations if a["object_id"] == 30]
    assert sliver["area"] == 5
    assert sliver["bbox"][2:] == [5.0, 1.0]


def test_polygon_mode_exact_on_random_blobs(tmp_path):
    rng = np.random.default_rng(3)
    blobs = []
    for index in range(12):
        noise = rng.random((48, 64)).astype(np.float32)
        blob = cv2.GaussianBlur(noise, (0, 0), 3.0) > 0.52
        blobs.append(ExportObject("cat", "cat", blob, object_id=index))
    images = [ExportImage(tmp_path / "photos" / "a.png", 1, 64, 48, blobs)]

    coco, result = _export(images, tmp_path, geometry="polygon")

    decoded = _masks_by_object(coco)
    for obj in blobs:
        np.testing.assert_array_equal(decoded[obj.object_id], obj.mask)
    polygons = sum(isinstance(a["segmentation"], list) for a in coco.dataset["annotations"])
    assert polygons + result["summary"].rle_fallbacks == len(blobs)
    assert polygons > 0


def test_two_parts_one_annotation_unless_split(images, tmp_path, two_parts):
    coco, _ = _export(images, tmp_path)
    whole = [a for a in coco.dataset["annotations"] if a["object_id"] == 50]
    assert len(whole) == 1
    np.testing.assert_array_equal(coco.annToMask(whole[0]).astype(bool), two_parts)

    coco, result = _export(images, tmp_path, split_components=True)
    parts = [a for a in coco.dataset["annotations"] if a["object_id"] == 50]
    assert len(parts) == 2
    assert sorted(a["area"] for a in parts) == [1200.0, 2000.0]
    assert {a["prompt"] for a in parts} == {"two cats"}
    masks = [coco.annToMask(a).astype(bool) for a in parts]
    assert not (masks[0] & masks[1]).any()
    np.testing.assert_array_equal(masks[0] | masks[1], two_parts)
    assert result["summary"].annotations == 4


def test_two_parts_split_in_polygon_mode(images, tmp_path, two_parts):
    coco, _ = _export(images, tmp_path, geometry="polygon", split_components=True)

    parts = [a for a in coco.dataset["annotations"] if a["object_id"] == 50]
    assert [len(a["segmentation"]) for a in parts] == [1, 1]


# --- file contents -----------------------------------------------------------------------------


def test_categories_follow_label_list(images, tmp_path):
    coco, _ = _export(images, tmp_path)

    assert [(c["id"], c["name"]) for c in coco.dataset["categories"]] == [
        (1, "cat"),
        (2, "donut"),
        (3, "sliver"),
    ]
    category_of = {a["object_id"]: a["category_id"] for a in coco.dataset["annotations"]}
    assert category_of == {70: 2, 30: 3, 50: 1}


def test_ids_stable_across_image_order(images, tmp_path):
    first = tmp_path / "first.json"
    second = tmp_path / "second.json"
    root = tmp_path / "photos"

    export_coco(images, LABELS, root, first)
    export_coco(list(reversed(images)), LABELS, root, second)

    documents = [json.loads(path.read_text(encoding="utf-8")) for path in (first, second)]
    for section in ("images", "annotations", "categories"):
        assert documents[0][section] == documents[1][section]
    assert [image["id"] for image in documents[0]["images"]] == [3, 5, 7]


def test_image_entries(images, tmp_path):
    coco, _ = _export(images, tmp_path)

    entries = {image["id"]: image for image in coco.dataset["images"]}
    assert entries[3] == {"id": 3, "file_name": "field/sliver.png", "width": 64, "height": 64}
    assert entries[5]["file_name"] == "two.jpg"
    assert (entries[5]["width"], entries[5]["height"]) == (160, 120)
    assert coco.dataset["info"]["description"] == "Exported by TextMask"
    assert coco.dataset["licenses"] == []


def test_prompt_and_object_id_kept(images, tmp_path):
    coco, _ = _export(images, tmp_path)

    prompts = {a["object_id"]: a["prompt"] for a in coco.dataset["annotations"]}
    assert prompts == {70: "a ring doughnut", 30: "thin line", 50: "two cats"}


def test_exif_rotated_image_size(cases_dir, tmp_path):
    path = tmp_path / "photos" / "rotated.jpg"
    width, height = read_image_size(cases_dir / "exif_orientation6.jpg")
    mask = np.zeros((height, width), dtype=bool)
    mask[:10, -10:] = True

    coco, _ = _export(
        [ExportImage(path, 1, width, height, [ExportObject("cat", "red", mask, 1)])], tmp_path
    )

    assert (coco.dataset["images"][0]["width"], coco.dataset["images"][0]["height"]) == (480, 640)
    np.testing.assert_array_equal(coco.annToMask(coco.dataset["annotations"][0]), mask)


def test_empty_mask_is_skipped(images, tmp_path):
    empty = ExportObject("cat", "nothing left", np.zeros((200, 200), dtype=bool), 71)
    images[0] = ExportImage(images[0].path, 7, 200, 200, [*images[0].objects, empty])

    coco, result = _export(images, tmp_path)

    assert all(a["area"] > 0 for a in coco.dataset["annotations"])
    assert 71 not in {a["object_id"] for a in coco.dataset["annotations"]}
    assert result["summary"].skipped == {"empty mask": 1}
    assert "1 empty mask" in result["summary"].describe()


def test_image_without_objects_is_listed(tmp_path):
    image = ExportImage(tmp_path / "photos" / "blank.png", 9, 8, 8, [])

    coco, result = _export([image], tmp_path)

    assert [entry["id"] for entry in coco.dataset["images"]] == [9]
    assert coco.dataset["annotations"] == []
    assert result["summary"].describe().startswith("Exported 0 annotations for 1 image")


def test_object_id_optional(tmp_path, two_parts):
    image = ExportImage(
        tmp_path / "photos" / "a.png", 1, 160, 120, [ExportObject("cat", "c", two_parts)]
    )

    coco, _ = _export([image], tmp_path)

    assert "object_id" not in coco.dataset["annotations"][0]


# --- invalid input -----------------------------------------------------------------------------


def test_unknown_label_rejected(images, tmp_path, two_parts):
    images.append(
        ExportImage(
            tmp_path / "photos" / "x.png", 9, 160, 120, [ExportObject("dog", "d", two_parts)]
        )
    )

    with pytest.raises(ValueError, match="'dog'"):
        _export(images, tmp_path)
    assert not (tmp_path / "out" / "instances.json").exists()


def test_mask_size_must_match_image(tmp_path, two_parts):
    image = ExportImage(
        tmp_path / "photos" / "a.png", 1, 120, 160, [ExportObject("cat", "c", two_parts)]
    )

    with pytest.raises(MaskFormatError, match="160x120"):
        _export([image], tmp_path)


def test_duplicate_image_ids_rejected(images, tmp_path):
    images[1] = ExportImage(images[1].path, 7, 64, 64, images[1].objects)

    with pytest.raises(ValueError, match="Image id 7"):
        _export(images, tmp_path)


def test_image_outside_root_rejected(images, tmp_path, two_parts):
    images.append(ExportImage(tmp_path / "elsewhere" / "x.png", 9, 160, 120, []))

    with pytest.raises(ValueError, match="not inside the image root"):
        _export(images, tmp_path)


@pytest.mark.parametrize("labels", [["cat", "cat"], ["cat", ""]])
def test_invalid_label_lists(images, tmp_path, labels):
    with pytest.raises(ValueError, match="label"):
        export_coco(images, labels, tmp_path / "photos", tmp_path / "x.json")


def test_invalid_geometry(images, tmp_path):
    with pytest.raises(ValueError, match="geometry"):
        export_coco(images, LABELS, tmp_path / "photos", tmp_path / "x.json", geometry="box")


# --- progress, cancel and atomic write ---------------------------------------------------------


def test_progress_reports_each_image(images, tmp_path):
    calls = []

    _export(images, tmp_path, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_cancel_writes_nothing(images, tmp_path):
    out = tmp_path / "instances.json"
    out.write_text("previous export", encoding="utf-8")
    calls = []

    summary = export_coco(
        images,
        LABELS,
        tmp_path / "photos",
        out,
        progress=lambda done, total: calls.append(done),
        cancel=lambda: len(calls) >= 1,
    )

    assert summary.cancelled
    assert summary.images == 1
    assert out.read_text(encoding="utf-8") == "previous export"
    assert "cancelled after 1 of 3 images" in summary.describe()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["instances.json"]


def test_export_leaves_no_temporary_files(images, tmp_path):
    _, result = _export(images, tmp_path)

    assert [path.name for path in result["path"].parent.iterdir()] == ["instances.json"]


# --- import ------------------------------------------------------------------------------------


@pytest.mark.parametrize("geometry", ["rle", "polygon"])
def test_round_trip_export_import(images, tmp_path, geometry):
    _, result = _export(images, tmp_path, geometry=geometry)

    imported = import_coco(result["path"], tmp_path / "photos")

    by_id = {image.image_id: image for image in imported}
    assert sorted(by_id) == [3, 5, 7]
    for original in images:
        copy = by_id[original.image_id]
        assert copy.path == original.path
        assert (copy.width, copy.height) == (original.width, original.height)
        assert [(o.label, o.prompt, o.object_id) for o in copy.objects] == [
            (o.label, o.prompt, o.object_id) for o in original.objects
        ]
        for imported_object, original_object in zip(copy.objects, original.objects, strict=True):
            np.testing.assert_array_equal(imported_object.mask, original_object.mask)


def test_import_merges_split_parts(images, tmp_path, two_parts):
    _, result = _export(images, tmp_path, split_components=True)

    imported = {image.image_id: image for image in import_coco(result["path"], tmp_path / "photos")}

    (obj,) = imported[5].objects
    np.testing.assert_array_equal(obj.mask, two_parts)


def test_reexport_of_import_is_identical(images, tmp_path):
    _, result = _export(images, tmp_path)
    imported = import_coco(result["path"], tmp_path / "photos")
    again = tmp_path / "again.json"

    export_coco(imported, LABELS, tmp_path / "photos", again)

    first = json.loads(result["path"].read_text(encoding="utf-8"))
    second = json.loads(again.read_text(encoding="utf-8"))
    assert first["annotations"] == second["annotations"]
    assert first["images"] == second["images"]


def _write_coco(path: Path, annotations: list, images: list | None = None, categories=None) -> Path:
    document = {
        "images": images
        if images is not None
        else [{"id": 1, "file_name": "a.png", "width": 5, "height": 4}],
        "annotations": annotations,
        "categories": categories if categories is not None else [{"id": 1, "name": "cat"}],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _annotation(segmentation, **extra) -> dict:
    return {"id": 1, "image_id": 1, "category_id": 1, "segmentation": segmentation, **extra}


def test_import_foreign_segmentations(tmp_path):
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 1:4] = True
    runs = [5, 2, 2, 2, 2, 2, 5]  # column-major runs of the mask above
    annotations = [
        _annotation({"size": [4, 5], "counts": runs}),
        {**_annotation([[1, 1, 4, 1, 4, 3, 1, 3]]), "id": 2},
        {**_annotation(encode_rle(mask)), "id": 3},
    ]

    (image,) = import_coco(_write_coco(tmp_path / "c.json", annotations), tmp_path)

    assert image.path == tmp_path / "a.png"
    assert [obj.prompt for obj in image.objects] == ["cat", "cat", "cat"]
    assert [obj.object_id for obj in image.objects] == [None, None, None]
    for obj in image.objects:
        np.testing.assert_array_equal(obj.mask, mask)


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (_annotation({"size": [4, 5], "counts": [5, 2, 2]}), "sum to 9"),
        (_annotation({"size": [4, 5], "counts": "0"}), "sum to 0"),
        (_annotation({"size": [5, 4], "counts": [20]}), "differs from the image size"),
        (_annotation([[1, 1, 4, 1]]), "at least 6"),
        (_annotation("not a segmentation"), "expected polygons"),
        ({**_annotation([[1, 1, 4, 1, 4, 3]]), "category_id": 9}, "unknown category_id 9"),
        ({**_annotation([[1, 1, 4, 1, 4, 3]]), "image_id": 2}, "unknown image_id 2"),
        ({**_annotation([[1, 1, 4, 1, 4, 3]]), "prompt": 5}, "prompt"),
    ],
)
def test_import_rejects_tampered_annotations(tmp_path, annotation, message):
    path = _write_coco(tmp_path / "c.json", [annotation])

    with pytest.raises(MaskFormatError, match=message):
        import_coco(path, tmp_path)


@pytest.mark.parametrize(
    "file_name",
    ["/etc/passwd", "../outside.png", "sub/../../outside.png", "C:\\x.png", "..\\x.png", ""],
)
def test_import_rejects_paths_leaving_root(tmp_path, file_name):
    images = [{"id": 1, "file_name": file_name, "width": 5, "height": 4}]
    path = _write_coco(tmp_path / "c.json", [], images=images)

    with pytest.raises(MaskFormatError, match="file_name"):
        import_coco(path, tmp_path / "root")


def test_import_rejects_symlink_escape(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    images = [{"id": 1, "file_name": "link/a.png", "width": 5, "height": 4}]
    path = _write_coco(tmp_path / "c.json", [], images=images)

    with pytest.raises(MaskFormatError, match="symbolic link"):
        import_coco(path, root)


def test_import_accepts_windows_separators(tmp_path):
    images = [{"id": 1, "file_name": "sub\\a.png", "width": 5, "height": 4}]

    (image,) = import_coco(_write_coco(tmp_path / "c.json", [], images=images), tmp_path)

    assert image.path == tmp_path / "sub" / "a.png"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        (json.dumps({"images": [], "annotations": []}), "'categories'"),
        (
            json.dumps(
                {
                    "images": [{"id": 1, "file_name": "a", "width": 1, "height": 1}] * 2,
                    "annotations": [],
                    "categories": [],
                }
            ),
            "Image id 1 appears twice",
        ),
        (
            json.dumps(
                {"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}] * 2}
            ),
            "Category id 1 appears twice",
        ),
        (
            json.dumps(
                {
                    "images": [{"id": 1, "file_name": "a", "width": 0, "height": 1}],
                    "annotations": [],
                    "categories": [],
                }
            ),
            "size 0x1",
        ),
        (
            json.dumps(
                {
                    "images": [{"id": "1", "file_name": "a", "width": 1, "height": 1}],
                    "annotations": [],
                    "categories": [],
                }
            ),
            "'id'",
        ),
    ],
)
def test_import_rejects_invalid_files(tmp_path, content, message):
    path = tmp_path / "c.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(MaskFormatError, match=message):
        import_coco(path, tmp_path)
