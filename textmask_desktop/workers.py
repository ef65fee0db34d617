"""Background work in QThreadPool: QRunnable workers that report by signals and can be cancelled.

Every worker emits `progress(done, total, message)`, then either `result(value)` or
`error(exception)`, then `finished()`. Cancelling sets a flag that `work()` checks between steps,
so a cancelled worker stops after the step in progress and still emits `result` with what it has.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

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
        self._pool = QThreadPool(self)
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
