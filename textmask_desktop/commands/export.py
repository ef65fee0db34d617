"""``textmask export``: a project's masks as COCO JSON or PNG files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """Export the masks of a TextMask project.

FOLDER is the project's image folder. --format coco writes one COCO instances JSON file (RLE
segmentations; add --polygons for polygons, with RLE kept for objects that have holes or are
too small for a polygon). --format png writes one binary PNG per object and an index-map PNG
per image with a labels file. Category ids follow the project's label list."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="the project's image folder")
    parser.add_argument("--out", required=True, type=Path, help="COCO JSON file, or PNG folder")
    parser.add_argument("--format", choices=("coco", "png"), default="coco", help="output format")
    parser.add_argument("--polygons", action="store_true", help="COCO polygons instead of RLE")
    parser.add_argument("--only-done", action="store_true", help="export only images marked done")
    parser.add_argument(
        "--split-components",
        action="store_true",
        help="write each separate part of an object as its own COCO annotation",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="project database, when it is not in FOLDER/.textmask (read-only folders)",
    )


def run(options: argparse.Namespace) -> int:
    from tqdm import tqdm

    from textmask_core.errors import TextMaskError
    from textmask_core.formats.project import export_project
    from textmask_core.store import ProjectStore, default_store_path

    store_path = options.store or default_store_path(options.folder)
    if not store_path.is_file():
        print(
            f"textmask export: no TextMask project found for {options.folder} (looked for "
            f"{store_path}); open the folder in TextMask first, or pass --store",
            file=sys.stderr,
        )
        return 2
    export_format = (
        "png" if options.format == "png" else ("coco-polygon" if options.polygons else "coco-rle")
    )
    try:
        with (
            ProjectStore.open(options.folder, store_path) as store,
            tqdm(unit="image", file=sys.stderr) as bar,
        ):
            summary = export_project(
                store,
                options.out,
                export_format,
                selection="done" if options.only_done else "all",
                split_components=options.split_components,
                progress=lambda done, total: (
                    setattr(bar, "total", total),
                    bar.update(done - bar.n),
                ),
            )
    except (TextMaskError, OSError, ValueError) as error:
        print(f"textmask export: {error}", file=sys.stderr)
        return 2
    print(summary.describe())
    return 0
