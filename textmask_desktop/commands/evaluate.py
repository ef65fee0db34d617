"""``textmask eval``: score a model on a manifest CSV beside trivial baselines."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textmask_desktop.commands import add_model_arguments, plural
from textmask_desktop.commands.arguments import (
    EXIT_INVALID_INPUT,
    InputError,
    check_output_file,
    positive_int,
    report_error,
)

if TYPE_CHECKING:
    from textmask_core.manifest import ManifestRow

logger = logging.getLogger(__name__)

DESCRIPTION = """Score a model on a manifest CSV with the columns image,text,mask.

Paths are relative to the manifest. A mask pixel is inside when nonzero, and an all-zero mask
means the named thing is absent. Prints, per text and overall: mean IoU over rows whose mask is
non-empty, cumulative IoU, precision at IoU 0.5/0.7/0.9, the share of absent rows predicted
with under 1 % of the image, and time per image. It prints the same for the trivial baselines
empty, full image and centre box.

Exit status: 0 after scoring, 1 when no row could be scored or --json could not be written, 2
for invalid options, a missing or invalid manifest, or a model that cannot be loaded."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--manifest", required=True, type=Path, help="manifest CSV file")
    parser.add_argument("--json", type=Path, help="also write the scores to this JSON file")
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="score only the first N distinct images (N >= 1)",
    )


def run(options: argparse.Namespace) -> int:
    from tqdm import tqdm

    from textmask_core.errors import TextMaskError
    from textmask_core.model import load_model
    from textmask_core.predictor import Predictor
    from textmask_training.evaluate import evaluate_rows, format_report, group_by_image

    try:
        rows = _read_rows(options)
        model, info = load_model(options.model)
        predictor = Predictor(model, options.device)
    except (InputError, TextMaskError, OSError) as error:
        report_error("eval", error)
        return EXIT_INVALID_INPUT
    images = len(group_by_image(rows))
    print(
        f"Model {info.path} on {options.manifest}: {plural(len(rows), 'row')}, "
        f"{plural(images, 'image')}",
        file=sys.stderr,
    )
    with tqdm(total=images, unit="image", file=sys.stderr) as bar:
        report = evaluate_rows(
            predictor, rows, threshold=options.threshold, progress=lambda done, total: bar.update(1)
        )
    print(format_report(report))
    if options.json is not None:
        try:
            _write_json(options.json, report.to_dict())
        except OSError as error:
            report_error("eval", f"writing {options.json} failed: {error}")
            return 1
        print(f"Scores written to {options.json}", file=sys.stderr)
    return 0 if report.overall.rows else 1


def _read_rows(options: argparse.Namespace) -> list[ManifestRow]:
    """Check --json and read the manifest rows, cut to --limit images, before the model loads."""
    from textmask_core.manifest import read_manifest
    from textmask_training.evaluate import group_by_image

    if options.json is not None:
        check_output_file(options.json, "--json")
    rows = read_manifest(options.manifest)
    if options.limit is not None:
        keep = set(list(group_by_image(rows))[: options.limit])
        rows = [row for row in rows if row.image in keep]
    return rows


def _write_json(path: Path, scores: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
