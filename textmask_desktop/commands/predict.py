"""``textmask predict``: masks for prompts on image files or folders."""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from textmask_desktop.commands import add_model_arguments, plural
from textmask_desktop.commands.arguments import (
    EXIT_INVALID_INPUT,
    InputError,
    check_output_folder,
    prompt_text,
    report_error,
)
from textmask_desktop.commands.output_names import MaskNames, common_root, plan_mask_names

logger = logging.getLogger(__name__)

DESCRIPTION = """Predict a mask for each prompt on each image.

PATH may be image files or folders (their images, not subfolders). With --format png (default),
each mask is an 8-bit PNG (255 inside). Its path inside OUT mirrors the image's path below the
deepest folder that contains all the images, with the image's suffix kept and the prompt added:
a/x.jpg and b/x.png with --prompt car give OUT/a/x.jpg__car.png and OUT/b/x.png__car.png.
Prompts that give the same file-name part ("Car" and "car") each get a short hash of the
prompt appended. OUT/predictions.csv lists every mask with the columns image,text,mask, paths
relative to OUT. With --format coco, the masks go to OUT/predictions.json as COCO instances
with RLE segmentations; a prompt whose mask is empty writes no annotation.

Unreadable files are skipped and listed at the end. Exit status: 0 when at least one image was
processed, 1 when none could be or writing failed, 2 for invalid options or paths.

Under torchrun, each rank takes its share of the files and writes files with its rank in the
name, so no two ranks write one file."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--prompt",
        action="append",
        required=True,
        type=prompt_text,
        help="what to mask; repeat for several prompts",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="image files or folders"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="output folder (created if missing)"
    )
    parser.add_argument("--format", choices=("png", "coco"), default="png", help="output format")


@dataclass
class PredictRun:
    """Counters of one run, filled in while it writes."""

    written: int = 0  # PNG mask files, or COCO annotations
    processed: int = 0
    unreadable: dict[Path, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictPlan:
    """The checked inputs of a run, settled before the model loads."""

    images: list[Path]  # this rank's share
    prompts: list[str]  # distinct, in the order given
    names: MaskNames
    root: Path  # deepest folder that contains every input image
    suffix: str  # ".rankN" under torchrun, else ""


def run(options: argparse.Namespace) -> int:
    from textmask_core.errors import TextMaskError
    from textmask_core.model import load_model
    from textmask_core.predictor import Predictor

    try:
        plan = _plan(options)
    except InputError as error:
        report_error("predict", error)
        return EXIT_INVALID_INPUT
    try:
        options.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        report_error("predict", f"cannot create the --out folder {options.out}: {error.strerror}")
        return EXIT_INVALID_INPUT
    try:
        model, info = load_model(options.model)
        predictor = Predictor(model, options.device)
    except TextMaskError as error:
        report_error("predict", error)
        return EXIT_INVALID_INPUT
    state = PredictRun()
    writer = _write_coco if options.format == "coco" else _write_png
    try:
        written = writer(options, predictor, plan, state)
    except OSError as error:
        report_error("predict", f"writing to {options.out} failed: {error}")
        return 1
    _report(state, written)
    return 0 if state.processed or not plan.images else 1


def _plan(options: argparse.Namespace) -> PredictPlan:
    """Check the paths and prompts and name every output; raise InputError on a mistake."""
    check_output_folder(options.out, "--out")
    images = collect_images(options.paths)
    prompts = list(dict.fromkeys(options.prompt))
    # Names and the root come from all the inputs, before sharding, so every rank agrees.
    names = plan_mask_names(images, prompts)
    root = common_root(images)
    rank, world_size = _distributed_rank()
    suffix = f".rank{rank}" if world_size > 1 else ""
    if world_size > 1:
        from textmask_training.distributed import shard_for_rank

        images = shard_for_rank(images)
    return PredictPlan(images, prompts, names, root, suffix)


def collect_images(paths: list[Path]) -> list[Path]:
    """Expand folders into their image files and keep files as given, in order, each once.

    Raises InputError for a path that does not exist, or when no image file is found.
    """
    from textmask_core.imageio import IMAGE_SUFFIXES, list_images

    found: dict[Path, Path] = {}  # resolved path -> path as given, so each file counts once
    for path in paths:
        if path.is_dir():
            candidates = list_images(path)
        elif path.exists():
            candidates = [path]
        else:
            raise InputError(f"{path} does not exist; pass image files or folders")
        for candidate in candidates:
            found.setdefault(candidate.resolve(), candidate)
    if not found:
        raise InputError(
            f"no image files in {', '.join(str(path) for path in paths)}; image suffixes are "
            f"{', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    return list(found.values())


def _predict_images(predictor, images: list[Path], prompts: list[str], threshold: float, state):
    """Yield (path, image, [(prompt, mask)]) per readable image, with a progress bar."""
    from tqdm import tqdm

    from textmask_core.errors import ImageReadError
    from textmask_core.imageio import load_image

    for path in tqdm(images, unit="image", file=sys.stderr):
        try:
            image = load_image(path)
        except ImageReadError as error:
            state.unreadable[path] = error.reason
            continue
        predictor.set_image(image)
        predictions = predictor.predict_many(prompts)
        state.processed += 1
        yield path, image, [(p.prompt, p.mask(threshold)) for p in predictions]


def _write_png(options, predictor, plan: PredictPlan, state: PredictRun) -> str:
    from textmask_core.imageio import save_mask_png

    out = options.out.resolve()
    manifest = options.out / f"predictions{plan.suffix}.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        rows = csv.writer(handle)
        rows.writerow(["image", "text", "mask"])
        for path, _image, masks in _predict_images(
            predictor, plan.images, plan.prompts, options.threshold, state
        ):
            for prompt, mask in masks:
                relative_mask = plan.names.mask_path(path, prompt)
                target = out / relative_mask
                target.parent.mkdir(parents=True, exist_ok=True)
                save_mask_png(target, mask)
                image_column = Path(os.path.relpath(path.resolve(), out)).as_posix()
                rows.writerow([image_column, prompt, relative_mask.as_posix()])
                state.written += 1
    return f"Wrote {plural(state.written, 'mask file')} and {manifest.name} to {options.out}."


def _write_coco(options, predictor, plan: PredictPlan, state: PredictRun) -> str:
    from textmask_core.formats.coco import ExportImage, ExportObject, export_coco

    # Ids number all the inputs before sharding, so the files of several ranks never share one.
    image_ids = {path: index for index, path in enumerate(plan.names.image_paths, start=1)}

    def export_images() -> Iterator[ExportImage]:
        for path, image, masks in _predict_images(
            predictor, plan.images, plan.prompts, options.threshold, state
        ):
            objects = [
                ExportObject(label=prompt, prompt=prompt, mask=mask) for prompt, mask in masks
            ]
            yield ExportImage(
                path=path.resolve(),
                image_id=image_ids[path],
                width=image.width,
                height=image.height,
                objects=objects,
            )

    # NOTE: the COCO writer takes a sequence, so every predicted mask of the run stays in
    # memory until the file is written. Label very large folders with --format png.
    summary = export_coco(
        list(export_images()),
        plan.prompts,
        plan.root,
        options.out / f"predictions{plan.suffix}.json",
    )
    state.written = summary.annotations
    return summary.describe()


def _distributed_rank() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _report(state: PredictRun, written: str) -> None:
    print(f"Processed {plural(state.processed, 'image')}.", file=sys.stderr)
    print(written, file=sys.stderr)
    if state.unreadable:
        count = plural(len(state.unreadable), "unreadable file")
        print(f"Skipped {count}:", file=sys.stderr)
        for path, reason in state.unreadable.items():
            print(f"  {path}: {reason}", file=sys.stderr)
