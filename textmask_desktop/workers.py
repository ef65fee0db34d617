"""Background work in QThreadPool: QRunnable workers that report by signals and can be cancelled.

Every worker emits `progress(done, total, message)`, then either `result(value)` or
`error(exception)`, then `finished()`. Cancelling sets a flag that `work()` checks between steps,
so a cancelled worker stops after the step in progress and still emits `result` with what it has.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from textmask_core.errors import ImageReadError
from textmask_core.formats.project import ExportFormatName, ImageSelection, export_project
from textmask_core.formats.records import ExportSummary
from textmask_core.imageio import LoadedImage, list_images, load_image
from textmask_core.model import ModelEntry, load_model, resolve_model
from textmask_core.predictor import Prediction, Predictor
from textmask_core.store import ImageRecord, ProjectStore

if TYPE_CHECKING:
    from textmask_training.api import ProgressRecord, TrainConfig

logger = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """Signals of one worker; created on the GUI thread so that slots run there."""

    progress = Signal(int, int, str)  # steps done, steps in total, what is being done
    result = Signal(object)
    error = Signal(object)  # the exception, with its __traceback__
    finished = Signal()
    item = Signal(object)  # one finished step, for workers that stream results (batch)


class CancelledError(Exception):
    """Raised inside work() to stop at a cancel check when there is no partial result."""


class Worker(QRunnable):
    """Base class: subclasses implement work() and call check_cancelled()/report_progress()."""

    name = "Work"

    def __init__(self) -> None:
        super().__init__()
        # The pool must not delete the C++ object while Python still uses its signals.
        self.setAutoDelete(False)
        self.signals = WorkerSignals()
        self._cancel_event = threading.Event()

    def cancel(self) -> None:
        self._cancel_event.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self._cancel_event.is_set():
            raise CancelledError(f"{self.name} was cancelled")

    def report_progress(self, done: int, total: int, message: str = "") -> None:
        self.signals.progress.emit(done, total, message)

    def work(self) -> object:
        raise NotImplementedError

    def run(self) -> None:
        logger.info("%s started", self.name)
        try:
            value = self.work()
        except CancelledError:
            logger.info("%s cancelled", self.name)
            self.signals.result.emit(None)
        except Exception as error:  # noqa: BLE001 - every failure goes to the error signal
            logger.debug("%s failed", self.name, exc_info=True)
            self.signals.error.emit(error)
        else:
            logger.info("%s finished", self.name)
            self.signals.result.emit(value)
        finally:
            self.signals.finished.emit()


class WorkerPool(QObject):
    """A QThreadPool that keeps each started worker alive until it finishes.

    A pool of one thread serialises its workers, which is how model work is kept off the GUI
    thread without two predictions running on one model at once.
    """

    def __init__(self, max_threads: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool()  # no parent: Python owns it, so it outlives Qt teardown
        self._pool.setMaxThreadCount(max_threads)
        self._running: set[Worker] = set()

    @property
    def running(self) -> frozenset[Worker]:
        return frozenset(self._running)

    def start(self, worker: Worker) -> None:
        self._running.add(worker)
        worker.signals.finished.connect(lambda: self._running.discard(worker))
        self._pool.start(worker)

    def cancel_all(self) -> None:
        for worker in list(self._running):
            worker.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every worker has returned; True when none is left running."""
        return self._pool.waitForDone(timeout_ms)


@dataclass(frozen=True, eq=False)
class ModelHandle:
    """A loaded model's predictor and the lock that keeps two threads from using it at once."""

    name: str  # the name or checkpoint path the model was requested by
    predictor: Predictor
    entry: ModelEntry  # what the catalog resolved `name` to; a preset when untrained
    lock: threading.Lock = field(default_factory=threading.Lock)

    def predict(self, image: LoadedImage, prompt: str) -> Prediction:
        with self.lock:
            self.predictor.set_image(image)
            return self.predictor.predict(prompt)


class ModelLoadWorker(Worker):
    """Loads a model by name or checkpoint path and wraps it in a Predictor on `device`."""

    name = "Loading the model"

    def __init__(self, model_name: str, device: str) -> None:
        super().__init__()
        self.model_name = model_name
        self.device = device

    def work(self) -> ModelHandle:
        self.report_progress(0, 1, f"Loading model {self.model_name}")
        entry = resolve_model(self.model_name)
        # Load what was resolved, so a missing shipped default is resolved (and logged) once.
        model, _info = load_model(entry.path if entry.path is not None else entry.name)
        handle = ModelHandle(self.model_name, Predictor(model, self.device), entry)
        self.report_progress(1, 1, f"Model {self.model_name} is ready")
        return handle


@dataclass(frozen=True, eq=False)
class PredictionOutcome:
    """The result of a PredictWorker: which image and prompt, and the model's answer."""

    image_path: Path
    prompt: str
    model_name: str
    prediction: Prediction


class PredictWorker(Worker):
    """Predicts one prompt on one already loaded image."""

    name = "Prediction"

    def __init__(self, handle: ModelHandle, image: LoadedImage, prompt: str) -> None:
        super().__init__()
        self.handle = handle
        self.image = image
        self.prompt = prompt

    def work(self) -> PredictionOutcome:
        self.check_cancelled()
        prediction = self.handle.predict(self.image, self.prompt)
        return PredictionOutcome(self.image.path, self.prompt, self.handle.name, prediction)


@dataclass(frozen=True, eq=False)
class BatchItem:
    """One image of a batch: its mask, or the reason it was skipped."""

    path: Path
    mask: NDArray[np.bool_] | None
    presence: float = 0.0
    skipped_reason: str = ""


@dataclass(frozen=True)
class BatchSummary:
    """Summary of a batch: images predicted, unreadable files with reasons, cancellation."""

    prompt: str
    total: int
    predicted: int
    unreadable: tuple[tuple[Path, str], ...]
    cancelled: bool


class BatchWorker(Worker):
    """Applies one prompt to many images, streaming a BatchItem per image through `item`.

    Unreadable files are skipped and listed in the summary; cancelling stops before the next
    image, and the summary counts what was done until then.
    """

    name = "Batch prediction"

    def __init__(
        self,
        handle: ModelHandle,
        paths: list[Path],
        prompt: str,
        threshold: float,
        max_pixels: int | None = None,
    ) -> None:
        super().__init__()
        self.handle = handle
        self.paths = list(paths)
        self.prompt = prompt
        self.threshold = threshold
        self.max_pixels = max_pixels

    def work(self) -> BatchSummary:
        predicted = 0
        unreadable: list[tuple[Path, str]] = []
        total = len(self.paths)
        for done, path in enumerate(self.paths):
            if self.is_cancelled:
                return self._summary(predicted, unreadable, cancelled=True)
            self.report_progress(done, total, f"Predicting {path.name}")
            item = self._predict_one(path)
            if item.mask is None:
                unreadable.append((path, item.skipped_reason))
            else:
                predicted += 1
            self.signals.item.emit(item)
        self.report_progress(total, total, "Batch finished")
        return self._summary(predicted, unreadable, cancelled=False)

    def _predict_one(self, path: Path) -> BatchItem:
        try:
            image = load_image(path, max_pixels=self.max_pixels)
        except ImageReadError as error:
            logger.info("Batch skips unreadable %s: %s", path, error.reason)
            return BatchItem(path, None, skipped_reason=error.reason)
        prediction = self.handle.predict(image, self.prompt)
        return BatchItem(path, prediction.mask(self.threshold), prediction.presence)

    def _summary(
        self, predicted: int, unreadable: list[tuple[Path, str]], *, cancelled: bool
    ) -> BatchSummary:
        return BatchSummary(self.prompt, len(self.paths), predicted, tuple(unreadable), cancelled)


@dataclass(frozen=True)
class FolderScan:
    """The image files found in a project folder, and the project's records after adding them."""

    paths: tuple[Path, ...]
    records: tuple[ImageRecord, ...]
    subfolder_images: int = 0  # images in subfolders, which the project does not list


class FolderScanWorker(Worker):
    """Lists the folder's image files and adds new ones to the project store.

    `item` carries the file list as soon as it is known, before the store is updated, so the
    image list of a new project can show before its database rows exist.
    """

    name = "Folder scan"

    def __init__(self, store: ProjectStore, folder: Path) -> None:
        super().__init__()
        self.store = store
        self.folder = folder

    def work(self) -> FolderScan:
        paths = tuple(list_images(self.folder))
        self.signals.item.emit(paths)
        self.check_cancelled()
        added = self.store.sync_images(paths)
        logger.info("Scanned %s: %d images, %d new", self.folder, len(paths), added)
        records = tuple(self.store.list_images())
        self.check_cancelled()
        subfolder_images = count_subfolder_images(self.folder)
        if subfolder_images:
            logger.info("%s has %d images in subfolders, not listed", self.folder, subfolder_images)
        return FolderScan(paths, records, subfolder_images)


def count_subfolder_images(folder: Path) -> int:
    """Return how many images lie in subfolders of `folder`, hidden folders excepted.

    NOTE: this walks the whole tree below `folder`, so a huge tree delays the end of the scan;
    the images directly in `folder` are listed before this starts.
    """
    return sum(1 for path in list_images(folder, recursive=True) if path.parent != folder)


class ExportWorker(Worker):
    """Exports a project as COCO (RLE or polygons) or PNG masks; the result is an ExportSummary."""

    name = "Export"

    def __init__(
        self,
        store: ProjectStore,
        out_path: Path,
        export_format: ExportFormatName,
        selection: ImageSelection,
        split_components: bool = False,
    ) -> None:
        super().__init__()
        self.store = store
        self.out_path = out_path
        self.export_format = export_format
        self.selection = selection
        self.split_components = split_components

    def work(self) -> ExportSummary:
        return export_project(
            self.store,
            self.out_path,
            self.export_format,
            selection=self.selection,
            split_components=self.split_components,
            progress=lambda done, total: self.report_progress(done, total, "Exporting"),
            cancel=lambda: self.is_cancelled,
        )


@dataclass(frozen=True)
class TrainingOutcome:
    """End state of a fine-tune: held-out IoU before and after, and the new model's folder."""

    iou_before: float | None
    iou_after: float | None
    checkpoint: Path | None
    cancelled: bool
    steps: int


class TrainingWorker(Worker):
    """Runs textmask_training's train() and streams each ProgressRecord through `item`.

    The trainer checks the cancel flag between steps itself and ends with a "cancelled" record.
    """

    name = "Fine-tuning"

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config

    def work(self) -> TrainingOutcome:
        # Imported here: the training package is only needed once a fine-tune starts.
        from textmask_training.api import train

        first_eval: ProgressRecord | None = None
        last_eval: ProgressRecord | None = None
        last: ProgressRecord | None = None
        for record in train(self.config, cancel=self._cancel_event):
            self.signals.item.emit(record)
            self.report_progress(record.step, record.total_steps, record.kind)
            if record.kind == "eval":
                first_eval = first_eval or record
                last_eval = record
            last = record
        checkpoint = last.checkpoint if last is not None else None
        return TrainingOutcome(
            iou_before=_mean_iou(first_eval),
            iou_after=_mean_iou(last_eval) if last_eval is not first_eval else None,
            checkpoint=checkpoint,
            cancelled=last is not None and last.kind == "cancelled",
            steps=last.step if last is not None else 0,
        )


def _mean_iou(record: ProgressRecord | None) -> float | None:
    if record is None or record.metrics is None:
        return None
    value = record.metrics.get("mean_iou")
    return float(value) if value is not None else None
