"""Time brush stroke segments on a large image through the code path the mouse uses.

Each stroke calls the brush tool's press, move and release handlers with image coordinates,
exactly as MaskCanvas does for mouse events. A segment is one move() call: footprint,
mask write, undo bookkeeping and overlay invalidation. With --repaint (the default) the
segment time also includes processing the repaint of the changed region in an offscreen
window. Prints the machine, the command, the date, the per-segment statistics and the undo
memory after all strokes, as a Markdown section for docs/benchmarks.md.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_brush.py
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import PySide6  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from textmask_core.imageio import LoadedImage  # noqa: E402
from textmask_desktop.canvas.view import MaskCanvas  # noqa: E402
from textmask_desktop.document import ImageDocument  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=8000, help="image width in pixels")
    parser.add_argument("--height", type=int, default=6000, help="image height in pixels")
    parser.add_argument("--strokes", type=int, default=100, help="number of strokes")
    parser.add_argument("--segments", type=int, default=30, help="segments (moves) per stroke")
    parser.add_argument("--step", type=float, default=12.0, help="mouse move per segment, px")
    parser.add_argument("--brush-size", type=int, default=40, help="brush diameter, px")
    parser.add_argument("--zoom", type=float, default=1.0, help="view zoom while painting")
    parser.add_argument("--view", default="1280x800", help="viewport size, WIDTHxHEIGHT")
    parser.add_argument(
        "--no-repaint",
        dest="repaint",
        action="store_false",
        help="leave out the repaint that Qt runs after each segment",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def make_document(width: int, height: int) -> tuple[ImageDocument, int]:
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    pixels = np.broadcast_to(rows, (height, width, 3)).astype(np.uint8)
    image = LoadedImage(path=Path("benchmark.png"), pixels=pixels, source_mode="RGB")
    document = ImageDocument(image)
    mask = np.zeros((height, width), dtype=np.bool_)
    mask[height // 4 : height // 2, width // 4 : width // 2] = True
    key = document.add_object(mask, "benchmark")
    return document, key


def random_stroke(
    rng: np.random.Generator, centre: tuple[float, float], radius: float, segments: int, step: float
) -> list[tuple[float, float]]:
    """Return a random walk of `segments` steps of `step` px that starts near `centre`."""
    x = centre[0] + rng.uniform(-radius, radius)
    y = centre[1] + rng.uniform(-radius, radius)
    heading = rng.uniform(0, 2 * np.pi)
    points = [(x, y)]
    for _ in range(segments):
        heading += rng.normal(0, 0.4)
        x += step * np.cos(heading)
        y += step * np.sin(heading)
        points.append((x, y))
    return points


def run(args: argparse.Namespace) -> dict[str, float]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    document, key = make_document(args.width, args.height)
    document.set_active(key)
    canvas = MaskCanvas(document)
    view_width, view_height = (int(value) for value in args.view.split("x"))
    canvas.resize(view_width, view_height)
    canvas.show()
    canvas.set_brush_size(args.brush_size)
    canvas.set_zoom(args.zoom)
    centre = canvas.map_to_image(canvas.viewport().rect().center().toPointF())
    app.processEvents()

    rng = np.random.default_rng(args.seed)
    segment_times: list[float] = []
    release_times: list[float] = []
    memory_before = document.undo_memory_bytes()
    radius = min(view_width, view_height) / (3 * args.zoom)
    for stroke in range(args.strokes):
        canvas.set_tool("eraser" if stroke % 4 == 3 else "brush")
        points = random_stroke(rng, (centre.x(), centre.y()), radius, args.segments, args.step)
        canvas.tool.press(*points[0])
        app.processEvents()
        for point in points[1:]:
            start = time.perf_counter()
            canvas.tool.move(*point)
            if args.repaint:
                app.processEvents()
            segment_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        canvas.tool.release(*points[-1])
        release_times.append(time.perf_counter() - start)
    memory = document.undo_memory_bytes() - memory_before
    canvas.close()
    milliseconds = np.asarray(segment_times) * 1000
    return {
        "segments": len(segment_times),
        "mean": float(milliseconds.mean()),
        "p95": float(np.percentile(milliseconds, 95)),
        "max": float(milliseconds.max()),
        "release_mean": float(np.mean(release_times) * 1000),
        "undo_memory": memory,
        "undo_steps": document.undo_stack.count() - 1,
    }


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {cores} cores available, load average {load:.1f} at the start, "
        f"Python {platform.python_version()}, {platform.system()}"
    )


def main() -> None:
    args = parse_args()
    machine = machine_description()
    results = run(args)
    prefix = "QT_QPA_PLATFORM=offscreen "
    if os.environ.get("PYTHONPATH"):
        prefix += f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} "
    command = prefix + ".venv/bin/python " + shlex.join(sys.argv)
    print("## Brush strokes\n")
    print(f"- Machine: {machine}")
    print(f"- Command: `{command}`")
    print(f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, PySide6 {PySide6.__version__}")
    print(
        f"- Image {args.width}×{args.height}, brush {args.brush_size} px, zoom {args.zoom}, "
        f"view {args.view}, {args.strokes} strokes × {args.segments} segments of "
        f"{args.step} px, repaint {'included' if args.repaint else 'left out'}"
    )
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| segments timed | {results['segments']} |")
    print(f"| time per segment, mean | {results['mean']:.2f} ms |")
    print(f"| time per segment, p95 | {results['p95']:.2f} ms |")
    print(f"| time per segment, max | {results['max']:.2f} ms |")
    print(f"| release (closes the undo step), mean | {results['release_mean']:.2f} ms |")
    print(f"| undo steps kept | {results['undo_steps']} |")
    print(f"| undo memory after all strokes | {results['undo_memory'] / 1024:.1f} KiB |")


if __name__ == "__main__":
    main()
