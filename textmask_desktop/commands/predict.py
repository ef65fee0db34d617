"""``textmask predict``: masks for prompts on image files or folders."""

from __future__ import annotations

import argparse
import csv
import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from textmask_desktop.commands import add_model_arguments

logger = logging.getLogger(__name__)

DESCRIPTION = """Predict a mask for each prompt on each image.

PATH may be image files or folders (their images, not subfolders). With --format png (default),
each mask is an 8-bit PNG (255 inside) named OUT/<image>__<prompt>.png, listed in
OUT/predictions.csv with the columns image,text,mask. With --format coco, the masks go to
OUT/predictions.json as COCO instances with RLE segmentations; a prompt whose mask is empty
writes no annotation. Unreadable files are skipped and listed at the end; the exit status is
nonzero only when no image could be processed.

Under torchrun, each rank takes its share of the files and writes files with its rank in the
name, so no two ranks write one file."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--prompt", action="append", required=True, help="what to mask; repeat for several prompts"
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
    written: int = 0
    processed: int = 0
    unreadable: dict[Path, str] = field(default_factory=dict)


def run(options: argparse.Namespace) -> int:
    from textmask_core.errors import TextMaskError
    from textmask_core.model import load_model
    from textmask_core.predictor import Predictor

    images = collect_images(options.paths)
    rank, world_size = _distributed_rank()
    if world_size > 1:
        from textmask_training.distributed import shard_for_rank

        images = shard_for_rank(images)
    if not images:
        print("textmask predict: no image files found in the given paths", file=sys.stderr)
        return 1
    try:
        model, info = load_model(options.model)
        predictor = Predictor(model, options.device)
    except TextMaskError as error:
        print(f"textmask predict: {error}", file=sys.stderr)
        return 2
    options.out.mkdir(parents=True, exist_ok=True)
    suffix = f".rank{rank}" if world_size > 1 else ""
    state = PredictRun()
    writer = _write_coco if options.format == "coco" else _write_png
    writer(options, predictor, images, state, suffix, model_name=str(info.path))
    _report(state, options.out)
    return 0 if state.processed else 1


def collect_images(paths: list[Path]) -> list[Path]:
    """Expand folders into their image files; keep files as given, in order, without repeats."""
    from textmask_core.imageio import list_images

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(list_images(path))
        elif path.exists():
            found.append(path)
        else:
            logger.warning("%s does not exist; skipped", path)
    return list(dict.fromkeys(found))


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


def _write_png(options, predictor, images, state, suffix: str, model_name: str) -> None:
    from textmask_core.imageio import save_mask_png

    manifest = options.out / f"predictions{suffix}.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        rows = csv.writer(handle)
        rows.writerow(["image", "text", "mask"])
        for path, _image, masks in _predict_images(
            predictor, images, options.prompt, options.threshold, state
        ):
            for prompt, mask in masks:
                target = options.out / f"{path.stem}__{slugify(prompt)}.png"
                save_mask_png(target, mask)
                rows.writerow(
                    [os.path.relpath(path.resolve(), options.out.resolve()), prompt, target.name]
                )
                state.written += 1


def _write_coco(options, predictor, images, state, suffix: str, model_name: str) -> None:
    from textmask_core.formats.coco import ExportImage, ExportObject, export_coco

    root = Path(os.path.commonpath([str(path.resolve().parent) for path in images]))
    image_ids = {path: index for index, path in enumerate(images, start=1)}

    def export_images() -> Iterator[ExportImage]:
        for path, image, masks in _predict_images(
            predictor, images, options.prompt, options.threshold, state
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

    labels = list(dict.fromkeys(" ".join(prompt.split()) for prompt in options.prompt))
    # NOTE: the COCO writer takes a sequence, so every predicted mask of the run is held in
    # memory until the file is written; label very large folders with --format png.
    summary = export_coco(
        list(export_images()), labels, root, options.out / f"predictions{suffix}.json"
    )
    state.written = summary.annotations
    print(summary.describe(), file=sys.stderr)


def slugify(text: str) -> str:
    """Make a prompt safe as part of a file name: letters, digits, '-' and '_' only."""
    slug = re.sub(r"[^\w-]+", "_", text.strip().lower(), flags=re.UNICODE).strip("_")
    return slug[:60] or "prompt"


def _distributed_rank() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _report(state: PredictRun, out: Path) -> None:
    print(
        f"Processed {state.processed} image(s); wrote {state.written} mask(s) to {out}",
        file=sys.stderr,
    )
    if state.unreadable:
        print(f"Skipped {len(state.unreadable)} unreadable file(s):", file=sys.stderr)
        for path, reason in state.unreadable.items():
            print(f"  {path}: {reason}", file=sys.stderr)
