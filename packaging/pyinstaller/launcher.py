"""Entry script of the frozen app: the same as the ``textmask`` command."""

import multiprocessing
import sys

from textmask_desktop.cli import main

if __name__ == "__main__":
    # Training data loaders start worker processes. On Windows and macOS those re-run this
    # executable, and freeze_support() turns such a start into the worker instead of the app.
    multiprocessing.freeze_support()
    sys.exit(main())
