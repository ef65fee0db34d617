"""Render the README and metainfo screenshot: the main window with a predicted mask.

Usage: QT_QPA_PLATFORM=offscreen python packaging/screenshots.py PHOTO PROMPT OUT.png
    [--model NAME] [--size 1400x860]

The photo is copied into a temporary folder, which the window opens as a project. Settings and
the project database live in that temporary folder too, so nothing of the user's is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def wait_until(app, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not reach the expected state in time")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("prompt")
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--size", default="1400x860")
    options = parser.parse_args()
    width, height = (int(part) for part in options.size.split("x"))

    root = Path(tempfile.mkdtemp(prefix="textmask-screenshot-"))
    os.environ["HOME"] = str(root)
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    os.environ["XDG_DATA_HOME"] = str(root / "data")
    folder = root / "photos"
    folder.mkdir()
    shutil.copy(options.photo, folder / options.photo.name)

    from PySide6.QtWidgets import QApplication

    from textmask_desktop.errors import ErrorChannel
    from textmask_desktop.main_window import MainWindow
    from textmask_desktop.settings import AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(AppSettings(), ErrorChannel())
    window.resize(width, height)
    window.show()
    window.start(folder, options.model)
    wait_until(app, lambda: window.predictions.model_name is not None)
    wait_until(app, lambda: not window.folder_opener.is_scanning)
    window.prompt_panel.prompt_edit.setText(options.prompt)
    window.prompt_panel.prompt_edit.returnPressed.emit()
    wait_until(app, lambda: window.canvas.preview_mask() is not None)
    wait_until(app, lambda: not window.predictions.is_busy)
    window.canvas.fit_to_window()
    app.processEvents()
    options.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(options.out))
    window.close()
    shutil.rmtree(root, ignore_errors=True)
    print(f"wrote {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
