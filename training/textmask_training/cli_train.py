"""``textmask train``: options, and a progress bar over ``train()``'s records.

Under ``torchrun`` every process runs this command; only rank 0 draws the bar and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from textmask_core.errors import TextMaskError
from textmask_training.checkpointing import load_training_state, resume_folder
from textmask_training.config import TrainConfig
from textmask_training.data.absent import ABSENT_TEXT_CHOICES
from textmask_training.data.augment import AugmentationConfig
from textmask_training.data.sources import SOURCE_HELP
from textmask_training.distributed import environment_rank
from textmask_training.losses import LossWeights
from textmask_training.parts import TRAINABLE_PARTS
from textmask_training.progress import ProgressRecord
from textmask_training.trainer import NonFiniteLossError, train_records

logger = logging.getLogger(__name__)

AUGMENTATION_NAMES = {
    "flip": "flip",
    "scale-crop": "scale_crop",
    "colour-jitter": "colour_jitter",
    "zoom-windows": "zoom_windows",
}
EXIT_CANCELLED = 130  # the shell's code for a process stopped by Ctrl-C

EPILOG = f"""{SOURCE_HELP}

--train and --val may be given several times. The best checkpoint (by validation mean IoU) goes
to --out, the state of the latest step to OUT/last (resume with --resume OUT), and one JSON line
per logged step or evaluation to OUT/metrics.jsonl. Under torchrun the same command trains on
several GPUs or processes."""


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``textmask train`` options; every default is None so --resume can fill them."""
    parser.epilog = EPILOG
    _add_data_arguments(parser.add_argument_group("data"))
    _add_model_arguments(parser.add_argument_group("model"))
    _add_optimisation_arguments(parser.add_argument_group("optimisation"))
    _add_augmentation_arguments(parser.add_argument_group("augmentation"))
    _add_run_arguments(parser.add_argument_group("run"))


def _add_data_arguments(data: argparse._ArgumentGroup) -> None:
    data.add_argument(
        "--train", action="append", metavar="SOURCE", help="training source (see below)"
    )
    data.add_argument("--val", action="append", metavar="SOURCE", help="validation source")
    data.add_argument(
        "--val-fraction",
        type=float,
        help="share of training images held out for "
        "validation, by a hash of the image (default: 0)",
    )
    data.add_argument(
        "--max-images", type=int, metavar="N", help="train on the first N distinct images"
    )
    data.add_argument(
        "--max-val-images", type=int, metavar="N", help="validate on the first N images"
    )
    data.add_argument(
        "--source-weights", metavar="W,W,...", help="row share of each --train source"
    )
    data.add_argument(
        "--labels", metavar="NAME,NAME,...", help="project sources: only these labels"
    )
    data.add_argument(
        "--statuses",
        metavar="STATUS,...",
        help="project sources: image statuses to read (default: edited,done)",
    )


def _add_model_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--model",
        help="model name or checkpoint folder to start from (default: the shipped default model)",
    )
    group.add_argument(
        "--input-size",
        type=int,
        metavar="N",
        help="train at input size N (a multiple of 32) instead of the starting model's; the "
        "trained weights carry over, since they do not depend on the size",
    )
    group.add_argument(
        "--trainable",
        choices=TRAINABLE_PARTS,
        help="parts that train (default: "
        "fusion+head); all-unfrozen trains whatever the model config leaves unfrozen",
    )
    group.add_argument(
        "--image-stages",
        type=int,
        metavar="N",
        dest="image_trainable_stages",
        help="also train the last N image-encoder stages (default: 0)",
    )
    group.add_argument(
        "--encoder-lr-scale",
        type=float,
        metavar="F",
        help="learning rate of trained encoder weights as a share F of --lr, so pretrained "
        "stages move less than the randomly started fusion and head (default: 1)",
    )
    group.add_argument(
        "--l2sp",
        type=float,
        dest="l2sp_weight",
        help="weight of the L2-SP pull toward the starting weights; 0 turns it off (default: 0.01)",
    )


def _add_optimisation_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--epochs", type=int, help="passes over the training rows (default: 10)")
    group.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    group.add_argument("--batch-size", type=int, help="rows per step and process (default: 8)")
    group.add_argument("--lr", type=float, help="peak learning rate of AdamW (default: 0.001)")
    group.add_argument("--weight-decay", type=float, help="AdamW weight decay (default: 0)")
    group.add_argument("--warmup-steps", type=int, help="linear warmup steps (default: 10)")
    group.add_argument(
        "--grad-clip", type=float, help="maximum gradient norm; 0 = off (default: 1)"
    )
    group.add_argument(
        "--absent-share",
        type=float,
        help="share of rows that ask for something not in the image (default: 0.1)",
    )
    group.add_argument(
        "--absent-texts",
        choices=ABSENT_TEXT_CHOICES,
        help="how an absent row picks its text among the candidates: uniform, or by-rows, in "
        "proportion to the text's rows in its source (default: uniform)",
    )
    group.add_argument(
        "--absent-mask-weight",
        type=float,
        metavar="W",
        help="weight of the loss that pushes an absent row's mask to empty (default: 0.2)",
    )
    group.add_argument(
        "--absent-top-fraction",
        type=float,
        metavar="F",
        help="share F of an absent row's pixels, highest-scoring first, that its mask loss "
        "averages over (default: 1.0, every pixel)",
    )
    group.add_argument(
        "--patience",
        type=int,
        help="stop after N evaluations without a better "
        "validation mean IoU; 0 = never (default: 3)",
    )
    group.add_argument(
        "--eval-every",
        type=int,
        metavar="STEPS",
        help="evaluate and save every N steps (default: at the end of each epoch)",
    )
    group.add_argument("--seed", type=int, help="random seed (default: 0)")


def _add_augmentation_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--augment",
        metavar="NAME,...",
        help="augmentations to use: any of flip, scale-crop, colour-jitter, zoom-windows, or none "
        "(default: flip). scale-crop and colour-jitter encode every image online, which is "
        "several times slower on a CPU; zoom-windows shows some rows through one of five fixed "
        "windows of the photo, whose features are cached",
    )


def _add_run_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--out", type=Path, help="output checkpoint folder (required unless --resume)"
    )
    group.add_argument(
        "--resume",
        type=Path,
        metavar="FOLDER",
        help="continue the run saved in "
        "FOLDER (an earlier --out); other options default to that run's",
    )
    group.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    group.add_argument("--num-workers", type=int, help="data-loading processes (default: 0)")
    group.add_argument(
        "--no-feature-cache",
        action="store_true",
        default=None,
        help="always encode images online, never from the on-disk feature cache",
    )
    group.add_argument(
        "--cache-dir", type=Path, help="feature cache folder (default: the user cache folder)"
    )
    group.add_argument(
        "--no-tensorboard",
        action="store_true",
        default=None,
        help="do not write TensorBoard logs even when tensorboard is installed",
    )


def config_from_arguments(args: argparse.Namespace) -> TrainConfig:
    """Build the run's config: the saved run's config under --resume, else the defaults, with
    every option given on the command line on top."""
    values = _saved_values(args.resume) if args.resume is not None else {}
    values.update(_given_values(args))
    values["command"] = shlex.join(sys.argv)
    if "train" not in values or "out" not in values:
        raise ValueError("--train and --out are required unless --resume names an earlier run")
    return TrainConfig.from_dict(values)


def _saved_values(folder: Path) -> dict[str, Any]:
    return dict(load_training_state(resume_folder(folder)).config)


def _given_values(args: argparse.Namespace) -> dict[str, Any]:
    config_fields = {item.name for item in fields(TrainConfig)}
    values = {
        name: value
        for name, value in vars(args).items()
        if name in config_fields and value is not None
    }
    for name in ("source_weights",):
        if name in values:
            values[name] = [float(part) for part in values[name].split(",")]
    for name in ("labels", "statuses"):
        if name in values:
            values[name] = [part.strip() for part in values[name].split(",") if part.strip()]
    if args.no_feature_cache:
        values["feature_cache"] = False
    if args.no_tensorboard:
        values["tensorboard"] = False
    for name in ("out", "resume", "cache_dir"):
        if name in values:
            values[name] = str(values[name])
    return values | _augmentation_values(args) | _loss_values(args)


def _loss_values(args: argparse.Namespace) -> dict[str, Any]:
    switches = {
        "absent_mask": args.absent_mask_weight,
        "absent_top_fraction": args.absent_top_fraction,
    }
    switches = {name: value for name, value in switches.items() if value is not None}
    if not switches:
        return {}
    return _nested_values(args, "loss", LossWeights, switches)


def _augmentation_values(args: argparse.Namespace) -> dict[str, Any]:
    if args.augment is None:
        return {}
    names = {name.strip() for name in args.augment.split(",") if name.strip()} - {"none"}
    unknown = sorted(names - set(AUGMENTATION_NAMES))
    if unknown:
        raise ValueError(
            f"unknown augmentation(s) {', '.join(unknown)}; valid names are "
            f"{', '.join(AUGMENTATION_NAMES)} or none"
        )
    switches = {field: name in names for name, field in AUGMENTATION_NAMES.items()}
    return _nested_values(args, "augmentation", AugmentationConfig, switches)


def _nested_values(
    args: argparse.Namespace, name: str, config_type: type, switches: dict[str, Any]
) -> dict[str, Any]:
    """Return ``{name: fields}``: the resumed run's sub-config (or the defaults) with
    ``switches`` applied, so options not given on the command line keep their saved values."""
    base = config_type()
    if args.resume is not None:
        base = config_type(**_saved_values(args.resume).get(name, {}))
    return {name: vars(replace(base, **switches))}


def run_train_command(args: argparse.Namespace) -> int:
    """Run ``textmask train``; return 0 when done, 130 when cancelled, 1 or 2 on errors."""
    try:
        config = config_from_arguments(args)
    except (TextMaskError, ValueError, OSError) as error:
        print(f"textmask train: {error}", file=sys.stderr)
        return 2
    cancel = threading.Event()
    is_main = environment_rank()[0] == 0
    if not is_main:
        logging.getLogger().setLevel(logging.WARNING)  # rank 0 reports progress for all
    try:
        with _cancel_on_interrupt(cancel):
            last = _show_progress(train_records(config, cancel), is_main)
    except NonFiniteLossError as error:
        print(f"textmask train: {error}", file=sys.stderr)
        return 1
    except (TextMaskError, ValueError, OSError, ImportError) as error:
        print(f"textmask train: {error}", file=sys.stderr)
        return 2
    return EXIT_CANCELLED if last is not None and last.kind == "cancelled" else 0


@contextlib.contextmanager
def _cancel_on_interrupt(cancel: threading.Event) -> Iterator[None]:
    """Turn the first Ctrl-C into a cancel request, so the run stops after a step and saves."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def request_cancel(signum: int, frame: Any) -> None:
        cancel.set()
        signal.signal(signal.SIGINT, previous)  # a second Ctrl-C stops at once

    signal.signal(signal.SIGINT, request_cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _show_progress(records: Iterator[ProgressRecord], visible: bool) -> ProgressRecord | None:
    from tqdm import tqdm

    last = None
    # The bar opens on the first record: before it, train_records reads the data and builds the
    # model, and a bar opened earlier prints an empty "0step [00:00, ?step/s]" line meanwhile.
    with contextlib.ExitStack() as stack:
        for record in records:
            if last is None:
                bar = stack.enter_context(
                    tqdm(
                        total=record.total_steps,
                        unit="step",
                        file=sys.stderr,
                        disable=not visible,
                        dynamic_ncols=True,
                    )
                )
            last = record
            bar.total = record.total_steps
            bar.n = record.step
            if record.loss is not None:
                bar.set_postfix(
                    loss=f"{record.loss:.4f}",
                    lr=f"{record.lr:.2e}",
                    epoch=record.epoch,
                    refresh=False,
                )
            bar.refresh()
            if record.kind == "eval" and visible:
                bar.write(_eval_line(record))
    if visible and last is not None:
        print(_final_message(last), file=sys.stderr)
    return last


def _eval_line(record: ProgressRecord) -> str:
    metrics = record.metrics or {}
    parts = [f"step {record.step}: validation"]
    for name in ("mean_iou", "cumulative_iou", "absent_accuracy"):
        if metrics.get(name) is not None:
            parts.append(f"{name} {metrics[name]:.3f}")
    return " ".join(parts)


def _final_message(record: ProgressRecord) -> str:
    if record.kind == "cancelled":
        return (
            f"Cancelled at step {record.step} of {record.total_steps}; the state is saved. "
            f"Best checkpoint so far: {record.checkpoint or 'none'}"
        )
    steps = "1 step" if record.step == 1 else f"{record.step} steps"
    return f"Done after {steps}. Best checkpoint: {record.checkpoint}"
