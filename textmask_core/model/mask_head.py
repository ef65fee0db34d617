"""Mask head: an upsampling decoder with skip connections, and a presence score."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from textmask_core.model.config import MaskHeadConfig
from textmask_core.model.fusion import FusedFeatures

PRESENCE_INPUTS = ("image+text", "conditioned", "masked")


@dataclass(frozen=True)
class MaskOutput:
    """mask_logits: (P, 1, H/4, W/4) at stride 4 of the model input; presence_logits: (P,)."""

    mask_logits: torch.Tensor
    presence_logits: torch.Tensor


def _refine_block(width: int, spatial: bool) -> nn.Sequential:
    """Build a depthwise-separable 3x3 block, or a 1x1 block when ``spatial`` is False.

    Separable convolutions cost about a ninth of full ones. The decoder runs once per prompt,
    so this decides how fast training and re-prompting are on a CPU.
    """
    groups = 8 if width % 8 == 0 else 1
    layers: list[nn.Module] = []
    if spatial:
        layers.append(nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False))
    layers += [nn.Conv2d(width, width, 1, bias=False), nn.GroupNorm(groups, width), nn.ReLU()]
    return nn.Sequential(*layers)


class MaskHead(nn.Module):
    """Decode fused maps (finest first, ``fused_dim`` channels each) to one logit map per prompt.

    The decoder starts at stride 32 and at each finer level upsamples by 2, adds that level's
    fused map (the skip connection) and refines with a separable 3x3 convolution. The finest
    level (stride 4) refines with a 1x1 convolution only.
    """

    def __init__(self, config: MaskHeadConfig, fused_dim: int, text_dim: int) -> None:
        super().__init__()
        if len(config.channels) != 4:
            raise ValueError(
                f"mask_head.channels needs 4 values (strides 32, 16, 8, 4), got {config.channels}"
            )
        self.config = config
        channels = config.channels
        self.skips = nn.ModuleList(nn.Conv2d(fused_dim, width, 1) for width in channels)
        self.refine = nn.ModuleList(
            _refine_block(width, spatial=level < len(channels) - 1)
            for level, width in enumerate(channels)
        )
        self.reduce = nn.ModuleList(
            nn.Conv2d(channels[index], channels[index + 1], 1) for index in range(len(channels) - 1)
        )
        self.logits = nn.Conv2d(channels[-1], 1, 1)
        if config.presence_input not in PRESENCE_INPUTS:
            raise ValueError(
                f"mask_head.presence_input must be one of {', '.join(PRESENCE_INPUTS)}, "
                f"got {config.presence_input!r}"
            )
        summary_dim = {
            "image+text": fused_dim + text_dim,
            "conditioned": 2 * fused_dim + 1,
            "masked": 2 * fused_dim + text_dim + 2,
        }[config.presence_input]
        self.presence = (
            nn.Sequential(nn.Linear(summary_dim, 128), nn.ReLU(), nn.Linear(128, 1))
            if config.presence
            else None
        )

    def forward(self, fused: FusedFeatures, pooled_text: torch.Tensor) -> MaskOutput:
        skips = [self._skip(level, fused) for level in range(len(self.skips))]
        x = self.refine[0](skips[0])
        for level in range(1, len(skips)):
            skip = skips[level]
            x = F.interpolate(
                self.reduce[level - 1](x),
                size=skip.shape[-2:],
                mode="bilinear",
                align_corners=False,
            )
            x = self.refine[level](x + skip)
        mask_logits = self.logits(x)
        return MaskOutput(
            mask_logits=mask_logits,
            presence_logits=self._presence(fused, pooled_text, mask_logits),
        )

    def _skip(self, level: int, fused: FusedFeatures) -> torch.Tensor:
        """Project the fused map of decoder ``level`` (0 = stride 32) for each prompt.

        A per-image map is projected before it is repeated per prompt: the 1x1 convolution
        commutes with the repeat, and the projected map has fewer channels to copy.
        """
        index = len(fused.maps) - 1 - level
        projected = self.skips[level](fused.maps[index])
        if fused.per_prompt[index]:
            return projected
        return projected.index_select(0, fused.image_index)

    def _presence(
        self, fused: FusedFeatures, pooled_text: torch.Tensor, mask_logits: torch.Tensor
    ) -> torch.Tensor:
        if self.presence is None:
            # Without a presence branch every prompt counts as present.
            return torch.full((pooled_text.shape[0],), 20.0, device=pooled_text.device)
        coarsest = fused.maps[-1]
        if self.config.presence_input == "image+text":
            # Max over positions of the coarsest map: "is there any place that matches?"
            summary = [coarsest.amax(dim=(2, 3)), pooled_text]
        elif self.config.presence_input == "conditioned":
            summary = [
                coarsest.amax(dim=(2, 3)),
                coarsest.mean(dim=(2, 3)),
                mask_logits.amax(dim=(1, 2, 3)).unsqueeze(1),
            ]
        else:
            # Detached, so the presence loss judges the region that the mask found without
            # reshaping the mask.
            mask_logits = mask_logits.detach()
            summary = [
                coarsest.amax(dim=(2, 3)),
                _mean_under_mask(fused, mask_logits),
                pooled_text,
                mask_logits.amax(dim=(1, 2, 3)).unsqueeze(1),
                torch.sigmoid(mask_logits).mean(dim=(1, 2, 3)).unsqueeze(1),
            ]
        return self.presence(torch.cat(summary, dim=1)).squeeze(1)


def _mean_under_mask(fused: FusedFeatures, mask_logits: torch.Tensor) -> torch.Tensor:
    """Average the finest prompt-conditioned map over each prompt's mask: (P, fused_dim)."""
    index = fused.per_prompt.index(True)
    features = fused.maps[index]  # (P, dim, h, w)
    weights = F.interpolate(torch.sigmoid(mask_logits), size=features.shape[-2:], mode="area")
    total = weights.sum(dim=(2, 3)).clamp_min(1e-6)  # (P, 1)
    return (features * weights).sum(dim=(2, 3)) / total
