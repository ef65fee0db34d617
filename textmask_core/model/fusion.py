"""Cross-attention fusion: image positions attend to the prompt's tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from textmask_core.model.config import FusionConfig
from textmask_core.model.image_encoders import FEATURE_STRIDES
from textmask_core.model.text_encoders import TextFeatures


class FiLM(nn.Module):
    """Scale and shift each channel by amounts predicted from the pooled sentence feature."""

    def __init__(self, text_dim: int, dim: int) -> None:
        super().__init__()
        self.project = nn.Linear(text_dim, 2 * dim)
        # Start as the identity so an untrained head does not scramble the image features.
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, image: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        scale, shift = self.project(pooled).chunk(2, dim=-1)  # (P, C) each
        return image * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class CrossAttentionBlock(nn.Module):
    """One pre-norm cross-attention layer and feed-forward layer over a feature map.

    Queries are image positions plus a learned encoding of their (x, y) place in the image,
    so that phrases such as "on the left" can select by position.
    """

    def __init__(self, dim: int, text_dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.position = nn.Linear(2, dim)
        self.text_project = nn.Linear(text_dim, dim)
        self.query_norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.feedforward_norm = nn.LayerNorm(dim)
        self.feedforward = nn.Sequential(
            nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)
        )

    def forward(self, image: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        batch, channels, height, width = image.shape
        positions = self.position(_grid_coordinates(height, width, image))  # (H*W, C)
        sequence = image.flatten(2).transpose(1, 2)  # (P, H*W, C)
        query = self.query_norm(sequence + positions)
        keys = self.text_project(text.tokens)  # (P, T, C)
        attended, _ = self.attention(
            query, keys, keys, key_padding_mask=~text.attention_mask, need_weights=False
        )
        sequence = sequence + attended
        sequence = sequence + self.feedforward(self.feedforward_norm(sequence))
        return sequence.transpose(1, 2).reshape(batch, channels, height, width)


def _grid_coordinates(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Return (H*W, 2) pixel-centre coordinates in [-1, 1], x first."""
    ys = torch.linspace(-1, 1, height, device=like.device, dtype=like.dtype)
    xs = torch.linspace(-1, 1, width, device=like.device, dtype=like.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


@dataclass(frozen=True)
class FusedFeatures:
    """Fusion output, finest level first.

    ``maps[i]`` is (P, dim, h, w) when ``per_prompt[i]`` is True, else (B, dim, h, w) for the
    B images. ``image_index`` (P,) gives each prompt's image row.
    """

    maps: list[torch.Tensor]
    per_prompt: tuple[bool, ...]
    image_index: torch.Tensor


class Fusion(nn.Module):
    """Project each image feature map to ``dim`` channels and condition some on the prompt.

    Input: image features at ``FEATURE_STRIDES`` with batch size B, the prompts'
    ``TextFeatures`` (P prompts) and ``image_index`` (P,), the image row of each prompt.
    The projection runs once per image. Levels in ``conditioned_strides`` are then repeated per
    prompt, attend to the text (``attention_strides``) and are scaled and shifted by the
    sentence feature. The other levels stay per image, which keeps the fine levels cheap.
    With ``prior_channels`` > 0, ``forward`` also takes per-prompt prior maps at the coarsest
    level (see ``textmask_core.model.class_prior``), added there through a 1x1 convolution.
    """

    def __init__(
        self,
        config: FusionConfig,
        image_channels: tuple[int, ...],
        text_dim: int,
        prior_channels: int = 0,
    ) -> None:
        super().__init__()
        _check_strides(config)
        self.config = config
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, config.dim, 1), nn.GroupNorm(8, config.dim))
            for channels in image_channels
        )
        self.film = nn.ModuleDict(
            {str(stride): FiLM(text_dim, config.dim) for stride in config.conditioned_strides}
        )
        self.attention = nn.ModuleDict(
            {
                str(stride): CrossAttentionBlock(config.dim, text_dim, config.heads, config.dropout)
                for stride in config.attention_strides
            }
        )
        self.prior = nn.Conv2d(prior_channels, config.dim, 1) if prior_channels else None
        if self.prior is not None:
            # Start without the prior, as FiLM starts as the identity.
            nn.init.zeros_(self.prior.weight)
            nn.init.zeros_(self.prior.bias)

    def forward(
        self,
        image_features: list[torch.Tensor],
        text: TextFeatures,
        image_index: torch.Tensor,
        prior: torch.Tensor | None = None,
    ) -> FusedFeatures:
        if (prior is None) != (self.prior is None):
            raise ValueError(
                "prior maps are required when the fusion has prior_channels > 0 and invalid "
                "otherwise"
            )
        maps, per_prompt = [], []
        for level, stride in enumerate(FEATURE_STRIDES):
            x = self.lateral[level](image_features[level])  # (B, dim, h, w)
            key = str(stride)
            if key in self.film:
                x = x.index_select(0, image_index)  # (P, dim, h, w)
                if key in self.attention:
                    x = self.attention[key](x, text)
                x = self.film[key](x, text.pooled)
                if self.prior is not None and stride == max(FEATURE_STRIDES):
                    x = x + self.prior(prior)
            maps.append(F.relu(x))
            per_prompt.append(key in self.film)
        return FusedFeatures(maps=maps, per_prompt=tuple(per_prompt), image_index=image_index)


def _check_strides(config: FusionConfig) -> None:
    for name in ("attention_strides", "conditioned_strides"):
        unknown = sorted(set(getattr(config, name)) - set(FEATURE_STRIDES))
        if unknown:
            raise ValueError(
                f"fusion.{name} contains {unknown}; valid strides are {FEATURE_STRIDES}"
            )
    if not set(config.attention_strides) <= set(config.conditioned_strides):
        raise ValueError(
            "fusion.attention_strides must be a subset of fusion.conditioned_strides, got "
            f"{config.attention_strides} and {config.conditioned_strides}"
        )
    if max(FEATURE_STRIDES) not in config.conditioned_strides:
        raise ValueError(
            f"fusion.conditioned_strides must contain {max(FEATURE_STRIDES)}, the level the "
            "presence score reads"
        )
