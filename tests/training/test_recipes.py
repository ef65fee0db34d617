"""Default-model recipe: phrasings and unambiguous referring rows from instance masks."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textmask_training.recipes.default_model import main, photo_source, prepare
from textmask_training.recipes.phrasing import phrasings, plural, random_phrasing
from textmask_training.recipes.referring import read_instances, referring_cases


def test_plural_rules():
    assert plural("dog") == "dogs"
    assert plural("bus") == "buses"
    assert plural("person") == "people"
    assert plural("shoes") == "shoes"
    assert plural("dining table") == "dining tables"
    assert plural("strawberry") == "strawberries"


def test_phrasings_start_with_name_and_add_synonyms():
    variants = phrasings("pants")
    assert variants[0] == "pants"
    assert "all the pants" in variants
    assert "trousers" in variants
    assert len(variants) == len(set(variants))


def test_random_phrasing_never_bare_name():
    rng = random.Random(0)
    assert all(random_phrasing("dog", rng) != "dog" for _ in range(20))


def _write_instances(folder: Path, boxes: list[tuple[int, int, int, int]]) -> Path:
    """Write one 100x200 image's instances of label 'dog', each a filled box (x0, y0, x1, y1)."""
    (folder / "instance_masks").mkdir(parents=True)
    rows = []
    for index, (x0, y0, x1, y1) in enumerate(boxes):
        mask = np.zeros((100, 200), np.uint8)
        mask[y0:y1, x0:x1] = 255
        name = f"instance_masks/dog_{index}.png"
        Image.fromarray(mask).save(folder / name)
        rows.append(["images/a.jpg", "dog", name, str(index)])
    path = folder / "instances.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", "mask", "instance_id"])
        writer.writerows(rows)
    return path


def test_clear_gap_gives_left_and_right(tmp_path):
    path = _write_instances(tmp_path, [(5, 10, 35, 60), (150, 10, 180, 60)])
    cases = referring_cases(read_instances(path))
    relations = {case.relation: case.mask_path.name for case in cases}
    assert relations["left"] == "dog_0.png"
    assert relations["right"] == "dog_1.png"
    assert "biggest" not in relations


def test_close_objects_give_no_left_or_right(tmp_path):
    path = _write_instances(tmp_path, [(50, 10, 80, 60), (60, 10, 90, 60)])
    relations = {case.relation for case in referring_cases(read_instances(path))}
    assert "left" not in relations
    assert "right" not in relations


def test_clearly_bigger_object_is_biggest(tmp_path):
    path = _write_instances(tmp_path, [(0, 0, 90, 90), (150, 10, 170, 30)])
    cases = [case for case in referring_cases(read_instances(path)) if case.relation == "biggest"]
    assert [case.mask_path.name for case in cases] == ["dog_0.png"]


def _write_split(folder: Path, rows: list[tuple[str, str]]) -> None:
    """Write a data set folder with one 20x30 photo per image name and a mask per row."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "text", "mask"])
        for index, (image, text) in enumerate(rows):
            if not (folder / "images" / image).exists():
                Image.new("RGB", (30, 20)).save(folder / "images" / image)
            mask = np.zeros((20, 30), np.uint8)
            mask[5:15, 5:20] = 255
            Image.fromarray(mask).save(folder / "masks" / f"{index}.png")
            writer.writerow([f"images/{image}", text, f"masks/{index}.png"])
    (folder / "instances.csv").write_text("image,label,mask,instance_id\n")


def test_prepare_writes_one_training_manifest_per_photo_source(tmp_path):
    rows = [
        ("ccp_clothing__0001.png", "skirt"),
        ("ccp_clothing__0001.png", "hair"),
        ("coco128_panoptic__0002.png", "road"),
    ]
    _write_split(tmp_path / "default-train", rows)
    _write_split(tmp_path / "default-val", rows[:1])
    prepare(tmp_path, tmp_path / "out")

    def photos(name: str) -> set[str]:
        with (tmp_path / "out" / name).open(newline="") as handle:
            return {Path(row["image"]).name.split("__")[0] for row in csv.DictReader(handle)}

    assert photos("train-fashion.csv") == {"ccp_clothing"}
    assert photos("train-coco.csv") == {"coco128_panoptic"}
    assert photos("train.csv") == {"ccp_clothing", "coco128_panoptic"}


def test_photo_source_rejects_an_unknown_prefix():
    assert photo_source(Path("images/coco128_panoptic__000000000785.jpg")) == "coco"
    with pytest.raises(ValueError, match="unknown photo source 'camvid'"):
        photo_source(Path("images/camvid__0001.png"))


def test_recipe_rejects_zero_referring_repeats(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path), str(tmp_path / "out"), "--referring-repeats", "0"])
    assert stopped.value.code == 2
    assert "--referring-repeats must be at least 1" in capsys.readouterr().err


def test_prepare_writes_side_by_side_source(tmp_path):
    rows = [("ccp_clothing__0001.png", "skirt"), ("ccp_clothing__0002.png", "skirt")]
    _write_split(tmp_path / "default-train", rows)
    _write_split(tmp_path / "default-val", rows)
    prepare(tmp_path, tmp_path / "out", side_by_side=2)
    with (tmp_path / "out" / "train-side-by-side.csv").open(newline="") as handle:
        pairs = list(csv.DictReader(handle))
    assert {Path(row["image"]).parent for row in pairs} == {
        (tmp_path / "out" / "side_by_side" / "images").resolve()
    }
    assert "skirt" in {row["text"] for row in pairs}
    assert any("left" in row["text"] or "right" in row["text"] for row in pairs)
    with (tmp_path / "out" / "val_side_by_side.csv").open(newline="") as handle:
        referring = list(csv.DictReader(handle))
    with (tmp_path / "out" / "val_side_by_side_bare.csv").open(newline="") as handle:
        bare = list(csv.DictReader(handle))
    assert referring
    assert [row["mask"] for row in bare] == [row["mask"] for row in referring]
    assert {row["text"] for row in bare} == {"skirt"}
    assert all(row["text"] != "skirt" for row in referring)
