"""``textmask train``: the training package's command line."""

from __future__ import annotations

import argparse

DESCRIPTION = """Fine-tune a model on manifests, TextMask projects or COCO files.

The output folder receives a checkpoint that --model accepts everywhere."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from textmask_training.cli_train import add_train_arguments

    add_train_arguments(parser)


def run(options: argparse.Namespace) -> int:
    from textmask_training.cli_train import run_train_command

    return run_train_command(options)
