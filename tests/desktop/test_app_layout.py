"""Window layout: every Objects column fits, and the photo keeps most of a narrow window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from app_support import make_folder, make_window

from textmask_desktop.dock_sizing import SIDE_PANEL_SHARE, shrunk_widths
from textmask_desktop.main_window import MainWindow
from textmask_desktop.objects_panel import HEADERS, LOCKED_COLUMN


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:
    torch.set_num_threads(1)
    window = make_window(qtbot, tmp_path)
    window.start(make_folder(tmp_path / "images"), "tiny")
    qtbot.waitUntil(lambda: window.predictions.model_name == "tiny", timeout=30_000)
    qtbot.waitUntil(lambda: not window.folder_opener.is_scanning)
    document = window.session.document
    mask = np.zeros((document.height, document.width), dtype=np.bool_)
    mask[10:60, 10:60] = True
    document.add_object(mask, "a rather long label for a sign", prompt="the sign on the left")
    document.add_object(mask.copy(), "car", prompt="car")
    yield window
    window.close()


def _show_at(qtbot, window: MainWindow, width: int, height: int) -> None:
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.width() == width)
    qtbot.wait(50)  # let the dock layout settle after the resize


@pytest.mark.parametrize("size", [(1280, 800), (1024, 700), (900, 650)])
def test_objects_columns_fit(qtbot, window: MainWindow, size: tuple[int, int]) -> None:
    _show_at(qtbot, window, *size)
    tree = window.objects_panel.tree
    header = tree.header()

    assert not tree.horizontalScrollBar().isVisible()
    right_edge = header.sectionViewportPosition(LOCKED_COLUMN) + header.sectionSize(LOCKED_COLUMN)
    assert right_edge <= tree.viewport().width()
    assert (
        header.sectionSize(LOCKED_COLUMN) >= header.sectionSizeFromContents(LOCKED_COLUMN).width()
    )
    assert [tree.headerItem().text(column) for column in range(4)] == list(HEADERS)
    assert "Locked" in tree.headerItem().toolTip(LOCKED_COLUMN)


def test_photo_keeps_most_of_width(qtbot, window: MainWindow) -> None:
    _show_at(qtbot, window, 1280, 800)
    assert window.center.width() >= 0.55 * window.width()

    window.resize(900, 650)
    qtbot.waitUntil(lambda: window.width() == 900)
    qtbot.wait(50)
    docks = sum(dock.width() for dock in window.docks)
    assert docks <= SIDE_PANEL_SHARE * 900 + 16  # plus the splitter handles
    assert window.center.width() >= 0.55 * window.width()


def test_shrunk_widths_keep_proportions() -> None:
    assert shrunk_widths(1280, [200, 300], [140, 180]) is None
    assert shrunk_widths(900, [200, 300], [140, 180]) == [144, 216]
    assert shrunk_widths(1000, [300, 300], [100, 100], share=0.3) == [150, 150]
    assert shrunk_widths(400, [200, 320], [140, 180]) == [140, 180]  # minimums win
    assert shrunk_widths(400, [140, 180], [140, 180]) is None
