"""The run's metrics: JSON lines in out/metrics.jsonl, and TensorBoard when it is installed."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


class MetricsLog:
    """Appends one JSON object per line; numbers also go to TensorBoard as scalars."""

    def __init__(self, out: Path, tensorboard: bool) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / METRICS_FILE
        self._handle = self.path.open("a", encoding="utf-8")
        self._writer = _tensorboard_writer(out / "tensorboard") if tensorboard else None

    def write(self, kind: str, step: int, values: dict[str, Any]) -> None:
        record = {"kind": kind, "step": step, "time": round(time.time(), 3), **values}
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        if self._writer is not None:
            for name, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(f"{kind}/{name}", value, step)

    def close(self) -> None:
        self._handle.close()
        if self._writer is not None:
            self._writer.close()


def _tensorboard_writer(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        logger.debug("tensorboard is not installed; metrics go to %s only", METRICS_FILE)
        return None
    return SummaryWriter(log_dir=str(folder))
