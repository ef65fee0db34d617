"""Real runs of the tiny preset on coloured shapes: learning, resume, cancel, divergence, CLI."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from shapes import write_manifest

from textmask_core.manifest import read_manifest
from textmask_core.model import build_model, load_checkpoint, preset_config, save_checkpoint
from textmask_core.predictor import Predictor
from textmask_training.api import AugmentationConfig, NonFiniteLossError, TrainConfig, train
from textmask_training.checkpointing import LAST_FOLDER, STATE_FILE
from textmask_training.cli_train import add_train_arguments, run_train_command
from textmask_training.data.manifest import manifest_samples
from textmask_training.evaluate import evaluate_rows
from textmask_training.metrics_log import METRICS_FILE
from textmask_training.validation import evaluate_samples


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    return write_manifest(root / "train", images=24, seed=1), write_manifest(
        root / "val", images=8, seed=2
    )


def _config(shapes, tmp_path, **changes) -> TrainConfig:
    train_manifest, val_manifest = shapes
    config = TrainConfig(
        train=(str(train_manifest),),
        val=(str(val_manifest),),
        out=tmp_path / "out",
        model="tiny",
        epochs=8,
        batch_size=8,
        lr=3e-3,
        trainable="all-unfrozen",
        l2sp_weight=0.0,
        patience=0,
        augmentation=AugmentationConfig(scale_crop=False, colour_jitter=False),
        cache_dir=tmp_path / "cache",
        tensorboard=False,
        seed=0,
    )
    return replace(config, **changes)


def test_tiny_run_learns_shapes(shapes, tmp_path):
    config = _config(shapes, tmp_path, epochs=5, eval_every=1000)
    records = list(train(config))
    steps = [record for record in records if record.kind == "step"]
    evaluations = [record for record in records if record.kind == "eval"]
    assert records[-1].kind == "done"
    assert records[-1].checkpoint == config.out
    assert len(steps) == records[-1].total_steps == 30  # 48 rows, 6 batches per epoch
    first_losses = np.mean([record.loss for record in steps[:5]])
    last_losses = np.mean([record.loss for record in steps[-5:]])
    assert last_losses < first_losses - 0.1
    before, after = evaluations[0].metrics["mean_iou"], evaluations[-1].metrics["mean_iou"]
    assert after > before + 0.2
    model, info = load_checkpoint(config.out)
    assert info.metadata["training"]["metrics_before"]["mean_iou"] == pytest.approx(before)
    assert info.metadata["training"]["metrics_after"]["mean_iou"] == pytest.approx(after)
    assert info.metadata["training"]["data"]["train_images"] == 24
    lines = (config.out / METRICS_FILE).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["kind"] == "done"


def test_validation_matches_textmask_eval(shapes, tmp_path):
    model, _ = load_checkpoint_or_tiny()
    _, val_manifest = shapes
    report = evaluate_rows(Predictor(model, "cpu"), read_manifest(val_manifest))
    summary = evaluate_samples(model, manifest_samples(val_manifest), torch.device("cpu"))
    assert summary.mean_iou == pytest.approx(report.overall.mean_iou)
    assert summary.cumulative_iou == pytest.approx(report.overall.cumulative_iou)
    assert summary.rows == report.overall.rows


def load_checkpoint_or_tiny():
    from textmask_core.model import build_model

    torch.manual_seed(0)
    model = build_model("tiny")
    return model, None


def test_resume_gives_same_next_steps(shapes, tmp_path):
    augmented = AugmentationConfig(scale_crop=True, colour_jitter=True, max_zoom=1.5)
    straight = _config(shapes, tmp_path / "a", val=(), max_steps=6, augmentation=augmented)
    expected = [record.loss for record in train(straight) if record.kind == "step"]

    interrupted = replace(straight, out=tmp_path / "b" / "out")
    seen: list[float] = []
    for record in train(interrupted, cancel=lambda: len(seen) >= 3):
        if record.kind == "step":
            seen.append(record.loss)
    assert record.kind == "cancelled"
    assert (interrupted.out / LAST_FOLDER / STATE_FILE).is_file()
    state = json.loads((interrupted.out / LAST_FOLDER / STATE_FILE).read_text(encoding="utf-8"))
    assert state["counters"]["step"] == 3

    resumed = replace(interrupted, resume=interrupted.out)
    rest = [record for record in train(resumed) if record.kind == "step"]
    assert [record.step for record in rest] == [4, 5, 6]
    assert seen + [record.loss for record in rest] == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_resume_rejects_changed_data(shapes, tmp_path):
    config = _config(shapes, tmp_path, val=(), max_steps=2)
    list(train(config))
    with pytest.raises(ValueError, match="batch_size"):
        list(train(replace(config, resume=config.out, batch_size=4)))


def test_cancel_event_stops_before_first_step(shapes, tmp_path):
    cancel = threading.Event()
    cancel.set()
    records = list(train(_config(shapes, tmp_path, val=()), cancel=cancel))
    assert [record.kind for record in records] == ["cancelled"]
    assert records[0].step == 0


def test_non_finite_loss_names_step_and_rate(shapes, tmp_path):
    config = _config(shapes, tmp_path, val=(), lr=1e12, warmup_steps=0, grad_clip=0.0)
    with pytest.raises(
        NonFiniteLossError, match=r"loss is nan at step \d+ \(learning rate [0-9.e+]+\)"
    ):
        list(train(config))


def test_frozen_encoder_uses_feature_cache(shapes, tmp_path):
    config = _config(shapes, tmp_path, trainable="head", max_steps=3, val=())
    records = list(train(config))
    assert records[-1].kind == "done"
    cached = list((tmp_path / "cache" / "features").glob("*/*/*.safetensors"))
    assert len(cached) == 48  # 24 images, each unflipped and flipped


def test_last_stage_trains_on_cache(shapes, tmp_path):
    """The last stage trains on cached early maps, and the steps match online encoding."""
    changes = {"trainable": "fusion+head", "image_trainable_stages": 1, "max_steps": 2}
    cached = _config(shapes, tmp_path / "cached", **changes)
    online = _config(shapes, tmp_path / "online", feature_cache=False, **changes)
    cached_losses = [r.loss for r in train(cached) if r.kind == "step"]
    online_losses = [r.loss for r in train(online) if r.kind == "step"]
    files = list((tmp_path / "cached" / "cache" / "features").glob("*/*/*.safetensors"))
    assert len(files) == 24 * 2 + 8  # training images both ways round, validation images once
    assert cached_losses == pytest.approx(online_losses, abs=2e-3)
    torch.manual_seed(cached.seed)  # the run's starting weights
    start = build_model("tiny").image_encoder.state_dict()
    trained = load_checkpoint(cached.out)[0].image_encoder.state_dict()
    last = [name for name in trained if name.startswith("layers.3.")]
    assert any(not torch.equal(trained[name], start[name]) for name in last)
    assert all(
        torch.equal(trained[name], start[name]) for name in trained if name.startswith("stem.")
    )


def test_cached_windows_match_online(shapes, tmp_path):
    """Rows shown through cached zoom windows give the losses of the same windows encoded
    online, and every window of every training photo is cached."""
    windows = AugmentationConfig(
        flip=False, scale_crop=False, colour_jitter=False, zoom_windows=True, window_share=0.5
    )
    changes = {"trainable": "fusion+head", "max_steps": 3, "augmentation": windows}
    cached = _config(shapes, tmp_path / "cached", **changes)
    online = _config(shapes, tmp_path / "online", feature_cache=False, **changes)
    cached_losses = [r.loss for r in train(cached) if r.kind == "step"]
    online_losses = [r.loss for r in train(online) if r.kind == "step"]
    files = list((tmp_path / "cached" / "cache" / "features").glob("*/*/*.safetensors"))
    assert len(files) == 24 * 6 + 8  # training photos whole and through five windows
    assert sum("-window" in file.name for file in files) == 24 * 5
    assert cached_losses == pytest.approx(online_losses, abs=2e-3)
    plain = _config(
        shapes,
        tmp_path / "plain",
        **(changes | {"augmentation": replace(windows, zoom_windows=False)}),
    )
    plain_losses = [r.loss for r in train(plain) if r.kind == "step"]
    assert plain_losses != pytest.approx(cached_losses, abs=2e-3)


def test_input_size_changes_starting_model(shapes, tmp_path):
    """A run at another input size trains as if the folder had been saved at that size."""
    tiny = preset_config("tiny")
    torch.manual_seed(0)  # dropout makes the steps depend on the random state after loading
    start = build_model(replace(tiny, fusion=replace(tiny.fusion, dropout=0.2)))
    save_checkpoint(start, tmp_path / "start-64")
    resized = build_model(dataclasses.replace(start.config, input_size=128))
    resized.load_state_dict(start.state_dict())
    save_checkpoint(resized, tmp_path / "start-128")
    changes = {"trainable": "fusion+head", "max_steps": 3, "val": ()}
    converted = _config(
        shapes, tmp_path / "a", model=str(tmp_path / "start-64"), input_size=128, **changes
    )
    saved = _config(shapes, tmp_path / "b", model=str(tmp_path / "start-128"), **changes)
    converted_losses = [r.loss for r in train(converted) if r.kind == "step"]
    saved_losses = [r.loss for r in train(saved) if r.kind == "step"]
    assert converted_losses == pytest.approx(saved_losses, abs=1e-6)
    assert load_checkpoint(converted.out)[0].config.input_size == 128
    files = (tmp_path / "a" / "cache" / "features").glob("*/*/*.safetensors")
    assert {tuple(load_file(str(file))["stride_4"].shape[1:]) for file in files} == {(32, 32)}
    with pytest.raises(ValueError, match="input_size must be a positive multiple of 32"):
        _config(shapes, tmp_path, input_size=100)


def test_bucket_model_trains_mixed_shapes(tmp_path):
    """Wide, tall and square photos go to three canvases, and each batch uses one of them."""
    sizes = [(48, 36), (36, 48), (40, 40)]
    train_manifest = write_manifest(tmp_path / "train", images=24, seed=1, size=sizes)
    val_manifest = write_manifest(tmp_path / "val", images=6, seed=2, size=sizes)
    torch.manual_seed(0)
    config = dataclasses.replace(preset_config("tiny"), input_size=128, aspect_buckets=True)
    save_checkpoint(build_model(config), tmp_path / "start")
    for name, cache in (("cached", True), ("online", False)):
        run = _config(
            (train_manifest, val_manifest),
            tmp_path / name,
            model=str(tmp_path / "start"),
            trainable="fusion+head",
            epochs=1,
            feature_cache=cache,
        )
        records = list(train(run))
        assert records[-1].kind == "done"
        # 16 rows of each shape, batches of 8: two batches per shape.
        assert records[-1].total_steps == 6
        assert all(math.isfinite(r.loss) for r in records if r.kind == "step")
    files = (tmp_path / "cached" / "cache" / "features").glob("*/*/*.safetensors")
    shapes = {tuple(load_file(str(file))["stride_4"].shape[1:]) for file in files}
    assert shapes == {(24, 40), (40, 24), (32, 32)}


def test_encoder_lr_scale_sets_group_rate(shapes, tmp_path):
    config = _config(
        shapes,
        tmp_path,
        trainable="fusion+head",
        image_trainable_stages=1,
        encoder_lr_scale=0.1,
        max_steps=1,
        val=(),
    )
    list(train(config))
    state = json.loads((config.out / LAST_FOLDER / STATE_FILE).read_text(encoding="utf-8"))
    rates = sorted(group["lr"] for group in state["param_groups"])
    assert len(rates) == 2
    assert rates[0] == pytest.approx(rates[1] * 0.1)
    with pytest.raises(ValueError, match="encoder_lr_scale must be a positive number"):
        replace(config, encoder_lr_scale=0.0)


def test_cli_trains_and_resumes(shapes, tmp_path, capsys):
    train_manifest, val_manifest = shapes
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    out = tmp_path / "cli-out"
    arguments = [
        "--model",
        "tiny",
        "--train",
        str(train_manifest),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--trainable",
        "head",
        "--augment",
        "none",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-tensorboard",
    ]
    assert run_train_command(parser.parse_args(arguments)) == 0
    assert "Best checkpoint" in capsys.readouterr().err
    resumed = parser.parse_args(["--resume", str(out), "--max-steps", "3"])
    assert run_train_command(resumed) == 0
    state = json.loads((out / LAST_FOLDER / STATE_FILE).read_text(encoding="utf-8"))
    assert state["counters"]["step"] == 3
    assert state["config"]["trainable"] == "head"
    assert run_train_command(parser.parse_args(["--train", "nowhere.txt", "--out", str(out)])) == 2
    assert run_train_command(parser.parse_args(["--resume", str(out), "--augment", "blur"])) == 2
    assert "unknown augmentation(s) blur" in capsys.readouterr().err
