"""The learning-rate schedule: linear warmup, then cosine decay to ``min_ratio`` of the peak.

The rate is a pure function of the step, so restoring the step counter restores the schedule.
"""

from __future__ import annotations

import math

import torch


def learning_rate(
    step: int, peak: float, warmup_steps: int, total_steps: int, min_ratio: float = 0.05
) -> float:
    """Return the rate for the 0-based ``step``: rises to ``peak`` over ``warmup_steps``, then
    follows a half cosine down to ``min_ratio * peak`` at ``total_steps``."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return peak * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    """Set every group's rate to ``rate`` times the group's ``lr_scale`` (1 when it has none)."""
    for group in optimizer.param_groups:
        group["lr"] = rate * group.get("lr_scale", 1.0)
