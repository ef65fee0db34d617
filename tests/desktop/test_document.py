"""ImageDocument: undoable object and mask edits, exact dirty state, bounded undo memory."""

from __future__ import annotations

import numpy as np
import pytest
from document_support import make_document, rect_mask
from PySide6.QtCore import QRect

from textmask_desktop.canvas.geometry import PixelPatch, PixelRect, brush_segment
from textmask_desktop.document import UNDO_LIMIT, ImageDocument, ObjectNotEditableError


def add_box(document: ImageDocument, label: str = "car", box=(2, 2, 10, 10)) -> int:
    return document.add_object(
        rect_mask(document.width, document.height, *box), label, prompt=f"the {label}"
    )


def paint_line(document: ImageDocument, key: int, start, end, size: int, value: bool = True):
    document.begin_stroke(key, value, "Paint")
    patch = brush_segment(start, end, size, document.width, document.height)
    document.paint_stroke(patch)
    document.end_stroke()


# Objects


def test_add_object_undo_redo() -> None:
    document = make_document()
    key = add_box(document)
    assert document.keys == [key]
    assert document.active_key == key
    assert document.is_dirty

    document.undo_stack.undo()
    assert document.keys == []
    assert document.active_key is None
    assert not document.is_dirty

    document.undo_stack.redo()
    layer = document.object(key)
    assert layer.label == "car"
    assert layer.prompt == "the car"
    assert layer.object_id is None
    np.testing.assert_array_equal(layer.mask, rect_mask(64, 48, 2, 2, 10, 10))


def test_add_object_copies_mask() -> None:
    document = make_document()
    mask = rect_mask(64, 48, 2, 2, 10, 10)
    key = document.add_object(mask, "car")
    mask[:] = False
    assert document.object(key).mask.sum() == 64


def test_add_object_wrong_shape_rejected() -> None:
    document = make_document(64, 48)
    with pytest.raises(ValueError, match=r"has shape \(64, 48\); the image needs \(48, 64\)"):
        document.add_object(np.zeros((64, 48), dtype=bool), "car")


def test_keys_stay_stable_after_delete() -> None:
    document = make_document()
    first = add_box(document, "car")
    second = add_box(document, "dog", (20, 20, 30, 30))
    document.delete_object(first)
    third = add_box(document, "cat", (40, 5, 50, 15))
    assert document.keys == [second, third]
    assert len({first, second, third}) == 3


def test_delete_undo_restores_object_exactly() -> None:
    document = make_document()
    first = add_box(document, "car")
    second = add_box(document, "dog", (20, 20, 30, 30))
    document.assign_object_ids({first: 11, second: 12})
    document.set_locked(second, True)
    document.set_locked(second, False)
    mask_before = document.object(first).mask.copy()

    document.delete_object(first)
    assert document.keys == [second]
    document.undo_stack.undo()

    assert document.keys == [first, second]
    restored = document.object(first)
    assert restored.object_id == 11
    assert restored.label == "car"
    np.testing.assert_array_equal(restored.mask, mask_before)


def test_merge_objects_unites_masks() -> None:
    document = make_document()
    first = add_box(document, "car", (2, 2, 10, 10))
    second = add_box(document, "car", (8, 8, 20, 12))
    expected = document.object(first).mask | document.object(second).mask
    originals = {key: document.object(key).mask.copy() for key in (first, second)}

    target = document.merge_objects([first, second])
    assert target == first
    assert document.keys == [first]
    np.testing.assert_array_equal(document.object(first).mask, expected)
    assert document.object(first).origin == "edited"

    document.undo_stack.undo()
    assert document.keys == [first, second]
    for key, mask in originals.items():
        np.testing.assert_array_equal(document.object(key).mask, mask)
    assert document.object(first).origin == "predicted"


def test_merge_needs_two_objects() -> None:
    document = make_document()
    key = add_box(document)
    with pytest.raises(ValueError, match="at least two"):
        document.merge_objects([key, key])


def test_properties_undoable_and_dirty() -> None:
    document = make_document()
    key = add_box(document)
    document.mark_saved()
    for name, value, setter in (
        ("label", "truck", document.set_label),
        ("visible", False, document.set_visible),
        ("locked", True, document.set_locked),
    ):
        before = getattr(document.object(key), name)
        setter(key, value)
        assert getattr(document.object(key), name) == value
        assert document.is_dirty
        document.undo_stack.undo()
        assert getattr(document.object(key), name) == before
        assert not document.is_dirty


def test_empty_label_rejected() -> None:
    document = make_document()
    key = add_box(document)
    with pytest.raises(ValueError, match="label is empty"):
        document.set_label(key, "  ")


def test_colour_change_is_not_an_edit() -> None:
    document = make_document()
    key = add_box(document)
    document.mark_saved()
    document.set_colour(key, "#00FF00")
    assert document.object(key).colour == "#00ff00"
    assert not document.is_dirty
    with pytest.raises(ValueError, match="Invalid colour"):
        document.set_colour(key, "not a colour")


def test_active_key_signal(qtbot) -> None:
    document = make_document()
    key = add_box(document)
    with qtbot.waitSignal(document.active_changed) as blocker:
        document.set_active(None)
    assert blocker.args == [None]
    document.set_active(key)
    assert document.active_key == key
    with pytest.raises(KeyError, match="no such key"):
        document.set_active(999)


# Mask edits


def test_mask_edit_undo_redo_exact() -> None:
    document = make_document()
    key = add_box(document)
    original = document.object(key).mask.copy()
    values = np.zeros((5, 6), dtype=bool)
    values[1:4, 2:5] = True

    assert document.apply_mask_edit(key, QRect(30, 20, 6, 5), values)
    edited = document.object(key).mask.copy()
    expected = original.copy()
    expected[20:25, 30:36] = values
    np.testing.assert_array_equal(edited, expected)
    assert document.object(key).origin == "edited"

    document.undo_stack.undo()
    np.testing.assert_array_equal(document.object(key).mask, original)
    assert document.object(key).origin == "predicted"
    document.undo_stack.redo()
    np.testing.assert_array_equal(document.object(key).mask, edited)


def test_mask_edit_without_change_pushes_nothing() -> None:
    document = make_document()
    key = add_box(document)
    count = document.undo_stack.count()
    same = document.object(key).mask[0:8, 0:8].copy()
    assert not document.apply_mask_edit(key, PixelRect(0, 0, 8, 8), same)
    assert document.undo_stack.count() == count


def test_mask_edit_region_checked() -> None:
    document = make_document(64, 48)
    key = add_box(document)
    with pytest.raises(ValueError, match="not inside"):
        document.apply_mask_edit(key, PixelRect(60, 0, 8, 8), np.ones((8, 8), bool))
    with pytest.raises(ValueError, match=r"needs \(8, 8\)"):
        document.apply_mask_edit(key, PixelRect(0, 0, 8, 8), np.ones((4, 8), bool))


def test_mask_changed_signal_gives_rect(qtbot) -> None:
    document = make_document()
    key = add_box(document)
    values = np.ones((3, 4), dtype=bool)
    with qtbot.waitSignal(document.mask_changed) as blocker:
        document.apply_mask_edit(key, PixelRect(40, 30, 4, 3), values)
    assert blocker.args == [key, QRect(40, 30, 4, 3)]


def test_replace_mask_keeps_only_changed_rect() -> None:
    document = make_document(640, 480)
    key = document.add_object(np.zeros((480, 640), bool), "car")
    new_mask = np.zeros((480, 640), bool)
    new_mask[100:110, 200:220] = True
    assert document.replace_mask(key, new_mask, "Grow")
    # Two packed 10×20 patches: far less than one bit per image pixel (38 400 bytes).
    assert document.undo_memory_bytes() < 1000


# Locked objects


def test_locked_object_rejects_edits() -> None:
    document = make_document()
    key = add_box(document)
    other = add_box(document, "dog", (20, 20, 30, 30))
    document.set_locked(key, True)
    mask = document.object(key).mask.copy()
    count = document.undo_stack.count()

    with pytest.raises(ObjectNotEditableError, match="'car' is locked: unlock it"):
        document.apply_mask_edit(key, PixelRect(0, 0, 2, 2), np.ones((2, 2), bool))
    with pytest.raises(ObjectNotEditableError, match="locked"):
        document.begin_stroke(key, True, "Paint")
    with pytest.raises(ObjectNotEditableError, match="locked"):
        document.delete_object(key)
    with pytest.raises(ObjectNotEditableError, match="locked"):
        document.merge_objects([other, key])

    np.testing.assert_array_equal(document.object(key).mask, mask)
    assert document.undo_stack.count() == count
    document.set_locked(key, False)
    assert document.apply_mask_edit(key, PixelRect(0, 0, 2, 2), np.ones((2, 2), bool))


# Dirty state


def test_dirty_exact_across_save_and_undo() -> None:
    document = make_document()
    key = add_box(document)
    assert document.is_dirty
    document.mark_saved()
    assert not document.is_dirty

    paint_line(document, key, (30.5, 30.5), (40.5, 30.5), 3)
    assert document.is_dirty
    document.undo_stack.undo()  # back to the saved content
    assert not document.is_dirty
    document.undo_stack.undo()  # past the save: the object is gone, which must be saved
    assert document.is_dirty
    document.undo_stack.redo()
    assert not document.is_dirty

    document.undo_stack.undo()
    document.mark_saved()  # the saved state is now the one without the object
    assert not document.is_dirty
    document.undo_stack.redo()
    assert document.is_dirty


def test_dirty_changed_signal_follows_state(qtbot) -> None:
    document = make_document()
    states: list[bool] = []
    document.dirty_changed.connect(states.append)
    key = add_box(document)
    document.mark_saved()
    document.set_label(key, "truck")
    document.undo_stack.undo()
    assert states == [True, False, True, False]


def test_new_edit_after_undo_stays_dirty() -> None:
    document = make_document()
    key = add_box(document)
    document.set_label(key, "truck")
    document.mark_saved()
    document.undo_stack.undo()
    document.set_label(key, "bus")  # drops the saved step from the redo history
    assert document.is_dirty
    document.undo_stack.undo()
    assert document.is_dirty  # the label is "car", the store contains "truck"


def test_mark_saved_revision_of_snapshot() -> None:
    document = make_document()
    key = add_box(document)
    revision = document.revision
    states = document.object_states()
    document.set_label(key, "truck")  # an edit while the save runs
    document.mark_saved(revision)
    assert document.is_dirty
    assert states[0].label == "car"
    document.undo_stack.undo()
    assert not document.is_dirty


def test_load_saved_object_keeps_clean() -> None:
    document = make_document()
    key = document.load_saved_object(rect_mask(64, 48, 1, 1, 5, 5), "car", object_id=7)
    assert not document.is_dirty
    assert document.undo_stack.count() == 0
    assert document.object(key).object_id == 7
    document.set_label(key, "truck")
    with pytest.raises(RuntimeError, match="load stored objects first"):
        document.load_saved_object(rect_mask(64, 48, 1, 1, 5, 5), "dog", object_id=8)


# Saving


def test_object_states_copy_fields_and_masks() -> None:
    document = make_document()
    first = add_box(document, "car")
    second = document.add_object(
        rect_mask(64, 48, 20, 20, 30, 30), "dog", origin="edited", model_name=None, visible=False
    )
    document.set_locked(first, True)
    document.assign_object_ids({first: 5, 999: 6})

    states = document.object_states()
    assert [state.key for state in states] == [first, second]
    car, dog = states
    assert (car.object_id, car.label, car.prompt, car.locked) == (5, "car", "the car", True)
    assert (dog.object_id, dog.origin, dog.visible, dog.model_name) == (None, "edited", False, None)
    np.testing.assert_array_equal(car.mask, document.object(first).mask)
    car.mask[:] = False
    assert document.object(first).mask.any()


def test_assign_ids_survive_undo_of_add() -> None:
    document = make_document()
    key = add_box(document)
    document.mark_saved()
    document.assign_object_ids({key: 42})
    document.undo_stack.undo()
    document.undo_stack.redo()
    assert document.object(key).object_id == 42


# Strokes


def test_stroke_is_one_undo_step() -> None:
    document = make_document(200, 100)
    key = document.add_object(np.zeros((100, 200), bool), "car")
    count = document.undo_stack.count()
    document.begin_stroke(key, True, "Paint")
    points = [(10.5, 10.5), (30.5, 12.5), (60.5, 40.5), (90.5, 45.5)]
    expected = np.zeros((100, 200), bool)
    for start, end in zip(points, points[1:], strict=False):
        patch = brush_segment(start, end, 5, 200, 100)
        expected[patch.rect.slices] |= patch.values
        document.paint_stroke(patch)
    document.end_stroke()

    assert document.undo_stack.count() == count + 1
    np.testing.assert_array_equal(document.object(key).mask, expected)
    document.undo_stack.undo()
    assert not document.object(key).mask.any()
    document.undo_stack.redo()
    np.testing.assert_array_equal(document.object(key).mask, expected)


def test_stroke_without_change_pushes_nothing() -> None:
    document = make_document()
    key = document.add_object(np.zeros((48, 64), bool), "car")
    document.mark_saved()
    paint_line(document, key, (10.5, 10.5), (20.5, 10.5), 5, value=False)
    assert document.undo_stack.count() == 1
    assert not document.is_dirty


def test_undo_during_stroke_stops_it() -> None:
    document = make_document()
    key = document.add_object(np.zeros((48, 64), bool), "car")
    document.begin_stroke(key, True, "Paint")
    document.paint_stroke(brush_segment((10.5, 10.5), (20.5, 10.5), 3, 64, 48))
    document.undo_stack.undo()
    assert not document.object(key).mask.any()
    # The rest of the stroke paints nothing until the button is released.
    assert document.paint_stroke(brush_segment((20.5, 10.5), (30.5, 10.5), 3, 64, 48)) is None
    document.end_stroke()
    assert not document.object(key).mask.any()
    document.undo_stack.redo()
    assert document.object(key).mask[10, 10:21].all()
    assert not document.object(key).mask[10, 25:31].any()


def test_save_during_stroke_starts_new_step() -> None:
    document = make_document()
    key = document.add_object(np.zeros((48, 64), bool), "car")
    document.begin_stroke(key, True, "Paint")
    document.paint_stroke(brush_segment((10.5, 10.5), (20.5, 10.5), 3, 64, 48))
    document.mark_saved()
    assert not document.is_dirty
    document.paint_stroke(brush_segment((20.5, 10.5), (20.5, 30.5), 3, 64, 48))
    document.end_stroke()
    assert document.is_dirty
    document.undo_stack.undo()  # takes back only the part painted after the save
    assert not document.is_dirty
    assert document.object(key).mask[10, 10:21].all()
    assert not document.object(key).mask[25:31, 20].any()


def test_edit_during_stroke_closes_stroke_step() -> None:
    document = make_document()
    key = document.add_object(np.zeros((48, 64), bool), "car")
    document.begin_stroke(key, True, "Paint")
    document.paint_stroke(brush_segment((10.5, 10.5), (20.5, 10.5), 3, 64, 48))
    document.set_label(key, "truck")
    document.paint_stroke(brush_segment((20.5, 10.5), (20.5, 30.5), 3, 64, 48))
    document.end_stroke()
    texts = [document.undo_stack.text(index) for index in range(document.undo_stack.count())]
    assert texts == ["Add car", "Paint", "Rename to truck", "Paint"]
    for _ in range(3):
        document.undo_stack.undo()
    assert not document.object(key).mask.any()


def test_paint_without_stroke_does_nothing() -> None:
    document = make_document()
    key = document.add_object(np.zeros((48, 64), bool), "car")
    patch = PixelPatch(PixelRect(0, 0, 4, 4), np.ones((4, 4), bool))
    assert document.paint_stroke(patch) is None
    assert not document.object(key).mask.any()


# Undo memory


def stroke_memory(width: int, height: int) -> int:
    document = make_document(width, height)
    key = document.add_object(np.zeros((height, width), bool), "car")
    before = document.undo_memory_bytes()
    document.begin_stroke(key, True, "Paint")
    for start, end in (((100.5, 100.5), (200.5, 150.5)), ((200.5, 150.5), (300.5, 120.5))):
        document.paint_stroke(brush_segment(start, end, 15, width, height))
    document.end_stroke()
    return document.undo_memory_bytes() - before


def test_undo_memory_follows_stroke_not_image() -> None:
    small = stroke_memory(400, 300)
    large = stroke_memory(4000, 3000)
    assert small > 0
    assert large == small
    # Stroke rectangle: about 215×65 px; the undo data stays below one bit per pixel of it.
    assert large < 215 * 65 / 8


def test_undo_memory_of_delete_is_packed() -> None:
    document = make_document(2000, 1500)
    key = document.add_object(rect_mask(2000, 1500, 100, 100, 600, 400), "car")
    document.delete_object(key)
    # The 500×300 box packs into far less than its 150 000 bool bytes.
    assert 0 < document.undo_memory_bytes() < 150_000 / 8


def test_undo_limit() -> None:
    document = make_document()
    key = add_box(document)
    assert document.undo_stack.undoLimit() == UNDO_LIMIT
    for index in range(UNDO_LIMIT + 5):
        document.set_label(key, f"car {index}")
    assert document.undo_stack.count() == UNDO_LIMIT
