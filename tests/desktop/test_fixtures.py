"""The shared desktop fixtures in conftest.py: isolated folders and settings, thread-leak check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

CONFTEST = Path(__file__).with_name("conftest.py")

LEAKING_TESTS = """
import time

from PySide6.QtCore import QRunnable, QThread, QThreadPool


class Sleeper(QThread):
    def run(self):
        time.sleep(0.5)


class SleepTask(QRunnable):
    def run(self):
        time.sleep(0.5)


def test_leaks_qthread():
    thread = Sleeper()
    thread.start()
    test_leaks_qthread.thread = thread  # keep the wrapper alive while it runs


def test_leaks_pool_worker():
    QThreadPool.globalInstance().start(SleepTask())


def test_waits_for_its_thread():
    thread = Sleeper()
    thread.start()
    assert thread.wait(5000)
"""


def test_home_and_xdg_in_tmp_path(tmp_path: Path, home: Path) -> None:
    assert Path(os.environ["HOME"]) == home
    assert home.is_relative_to(tmp_path)
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        assert Path(os.environ[variable]).is_relative_to(tmp_path)
    config = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.ConfigLocation)
    assert Path(config).is_relative_to(tmp_path)


def test_default_qsettings_in_tmp_path(tmp_path: Path) -> None:
    settings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "TextMask", "test")
    settings.setValue("answer", 42)
    settings.sync()
    assert Path(settings.fileName()).is_relative_to(tmp_path)
    assert Path(settings.fileName()).exists()


def test_leaked_threads_fail_the_test(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copyfile(CONFTEST, project / "conftest.py")
    (project / "test_leaks.py").write_text(LEAKING_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "ERROR test_leaks.py::test_leaks_qthread" in output
    assert "ERROR test_leaks.py::test_leaks_pool_worker" in output
    assert "PASSED test_leaks.py::test_waits_for_its_thread" in output
    assert "QThread Sleeper" in output
    assert "1 QThreadPool worker(s)" in output
