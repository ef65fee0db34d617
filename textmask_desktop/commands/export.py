"""``textmask export``: a project's masks as COCO JSON or PNG files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textmask_desktop.commands import plural
from textmask_desktop.commands.arguments import (
    EXIT_INVALID_INPUT,
    InputError,
    check_output_file,
    check_output_folder,
    report_error,
)

if TYPE_CHECKING:
    from tqdm import tqdm

    from textmask_core.formats.project import ExportFormatName, LeftOutImage

DESCRIPTION = """Export the masks of a TextMask project.

FOLDER is the project's image folder. --format coco writes one COCO instances JSON file (RLE
segmentations; add --polygons for polygons, with RLE kept for objects that have holes or are
too small for a polygon). --format png writes one binary PNG per object and an index-map PNG
per image with a labels file. Category ids follow the project's label list. Images that could
not be read are left out, and the summary lists them with the reason.

Exit status: 0 after an export, 1 when every selected image was left out as unreadable, 2 for
invalid options or paths, or when the export fails."""


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
    from textmask_core.errors import TextMaskError
    from textmask_core.formats.project import collect_project_export, write_project_export
    from textmask_core.store import ProjectStore

    try:
        store_path = _check_inputs(options)
    except InputError as error:
        report_error("export", error)
        return EXIT_INVALID_INPUT
    try:
        with ProjectStore.open(options.folder, store_path) as store, _ProgressBar() as bar:
            collected = collect_project_export(store, "done" if options.only_done else "all")
            summary = write_project_export(
                store,
                collected.images,
                options.out,
                _export_format(options),
                split_components=options.split_components,
                progress=bar.update,
            )
    except (TextMaskError, OSError, ValueError) as error:
        report_error("export", error)
        return EXIT_INVALID_INPUT
    print(summary.describe())
    _print_left_out(collected.left_out)
    return 1 if collected.left_out and not collected.images else 0


def _check_inputs(options: argparse.Namespace) -> Path:
    """Check --out and find the project database; raise InputError on a mistake."""
    from textmask_core.store import default_store_path

    if options.format == "png":
        check_output_folder(options.out, "--out")
    else:
        check_output_file(options.out, "--out")
    store_path = options.store or default_store_path(options.folder)
    if not store_path.is_file():
        raise InputError(
            f"no TextMask project found for {options.folder} (looked for {store_path}); open "
            "the folder in TextMask first, or pass --store"
        )
    return store_path


def _export_format(options: argparse.Namespace) -> ExportFormatName:
    if options.format == "png":
        return "png"
    return "coco-polygon" if options.polygons else "coco-rle"


def _print_left_out(left_out: tuple[LeftOutImage, ...]) -> None:
    if not left_out:
        return
    print(f"Left out {plural(len(left_out), 'unreadable image')}:")
    for image in left_out:
        print(f"  {image.path}: {image.reason}")


class _ProgressBar:
    """A tqdm bar that opens on the first progress report, when the number of images is known.

    A bar opened before that prints an empty "0image [00:00, ?image/s]" line while the
    project's masks are still being read.
    """

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def update(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=total, unit="image", file=sys.stderr)
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()
