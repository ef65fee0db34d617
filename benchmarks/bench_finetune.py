"""Fine-tuning benchmark: how much do the first N corrected images of a new domain help?

For each N, a separate process fine-tunes the starting model on the first N images of the
training manifest for a fixed number of epochs. Nothing stops early on validation scores, so
the validation sets stay unseen. Then it scores the result on the domain's validation manifest
and on a general one.
Reports mean IoU before and after, wall time of the fine-tuning and peak resident memory
(``resource.getrusage`` maxrss of that process).

Example (the numbers in docs/benchmarks.md came from this command on 2 CPU cores)::

    python benchmarks/bench_finetune.py --sizes 5,20,50 --threads 2 --json results.json
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

DATASETS = Path("/work/shared/datasets")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default=None, help="starting model (default: the shipped default)"
    )
    parser.add_argument("--train", type=Path, default=DATASETS / "streets-train" / "manifest.csv")
    parser.add_argument("--val", type=Path, default=DATASETS / "streets-val" / "manifest.csv")
    parser.add_argument(
        "--general-val",
        type=Path,
        default=DATASETS / "default-val" / "manifest.csv",
        help="the starting model's own domain, to see what fine-tuning costs there",
    )
    parser.add_argument(
        "--sizes", default="5,20,50", help="comma-separated numbers of training images"
    )
    parser.add_argument(
        "--max-val-images", type=int, default=None, help="score only the first N images"
    )
    parser.add_argument("--epochs", type=int, default=None, help="default: the TrainConfig default")
    parser.add_argument("--trainable", default=None, help="head, fusion+head or all-unfrozen")
    parser.add_argument("--l2sp", type=float, default=None, help="L2-SP weight")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--cache-dir", type=Path, default=None, help="feature cache folder")
    parser.add_argument("--json", type=Path, default=None, help="write all results to this file")
    parser.add_argument("--single", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--stage", default="finetune", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_arguments(argv)
    if args.single is not None or args.stage == "before":
        print(json.dumps(run_single(args)))
        return 0
    results = {"before": _child(args, ["--stage", "before"])}
    for size in [int(part) for part in args.sizes.split(",")]:
        results[f"n{size}"] = _child(args, ["--single", str(size)])
        print(json.dumps({f"n{size}": results[f"n{size}"]}), file=sys.stderr)
    print(format_table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def _child(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    """Run one measurement in a fresh process, so maxrss is that measurement's peak."""
    options = {
        "--model": args.model,
        "--train": args.train,
        "--val": args.val,
        "--general-val": args.general_val,
        "--max-val-images": args.max_val_images,
        "--epochs": args.epochs,
        "--trainable": args.trainable,
        "--l2sp": args.l2sp,
        "--lr": args.lr,
        "--threads": args.threads,
        "--cache-dir": args.cache_dir,
    }
    forwarded = [
        item for flag, value in options.items() if value is not None for item in (flag, str(value))
    ]
    output = subprocess.run(
        [sys.executable, __file__, *forwarded, *extra], check=True, capture_output=True, text=True
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def run_single(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    cache_dir = args.cache_dir or Path(tempfile.gettempdir()) / "textmask-bench-cache"
    if args.stage == "before":
        from textmask_core.model import load_model

        model = load_model(args.model)[0]
        return {
            "val": score(model, args.val, args),
            "general_val": score(model, args.general_val, args),
            "peak_rss_mib": _peak_rss_mib(),
        }
    return finetune(args, cache_dir)


def finetune(args: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    from textmask_core.model import load_checkpoint
    from textmask_training.api import TrainConfig, train

    out = Path(tempfile.mkdtemp(prefix=f"bench-n{args.single}-"))
    config = TrainConfig(
        train=(str(args.train),),
        out=out,
        model=args.model,
        max_images=args.single,
        cache_dir=cache_dir,
        tensorboard=False,
        device="cpu",
    )
    overrides = {
        "epochs": args.epochs,
        "trainable": args.trainable,
        "l2sp_weight": args.l2sp,
        "lr": args.lr,
    }
    config = replace(
        config, **{name: value for name, value in overrides.items() if value is not None}
    )
    started = time.perf_counter()
    records = list(train(config))
    seconds = time.perf_counter() - started
    model = load_checkpoint(out)[0]
    return {
        "images": args.single,
        "steps": records[-1].step,
        "final_loss": records[-1].loss,
        "seconds": round(seconds, 1),
        "peak_rss_mib": _peak_rss_mib(),
        "val": score(model, args.val, args),
        "general_val": score(model, args.general_val, args),
        "config": {
            key: config.to_dict()[key]
            for key in (
                "epochs",
                "batch_size",
                "lr",
                "trainable",
                "l2sp_weight",
                "augmentation",
                "absent_share",
            )
        },
    }


def score(model: Any, manifest: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Score with the same rule as ``textmask eval`` (``Predictor`` masks, core metrics)."""
    from textmask_core.manifest import read_manifest
    from textmask_core.predictor import Predictor
    from textmask_training.data.manifest import manifest_samples
    from textmask_training.data.splits import first_images
    from textmask_training.evaluate import evaluate_rows

    rows = read_manifest(manifest)
    if args.max_val_images is not None:
        keep = {
            sample.image_path
            for sample in first_images(manifest_samples(manifest), args.max_val_images)
        }
        rows = [row for row in rows if row.image in keep]
    started = time.perf_counter()
    report = evaluate_rows(Predictor(model, "cpu"), rows)
    summary = report.overall.to_dict()
    summary["eval_seconds"] = round(time.perf_counter() - started, 1)
    return summary


def _peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def format_table(results: dict[str, Any]) -> str:
    before = results["before"]
    lines = [
        "| images | steps | fine-tune time | peak RSS | val mean IoU (before -> after) "
        "| general val mean IoU (before -> after) |",
        "|---|---|---|---|---|---|",
    ]
    for key, result in results.items():
        if key == "before":
            continue
        lines.append(
            f"| {result['images']} | {result['steps']} | {result['seconds']:.0f} s | "
            f"{result['peak_rss_mib']:.0f} MiB | {_pair(before['val'], result['val'])} | "
            f"{_pair(before['general_val'], result['general_val'])} |"
        )
    return "\n".join(lines)


def _pair(before: dict[str, Any], after: dict[str, Any]) -> str:
    first, second = before["mean_iou"], after["mean_iou"]
    return f"{first:.3f} -> {second:.3f} ({second - first:+.3f})"


if __name__ == "__main__":
    sys.exit(main())
