"""Counted nouns in messages and spin boxes agree with their number."""

from __future__ import annotations

from PySide6.QtCore import Qt

from textmask_desktop.counting import CountSpinBox, count_noun, noun_for


def test_count_noun_singular_plural() -> None:
    assert count_noun(0, "image") == "0 images"
    assert count_noun(1, "image") == "1 image"
    assert count_noun(2, "held-back mask") == "2 held-back masks"
    assert count_noun(1, "was", "were") == "1 was"
    assert noun_for(3, "was", "were") == "were"


def test_spin_box_suffix_follows_value(qtbot) -> None:
    box = CountSpinBox("image")
    qtbot.addWidget(box)
    box.setRange(0, 100)
    box.setValue(1)
    assert box.text() == "1 image"
    box.setValue(2)
    assert box.text() == "2 images"
    box.setValue(0)
    assert box.text() == "0 images"


def test_spin_box_typing_keeps_value(qtbot) -> None:
    box = CountSpinBox("step")
    qtbot.addWidget(box)
    box.setRange(1, 1000)
    box.setValue(5)
    box.show()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "1")
    assert box.text() == "1 step"
    qtbot.keyClicks(box, "2")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == 12
    assert box.text() == "12 steps"
