"""Each training data source on small fixtures made in the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shapes import write_manifest

from textmask_core.errors import MaskFormatError
from textmask_core.masks import encode_rle
from textmask_core.store import ObjectState, ProjectStore
from textmask_training.data.assemble import assemble_data
from textmask_training.data.coco import coco_samples
from textmask_training.data.magicbrush import magicbrush_samples, read_edit_region
from textmask_training.data.manifest import manifest_samples
from textmask_training.data.project import project_samples
from textmask_training.data.sources import load_source, parse_source


def _save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _photo(height: int = 20, width: int = 30) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, size=(height, width, 3), dtype=np.uint8)


def test_manifest_rows_and_keys(tmp_path):
    manifest = write_manifest(tmp_path, images=3)
    samples = manifest_samples(manifest)
    assert len(samples) == 6
    assert samples[0].image_key == "images/shapes_000.png"
    assert samples[0].text == "red square"
    mask = samples[0].load_mask((36, 48))
    assert mask.dtype == bool
    assert mask.shape == (36, 48)


def test_manifest_mask_size_mismatch(tmp_path):
    manifest = write_manifest(tmp_path, images=1)
    with pytest.raises(MaskFormatError, match="image's size"):
        manifest_samples(manifest)[0].load_mask((10, 10))


def test_project_reads_edited_masks(tmp_path, user_dirs):
    folder = tmp_path / "photos"
    _save(folder / "a.png", _photo())
    _save(folder / "b.png", _photo())
    edited = np.zeros((20, 30), dtype=bool)
    edited[2:8, 3:9] = True
    with ProjectStore.open(folder) as store:
        store.sync_images([folder / "a.png", folder / "b.png"])
        first, second = store.list_images()
        predicted = ObjectState(None, "cup", "the cup", np.zeros_like(edited), "predicted")
        store.save_image_objects(
            first.id, [ObjectState(None, "cup", "the cup", edited, "edited")], status="edited"
        )
        store.save_image_objects(second.id, [predicted], status="predicted")
    samples = project_samples(folder)
    assert len(samples) == 1
    assert samples[0].text == "the cup"
    assert samples[0].image_key == "a.png"
    assert np.array_equal(samples[0].load_mask((20, 30)), edited)
    assert project_samples(folder, labels=["dog"]) == []


def test_project_source_argument(tmp_path, user_dirs):
    folder = tmp_path / "photos"
    _save(folder / "a.png", _photo())
    with ProjectStore.open(folder):
        pass
    assert parse_source(str(folder)).kind == "project"
    with pytest.raises(ValueError, match="not a training data source"):
        parse_source(str(tmp_path))


def test_magicbrush_white_convention(tmp_path):
    root = tmp_path / "magicbrush"
    _save(root / "images" / "101" / "101-input.png", _photo(20, 30))
    white = np.zeros((10, 15), dtype=np.uint8)  # half size: the reader resizes to the image
    white[0:5, 0:5] = 255
    _save(root / "images" / "101" / "101-mask1.png", white)
    sessions = {
        "101": [
            {
                "input": "101-input.png",
                "mask": "101-mask1.png",
                "output": "101-output1.png",
                "instruction": "make the  cup red",
            }
        ]
    }
    (root / "edit_sessions.json").write_text(json.dumps(sessions), encoding="utf-8")
    [sample] = magicbrush_samples(root)
    assert sample.text == "make the cup red"
    assert sample.image_key == "magicbrush-session 101"
    mask = sample.load_mask((20, 30))
    assert mask.shape == (20, 30)
    assert mask[:10, :10].all()
    assert mask.sum() == 100


def test_magicbrush_transparent_convention(tmp_path):
    rgba = np.full((20, 30, 4), 255, dtype=np.uint8)
    rgba[5:10, 5:15, 3] = 0  # the transparent pixels are the edit region
    path = _save(tmp_path / "mask.png", rgba)
    region, convention = read_edit_region(path)
    assert convention == "transparent"
    assert region.sum() == 50
    assert region[5:10, 5:15].all()
    opaque = _save(
        tmp_path / "opaque.png",
        np.dstack([np.zeros((4, 4, 3), np.uint8), np.full((4, 4), 255, np.uint8)]),
    )
    assert read_edit_region(opaque)[1] == "white"


def test_magicbrush_parquet_bytes_and_paths(tmp_path):
    pa = pytest.importorskip(
        "pyarrow", reason="pyarrow is not installed (pip install textmask[parquet])"
    )
    import pyarrow.parquet as pq

    photo = _save(tmp_path / "source.png", _photo(20, 30))
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[:, :15] = 255
    mask_path = _save(tmp_path / "mask.png", mask)
    table = pa.table(
        {
            "img_id": ["7", "7", "8"],
            "turn_index": [1, 2, 1],
            "source_img": [
                {"bytes": photo.read_bytes(), "path": None},
                {"bytes": None, "path": "source.png"},
                {"bytes": photo.read_bytes(), "path": "ignored.png"},
            ],
            "mask_img": [{"bytes": mask_path.read_bytes(), "path": None}] * 3,
            "instruction": ["add a hat", "remove the hat", "paint it blue"],
            "target_img": [{"bytes": b"", "path": None}] * 3,
        }
    )
    pq.write_table(table, tmp_path / "train.parquet")
    samples = magicbrush_samples(tmp_path / "train.parquet", extract_dir=tmp_path / "extracted")
    assert [sample.text for sample in samples] == ["add a hat", "remove the hat", "paint it blue"]
    assert samples[0].image_key == samples[1].image_key == "magicbrush-session 7"
    assert samples[0].image_path.parent.parent == tmp_path / "extracted"
    assert samples[1].image_path == tmp_path / "source.png"
    assert samples[2].load_mask((20, 30)).sum() == 300


def test_coco_categories_and_referring(tmp_path):
    _save(tmp_path / "images" / "a.png", _photo(20, 30))
    left = np.zeros((20, 30), dtype=bool)
    left[:, :10] = True
    document = {
        "images": [{"id": 1, "file_name": "a.png", "width": 30, "height": 20}],
        "categories": [{"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 11, "image_id": 1, "category_id": 3, "segmentation": encode_rle(left)},
            {
                "id": 12,
                "image_id": 1,
                "category_id": 3,
                "segmentation": [[20, 0, 29, 0, 29, 9, 20, 9]],
            },
        ],
    }
    instances = tmp_path / "instances.json"
    instances.write_text(json.dumps(document), encoding="utf-8")
    referring = tmp_path / "sentences.csv"
    with referring.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("annotation_id", "text"), (11, "the dog on the left")])
    samples = coco_samples(instances, tmp_path / "images", referring)
    assert [sample.text for sample in samples] == ["dog", "the dog on the left"]
    union, single = (sample.load_mask((20, 30)) for sample in samples)
    assert union[:, :10].all()
    assert union[5, 25]
    assert np.array_equal(single, left)
    spec = parse_source(f"coco:{instances}:{tmp_path / 'images'}")
    assert len(load_source(spec)) == 1


def test_coco_rejects_escaping_file_name(tmp_path):
    document = {
        "images": [{"id": 1, "file_name": "../x.png", "width": 3, "height": 2}],
        "categories": [],
        "annotations": [],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(MaskFormatError, match="inside the image folder"):
        coco_samples(path)


def test_assemble_drops_val_images_from_train(tmp_path):
    manifest = write_manifest(tmp_path, images=6)
    with pytest.raises(ValueError, match="no rows to train on"):
        assemble_data([str(manifest)], [str(manifest)], max_images=2)
    held = assemble_data([str(manifest)], [], val_fraction=0.5, max_images=2, seed=1)
    assert held.describe()["train_images"] == 2
    assert not {s.image_key for s in held.train} & {s.image_key for s in held.val}


def test_assemble_reports_missing_mask_file(tmp_path):
    root = tmp_path / "magicbrush"
    _save(root / "images" / "5" / "5-input.png", _photo())
    sessions = {"5": [{"input": "5-input.png", "mask": "5-mask1.png", "instruction": "add a cat"}]}
    (root / "edit_sessions.json").write_text(json.dumps(sessions), encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="5-mask1.png"):
        assemble_data([f"magicbrush:{root}"], [])
