"""Which parameters train, and the L2-SP pull toward the starting weights.

Fine-tuning on a few corrected images must not erase what the starting model knew. Two knobs
limit the damage: training fewer parameters (only the mask head, or fusion and head) and
L2-SP, a penalty ``weight * ||theta - theta_start||^2`` over the trained parameters.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Literal, get_args

import torch
from torch import nn

from textmask_core.model import TextMaskModel
from textmask_core.model.image_encoders import apply_freezing

logger = logging.getLogger(__name__)

TrainableParts = Literal["head", "fusion+head", "all-unfrozen"]
"""head: the mask head only; fusion+head: fusion and mask head; all-unfrozen: every parameter
that the model config leaves unfrozen (encoders stay frozen unless their config unfreezes them)."""

TRAINABLE_PARTS: tuple[TrainableParts, ...] = get_args(TrainableParts)
_PARTS = ("image_encoder", "text_encoder", "fusion", "mask_head")


def select_trainable(model: TextMaskModel, parts: TrainableParts, image_stages: int = 0) -> None:
    """Set ``requires_grad`` for ``parts``, plus the last ``image_stages`` image-encoder stages.

    A positive ``image_stages`` is recorded in the model config (``trainable_stages``), so the
    checkpoint stores the image encoder and rebuilds it with those stages unfrozen.
    """
    if parts not in TRAINABLE_PARTS:
        raise ValueError(
            f"unknown trainable parts {parts!r}; valid values are {', '.join(TRAINABLE_PARTS)}"
        )
    if parts != "all-unfrozen":
        model.requires_grad_(False)
        model.mask_head.requires_grad_(True)
        if parts == "fusion+head":
            model.fusion.requires_grad_(True)
    if image_stages > 0:
        encoder_config = replace(
            model.config.image_encoder, frozen=True, trainable_stages=image_stages
        )
        model.config = replace(model.config, image_encoder=encoder_config)
        apply_freezing(model.image_encoder, True, image_stages)
        if parts != "all-unfrozen":
            for stage in model.image_encoder.stages()[-image_stages:]:
                stage.requires_grad_(True)
    logger.info("training %s", ", ".join(trained_parts(model)) or "nothing")


def trained_parts(model: TextMaskModel) -> list[str]:
    """Return the names of the model parts that have at least one trained parameter."""
    return [name for name in _PARTS if _trains(getattr(model, name))]


def _trains(module: nn.Module) -> bool:
    return any(parameter.requires_grad for parameter in module.parameters())


def set_training_mode(model: TextMaskModel) -> None:
    """Put the model in training mode, and every part that does not train in eval mode.

    A part that does not train keeps its batch-norm statistics and runs without dropout, so
    its outputs match the cached features and the starting model.
    """
    model.train()
    for name in _PARTS:
        part = getattr(model, name)
        if not _trains(part):
            part.eval()


class StartingPointPenalty:
    """L2-SP: ``weight * sum ||theta - theta_start||^2`` over the trained parameters."""

    def __init__(self, model: nn.Module, weight: float) -> None:
        if weight < 0:
            raise ValueError(f"the L2-SP weight must be >= 0, got {weight}")
        self.weight = weight
        self.anchor = {
            name: parameter.detach().clone()
            for name, parameter in model.named_parameters()
            if parameter.requires_grad
        }

    def __call__(self, model: nn.Module) -> torch.Tensor:
        total = torch.zeros((), device=next(model.parameters()).device)
        if self.weight == 0.0:
            return total
        for name, parameter in model.named_parameters():
            if name in self.anchor:
                total = total + (parameter - self.anchor[name]).pow(2).sum()
        return self.weight * total

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {name: tensor.cpu().contiguous() for name, tensor in self.anchor.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.anchor) - set(tensors))
        if missing:
            raise ValueError(
                f"the saved starting weights lack {len(missing)} tensor(s), e.g. {missing[0]}"
            )
        for name in self.anchor:
            self.anchor[name] = tensors[name].to(self.anchor[name].device)
