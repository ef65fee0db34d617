"""The class prior: the image encoder's ImageNet classifier, matched to the prompt by name."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from textmask_core.model import build_model, load_checkpoint, save_checkpoint
from textmask_core.model.class_prior import PRIOR_CHANNELS, ClassPrior, imagenet_class_names
from textmask_core.model.config import ClassPriorConfig, ModelConfig
from textmask_core.model.presets import tiny_config


def _tiny_with_prior(**prior) -> ModelConfig:
    base = tiny_config()
    return dataclasses.replace(
        base,
        text_encoder=dataclasses.replace(base.text_encoder, frozen=True),
        class_prior=ClassPriorConfig(enabled=True, **prior),
    )


def _one_class_prior(model, class_name: str) -> ClassPrior:
    """Make the model's classifier output ``class_name`` where channel 0 of its input is high."""
    prior = model.class_prior
    torch.nn.init.zeros_(prior.classifier.weight)
    torch.nn.init.zeros_(prior.classifier.bias)
    with torch.no_grad():
        prior.classifier.weight[imagenet_class_names().index(class_name), 0] = 10.0
    prior._last_images = None
    return prior


def test_names_are_the_thousand_imagenet_classes():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[340] == "zebra"


def test_prior_marks_where_the_named_class_is():
    torch.manual_seed(0)
    model = build_model(_tiny_with_prior(top_k=1)).eval()
    prior = _one_class_prior(model, "zebra")
    coarsest = torch.zeros(1, model.image_encoder.out_channels[-1], 4, 4)
    coarsest[:, 0, :, :2] = 1.0  # the "zebra" evidence lies in the left half
    text = model.encode_text(["zebra", "ambulance"])
    maps = prior(coarsest, text.pooled, torch.tensor([0, 0]), model.text_encoder)
    assert maps.shape == (2, PRIOR_CHANNELS, 4, 4)
    local = maps[:, 0]
    # "zebra" is likely on the left and not on the right; "ambulance" is unlikely on the left.
    assert local[0, :, :2].min() > local[0, :, 2:].max()
    assert local[1, :, :2].max() < local[0, :, :2].min()
    # The closest name of "zebra" is itself: cosine 1.
    torch.testing.assert_close(maps[0, 3], torch.ones(4, 4))


def test_prior_follows_each_prompt_to_its_image():
    torch.manual_seed(0)
    model = build_model(_tiny_with_prior(top_k=1)).eval()
    prior = _one_class_prior(model, "zebra")
    coarsest = torch.zeros(2, model.image_encoder.out_channels[-1], 3, 3)
    coarsest[1, 0] = 1.0  # only the second image shows the class
    text = model.encode_text(["zebra", "zebra"])
    maps = prior(coarsest, text.pooled, torch.tensor([0, 1]), model.text_encoder)
    # The image-level channel is higher for the prompt on the second image.
    assert maps[1, 2].mean() > maps[0, 2].mean()


def test_prior_recomputes_for_new_features():
    torch.manual_seed(0)
    model = build_model(_tiny_with_prior(top_k=1)).eval()
    prior = _one_class_prior(model, "zebra")
    text = model.encode_text(["zebra"])
    index = torch.tensor([0])
    left = torch.zeros(1, model.image_encoder.out_channels[-1], 2, 2)
    left[:, 0, :, 0] = 1.0
    right = left.flip(-1)
    first = prior(left, text.pooled, index, model.text_encoder)
    second = prior(right, text.pooled, index, model.text_encoder)
    torch.testing.assert_close(second, first.flip(-1))
    torch.testing.assert_close(prior(right, text.pooled, index, model.text_encoder), second)


def test_untrained_prior_changes_nothing():
    torch.manual_seed(1)
    with_prior = build_model(_tiny_with_prior()).eval()
    without = build_model(dataclasses.replace(_tiny_with_prior(), class_prior=ClassPriorConfig()))
    without.load_state_dict(with_prior.state_dict(), strict=False)
    without.eval()
    images = torch.randn(1, 3, 64, 64)
    first = with_prior(images, ["a red car", "sky"])
    second = without(images, ["a red car", "sky"])
    torch.testing.assert_close(first.mask_logits, second.mask_logits)
    torch.testing.assert_close(first.presence_logits, second.presence_logits)


def test_prior_reaches_the_mask_once_trained():
    torch.manual_seed(1)
    model = build_model(_tiny_with_prior(top_k=1)).eval()
    torch.nn.init.normal_(model.fusion.prior.weight)
    features = model.encode_image(torch.randn(1, 3, 64, 64))
    text = model.encode_text(["zebra"])
    before = model.decode(features, text).mask_logits
    _one_class_prior(model, "zebra")
    after = model.decode(features, text).mask_logits
    assert not torch.allclose(before, after)


def test_classifier_never_trains():
    model = build_model(_tiny_with_prior())
    model.train()
    assert not any(parameter.requires_grad for parameter in model.class_prior.parameters())
    assert not model.class_prior.training
    output = model(torch.randn(1, 3, 64, 64), ["cat"])
    output.mask_logits.sum().backward()
    assert model.fusion.prior.weight.grad is not None


def test_checkpoint_keeps_the_encoded_names(tmp_path):
    torch.manual_seed(2)
    model = build_model(_tiny_with_prior()).eval()
    assert not bool(model.class_prior.names_encoded)
    output = model(torch.randn(1, 3, 64, 64), ["cat"])
    assert bool(model.class_prior.names_encoded)
    save_checkpoint(model, tmp_path / "model")
    loaded, _ = load_checkpoint(tmp_path / "model")
    loaded.eval()
    assert bool(loaded.class_prior.names_encoded)
    torch.testing.assert_close(loaded.class_prior.name_features, model.class_prior.name_features)
    again = loaded(torch.zeros(1, 3, 64, 64), ["cat"])
    assert again.mask_logits.shape == output.mask_logits.shape


def test_stored_prefixes_keep_a_random_classifier_only():
    prefixes = build_model(_tiny_with_prior()).stored_prefixes()
    assert "class_prior.name_features" in prefixes
    # The tiny encoder has random weights, so its classifier must be stored with it.
    assert "class_prior.classifier." in prefixes


def test_prior_needs_a_frozen_text_encoder():
    config = dataclasses.replace(tiny_config(), class_prior=ClassPriorConfig(enabled=True))
    with pytest.raises(ValueError, match="frozen text encoder"):
        build_model(config)


def test_prior_rejects_an_empty_choice_of_classes():
    with pytest.raises(ValueError, match="top_k"):
        build_model(_tiny_with_prior(top_k=0))


def test_config_without_a_prior_field_still_loads():
    data = tiny_config().to_dict()
    del data["class_prior"]
    assert not ModelConfig.from_dict(data).class_prior.enabled
