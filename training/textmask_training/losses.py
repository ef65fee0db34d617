"""The training loss: BCE + Dice on the mask, BCE on the presence logit.

The mask logits (stride 4 of the model input) are upsampled bilinearly to the input size and
compared with the target there, inside the valid (unpadded) area. This matches prediction,
which upsamples the logit map, and keeps thin objects that an area-downsampled target would
blur. Rows whose target is empty ("absent" rows) get the presence loss and a mild BCE that
pushes mask logits down. They take no part in the Dice term, which is undefined for them.

On absent rows the BCE can be limited to the highest-scoring share of the valid pixels
(``absent_top_fraction``). A mean over every pixel hardly notices a false blob over a few
percent of the photo, yet that blob is the whole wrong mask shown to the user. The top share
of pixels is that blob.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    bce: float = 1.0  # per-pixel binary cross-entropy on rows with an object
    dice: float = 1.0  # soft Dice loss on rows with an object
    presence: float = 0.5  # binary cross-entropy of the presence logit on every row
    absent_mask: float = 0.2  # per-pixel BCE toward an empty mask on absent rows
    # Share of an absent row's valid pixels, highest logits first, that its BCE averages over.
    # 1.0 means all of them.
    absent_top_fraction: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.absent_top_fraction <= 1.0:
            raise ValueError(
                f"absent_top_fraction must be in (0, 1], got {self.absent_top_fraction}"
            )


@dataclass(frozen=True)
class LossParts:
    """The total loss and its unweighted parts (scalars; parts are detached)."""

    total: torch.Tensor
    mask_bce: float
    dice: float
    presence: float
    absent_mask: float


def segmentation_loss(
    mask_logits: torch.Tensor,
    presence_logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    present: torch.Tensor,
    weights: LossWeights,
) -> LossParts:
    """Compute the loss of a batch.

    mask_logits: (B, 1, S/4, S/4); presence_logits: (B,); target, valid: (B, 1, S, S) in [0, 1];
    present: (B,) 1.0 where the target has an object.
    """
    logits = F.interpolate(
        mask_logits.float(), size=target.shape[-2:], mode="bilinear", align_corners=False
    )
    pixel_bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    row_bce = (pixel_bce * valid).sum(dim=(1, 2, 3)) / valid.sum(dim=(1, 2, 3)).clamp(min=1.0)
    row_dice = _dice_loss(torch.sigmoid(logits) * valid, target * valid)
    presence = F.binary_cross_entropy_with_logits(presence_logits.float(), present)
    absent = 1.0 - present
    mask_bce = _masked_mean(row_bce, present)
    dice = _masked_mean(row_dice, present)
    if weights.absent_top_fraction < 1.0:
        absent_rows = _top_share_bce(pixel_bce, valid, weights.absent_top_fraction)
    else:
        absent_rows = row_bce
    absent_mask = _masked_mean(absent_rows, absent)
    total = (
        weights.bce * mask_bce
        + weights.dice * dice
        + weights.presence * presence
        + weights.absent_mask * absent_mask
    )
    parts = [float(value.detach()) for value in (mask_bce, dice, presence, absent_mask)]
    return LossParts(total, *parts)


def _top_share_bce(pixel_bce: torch.Tensor, valid: torch.Tensor, share: float) -> torch.Tensor:
    """Mean BCE per row over the ``share`` of valid pixels with the highest BCE.

    On an absent row the target is zero everywhere, so the highest BCE sits on the highest
    logits: the false blob, if there is one. Padding counts as zero BCE and is never chosen
    before a valid pixel.
    """
    flat = (pixel_bce * valid).flatten(1)
    count = max(1, round(share * flat.shape[1]))
    top = flat.topk(count, dim=1).values
    # Rows with fewer valid pixels than ``count`` average over their valid ones only.
    chosen = valid.flatten(1).sum(dim=1).clamp(min=1.0, max=float(count))
    return top.sum(dim=1) / chosen


def _dice_loss(probabilities: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Return 1 - soft Dice per row; the +1 smoothing keeps tiny objects finite."""
    intersection = (probabilities * target).sum(dim=(1, 2, 3))
    total = probabilities.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    return 1.0 - (2.0 * intersection + 1.0) / (total + 1.0)


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over rows with weight 1; zero (with a gradient path) when none."""
    return (values * weights).sum() / weights.sum().clamp(min=1.0)
