"""Build the training and evaluation manifests of the shipped default model.

Usage: python -m textmask_training.recipes.default_model DATASETS_FOLDER OUT_FOLDER
    [--referring-repeats N] [--side-by-side N]

DATASETS_FOLDER contains default-train/ and default-val/ (manifest.csv and instances.csv).
OUT_FOLDER receives manifests with absolute paths:
- train.csv: every training row, rare classes repeated (each repeat with another phrasing),
  phrasing variants, and referring rows from the per-instance masks (and, with --side-by-side N,
  from N pairs of training photos pasted side by side, written under side_by_side/; see
  side_by_side.py). As one source, its absent
  rows may ask any photo for any training text; the shipped model was trained on it;
- train-coco.csv and train-fashion.csv: the same rows split by the data set the photo comes
  from (the file name's part before "__"). Passed together to ``textmask train``, they make
  absent rows ask each photo only for texts of its own data set (see docs/model-card.md for
  what that did);
- val.csv: the validation manifest as it is;
- val_referring.csv and val_referring_bare.csv: referring rows of the validation images, and
  the same rows prompted with the bare class name;
- val_synonyms.csv and val_synonyms_bare.csv: validation rows of classes with a synonym,
  prompted with the synonym and with the class name;
- with --side-by-side, val_side_by_side.csv and val_side_by_side_bare.csv: the referring rows
  of 120 pairs of validation photos (under side_by_side_val/), and the same rows prompted with
  the bare class name.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import random
import sys
from collections import Counter
from pathlib import Path

from textmask_core.manifest import ManifestRow, read_manifest
from textmask_training.recipes.phrasing import SYNONYMS, random_phrasing
from textmask_training.recipes.referring import TEMPLATES, read_instances, referring_cases
from textmask_training.recipes.side_by_side import (
    COMPOSITE_PREFIX,
    one_object_label,
    side_by_side_rows,
)

logger = logging.getLogger(__name__)

# Classes with fewer rows than this are repeated up to this count (each repeat rephrased).
BALANCE_TARGET_ROWS = 60
MAX_REPEATS = 6
# Each referring case is written this many times by default, cycling through its templates.
# The shipped model was trained with 3 (about 3 % of the rows), and 10 (about 9 %) did not teach
# the model to pick one object either (docs/model-card.md, "What was tried").
REFERRING_REPEATS = 3
# Pairs of validation photos for the side-by-side referring rows, and their own random seed so
# that they stay the same whatever the training rows are.
VALIDATION_PAIRS = 120
VALIDATION_PAIRS_SEED = 5


def balanced_rows(rows: list[ManifestRow], rng: random.Random) -> list[tuple[Path, str, Path]]:
    counts = Counter(row.text for row in rows)
    output = []
    for row in rows:
        output.append((row.image, row.text, row.mask))
        repeats = min(MAX_REPEATS, math.ceil(BALANCE_TARGET_ROWS / counts[row.text])) - 1
        # One rephrased copy of every row, plus the balancing repeats for rare classes.
        for _ in range(max(1, repeats)):
            output.append((row.image, random_phrasing(row.text, rng), row.mask))
    return output


def referring_rows(dataset: Path, rng: random.Random, repeats: int) -> list[tuple[Path, str, Path]]:
    rows = []
    for case in referring_cases(read_instances(dataset / "instances.csv")):
        templates = list(TEMPLATES[case.relation])
        rng.shuffle(templates)
        for index in range(repeats):
            text = templates[index % len(templates)].format(name=case.label)
            rows.append((case.image, text, case.mask_path))
    return rows


def validation_referring(dataset: Path) -> tuple[list, list]:
    referring, bare = [], []
    for case in referring_cases(read_instances(dataset / "instances.csv")):
        referring.append(
            (case.image, TEMPLATES[case.relation][0].format(name=case.label), case.mask_path)
        )
        bare.append((case.image, case.label, case.mask_path))
    return referring, bare


def validation_synonyms(rows: list[ManifestRow]) -> tuple[list, list]:
    synonym_rows, bare = [], []
    for row in rows:
        for synonym in SYNONYMS.get(row.text, [])[:1]:
            synonym_rows.append((row.image, synonym, row.mask))
            bare.append((row.image, row.text, row.mask))
    return synonym_rows, bare


def validation_side_by_side(rows: list[ManifestRow], out: Path) -> tuple[list, list]:
    pairs = side_by_side_rows(rows, out, VALIDATION_PAIRS, random.Random(VALIDATION_PAIRS_SEED))
    referring, bare = [], []
    for image, text, mask in pairs:
        label = one_object_label(Path(mask))
        if label is not None:
            referring.append((image, text, mask))
            bare.append((image, label, mask))
    return referring, bare


# File-name prefixes of default-train's photos, and the name of the manifest for their rows.
PHOTO_SOURCES = {
    "ccp_clothing": "fashion",
    "coco128_panoptic": "coco",
    COMPOSITE_PREFIX: "side-by-side",
}


def photo_source(image: Path) -> str:
    """Return the short name of the data set a default-train photo comes from."""
    prefix = image.name.split("__", 1)[0]
    if prefix not in PHOTO_SOURCES:
        raise ValueError(
            f"{image.name}: unknown photo source {prefix!r}; known prefixes are "
            f"{', '.join(sorted(PHOTO_SOURCES))}"
        )
    return PHOTO_SOURCES[prefix]


def write_manifest(path: Path, rows: list[tuple[Path, str, Path]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "text", "mask"])
        for image, text, mask in rows:
            writer.writerow([str(Path(image).resolve()), text, str(Path(mask).resolve())])
    logger.info("wrote %s (%d rows)", path, len(rows))


def prepare(
    datasets: Path,
    out: Path,
    seed: int = 0,
    referring_repeats: int = REFERRING_REPEATS,
    side_by_side: int = 0,
) -> None:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    train = read_manifest(datasets / "default-train" / "manifest.csv")
    val = read_manifest(datasets / "default-val" / "manifest.csv")
    train_rows = balanced_rows(train, rng) + referring_rows(
        datasets / "default-train", rng, referring_repeats
    )
    # Keep each image's rows together in file order, so "first N images" selections stay whole.
    order = {row.image: index for index, row in enumerate(train)}
    train_rows.sort(key=lambda item: order.get(item[0], len(order)))
    if side_by_side:
        train_rows += side_by_side_rows(train, out / "side_by_side", side_by_side, rng)
    write_manifest(out / "train.csv", train_rows)
    by_source: dict[str, list[tuple[Path, str, Path]]] = {}
    for item in train_rows:
        by_source.setdefault(photo_source(Path(item[0])), []).append(item)
    for source, rows in sorted(by_source.items()):
        write_manifest(out / f"train-{source}.csv", rows)
    write_manifest(out / "val.csv", [(row.image, row.text, row.mask) for row in val])
    referring, referring_bare = validation_referring(datasets / "default-val")
    write_manifest(out / "val_referring.csv", referring)
    write_manifest(out / "val_referring_bare.csv", referring_bare)
    synonyms, synonyms_bare = validation_synonyms(val)
    write_manifest(out / "val_synonyms.csv", synonyms)
    write_manifest(out / "val_synonyms_bare.csv", synonyms_bare)
    if side_by_side:
        pairs, pairs_bare = validation_side_by_side(val, out / "side_by_side_val")
        write_manifest(out / "val_side_by_side.csv", pairs)
        write_manifest(out / "val_side_by_side_bare.csv", pairs_bare)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m textmask_training.recipes.default_model",
        description="Build the default model's training and evaluation manifests.",
    )
    parser.add_argument("datasets", type=Path, help="folder with default-train/ and default-val/")
    parser.add_argument("out", type=Path, help="folder for the manifests")
    parser.add_argument(
        "--referring-repeats",
        type=int,
        default=REFERRING_REPEATS,
        metavar="N",
        help=f"training rows per referring case (default: {REFERRING_REPEATS})",
    )
    parser.add_argument(
        "--side-by-side",
        type=int,
        default=0,
        metavar="N",
        help="also write N pairs of training photos side by side with referring rows (default: 0)",
    )
    options = parser.parse_args(argv)
    if options.referring_repeats < 1:
        parser.error(f"--referring-repeats must be at least 1, got {options.referring_repeats}")
    if options.side_by_side < 0:
        parser.error(f"--side-by-side must be 0 or more, got {options.side_by_side}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    prepare(
        options.datasets,
        options.out,
        referring_repeats=options.referring_repeats,
        side_by_side=options.side_by_side,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
