"""The ``textmask`` command line, run in-process with the tiny model."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from textmask_core import __version__
from textmask_desktop.cli import main

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"


def _write_photo(path: Path, width: int = 48, height: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos with space"
    _write_photo(folder / "a.png", seed=1)
    _write_photo(folder / "b é.png", width=30, height=40, seed=2)
    shutil.copy(CASES / "truncated.jpg", folder / "truncated.jpg")
    return folder


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"textmask {__version__}"


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    output = capsys.readouterr().out
    for name in ("predict", "eval", "export", "train"):
        assert name in output


@pytest.mark.parametrize("subcommand", ["predict", "eval", "export", "train"])
def test_subcommand_help(subcommand, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([subcommand, "--help"])
    assert exit_info.value.code == 0
    assert f"textmask {subcommand}" in capsys.readouterr().out


def test_console_script_installed():
    script = Path(sys.executable).parent / "textmask"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_predict_png_skips_unreadable(photo_folder, tmp_path, capsys, user_dirs):
    out = tmp_path / "out"
    code = main(
        [
            "predict",
            "--model",
            "tiny",
            "--prompt",
            "red car",
            "--prompt",
            "sky",
            str(photo_folder),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    error_output = capsys.readouterr().err
    assert "truncated.jpg" in error_output
    assert "Processed 2 image(s)" in error_output
    with (out / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    assert {row["text"] for row in rows} == {"red car", "sky"}
    for row in rows:
        mask = np.array(Image.open(out / row["mask"]))
        source = Image.open((out / row["image"]).resolve())
        assert mask.shape == (source.height, source.width)
        assert set(np.unique(mask)) <= {0, 255}


def test_predict_coco_reloads_in_pycocotools(photo_folder, tmp_path, user_dirs):
    out = tmp_path / "out"
    code = main(
        [
            "predict",
            "--model",
            "tiny",
            "--threshold",
            "0.0",
            "--prompt",
            "dog",
            str(photo_folder),
            "--out",
            str(out),
            "--format",
            "coco",
        ]
    )
    assert code == 0
    coco = COCO(str(out / "predictions.json"))
    assert sorted(image["file_name"] for image in coco.dataset["images"]) == ["a.png", "b é.png"]
    assert [category["name"] for category in coco.dataset["categories"]] == ["dog"]
    for annotation in coco.dataset["annotations"]:
        image = coco.imgs[annotation["image_id"]]
        # Threshold 0 marks every pixel, so each mask is the full image.
        assert coco.annToMask(annotation).sum() == image["width"] * image["height"]


def test_predict_nothing_readable_fails(tmp_path, capsys, user_dirs):
    folder = tmp_path / "bad"
    folder.mkdir()
    shutil.copy(CASES / "empty.png", folder / "empty.png")
    code = main(
        ["predict", "--model", "tiny", "--prompt", "x", str(folder), "--out", str(tmp_path / "out")]
    )
    assert code == 1
    assert "empty.png" in capsys.readouterr().err


def test_predict_unknown_model_message(photo_folder, tmp_path, capsys, user_dirs):
    code = main(
        [
            "predict",
            "--model",
            "nope",
            "--prompt",
            "x",
            str(photo_folder),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "no model named 'nope'" in capsys.readouterr().err


def _write_manifest(folder: Path) -> Path:
    rows = []
    for index, (text, fill) in enumerate([("square", True), ("square", True), ("unicorn", False)]):
        image = _write_photo(folder / "images" / f"{index}.png", 40, 30, seed=index)
        mask = np.zeros((30, 40), np.uint8)
        if fill:
            mask[5:20, 10:30] = 255
        Image.fromarray(mask).save(folder / "images" / f"{index}_mask.png")
        rows.append((f"images/{image.name}", text, f"images/{index}_mask.png"))
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "text", "mask"])
        writer.writerows(rows)
    return manifest


def test_eval_json_has_model_and_baselines(tmp_path, capsys, user_dirs):
    manifest = _write_manifest(tmp_path / "data")
    out = tmp_path / "scores.json"
    code = main(["eval", "--model", "tiny", "--manifest", str(manifest), "--json", str(out)])
    assert code == 0
    scores = json.loads(out.read_text())
    expected_keys = {
        "mean_iou",
        "cumulative_iou",
        "precision_at_0.5",
        "precision_at_0.7",
        "precision_at_0.9",
        "absent_accuracy",
        "rows",
        "absent_rows",
        "seconds_per_image",
    }
    assert set(scores["overall"]) == expected_keys
    assert set(scores["baselines"]) == {"empty", "full", "center_box"}
    assert scores["overall"]["rows"] == 3
    assert scores["overall"]["absent_rows"] == 1
    # The full-image baseline covers the 15x20 square in a 30x40 image: IoU 0.25.
    assert scores["baselines"]["full"]["mean_iou"] == pytest.approx(0.25)
    assert scores["baselines"]["empty"]["mean_iou"] == 0.0
    assert scores["baselines"]["empty"]["absent_accuracy"] == 1.0
    assert scores["per_text"]["unicorn"]["mean_iou"] is None
    printed = capsys.readouterr().out
    assert "baseline: center_box" in printed


def test_eval_missing_manifest(tmp_path, capsys):
    code = main(["eval", "--model", "tiny", "--manifest", str(tmp_path / "none.csv")])
    assert code == 2
    assert "none.csv" in capsys.readouterr().err


def test_export_project_to_coco(tmp_path, capsys):
    from textmask_core.store import ProjectStore

    folder = tmp_path / "project"
    photo = _write_photo(folder / "one.png", 20, 10)
    mask = np.zeros((10, 20), bool)
    mask[2:6, 3:9] = True
    with ProjectStore.open(folder) as store:
        store.sync_images([photo])
        image = store.list_images()[0]
        store.set_image_size(image.id, 20, 10)
        store.add_label("box")
        store.add_object(image.id, "box", "a box", mask, "edited", None)
    out = tmp_path / "export.json"
    assert main(["export", str(folder), "--out", str(out)]) == 0
    coco = COCO(str(out))
    annotation = coco.dataset["annotations"][0]
    assert (
        coco.dataset["categories"][0] == {"id": 1, "name": "box", "supercategory": ""}
        or coco.dataset["categories"][0]["id"] == 1
    )
    np.testing.assert_array_equal(coco.annToMask(annotation).astype(bool), mask)


def test_export_without_project_is_clear(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["export", str(tmp_path / "empty"), "--out", str(tmp_path / "x.json")]) == 2
    assert "no TextMask project" in capsys.readouterr().err
