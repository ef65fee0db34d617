"""The on-disk image feature cache and the in-memory prompt cache of the tiny preset."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file
from shapes import write_manifest

from textmask_core.imageio import load_image
from textmask_core.model import ImageEncoderConfig, build_model
from textmask_core.model.presets import tiny_config
from textmask_core.preprocess import prepare_image
from textmask_training.data.augment import zoom_windows
from textmask_training.feature_cache import ImageFeatureCache, TextFeatureCache, encoder_fingerprint
from textmask_training.parts import select_trainable

CPU = torch.device("cpu")


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("tiny").eval()


def test_cached_features_match_encoder(model, tmp_path):
    manifest = write_manifest(tmp_path / "data", images=1)
    image = manifest.parent / "images" / "shapes_000.png"
    cache = ImageFeatureCache(tmp_path / "cache", model)
    assert cache.fill(model, [(image, False), (image, True)], torch.device("cpu")) == 2
    assert cache.fill(model, [(image, False)], torch.device("cpu")) == 0
    tensor = prepare_image(load_image(image).pixels, 64, *model.normalization)[0]
    with torch.no_grad():
        expected = model.encode_image(tensor.unsqueeze(0))
    cached = cache.load(image, False)
    for level, reference in zip(cached, expected, strict=True):
        assert level.dtype == torch.float16
        assert torch.allclose(level.float(), reference[0], atol=2e-2, rtol=1e-2)
    assert not torch.equal(cache.load(image, True)[0], cached[0])


def test_window_features_match_encoder(model, tmp_path):
    manifest = write_manifest(tmp_path / "data", images=1, size=(64, 48))
    image = manifest.parent / "images" / "shapes_000.png"
    cache = ImageFeatureCache(tmp_path / "cache", model, window_zoom=2.0)
    assert cache.fill(model, [(image, False), (image, False, 1), (image, False, 4)], CPU) == 3
    assert cache.fill(model, [(image, False, 1)], CPU) == 0
    top, left, height, width = zoom_windows(48, 64, 2.0)[1]
    assert (top, left, height, width) == (0, 32, 24, 32)
    pixels = load_image(image).pixels[top : top + height, left : left + width]
    # The window is padded to its photo's canvas, the 64 x 64 square of the tiny preset.
    tensor = prepare_image(pixels, 64, *model.normalization, (64, 64))[0]
    with torch.no_grad():
        expected = model.encode_image(tensor.unsqueeze(0))
    cached = cache.load(image, False, 1)
    for level, reference in zip(cached, expected, strict=True):
        assert torch.allclose(level.float(), reference[0], atol=2e-2, rtol=1e-2)
    assert not torch.equal(cache.load(image, False, 4)[0], cached[0])
    assert not torch.equal(cache.load(image, False)[0], cached[0])
    with pytest.raises(KeyError, match="window=2"):
        cache.load(image, False, 2)
    other_zoom = ImageFeatureCache(tmp_path / "cache", model, window_zoom=1.5)
    with pytest.raises(KeyError, match="no cached features"):
        other_zoom.load(image, False, 1)


def test_renamed_image_hits_cache(model, tmp_path):
    manifest = write_manifest(tmp_path / "data", images=1)
    image = manifest.parent / "images" / "shapes_000.png"
    cache = ImageFeatureCache(tmp_path / "cache", model)
    cache.fill(model, [(image, False)], torch.device("cpu"))
    copy = tmp_path / "renamed.png"
    shutil.copy(image, copy)
    assert cache.fill(model, [(copy, False)], torch.device("cpu")) == 0
    with pytest.raises(KeyError, match="no cached features"):
        cache.load(copy, True)


def test_trained_stage_recomputed_from_cache(model, tmp_path):
    manifest = write_manifest(tmp_path / "data", images=1)
    image = manifest.parent / "images" / "shapes_000.png"
    select_trainable(model, "fusion+head", image_stages=1)
    cache = ImageFeatureCache(tmp_path / "cache", model)
    assert cache.recompute_from == 3
    cache.fill(model, [(image, False)], torch.device("cpu"))
    with torch.no_grad():
        model.image_encoder.stages()[-1][0].conv1.weight.mul_(2.0)  # as if it had trained
        tensor = prepare_image(load_image(image).pixels, 64, *model.normalization)[0]
        expected = model.encode_image(tensor.unsqueeze(0))
        cached = [level.unsqueeze(0).float() for level in cache.load(image, False)]
        completed = cache.complete(model, cached)
    assert not torch.allclose(cached[3], expected[3], atol=2e-2, rtol=1e-2)
    for level, reference in zip(completed, expected, strict=True):
        assert torch.allclose(level, reference, atol=3e-2, rtol=1e-2)


def test_cache_rejects_trained_first_stage(model, tmp_path):
    select_trainable(model, "fusion+head", image_stages=4)
    cache = ImageFeatureCache(tmp_path / "cache", model)
    maps = [torch.zeros(1, 8, 4, 4)] * 4
    with pytest.raises(ValueError, match="encode images online"):
        cache.complete(model, maps)


def test_fingerprint_follows_stored_weights(model):
    before = encoder_fingerprint(model)
    assert encoder_fingerprint(model) == before
    with torch.no_grad():
        model.image_encoder.stem[0].weight.add_(1.0)
    assert encoder_fingerprint(model) != before


def test_unfrozen_pretrained_stage_keeps_fingerprint(tmp_path):
    from torchvision.models.resnet import BasicBlock, ResNet

    torch.manual_seed(0)
    source = tmp_path / "resnet.safetensors"
    network = ResNet(BasicBlock, [1, 1, 1, 1])
    save_file({name: value.contiguous() for name, value in network.state_dict().items()}, source)
    encoder = ImageEncoderConfig(
        kind="resnet", weights=str(source), resnet_block="basic", resnet_layers=(1, 1, 1, 1)
    )
    model = build_model(replace(tiny_config(), image_encoder=encoder))
    frozen = encoder_fingerprint(model)
    select_trainable(model, "fusion+head", image_stages=1)
    assert "image_encoder." in model.stored_prefixes()
    assert encoder_fingerprint(model) == frozen  # same weights, so the same features
    with torch.no_grad():
        next(model.image_encoder.stages()[-1].parameters()).add_(0.5)
    assert encoder_fingerprint(model) != frozen


def test_prompt_cache_pads_tokens(model):
    cache = TextFeatureCache()
    features = cache.encode(model, ["red square", "the blue circle on the left", "red square"])
    assert features.tokens.shape[0] == 3
    assert features.attention_mask[0].sum() < features.attention_mask[1].sum()
    assert torch.equal(features.pooled[0], features.pooled[2])
    with torch.no_grad():
        direct = model.encode_text(["the blue circle on the left"])
    assert torch.allclose(features.pooled[1], direct.pooled[0], atol=1e-5)
