"""Batch subcommands of ``textmask``. None of them imports Qt."""

from __future__ import annotations

import argparse
import importlib

from textmask_desktop.commands.arguments import CommandParser, probability

_MODULES = {
    "predict": "textmask_desktop.commands.predict",
    "eval": "textmask_desktop.commands.evaluate",
    "export": "textmask_desktop.commands.export",
    "train": "textmask_desktop.commands.train",
}


def build_parser(name: str) -> argparse.ArgumentParser:
    module = importlib.import_module(_MODULES[name])
    parser = CommandParser(
        prog=f"textmask {name}",
        description=module.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def run(name: str, options: argparse.Namespace) -> int:
    return importlib.import_module(_MODULES[name]).run(options)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="registered model name or checkpoint folder (default: the shipped default model)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps (default: auto)",
    )
    parser.add_argument(
        "--threshold",
        type=probability,
        default=0.5,
        help="probability at or above which a pixel is inside the mask, 0..1 (default: 0.5)",
    )


def plural(count: int, noun: str) -> str:
    """Write ``count`` with ``noun``, adding "s" unless the count is 1: "1 image", "2 images"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
