"""Settings shared by every test: offline, single-threaded torch, isolated user folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    import torch

    # Tests run on small CI machines; more threads only add contention between workers.
    torch.set_num_threads(1)
    yield


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    """Point HOME and the XDG folders at a temporary folder, so no test touches the real ones."""
    home = tmp_path / "home"
    for name, sub in (
        ("HOME", ""),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        folder = home / sub
        folder.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(folder))
    return home


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def cases_dir() -> Path:
    """Small image and mask files that broke other annotation tools (see fixtures/SOURCES.md)."""
    return FIXTURES / "cases"
