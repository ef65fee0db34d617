"""The model's components, presets and the composer, on the tiny preset."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from textmask_core.model import (
    FusionConfig,
    MaskHeadConfig,
    ModelConfig,
    build_model,
    preset_config,
)
from textmask_core.model.config import ImageEncoderConfig
from textmask_core.model.image_encoders import build_image_encoder
from textmask_core.model.presets import tiny_config


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return build_model("tiny").eval()


def test_tiny_forward_shapes(tiny_model):
    images = torch.randn(2, 3, 64, 64)
    output = tiny_model(
        images, ["red square", "the dog on the left", "sky"], torch.tensor([0, 1, 1])
    )
    assert output.mask_logits.shape == (3, 1, 16, 16)
    assert output.presence_logits.shape == (3,)
    assert torch.isfinite(output.mask_logits).all()


def test_image_features_have_four_strides(tiny_model):
    features = tiny_model.encode_image(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in features] == [16, 8, 4, 2]
    assert [f.shape[1] for f in features] == list(tiny_model.image_encoder.out_channels)


def test_one_image_serves_many_prompts(tiny_model):
    features = tiny_model.encode_image(torch.randn(1, 3, 64, 64))
    text = tiny_model.encode_text(["cat", "dog", "a red car on the left"])
    together = tiny_model.decode(features, text).mask_logits
    alone = tiny_model.decode(features, tiny_model.encode_text(["dog"])).mask_logits
    assert together.shape[0] == 3
    torch.testing.assert_close(together[1], alone[0], atol=1e-5, rtol=1e-4)


def test_prompt_changes_the_mask(tiny_model):
    torch.manual_seed(1)
    model = build_model("tiny")
    # Give FiLM non-zero weights so the sentence feature reaches the logits.
    for film in model.fusion.film.values():
        torch.nn.init.normal_(film.project.weight, std=0.5)
    features = model.encode_image(torch.randn(1, 3, 64, 64))
    logits = model.decode(features, model.encode_text(["cat", "the tall building"])).mask_logits
    assert not torch.allclose(logits[0], logits[1])


def test_text_features_mask_padding(tiny_model):
    text = tiny_model.encode_text(["a", "a much longer prompt about a dog"])
    assert text.attention_mask.dtype == torch.bool
    assert text.attention_mask[0].sum() < text.attention_mask[1].sum()
    assert text.pooled.shape == (2, text.tokens.shape[-1])


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match="tiny.*offline-default.*resnet50-bert"):
        preset_config("nope")


def test_invalid_attention_stride_rejected():
    config = ModelConfig(
        image_encoder=tiny_config().image_encoder,
        text_encoder=tiny_config().text_encoder,
        fusion=FusionConfig(dim=16, heads=2, attention_strides=(12,)),
        mask_head=tiny_config().mask_head,
    )
    with pytest.raises(ValueError, match="attention_strides"):
        build_model(config)


def test_config_round_trips_through_dict():
    config = tiny_config()
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_config_rejects_unknown_field():
    data = tiny_config().to_dict()
    data["fusion"]["depth"] = 3
    with pytest.raises(ValueError, match="depth"):
        ModelConfig.from_dict(data)


def test_frozen_encoders_stay_in_eval_mode():
    config = tiny_config()
    frozen = ModelConfig(
        image_encoder=config.image_encoder.__class__(
            **{**config.image_encoder.__dict__, "frozen": True}
        ),
        text_encoder=config.text_encoder,
        fusion=config.fusion,
        mask_head=config.mask_head,
        input_size=64,
    )
    model = build_model(frozen).train()
    assert not model.image_encoder.training
    assert model.fusion.training
    assert not any(p.requires_grad for p in model.image_encoder.parameters())


def test_trainable_stages_unfreeze_last_stage():
    config = tiny_config()
    image = config.image_encoder.__class__(
        **{**config.image_encoder.__dict__, "frozen": True, "trainable_stages": 1}
    )
    model = build_model(
        ModelConfig(image, config.text_encoder, config.fusion, config.mask_head, 64)
    )
    stages = model.image_encoder.stages()
    assert all(p.requires_grad for p in stages[-1].parameters())
    assert not any(p.requires_grad for p in stages[0].parameters())
    assert "image_encoder." in model.stored_prefixes()


def _encoder_with(kind: str, **changes) -> ImageEncoderConfig:
    base = tiny_config().image_encoder if kind == "resnet" else ImageEncoderConfig(weights=None)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("kind", ["resnet", "efficientnet_lite0"])
def test_forward_from_matches_full_forward(kind):
    torch.manual_seed(0)
    encoder = build_image_encoder(_encoder_with(kind)).eval()
    with torch.no_grad():
        full = encoder(torch.randn(2, 3, 64, 64))
        for first in (1, 2, 3):
            stale = [*full[:first], *(torch.zeros_like(level) for level in full[first:])]
            again = encoder.forward_from(stale, first)
            for level, reference in zip(again, full, strict=True):
                assert torch.allclose(level, reference, atol=1e-5)
    with pytest.raises(ValueError, match="first must be in"):
        encoder.forward_from(full, 0)


@pytest.mark.parametrize(
    ("frozen", "stages", "expected"), [(True, 0, 4), (True, 1, 3), (True, 3, 1), (False, 0, 0)]
)
def test_first_trained_map_per_stages(frozen, stages, expected):
    config = _encoder_with("resnet", frozen=frozen, trainable_stages=stages)
    assert build_image_encoder(config).first_trained_map() == expected


@pytest.mark.slow
def test_offline_default_loads_packaged_encoders():
    model = build_model("offline-default").eval()
    assert model.image_encoder.out_channels == (24, 40, 112, 320)
    assert model.text_encoder.out_channels == 384
    assert model.stored_prefixes() == (
        "fusion.",
        "mask_head.",
        "class_prior.name_features",
        "class_prior.names_encoded",
    )
    with torch.inference_mode():
        output = model(torch.zeros(1, 3, 128, 128), ["dog"])
    assert output.mask_logits.shape == (1, 1, 32, 32)


def _tiny_with_presence(presence_input: str, **changes) -> ModelConfig:
    base = tiny_config()
    head = MaskHeadConfig(channels=base.mask_head.channels, presence_input=presence_input)
    return dataclasses.replace(base, mask_head=head, **changes)


def test_conditioned_presence_ignores_the_bare_prompt():
    # The "conditioned" presence score reads only the prompt-conditioned map and the mask, so
    # two prompts whose conditioning is identical get identical presence scores.
    torch.manual_seed(2)
    model = build_model(_tiny_with_presence("conditioned")).eval()
    features = model.encode_image(torch.randn(1, 3, 64, 64))
    text = model.encode_text(["cat", "the tall building"])
    assert model.decode(features, text).presence_logits.shape == (2,)
    for film in model.fusion.film.values():
        torch.nn.init.zeros_(film.project.weight)
        torch.nn.init.zeros_(film.project.bias)
    for attention in model.fusion.attention.values():
        for parameter in attention.parameters():
            torch.nn.init.zeros_(parameter)
    flat = model.decode(features, text).presence_logits
    torch.testing.assert_close(flat[0], flat[1])


def test_conditioned_presence_needs_a_conditioned_coarsest_map():
    fusion = FusionConfig(dim=16, heads=2, conditioned_strides=(16,), attention_strides=(16,))
    with pytest.raises(ValueError, match="conditioned_strides"):
        build_model(_tiny_with_presence("conditioned", fusion=fusion))


def test_masked_presence_reads_the_map_under_the_mask():
    torch.manual_seed(3)
    model = build_model(_tiny_with_presence("masked")).eval()
    features = model.encode_image(torch.randn(2, 3, 64, 64))
    text = model.encode_text(["cat", "dog", "tree"])
    image_index = torch.tensor([0, 1, 1])
    assert model.decode(features, text, image_index).presence_logits.shape == (3,)
    fused = model.fusion(features, text, image_index)
    size = fused.maps[0].shape[-1]
    # Two masks of the same size and logits in opposite corners: only the region differs.
    corner = torch.full((3, 1, size, size), -8.0)
    corner[..., : size // 2, : size // 2] = 8.0
    opposite = corner.flip(-1).flip(-2)
    first = model.mask_head._presence(fused, text.pooled, corner)
    second = model.mask_head._presence(fused, text.pooled, opposite)
    assert not torch.allclose(first, second)


def test_masked_presence_leaves_the_mask_alone():
    model = build_model(_tiny_with_presence("masked"))
    features = model.encode_image(torch.randn(1, 3, 64, 64))
    text = model.encode_text(["cat"])
    output = model.decode(features, text)
    # The presence loss must not reach the mask logits, only the fusion and the presence layers.
    (gradient,) = torch.autograd.grad(
        output.presence_logits.sum(), output.mask_logits, allow_unused=True
    )
    assert gradient is None


def test_unknown_presence_input_rejected():
    with pytest.raises(ValueError, match="presence_input"):
        build_model(_tiny_with_presence("text"))
