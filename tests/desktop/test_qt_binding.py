"""The installed Qt binding must not leak or drop Python references on plain calls."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def test_void_calls_keep_none_refcount():
    # PySide6-Essentials 6.12.0 on Python 3.11 dropped one reference to None per call of a
    # Qt method returning void, and the interpreter aborted once the count reached zero.
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        probe.setObjectName("probe")
    assert abs(sys.getrefcount(None) - before) < 50
