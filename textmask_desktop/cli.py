"""The ``textmask`` command: opens the app, or runs predict, eval, export and train.

Qt is imported only on the path that opens the window, so the batch subcommands start fast
and run on machines without a display.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from textmask_core import __version__
from textmask_desktop.commands.arguments import EXIT_INVALID_INPUT, CommandParser

logger = logging.getLogger(__name__)

SUBCOMMANDS = ("predict", "eval", "export", "train")


def build_app_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="textmask",
        description=(
            "TextMask: type what to mask, correct the mask, export COCO or PNG, fine-tune.\n"
            "Without a subcommand, opens the desktop app (optionally on FOLDER)."
        ),
        epilog=(
            "subcommands:\n"
            "  predict   predict masks for prompts on image files or folders\n"
            "  eval      score a model on a manifest CSV beside trivial baselines\n"
            "  export    export a project's masks as COCO JSON or PNG files\n"
            "  train     fine-tune a model on manifests, projects or COCO files\n"
            "Run 'textmask SUBCOMMAND --help' for the options of each."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", nargs="?", help="image folder to open in the app")
    parser.add_argument("--version", action="version", version=f"textmask {__version__}")
    parser.add_argument("--model", help="model name or checkpoint folder to start with")
    parser.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="install the application menu entry and icon for the current user, then exit",
    )
    parser.add_argument(
        "--uninstall-desktop-entry",
        action="store_true",
        help="remove the menu entry and icon installed by --install-desktop-entry, then exit",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in SUBCOMMANDS:
        return _run_subcommand(arguments[0], arguments[1:])
    # A mistyped subcommand is reported before argparse rejects the subcommand's options.
    if arguments and not arguments[0].startswith("-"):
        problem = folder_problem(arguments[0])
        if problem is not None:
            return _report_folder_problem(problem)
    options = build_app_parser().parse_args(arguments)
    _configure_logging(options.verbose)
    if options.folder is not None:
        problem = folder_problem(options.folder)
        if problem is not None:
            return _report_folder_problem(problem)
    if options.install_desktop_entry or options.uninstall_desktop_entry:
        from textmask_desktop.desktop_entry import run_desktop_entry_command

        return run_desktop_entry_command(install=options.install_desktop_entry)
    from textmask_desktop.app import run_app

    return run_app(options.folder, model=options.model)


def folder_problem(text: str) -> str | None:
    """Return why the app cannot open ``text`` as its image folder, or None when it can.

    A missing name that looks like a word is most likely a mistyped subcommand, so the message
    lists the subcommands and the closest one.
    """
    path = Path(text).expanduser()
    if path.is_dir():
        return None
    if path.exists():
        return f"{text} is a file, not a folder; pass its folder, {path.absolute().parent}"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", text):
        return f"folder {text} not found; pass an existing image folder"
    message = f"no such folder or subcommand {text!r}; subcommands are {', '.join(SUBCOMMANDS)}"
    close = difflib.get_close_matches(text, SUBCOMMANDS, n=1)
    return message + (f" (did you mean {close[0]!r}?)" if close else "")


def _report_folder_problem(problem: str) -> int:
    print(f"textmask: {problem}", file=sys.stderr)
    return EXIT_INVALID_INPUT


def _run_subcommand(name: str, arguments: list[str]) -> int:
    from textmask_desktop import commands

    parser = commands.build_parser(name)
    options = parser.parse_args(arguments)
    _configure_logging(getattr(options, "verbose", False))
    return commands.run(name, options)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # transformers and huggingface_hub are chatty at INFO; keep their warnings only.
    for noisy in ("transformers", "huggingface_hub", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
