"""Time opening a folder of many images in the main window, up to its first painted page.

Writes COUNT copies of one photo-sized JPEG into a temporary folder and opens it twice in an
offscreen MainWindow with isolated settings: first with a new project database, then with the
database in place. Each open measures the time until the list's first page is painted, until
that page's thumbnails are made, and until the background folder scan has added every file.
Prints a Markdown section for docs/benchmarks.md with the machine and the command.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_open_folder.py --count 10000
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from textmask_desktop.errors import ErrorChannel  # noqa: E402
from textmask_desktop.main_window import MainWindow  # noqa: E402
from textmask_desktop.settings import AppSettings  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="number of images")
    parser.add_argument("--width", type=int, default=1600, help="image width in pixels")
    parser.add_argument("--height", type=int, default=1200, help="image height in pixels")
    return parser.parse_args()


def write_images(folder: Path, count: int, width: int, height: int) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((width, height)).save(buffer, format="JPEG", quality=85)
    data = buffer.getvalue()
    for index in range(count):
        (folder / f"img{index:05d}.jpg").write_bytes(data)


def wait_until(app: QApplication, condition: Callable[[], bool]) -> None:
    # NOTE: under PySide6 6.12.0 on Python 3.11, every processEvents() call from Python lowers
    # the reference count of None by one, so a busy loop of them aborts the interpreter. The
    # sleep keeps this loop to a few hundred calls.
    while not condition():
        app.processEvents()
        time.sleep(0.002)


def time_open(app: QApplication, root: Path, folder: Path) -> tuple[float, float, float]:
    """Return seconds to the first painted list page, to its thumbnails, to the scan's end."""
    settings = AppSettings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, ErrorChannel())
    window.show()
    app.processEvents()
    model = window.image_list.model
    started = time.perf_counter()
    window.open_folder(folder)
    wait_until(app, lambda: model.rowCount() > 0)
    window.image_list.view.viewport().repaint()
    first_page = time.perf_counter() - started
    app.processEvents()
    wait_until(app, lambda: model.loader.wait(0))
    thumbnails = time.perf_counter() - started
    wait_until(app, lambda: not window.folder_opener.is_scanning)
    scanned = time.perf_counter() - started
    window.close()
    return first_page, thumbnails, scanned


def main() -> int:
    options = parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    root = Path(tempfile.mkdtemp(prefix="textmask-bench-"))
    os.environ["XDG_DATA_HOME"] = str(root / "data")
    try:
        folder = root / "images"
        folder.mkdir()
        write_images(folder, options.count, options.width, options.height)
        first = time_open(app, root, folder)
        second = time_open(app, root, folder)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_report(options, first, second)
    return 0


def print_report(
    options: argparse.Namespace,
    first: tuple[float, float, float],
    second: tuple[float, float, float],
) -> None:
    command = "QT_QPA_PLATFORM=offscreen .venv/bin/python " + shlex.join(sys.argv)
    print(f"### {datetime.now(UTC):%Y-%m-%d}, {options.count:,} images")
    print()
    print(f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"- command: `{command}`")
    print(f"- images: {options.count:,} JPEG files of {options.width}×{options.height} px")
    print()
    print("| open | first page painted | its thumbnails | folder scan done |")
    print("|---|---|---|---|")
    for name, times in (("new project", first), ("existing project", second)):
        print(f"| {name} | {times[0]:.2f} s | {times[1]:.2f} s | {times[2]:.2f} s |")


if __name__ == "__main__":
    raise SystemExit(main())
