"""``textmask train``: the training package's command line."""

from __future__ import annotations

import argparse

from textmask_desktop.commands.arguments import (
    EXIT_INVALID_INPUT,
    InputError,
    check_output_folder,
    report_error,
)

DESCRIPTION = """Fine-tune a model on manifests, TextMask projects or COCO files.

The output folder receives a checkpoint that --model accepts everywhere."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from textmask_training.cli_train import add_train_arguments

    add_train_arguments(parser)


def run(options: argparse.Namespace) -> int:
    from textmask_training.cli_train import run_train_command

    try:
        # Checked here because the trainer creates --out only after it has read the data.
        if options.out is not None:
            check_output_folder(options.out, "--out")
    except InputError as error:
        report_error("train", error)
        return EXIT_INVALID_INPUT
    return run_train_command(options)
