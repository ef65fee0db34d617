"""Latency of the predictor: first prediction on a new image and re-prompts on the same image.

Usage: python benchmarks/bench_predict.py [--model NAME] [--repeats N] [--threads N]

Times include JPEG decoding, resizing, the model and the full-size mask at threshold 0.5.
Prints a Markdown table with the machine, command and date for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from textmask_core.imageio import load_image
from textmask_core.model import load_model
from textmask_core.predictor import Predictor

SIZES = ((640, 480), (4000, 3000))
PROMPTS = ("person", "the dog on the left", "car", "sky", "shoes")


def make_photo(folder: Path, width: int, height: int, seed: int) -> Path:
    """Write a JPEG with smooth structure (random noise compresses unlike a photo)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (height // 50 + 1, width // 50 + 1, 3), dtype=np.uint8)
    pixels = Image.fromarray(small).resize((width, height), Image.BICUBIC)
    path = folder / f"photo_{width}x{height}_{seed}.jpg"
    buffer = io.BytesIO()
    pixels.save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return path


def time_first_prediction(predictor: Predictor, path: Path) -> float:
    started = time.perf_counter()
    image = load_image(path)
    predictor.set_image(image)
    predictor.predict("person").mask(0.5)
    return time.perf_counter() - started


def time_reprompt(predictor: Predictor, prompt: str) -> float:
    started = time.perf_counter()
    predictor.predict(prompt).mask(0.5)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    model, info = load_model(options.model)
    predictor = Predictor(model, "cpu", image_cache_size=1)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for width, height in SIZES:
            paths = [
                make_photo(Path(folder), width, height, seed) for seed in range(options.repeats + 1)
            ]
            time_first_prediction(predictor, paths[0])  # warm-up
            first = [time_first_prediction(predictor, path) for path in paths[1:]]
            # Each prompt is new to the text cache on its first use only; use fresh prompts.
            reprompts = [
                time_reprompt(predictor, f"{PROMPTS[i % len(PROMPTS)]} {i}") for i in range(10)
            ]
            rows.append(
                (
                    f"{width}x{height}",
                    statistics.median(first),
                    max(first),
                    statistics.median(reprompts),
                    max(reprompts),
                )
            )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"Date: {dt.date.today()}; machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"Command: python {' '.join(sys.argv)}; model: {info.path}\n")
    print("| image | first prediction, median | max | re-prompt, median | max |")
    print("|---|---|---|---|---|")
    for size, first_median, first_max, re_median, re_max in rows:
        print(
            f"| {size} | {first_median * 1000:.0f} ms | {first_max * 1000:.0f} ms | "
            f"{re_median * 1000:.0f} ms | {re_max * 1000:.0f} ms |"
        )
    print(f"\nPeak resident memory: {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
