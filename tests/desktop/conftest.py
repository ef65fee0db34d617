"""Fixtures for every desktop test: offscreen Qt, isolated settings and folders, no leaked threads.

Autouse fixtures, active in every test under tests/desktop:
- `isolated_environment`: HOME, the XDG folders and QSettings' user and system paths point
  into the test's tmp_path, so no test reads or writes the real user's files.
- `no_leaked_threads`: fails the test when it leaves a QThread or a QThreadPool worker running.

Plain fixtures: `home` (the isolated HOME folder) and `qapp` from pytest-qt, which runs on
the offscreen platform that this file selects before any QApplication exists.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6

# Must be set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from PySide6.QtCore import QSettings, QThread, QThreadPool  # noqa: E402

THREAD_STOP_TIMEOUT_MS = 5000
XDG_FOLDERS = {
    "XDG_CONFIG_HOME": "config",
    "XDG_DATA_HOME": "data",
    "XDG_STATE_HOME": "state",
    "XDG_CACHE_HOME": "cache",
    "XDG_RUNTIME_DIR": "runtime",
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The HOME folder of the test, inside tmp_path."""
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path) -> None:
    """Point HOME, the XDG folders and QSettings' default paths into tmp_path."""
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    for variable, name in XDG_FOLDERS.items():
        folder = tmp_path / "xdg" / name
        folder.mkdir(parents=True, exist_ok=True)
        if variable == "XDG_RUNTIME_DIR":
            folder.chmod(0o700)  # Qt warns about and ignores a runtime folder others can read
        monkeypatch.setenv(variable, str(folder))
    settings_folder = tmp_path / "qsettings"
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(settings_format, scope, str(settings_folder / scope.name))


class _ThreadRecorder:
    """Records every QThread and QThreadPool started while installed."""

    def __init__(self) -> None:
        self.threads: weakref.WeakSet[QThread] = weakref.WeakSet()
        self.pools: list[QThreadPool] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original_thread_start = QThread.start
        original_pool_start = QThreadPool.start
        original_pool_try_start = QThreadPool.tryStart

        def thread_start(thread: QThread, *args: object, **kwargs: object) -> None:
            self.threads.add(thread)
            original_thread_start(thread, *args, **kwargs)

        def pool_start(pool: QThreadPool, *args: object, **kwargs: object) -> None:
            self.pools.append(pool)
            original_pool_start(pool, *args, **kwargs)

        def pool_try_start(pool: QThreadPool, *args: object, **kwargs: object) -> bool:
            self.pools.append(pool)
            return original_pool_try_start(pool, *args, **kwargs)

        monkeypatch.setattr(QThread, "start", thread_start)
        monkeypatch.setattr(QThreadPool, "start", pool_start)
        monkeypatch.setattr(QThreadPool, "tryStart", pool_try_start)

    def stop_leftovers(self) -> list[str]:
        """Wait for threads still running, and return a description of each one found."""
        leaks: list[str] = []
        # A thread or pool deleted with its Qt parent has nothing left running.
        for thread in [thread for thread in self.threads if shiboken6.isValid(thread)]:
            if thread.isRunning():
                leaks.append(f"QThread {type(thread).__name__} {thread.objectName()!r}")
                thread.quit()
                thread.wait(THREAD_STOP_TIMEOUT_MS)
        pools = [*self.pools, QThreadPool.globalInstance()]
        for pool in {id(pool): pool for pool in pools}.values():
            if not shiboken6.isValid(pool):
                continue
            active = pool.activeThreadCount()
            if active > 0:
                leaks.append(f"{active} QThreadPool worker(s)")
                pool.waitForDone(THREAD_STOP_TIMEOUT_MS)
        return leaks


@pytest.fixture(autouse=True)
def no_leaked_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if it leaves Qt threads running; they are stopped either way."""
    recorder = _ThreadRecorder()
    recorder.install(monkeypatch)
    yield
    leaks = recorder.stop_leftovers()
    if leaks:
        pytest.fail(
            "The test left threads running: "
            + "; ".join(leaks)
            + ". Wait for workers (qtbot.waitSignal on 'finished' or pool.waitForDone()) "
            "before the test ends."
        )
