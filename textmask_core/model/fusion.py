"""Cross-attention fusion: image positions attend to the prompt's tokens."""

from __future__ import annotations

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


class Fusion(nn.Module):
    """Project each image feature map to ``dim`` channels and condition it on the prompt.

    Input: image features at ``FEATURE_STRIDES`` with batch size B, the prompts'
    ``TextFeatures`` (P prompts) and ``image_index`` (P,), the image row of each prompt.
    The projection runs once per image; only the conditioning runs once per prompt.
    Output: conditioned maps (P, dim, h_s, w_s), finest first.
    """

    def __init__(
        self, config: FusionConfig, image_channels: tuple[int, ...], text_dim: int
    ) -> None:
        super().__init__()
        unknown = sorted(set(config.attention_strides) - set(FEATURE_STRIDES))
        if unknown:
            raise ValueError(
                f"fusion.attention_strides contains {unknown}; valid strides are {FEATURE_STRIDES}"
            )
        self.config = config
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, config.dim, 1), nn.GroupNorm(8, config.dim))
            for channels in image_channels
        )
        self.film = nn.ModuleList(FiLM(text_dim, config.dim) for _ in image_channels)
        self.attention = nn.ModuleDict(
            {
                str(stride): CrossAttentionBlock(config.dim, text_dim, config.heads, config.dropout)
                for stride in config.attention_strides
            }
        )

    def forward(
        self, image_features: list[torch.Tensor], text: TextFeatures, image_index: torch.Tensor
    ) -> list[torch.Tensor]:
        fused = []
        for level, (stride, features) in enumerate(
            zip(FEATURE_STRIDES, image_features, strict=True)
        ):
            x = self.lateral[level](features).index_select(0, image_index)  # (P, dim, h, w)
            if str(stride) in self.attention:
                x = self.attention[str(stride)](x, text)
            fused.append(F.relu(self.film[level](x, text.pooled)))
        return fused
