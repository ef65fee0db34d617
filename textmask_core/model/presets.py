"""Named model presets and the builder that turns a preset or config into a model."""

from __future__ import annotations

from collections.abc import Callable

from textmask_core.model.config import (
    ClassPriorConfig,
    FusionConfig,
    ImageEncoderConfig,
    MaskHeadConfig,
    ModelConfig,
    TextEncoderConfig,
)
from textmask_core.model.textmask_model import TextMaskModel

# A BERT of toy size for the tiny preset; the MiniLM tokenizer's vocabulary has 30,522 entries.
_TINY_BERT = {
    "vocab_size": 30522,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}


def tiny_config() -> ModelConfig:
    """Build the config of the real classes at toy widths with random weights, for tests."""
    return ModelConfig(
        image_encoder=ImageEncoderConfig(
            kind="resnet",
            weights=None,
            resnet_block="basic",
            resnet_layers=(1, 1, 1, 1),
            frozen=False,
        ),
        text_encoder=TextEncoderConfig(
            kind="bert",
            weights=None,
            tokenizer="package",
            architecture=dict(_TINY_BERT),
            max_tokens=16,
            frozen=False,
        ),
        fusion=FusionConfig(dim=16, heads=2, attention_strides=(16, 32)),
        mask_head=MaskHeadConfig(channels=(16, 16, 16, 8)),
        input_size=64,
    )


def offline_default_config() -> ModelConfig:
    """Build the shipped model's config: packaged EfficientNet-Lite0 and all-MiniLM-L6-v2, frozen.

    The prompt conditions the maps at strides 8, 16 and 32. Each photo is padded to the closest
    of the aspect-ratio canvases of about 512 x 512 pixels, and the encoder's ImageNet
    classifier adds a prior for the classes named closest to the prompt. The model card
    (docs/model-card.md) compares these choices on held-out photos and gives the training
    command, whose first parts run at 384 pixels.
    """
    return ModelConfig(
        fusion=FusionConfig(conditioned_strides=(8, 16, 32)),
        mask_head=MaskHeadConfig(channels=(128, 96, 64, 32)),
        input_size=512,
        aspect_buckets=True,
        class_prior=ClassPriorConfig(enabled=True),
    )


def resnet50_bert_config(
    resnet_weights: str = "~/.cache/textmask/resnet50.safetensors",
    text_weights: str = "bert-base-uncased",
) -> ModelConfig:
    """Build the config of the original design: torchvision ResNet-50 and a BERT text encoder.

    ``resnet_weights`` is a safetensors file of torchvision's ResNet-50 state dict;
    ``text_weights`` is a local folder or a Hugging Face id present in the local cache.
    """
    return ModelConfig(
        image_encoder=ImageEncoderConfig(kind="resnet", weights=resnet_weights),
        text_encoder=TextEncoderConfig(kind="bert", weights=text_weights, tokenizer=None),
        fusion=FusionConfig(
            dim=256, heads=8, conditioned_strides=(8, 16, 32), attention_strides=(16, 32)
        ),
        mask_head=MaskHeadConfig(channels=(256, 128, 64, 32)),
        input_size=480,
    )


PRESETS: dict[str, Callable[[], ModelConfig]] = {
    "tiny": tiny_config,
    "offline-default": offline_default_config,
    "resnet50-bert": resnet50_bert_config,
}


def preset_config(name: str) -> ModelConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; valid presets are {', '.join(PRESETS)}")
    return PRESETS[name]()


def build_model(preset_or_config: str | ModelConfig) -> TextMaskModel:
    """Build a model from a preset name or a config. Heads start with random weights."""
    config = (
        preset_config(preset_or_config) if isinstance(preset_or_config, str) else preset_or_config
    )
    return TextMaskModel(config)
