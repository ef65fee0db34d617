"""Argument types, output path checks and the parser class that the ``textmask`` command shares.

Every check here runs before a model loads, so a mistyped option fails in a moment with exit
status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

EXIT_INVALID_INPUT = 2  # argparse's own status for a usage error


class InputError(Exception):
    """Invalid option or path on the command line. The message names the value and the fix."""


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that reports a usage mistake on one line, without the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID_INPUT, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def report_error(command: str, message: object) -> None:
    """Print ``textmask COMMAND: MESSAGE`` on stderr, the one line a failed command shows."""
    print(f"textmask {command}: {message}", file=sys.stderr)


def probability(text: str) -> float:
    """Parse a probability threshold in [0, 1], for use as an argparse ``type``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number; give a probability from 0 to 1, such as 0.5"
        ) from None
    # The comparison is False for NaN too, so "nan" is rejected here.
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{text} is outside the range 0 to 1; give a probability such as 0.5"
        )
    return value


def positive_int(text: str) -> int:
    """Parse a whole number of at least 1, for use as an argparse ``type``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1; give 1 or more")
    return value


def prompt_text(text: str) -> str:
    """Parse a prompt: runs of whitespace become one space, and a blank prompt is rejected."""
    prompt = " ".join(text.split())
    if not prompt:
        raise argparse.ArgumentTypeError(
            f"{text!r} is empty; a prompt names what to mask, such as --prompt 'red car'"
        )
    return prompt


def check_output_folder(path: Path, option: str) -> None:
    """Raise InputError when ``path`` cannot be used or created as an output folder."""
    if path.exists() and not path.is_dir():
        raise InputError(
            f"{option} {path} is an existing file, not a folder; pass a folder path "
            "(it is created if missing)"
        )
    _check_parent_folders(path, option)


def check_output_file(path: Path, option: str) -> None:
    """Raise InputError when ``path`` cannot be written as an output file."""
    if path.is_dir():
        raise InputError(
            f"{option} {path} is an existing folder; pass a file name, such as "
            f"{path / 'output.json'}"
        )
    _check_parent_folders(path, option)


def _check_parent_folders(path: Path, option: str) -> None:
    """Reject a path below an existing file, where creating the folders would fail."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(
                    f"{option} {path} cannot be created because {parent} is a file, not a folder"
                )
            return
