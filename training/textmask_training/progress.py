"""Progress records that the trainer yields; the CLI draws a bar and the GUI emits signals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ProgressKind = Literal["step", "eval", "done", "cancelled"]


@dataclass(frozen=True)
class ProgressRecord:
    """One event of a training run.

    kind: "step" after each optimizer step, "eval" after each validation, then one "done" or
    "cancelled" as the last record. step counts finished optimizer steps (1-based after the
    first step). loss and lr are those of the latest step (None before the first). metrics is
    the latest validation summary (``textmask_core.metrics.Summary.to_dict()``), or None
    without validation data. checkpoint is the best checkpoint folder once written.
    """

    kind: ProgressKind
    step: int
    total_steps: int
    epoch: int
    loss: float | None = None
    lr: float | None = None
    eta_seconds: float | None = None
    metrics: dict[str, Any] | None = None
    checkpoint: Path | None = None
