"""Checkpoint folders: round trip, stored tensors, and clear errors for bad files."""

from __future__ import annotations

import json

import pytest
import torch

from textmask_core.errors import CheckpointError, ModelNotFoundError
from textmask_core.model import (
    FusionConfig,
    ModelConfig,
    build_model,
    list_models,
    load_checkpoint,
    load_model,
    resolve_model,
    save_checkpoint,
)
from textmask_core.model.presets import tiny_config


@pytest.fixture
def saved_tiny(tmp_path):
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    folder = save_checkpoint(
        model, tmp_path / "tiny-ckpt", preset="tiny", metadata={"note": "test"}
    )
    return model, folder


def test_round_trip_gives_same_outputs(saved_tiny):
    model, folder = saved_tiny
    loaded, info = load_checkpoint(folder)
    loaded.eval()
    images = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(
        loaded(images, ["dog"]).mask_logits, model(images, ["dog"]).mask_logits
    )
    assert info.preset == "tiny"
    assert info.metadata["note"] == "test"
    assert "created" in info.metadata
    assert "code_version" in info.metadata


def test_folder_has_only_json_and_safetensors(saved_tiny):
    _, folder = saved_tiny
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    document = json.loads((folder / "config.json").read_text())
    assert document["format"] == "textmask-checkpoint"
    assert document["model"]["input_size"] == 64


def test_missing_config_is_clear(tmp_path):
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_checkpoint(tmp_path)


def test_foreign_json_rejected(saved_tiny):
    _, folder = saved_tiny
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(CheckpointError, match="not a TextMask checkpoint"):
        load_checkpoint(folder)


def test_invalid_json_rejected(saved_tiny):
    _, folder = saved_tiny
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(folder)


def test_corrupt_weights_rejected(saved_tiny):
    _, folder = saved_tiny
    (folder / "model.safetensors").write_bytes(b"\x80\x04\x95pickle-looking garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(folder)


def test_pickle_file_never_loaded(saved_tiny):
    _, folder = saved_tiny
    (folder / "model.safetensors").unlink()
    torch.save({"weights": torch.zeros(1)}, folder / "model.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(folder)


def test_shape_mismatch_names_config_field(saved_tiny):
    _, folder = saved_tiny
    document = json.loads((folder / "config.json").read_text())
    document["model"]["fusion"]["dim"] = 24
    (folder / "config.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="config field 'fusion'"):
        load_checkpoint(folder)


def test_missing_tensors_named(saved_tiny):
    _, folder = saved_tiny
    document = json.loads((folder / "config.json").read_text())
    document["model"]["mask_head"]["presence"] = False
    (folder / "config.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="unexpected .*mask_head.presence"):
        load_checkpoint(folder)


def test_frozen_package_encoders_not_stored():
    config = ModelConfig(fusion=FusionConfig(dim=32, heads=2))
    model = build_model(config)
    assert model.stored_prefixes() == ("fusion.", "mask_head.")


def test_user_model_found_by_name(saved_tiny, user_dirs):
    model, _ = saved_tiny
    from textmask_core.model import user_models_dir

    save_checkpoint(model, user_models_dir() / "my-finetune", preset="tiny")
    entry = resolve_model("my-finetune")
    assert entry.source == "user"
    assert any(e.name == "my-finetune" and e.source == "user" for e in list_models())
    loaded, info = load_model("my-finetune")
    assert info.path == user_models_dir() / "my-finetune"


def test_unknown_model_lists_known_names(user_dirs):
    with pytest.raises(ModelNotFoundError, match="tiny"):
        resolve_model("no-such-model")


def test_preset_name_builds_untrained_model(user_dirs):
    model, info = load_model("tiny")
    assert info.preset == "tiny"
    assert model.config == tiny_config()


def test_checkpoint_files_follow_umask(saved_tiny):
    import os

    _, folder = saved_tiny
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "model.safetensors"):
        assert (folder / name).stat().st_mode & 0o777 == 0o666 & ~umask
