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
    assert "Processed 2 images." in error_output
    assert "Wrote 4 mask files" in error_output
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


def _exit_code(arguments: list[str]) -> int:
    """Run ``main`` and return its exit status, whether it returns or raises SystemExit."""
    try:
        return main(arguments)
    except SystemExit as exit_info:
        return exit_info.code


def _only_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture
def clashing_inputs(tmp_path):
    """Three images whose stems are all "x", each of its own size so masks can be traced back."""
    root = tmp_path / "inputs"
    sizes = {"a/x.jpg": (30, 20), "a/x.png": (40, 24), "b/x.jpg": (36, 28)}
    for index, (relative, (width, height)) in enumerate(sizes.items()):
        _write_photo(root / relative, width, height, seed=index)
    return root, sizes


CLASHING_PROMPTS = ["car", "Car", "left/right", "left_right"]


def _predict_png(root: Path, out: Path, prompts: list[str]) -> int:
    arguments = ["predict", "--model", "tiny", "--out", str(out)]
    for prompt in prompts:
        arguments += ["--prompt", prompt]
    return main([*arguments, str(root / "a" / "x.jpg"), str(root / "a" / "x.png"), str(root / "b")])


def test_predict_png_names_never_clash(clashing_inputs, tmp_path, capsys, user_dirs):
    root, sizes = clashing_inputs
    out = tmp_path / "out"
    assert _predict_png(root, out, CLASHING_PROMPTS) == 0

    expected_count = len(sizes) * len(CLASHING_PROMPTS)
    written = sorted(
        path.relative_to(out).as_posix() for path in out.rglob("*.png") if path.is_file()
    )
    assert len(written) == expected_count
    assert f"Wrote {expected_count} mask files" in capsys.readouterr().err
    with (out / "predictions.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["mask"] for row in rows) == written
    assert {(row["image"], row["text"]) for row in rows} == {
        (f"../inputs/{relative}", prompt) for relative in sizes for prompt in CLASHING_PROMPTS
    }
    for row in rows:
        relative = row["image"].removeprefix("../inputs/")
        assert row["mask"].startswith(f"{relative}__")
        width, height = sizes[relative]
        mask = np.array(Image.open(out / row["mask"]))
        assert mask.shape == (height, width), row


def test_predict_png_names_stable_across_order(clashing_inputs, tmp_path, user_dirs):
    root, _ = clashing_inputs
    first, second = tmp_path / "first", tmp_path / "second"
    assert _predict_png(root, first, CLASHING_PROMPTS) == 0
    assert _predict_png(root, second, list(reversed(CLASHING_PROMPTS))) == 0

    def name_by_prompt(out: Path) -> set[tuple[str, str, str]]:
        with (out / "predictions.csv").open(encoding="utf-8") as handle:
            return {(row["image"], row["text"], row["mask"]) for row in csv.DictReader(handle)}

    assert name_by_prompt(first) == name_by_prompt(second)


def test_predict_prompt_spelling_other_slug(clashing_inputs, tmp_path, capsys, user_dirs):
    import hashlib

    root, _ = clashing_inputs
    # "Car" and "car" share the slug "car", so each gets a hash; this prompt spells one of them.
    spelled = "car-" + hashlib.sha256(b"Car").hexdigest()[:8]
    code = _exit_code(
        ["predict", "--model", "./no-such-model", "--prompt", "car", "--prompt", "Car"]
        + ["--prompt", spelled, str(root / "b"), "--out", str(tmp_path / "out")]
    )
    assert code == 2
    line = _only_line(capsys.readouterr().err)
    assert spelled in line
    assert "reword one of them" in line


def test_predict_duplicate_prompts_written_once(photo_folder, tmp_path, capsys, user_dirs):
    out = tmp_path / "out"
    code = main(
        ["predict", "--model", "tiny", "--prompt", "red  car", "--prompt", " red car"]
        + [str(photo_folder / "a.png"), "--out", str(out)]
    )
    assert code == 0
    assert sorted(path.name for path in out.glob("*.png")) == ["a.png__red_car.png"]
    assert "Wrote 1 mask file and predictions.csv" in capsys.readouterr().err


def test_predict_coco_image_ids_follow_inputs(clashing_inputs, tmp_path, user_dirs):
    root, sizes = clashing_inputs
    out = tmp_path / "out"
    code = main(
        ["predict", "--model", "tiny", "--prompt", "car", "--format", "coco", "--out", str(out)]
        + [str(root / "a"), str(root / "b")]
    )
    assert code == 0
    coco = COCO(str(out / "predictions.json"))
    names = {image["id"]: image["file_name"] for image in coco.dataset["images"]}
    assert names == {1: "a/x.jpg", 2: "a/x.png", 3: "b/x.jpg"}
    for image in coco.dataset["images"]:
        assert (image["width"], image["height"]) == sizes[image["file_name"]]


# Each case must be rejected before a model loads: "./no-such-model" would fail with a
# "model folder" message if it were looked up first.
PREDICT_BASE = ["predict", "--model", "./no-such-model", "--prompt", "car"]
INPUT_MISTAKES = {
    "empty prompt": (["predict", "--prompt", "", "{photos}", "--out", "{out}"], "--prompt"),
    "blank prompt": (["predict", "--prompt", " \t ", "{photos}", "--out", "{out}"], "--prompt"),
    "threshold above 1": (
        [*PREDICT_BASE, "--threshold", "1.5", "{photos}", "--out", "{out}"],
        "1.5",
    ),
    "threshold below 0": (
        [*PREDICT_BASE, "--threshold", "-0.1", "{photos}", "--out", "{out}"],
        "-0.1",
    ),
    "threshold nan": ([*PREDICT_BASE, "--threshold", "nan", "{photos}", "--out", "{out}"], "nan"),
    "threshold word": (
        [*PREDICT_BASE, "--threshold", "high", "{photos}", "--out", "{out}"],
        "high",
    ),
    "out is a file": ([*PREDICT_BASE, "{photos}", "--out", "{file}"], "existing file"),
    "out below a file": ([*PREDICT_BASE, "{photos}", "--out", "{file}/sub"], "is a file"),
    "missing path": ([*PREDICT_BASE, "{tmp}/nowhere", "--out", "{out}"], "does not exist"),
    "no images": ([*PREDICT_BASE, "{tmp}/empty-folder", "--out", "{out}"], "no image files"),
    "eval limit 0": (["eval", "--manifest", "{manifest}", "--limit", "0"], "--limit"),
    "eval limit negative": (["eval", "--manifest", "{manifest}", "--limit", "-2"], "--limit"),
    "eval threshold": (["eval", "--manifest", "{manifest}", "--threshold", "2"], "--threshold"),
    "eval json folder": (["eval", "--manifest", "{manifest}", "--json", "{tmp}"], "--json"),
    "export coco out folder": (["export", "{project}", "--out", "{tmp}"], "existing folder"),
    "export png out file": (
        ["export", "{project}", "--format", "png", "--out", "{file}"],
        "existing file",
    ),
    "train out file": (
        ["train", "--model", "./no-such-model", "--train", "{manifest}", "--out", "{file}"],
        "existing file",
    ),
}


@pytest.mark.parametrize("case", list(INPUT_MISTAKES))
def test_input_mistake_one_line_exit_2(case, photo_folder, tmp_path, capsys, user_dirs):
    from textmask_core.store import ProjectStore

    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "file.txt").write_text("not a folder\n")
    (tmp_path / "project").mkdir()
    with ProjectStore.open(tmp_path / "project"):
        pass
    places = {
        "photos": str(photo_folder),
        "out": str(tmp_path / "out"),
        "file": str(tmp_path / "file.txt"),
        "tmp": str(tmp_path),
        "manifest": str(_write_manifest(tmp_path / "data")),
        "project": str(tmp_path / "project"),
    }
    template, expected = INPUT_MISTAKES[case]
    arguments = [part.format(**places) for part in template]

    assert _exit_code(arguments) == 2
    error_output = capsys.readouterr().err
    line = _only_line(error_output)
    assert line.startswith("textmask ")
    assert expected in line
    assert "Traceback" not in error_output
    assert "model folder" not in error_output
    assert not (tmp_path / "out").exists()


def test_app_missing_folder_exit_2(tmp_path, capsys):
    missing = tmp_path / "nonexistent_folder"
    assert main([str(missing)]) == 2
    line = _only_line(capsys.readouterr().err)
    assert line == f"textmask: folder {missing} not found; pass an existing image folder"


def test_app_file_instead_of_folder(tmp_path, capsys):
    photo = _write_photo(tmp_path / "photo.png")
    assert main([str(photo)]) == 2
    line = _only_line(capsys.readouterr().err)
    assert "is a file, not a folder" in line
    assert str(tmp_path) in line


@pytest.mark.parametrize(
    "arguments",
    [["bogus"], ["bogus", "--prompt", "x"], ["--model", "tiny", "bogus"]],
    ids=["alone", "with options", "after options"],
)
def test_app_unknown_word_lists_subcommands(arguments, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    assert _only_line(capsys.readouterr().err) == (
        "textmask: no such folder or subcommand 'bogus'; subcommands are predict, eval, export, "
        "train"
    )


def test_app_typo_suggests_subcommand(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["predcit"]) == 2
    assert "did you mean 'predict'?" in _only_line(capsys.readouterr().err)


def test_predict_model_path_not_found(photo_folder, tmp_path, capsys, user_dirs):
    from textmask_core.model import build_model, list_models, save_checkpoint, user_models_dir

    save_checkpoint(build_model("tiny"), user_models_dir() / "my-finetune", preset="tiny")
    for model in ("./missing-model", "models/missing", "~/missing-model", "missing-model/"):
        code = main(
            ["predict", "--model", model, "--prompt", "x", str(photo_folder)]
            + ["--out", str(tmp_path / "out")]
        )
        assert code == 2
        line = _only_line(capsys.readouterr().err)
        assert f"model folder {model} not found" in line
        assert "my-finetune" in line
        assert "tiny" in line
        if not any(entry.name == "default" for entry in list_models()):
            assert "default (not installed)" in line
        else:
            assert "default," in line


def test_predict_unknown_name_lists_default(photo_folder, tmp_path, capsys, user_dirs):
    code = main(
        ["predict", "--model", "nope", "--prompt", "x", str(photo_folder)]
        + ["--out", str(tmp_path / "out")]
    )
    assert code == 2
    line = _only_line(capsys.readouterr().err)
    assert "no model named 'nope'" in line
    assert "Known models are default" in line


def _project_with_unreadable(folder: Path) -> None:
    """A project of one good image, one marked unreadable and one whose size cannot be read."""
    from textmask_core.store import ProjectStore

    good = _write_photo(folder / "good.png", 20, 10)
    broken = folder / "broken.jpg"
    shutil.copy(CASES / "truncated.jpg", broken)
    empty = folder / "empty.png"
    shutil.copy(CASES / "empty.png", empty)
    mask = np.zeros((10, 20), bool)
    mask[2:6, 3:9] = True
    with ProjectStore.open(folder) as store:
        store.sync_images([good, broken, empty])
        records = {Path(record.path).name: record for record in store.list_images()}
        store.set_image_size(records["good.png"].id, 20, 10)
        store.set_image_status(records["broken.jpg"].id, "unreadable", "image file is truncated")
        store.add_label("box")
        store.add_object(records["good.png"].id, "box", "a box", mask, "edited", None)


@pytest.mark.parametrize("export_format", ["coco", "png"])
def test_export_lists_unreadable_images(export_format, tmp_path, capsys):
    folder = tmp_path / "project"
    _project_with_unreadable(folder)
    out = tmp_path / ("export.json" if export_format == "coco" else "masks")

    assert main(["export", str(folder), "--format", export_format, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "for 1 image to" in printed
    assert "Left out 2 unreadable images:" in printed
    assert "  broken.jpg: image file is truncated" in printed
    assert "  empty.png: " in printed
    if export_format == "coco":
        assert [image["file_name"] for image in COCO(str(out)).dataset["images"]] == ["good.png"]


def test_export_all_unreadable_exit_1(tmp_path, capsys):
    from textmask_core.store import ProjectStore

    folder = tmp_path / "project"
    empty = folder / "empty.png"
    folder.mkdir()
    shutil.copy(CASES / "empty.png", empty)
    with ProjectStore.open(folder) as store:
        store.sync_images([empty])
    assert main(["export", str(folder), "--out", str(tmp_path / "x.json")]) == 1
    printed = capsys.readouterr().out
    assert "Left out 1 unreadable image:" in printed


def test_train_progress_starts_with_total(tmp_path, capsys, user_dirs):
    manifest = _write_manifest(tmp_path / "data")
    arguments = ["train", "--model", "tiny", "--train", str(manifest), "--out", str(tmp_path / "o")]
    arguments += ["--max-steps", "1", "--batch-size", "2", "--trainable", "head"]
    arguments += ["--augment", "none", "--cache-dir", str(tmp_path / "cache"), "--no-tensorboard"]
    assert main(arguments) == 0
    error_output = capsys.readouterr().err
    # A bar opened before the first step has no total and prints "0step [00:00, ?step/s]".
    assert "step [" not in error_output
    assert "0/1 [" in error_output
    assert "Done after 1 step." in error_output
