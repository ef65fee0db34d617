"""The text-conditioned segmentation model: components, presets, checkpoints and catalog."""

from textmask_core.model.catalog import (
    DEFAULT_MODEL,
    ModelEntry,
    list_models,
    load_model,
    resolve_model,
    user_models_dir,
)
from textmask_core.model.checkpoint import (
    CheckpointInfo,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
)
from textmask_core.model.config import (
    FusionConfig,
    ImageEncoderConfig,
    MaskHeadConfig,
    ModelConfig,
    TextEncoderConfig,
)
from textmask_core.model.presets import PRESETS, build_model, preset_config
from textmask_core.model.textmask_model import TextMaskModel

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "CheckpointInfo",
    "FusionConfig",
    "ImageEncoderConfig",
    "MaskHeadConfig",
    "ModelConfig",
    "ModelEntry",
    "TextEncoderConfig",
    "TextMaskModel",
    "build_model",
    "list_models",
    "load_checkpoint",
    "load_model",
    "preset_config",
    "read_checkpoint_info",
    "resolve_model",
    "save_checkpoint",
    "user_models_dir",
]
