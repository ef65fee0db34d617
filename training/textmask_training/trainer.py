"""The training loop: lr -> forward -> loss -> backward -> clip -> step -> evaluate -> save.

``Trainer.run`` yields a ``ProgressRecord`` after every step and evaluation and ends with one
"done" or "cancelled" record. The cancel flag is checked between steps; a cancelled run saves
its state, so ``resume`` continues it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from textmask_core.devices import autocast_context
from textmask_core.metrics import Summary
from textmask_core.model import TextMaskModel, save_checkpoint
from textmask_training.checkpointing import STATE_FILE, save_training_state
from textmask_training.config import TrainConfig
from textmask_training.distributed import (
    any_rank,
    init_distributed,
    mean_across_ranks,
    shutdown_distributed,
)
from textmask_training.losses import segmentation_loss
from textmask_training.metrics_log import MetricsLog
from textmask_training.parts import set_training_mode
from textmask_training.progress import ProgressRecord
from textmask_training.schedule import learning_rate, set_learning_rate
from textmask_training.session import TrainingSession, build_session, effective_config
from textmask_training.validation import evaluate_samples

logger = logging.getLogger(__name__)

CancelFlag = threading.Event | Callable[[], bool] | None
# An evaluation must beat the best one by more than this to count as an improvement.
MIN_IMPROVEMENT = 1e-6


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the step and the learning rate."""


def train_records(config: TrainConfig, cancel: CancelFlag = None) -> Iterator[ProgressRecord]:
    """Run ``config``; see ``textmask_training.api.train``."""
    yield from Trainer(config, cancel).run()


class Trainer:
    """Runs one training run. ``model`` is the model being trained once ``run`` has started."""

    def __init__(self, config: TrainConfig, cancel: CancelFlag = None) -> None:
        self.config = config
        self._cancel = cancel
        self.model: TextMaskModel | None = None

    def run(self) -> Iterator[ProgressRecord]:
        owns_group = not (dist.is_available() and dist.is_initialized())
        context = init_distributed(self.config.device)
        try:
            config, state = effective_config(self.config)
            session = build_session(config, context, state)
            self.model = session.model
            log = MetricsLog(config.out, config.tensorboard) if context.is_main else None
            try:
                yield from _Loop(session, log, self._cancel_requested).run()
            finally:
                if log is not None:
                    log.close()
        finally:
            if owns_group:
                shutdown_distributed(context)

    def _cancel_requested(self) -> bool:
        if self._cancel is None:
            return False
        if isinstance(self._cancel, threading.Event):
            return self._cancel.is_set()
        return bool(self._cancel())


class _Loop:
    def __init__(
        self, session: TrainingSession, log: MetricsLog | None, cancel: Callable[[], bool]
    ) -> None:
        self.s = session
        self.log = log
        self.cancel = cancel
        self.counters = session.counters
        self.started = time.perf_counter()
        self.earlier_seconds = session.counters.elapsed_seconds  # of the runs this one resumes
        self.session_steps = 0
        self.eval_seconds = 0.0
        self.scaler = torch.amp.GradScaler("cuda", enabled=_needs_loss_scaling(session))
        self.last: tuple[float, float] | None = None  # (loss, lr) of the latest step
        self.saved_step: int | None = None  # the step whose state out/last contains

    def run(self) -> Iterator[ProgressRecord]:
        counters, session = self.counters, self.s
        if session.val and counters.metrics_before is None:
            yield self.evaluate()
        batches = self.batches()
        while counters.step < session.total_steps and not counters.finished:
            if any_rank(self.cancel(), session.context):
                yield self.stop("cancelled")
                return
            self.train_step(next(batches))
            yield self.record("step")
            if self.checkpoint_due() and session.val:
                yield self.evaluate()
            elif self.checkpoint_due():
                self.save_last()
        if session.val and counters.best_step is None:
            yield self.evaluate()
        yield self.stop("done")

    # --- one step ----------------------------------------------------------------------------

    def batches(self) -> Iterator[dict[str, Any]]:
        counters = self.counters
        while True:
            self.s.sampler.start(counters.epoch, counters.batch_in_epoch)
            for batch in self.s.loader:
                counters.batch_in_epoch += 1
                yield batch
            counters.epoch += 1
            counters.batch_in_epoch = 0

    def train_step(self, batch: dict[str, Any]) -> None:
        session, counters = self.s, self.counters
        config = session.config
        rate = learning_rate(
            counters.step, config.lr, config.warmup_steps, session.total_steps, config.min_lr_ratio
        )
        set_learning_rate(session.optimizer, rate)
        loss, parts = self.loss(batch)
        loss_value = mean_across_ranks(float(loss.detach()), session.context)
        if not math.isfinite(loss_value):
            raise NonFiniteLossError(
                f"training stopped: the loss is {loss_value} at step {counters.step + 1} "
                f"(learning rate {rate:.3g}). Lower the learning rate (--lr) or check the "
                f"training data{_saved_state_hint(session.last_folder)}"
            )
        session.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.clip_gradients()
        self.scaler.step(session.optimizer)
        self.scaler.update()
        counters.step += 1
        self.session_steps += 1
        self.last = (loss_value, rate)
        if self.log is not None and (counters.step % config.log_every == 0 or counters.step == 1):
            self.log.write(
                "step",
                counters.step,
                {"loss": loss_value, "lr": rate, "epoch": counters.epoch + 1, **parts},
            )

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        session = self.s
        device = session.context.device
        images = batch["image"].to(device) if "image" in batch else None
        features = (
            [level.to(device).float() for level in batch["features"]]
            if "features" in batch
            else None
        )
        text = None
        if session.text_cache is not None:
            encoded = session.text_cache.encode(session.model, batch["text"])
            text = (encoded.tokens, encoded.attention_mask, encoded.pooled)
        with self.autocast():
            mask_logits, presence_logits, penalty = session.forward(
                images, features, batch["text"], text
            )
        parts = segmentation_loss(
            mask_logits,
            presence_logits,
            batch["target"].to(device),
            batch["valid"].to(device),
            batch["present"].to(device),
            session.config.loss,
        )
        return parts.total + penalty, {
            "mask_bce": parts.mask_bce,
            "dice": parts.dice,
            "presence": parts.presence,
            "absent_mask": parts.absent_mask,
            "l2sp": float(penalty.detach()),
        }

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.s.config.mixed_precision:
            return contextlib.nullcontext()
        return autocast_context(self.s.context.device)

    def clip_gradients(self) -> None:
        if self.s.config.grad_clip <= 0:
            return
        self.scaler.unscale_(self.s.optimizer)
        parameters = [p for group in self.s.optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(parameters, self.s.config.grad_clip)

    def checkpoint_due(self) -> bool:
        counters, config = self.counters, self.s.config
        if counters.step >= self.s.total_steps:
            return True
        if config.eval_every is not None:
            return counters.step % config.eval_every == 0
        return counters.batch_in_epoch == self.s.sampler.batches_per_epoch

    # --- evaluation and checkpoints ------------------------------------------------------------

    def evaluate(self) -> ProgressRecord:
        session, counters = self.s, self.counters
        started = time.perf_counter()
        summary = evaluate_samples(
            session.model,
            session.val,
            session.context.device,
            feature_cache=session.image_cache,
            text_cache=session.text_cache,
            context=session.context,
        )
        set_training_mode(session.model)
        self.eval_seconds += time.perf_counter() - started
        metrics = summary.to_dict()
        if counters.metrics_before is None:
            counters.metrics_before = metrics
        self.update_best(_score(summary), metrics)
        if self.log is not None:
            self.log.write("eval", counters.step, {**metrics, "best_step": counters.best_step})
        if counters.step > 0:
            self.save_last()
        logger.info(
            "step %d: validation mean IoU %s (best %s at step %s)",
            counters.step,
            _format(summary.mean_iou),
            _format(counters.best_metric),
            counters.best_step,
        )
        return self.record("eval", metrics=metrics)

    def update_best(self, score: float | None, metrics: dict[str, Any]) -> None:
        counters, config = self.counters, self.s.config
        if score is not None and (
            counters.best_metric is None or score > counters.best_metric + MIN_IMPROVEMENT
        ):
            counters.best_metric, counters.best_step, counters.best_metrics = (
                score,
                counters.step,
                metrics,
            )
            counters.evals_without_improvement = 0
            self.save_best()
            return
        counters.evals_without_improvement += 1
        if config.patience and counters.evals_without_improvement >= config.patience:
            logger.info(
                "early stopping: %d evaluations without a better validation mean IoU",
                counters.evals_without_improvement,
            )
            counters.finished = True

    def save_best(self) -> None:
        if self.s.context.is_main:
            save_checkpoint(
                self.s.model, self.s.config.out, metadata=self.metadata(self.counters.best_metrics)
            )

    def save_last(self) -> None:
        session, counters = self.s, self.counters
        if self.saved_step == counters.step:
            return
        self.saved_step = counters.step
        counters.elapsed_seconds = self.earlier_seconds + time.perf_counter() - self.started
        if session.context.is_main:
            save_training_state(
                session.last_folder,
                session.model,
                session.optimizer,
                counters,
                session.config.to_dict(),
                session.penalty.state_tensors(),
                self.metadata(None),
            )

    def stop(self, kind: str) -> ProgressRecord:
        session, counters = self.s, self.counters
        if not session.val and kind == "done":
            counters.best_step = counters.step
            self.save_best()
        self.save_last()
        if self.log is not None:
            self.log.write(
                kind,
                counters.step,
                {"best_step": counters.best_step, "seconds": round(counters.elapsed_seconds, 2)},
            )
        best = session.config.out if counters.best_step is not None else None
        logger.info("training %s at step %d; best checkpoint: %s", kind, counters.step, best)
        return self.record(kind, metrics=counters.best_metrics, checkpoint=best)  # type: ignore[arg-type]

    def metadata(self, metrics: dict[str, Any] | None) -> dict[str, Any]:
        session, counters = self.s, self.counters
        config = session.config
        return {
            "training": {
                "started_from": config.model or "default",
                "data": session.description,
                "metrics_before": counters.metrics_before,
                "metrics_after": metrics,
                "step": counters.step,
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "command": config.command,
                "config": config.to_dict(),
            }
        }

    def record(
        self, kind: Any, metrics: dict[str, Any] | None = None, checkpoint: Path | None = None
    ) -> ProgressRecord:
        counters = self.counters
        loss, rate = self.last if self.last is not None else (None, None)
        return ProgressRecord(
            kind=kind,
            step=counters.step,
            total_steps=self.s.total_steps,
            epoch=counters.epoch + 1,
            loss=loss,
            lr=rate,
            eta_seconds=self.eta(),
            metrics=metrics,
            checkpoint=checkpoint,
        )

    def eta(self) -> float | None:
        if self.session_steps == 0:
            return None
        training_seconds = time.perf_counter() - self.started - self.eval_seconds
        per_step = max(0.0, training_seconds) / self.session_steps
        return per_step * (self.s.total_steps - self.counters.step)


def _saved_state_hint(folder: Path) -> str:
    if (folder / STATE_FILE).is_file():
        return f"; the last saved state is in {folder} (resume with --resume)"
    return "; no state was saved yet"


def _needs_loss_scaling(session: TrainingSession) -> bool:
    device = session.context.device
    return (
        session.config.mixed_precision
        and device.type == "cuda"
        and not torch.cuda.is_bf16_supported()
    )


def _score(summary: Summary) -> float | None:
    """Return the early-stopping score: mean IoU, or absent accuracy for absent-only data."""
    return summary.mean_iou if summary.mean_iou is not None else summary.absent_accuracy


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
