"""``TrainConfig``: every knob of a training run, saved with the run so it can be resumed."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from textmask_core.preprocess import CANVAS_MULTIPLE
from textmask_training.data.absent import ABSENT_TEXT_CHOICES
from textmask_training.data.augment import AugmentationConfig
from textmask_training.losses import LossWeights
from textmask_training.parts import TRAINABLE_PARTS, TrainableParts

# Fields that may differ between a run and its resumption. The others must match, because they
# decide the data order, the model or the loss, and with them the next step.
RESUMABLE_CHANGES = frozenset(
    {
        "epochs",
        "max_steps",
        "resume",
        "out",
        "device",
        "num_workers",
        "patience",
        "eval_every",
        "log_every",
        "tensorboard",
        "command",
        "cache_dir",
    }
)


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Sources are strings as ``textmask train`` takes them (see
    ``textmask_training.data.SOURCE_HELP``): a manifest CSV, a project folder, ``coco:...``,
    ``magicbrush:...``."""

    train: tuple[str, ...]  # training sources
    out: Path  # folder for the best checkpoint; the resumable state goes to out/last
    model: str | None = None  # model name or checkpoint folder to start from; None = default
    input_size: int | None = None  # train at this input size; None = the starting model's
    val: tuple[str, ...] = ()  # validation sources; empty = none, unless val_fraction > 0
    val_fraction: float = 0.0  # share of training images held out for validation, by image hash
    source_weights: tuple[float, ...] | None = None  # row share per training source; None = as read
    labels: tuple[str, ...] | None = None  # project sources: only these label names
    statuses: tuple[str, ...] = ("edited", "done")  # project sources: image statuses to read
    max_images: int | None = None  # train on the first N distinct images in file order
    max_val_images: int | None = None  # validate on the first N distinct validation images
    epochs: int = 10  # passes over the training rows (absent rows included)
    max_steps: int | None = None  # stop after this many optimizer steps, whatever the epochs
    batch_size: int = 8  # rows per step on each process
    lr: float = 1e-3  # peak learning rate of AdamW
    weight_decay: float = 0.0  # AdamW decoupled weight decay (toward zero)
    warmup_steps: int = 10  # linear warmup from lr/warmup_steps to lr
    min_lr_ratio: float = 0.05  # the cosine decay ends at lr * min_lr_ratio
    grad_clip: float = 1.0  # maximum gradient norm; 0 turns clipping off
    seed: int = 0  # seeds torch, numpy, random, the data order and the augmentation
    device: str = "auto"  # auto, cpu, cuda, cuda:N or mps
    num_workers: int = 0  # data-loading processes per training process
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    absent_share: float = 0.1  # share of training rows that ask for something not in the image
    absent_texts: str = "uniform"  # how absent rows pick a text: uniform or by-rows (AbsentRows)
    loss: LossWeights = field(default_factory=LossWeights)
    l2sp_weight: float = 0.01  # L2-SP: weight of ||theta - theta_start||^2; 0 turns it off
    trainable: TrainableParts = "fusion+head"  # which parts train (see parts.TrainableParts)
    image_trainable_stages: int = 0  # also train the last N image-encoder stages
    encoder_lr_scale: float = 1.0  # learning rate of trained encoder weights, as a share of lr
    patience: int = 3  # stop after this many evaluations without a better val mean IoU; 0 = never
    eval_every: int | None = None  # evaluate every N steps; None = at the end of each epoch
    log_every: int = 10  # write a metrics line every N steps
    feature_cache: bool = True  # cache image features on disk when the image encoder is fixed
    cache_dir: Path | None = None  # cache root; None = the user cache folder
    mixed_precision: bool = True  # autocast on GPUs (bfloat16, else float16 with loss scaling)
    tensorboard: bool = True  # also write TensorBoard logs to out/tensorboard when installed
    resume: Path | None = None  # continue the run saved in this folder (out or out/last)
    command: str | None = None  # the command line, recorded in the checkpoint metadata

    def __post_init__(self) -> None:
        _check_positive(self, ("epochs", "batch_size", "log_every"))
        _check_optional_positive(self, ("max_steps", "eval_every", "max_images", "max_val_images"))
        _check_at_least_zero(
            self,
            (
                "weight_decay",
                "warmup_steps",
                "grad_clip",
                "l2sp_weight",
                "num_workers",
                "patience",
                "image_trainable_stages",
            ),
        )
        if not self.train:
            raise ValueError(
                "train needs at least one source (a manifest CSV, a project folder, "
                "coco:... or magicbrush:...)"
            )
        if self.input_size is not None and (
            self.input_size < CANVAS_MULTIPLE or self.input_size % CANVAS_MULTIPLE
        ):
            raise ValueError(
                f"input_size must be a positive multiple of {CANVAS_MULTIPLE}, got "
                f"{self.input_size}"
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.encoder_lr_scale) and self.encoder_lr_scale > 0):
            raise ValueError(
                f"encoder_lr_scale must be a positive number, got {self.encoder_lr_scale}"
            )
        if not 0.0 <= self.absent_share < 1.0:
            raise ValueError(f"absent_share must be in [0, 1), got {self.absent_share}")
        if self.absent_texts not in ABSENT_TEXT_CHOICES:
            raise ValueError(
                f"absent_texts must be one of {', '.join(ABSENT_TEXT_CHOICES)}, "
                f"got {self.absent_texts!r}"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.trainable not in TRAINABLE_PARTS:
            raise ValueError(
                f"trainable must be one of {', '.join(TRAINABLE_PARTS)}, got {self.trainable!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (paths as strings, tuples as lists)."""
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training config field(s) {', '.join(unknown)}")
        values = dict(data)
        values["augmentation"] = AugmentationConfig(**values.get("augmentation", {}))
        values["loss"] = LossWeights(**values.get("loss", {}))
        for name in ("out", "cache_dir", "resume"):
            if values.get(name) is not None:
                values[name] = Path(values[name])
        for name in ("train", "val", "source_weights", "labels", "statuses"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)

    def resumed_with(self, new: TrainConfig) -> TrainConfig:
        """Return this saved config with the fields a resumption may change taken from ``new``.

        Raises ``ValueError`` naming the first other field whose value differs.
        """
        for item in fields(self):
            if item.name not in RESUMABLE_CHANGES and getattr(new, item.name) != getattr(
                self, item.name
            ):
                raise ValueError(
                    f"cannot resume with {item.name}={getattr(new, item.name)!r}: the saved run "
                    f"has {getattr(self, item.name)!r}, and changing it would change the next "
                    "steps. "
                    f"Only {', '.join(sorted(RESUMABLE_CHANGES))} may change"
                )
        return replace(self, **{name: getattr(new, name) for name in RESUMABLE_CHANGES})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _check_positive(config: TrainConfig, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")


def _check_optional_positive(config: TrainConfig, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 or unset, got {value}")


def _check_at_least_zero(config: TrainConfig, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(config, name) < 0:
            raise ValueError(f"{name} must be at least 0, got {getattr(config, name)}")
