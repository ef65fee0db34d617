"""Model loading and prediction off the GUI thread, and the preview → accept flow.

The model runs only in a single-thread WorkerPool, so loading, predicting and batch work on
one model never overlap, and ModelHandle's lock guards the predictor as well.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from textmask_core.imageio import LoadedImage
from textmask_desktop.errors import ErrorChannel, UserMessage
from textmask_desktop.workers import (
    ModelHandle,
    ModelLoadWorker,
    PredictionOutcome,
    PredictWorker,
    Worker,
    WorkerPool,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PredictRequest:
    image: LoadedImage
    prompt: str


class PredictionController(QObject):
    """Loads one model at a time and runs predictions on it in the model pool."""

    model_loading = Signal(str)  # model name
    model_ready = Signal(str)  # model name
    model_failed = Signal(str)  # model name
    busy_changed = Signal(bool)
    prediction_ready = Signal(object)  # PredictionOutcome
    prediction_failed = Signal(str)  # prompt

    def __init__(self, channel: ErrorChannel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._channel = channel
        self.pool = WorkerPool(1, self)
        self._handle: ModelHandle | None = None
        self._loading_name: str | None = None
        self._pending: PredictRequest | None = None
        self._busy = 0

    @property
    def handle(self) -> ModelHandle | None:
        return self._handle

    @property
    def model_name(self) -> str | None:
        return self._handle.name if self._handle is not None else None

    @property
    def is_busy(self) -> bool:
        return self._busy > 0

    def load_model(self, name: str, device: str) -> ModelLoadWorker:
        """Load `name` in the model pool; model_ready or model_failed follows."""
        worker = ModelLoadWorker(name, device)
        self._loading_name = name
        worker.signals.result.connect(self._on_model_loaded)
        worker.signals.error.connect(lambda error: self._on_model_error(name, error))
        self.model_loading.emit(name)
        self._start(worker)
        return worker

    def predict(self, image: LoadedImage, prompt: str) -> PredictWorker | None:
        """Predict `prompt` on `image`; runs after a model load that is still in progress."""
        if self._handle is None or self._loading_name is not None:
            self._pending = PredictRequest(image, prompt)
            if self._loading_name is None:
                self._channel.warn(_no_model_message())
            return None
        worker = PredictWorker(self._handle, image, prompt)
        worker.signals.result.connect(self._on_prediction)
        worker.signals.error.connect(lambda error: self._on_prediction_error(prompt, error))
        self._start(worker)
        return worker

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel queued work and wait for the running step; True when all workers ended."""
        self._pending = None
        self.pool.cancel_all()
        return self.pool.wait(timeout_ms)

    def run(self, worker: Worker) -> None:
        """Run other model work (a batch) in the model pool, after what is queued already."""
        self._start(worker)

    def _start(self, worker: Worker) -> None:
        self._busy += 1
        if self._busy == 1:
            self.busy_changed.emit(True)
        worker.signals.finished.connect(self._on_finished)
        self.pool.start(worker)

    def _on_finished(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self.busy_changed.emit(False)

    def _on_model_loaded(self, handle: ModelHandle | None) -> None:
        if handle is None:  # cancelled
            return
        self._handle = handle
        self._loading_name = None
        logger.info("Model %s is loaded on %s", handle.name, handle.predictor.device)
        self.model_ready.emit(handle.name)
        pending, self._pending = self._pending, None
        if pending is not None:
            self.predict(pending.image, pending.prompt)

    def _on_model_error(self, name: str, error: BaseException) -> None:
        self._loading_name = None
        self._pending = None
        self._channel.report(f"Loading model {name}", error)
        self.model_failed.emit(name)

    def _on_prediction(self, outcome: PredictionOutcome | None) -> None:
        if outcome is not None:
            self.prediction_ready.emit(outcome)

    def _on_prediction_error(self, prompt: str, error: BaseException) -> None:
        self._channel.report("Prediction", error)
        self.prediction_failed.emit(prompt)


def _no_model_message() -> UserMessage:
    return UserMessage(
        title="No model loaded",
        text="Prediction needs a model, and none is loaded.",
        hint="Choose a model in the Model menu.",
    )
