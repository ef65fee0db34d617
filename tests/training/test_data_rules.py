"""Splits, mixing, flips, crops and absent rows: the rules that keep training data honest."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from shapes import write_manifest

from textmask_training.config import TrainConfig
from textmask_training.data.absent import RELATED_WORD_GROUPS, AbsentRows, absent_count, is_related
from textmask_training.data.augment import (
    AugmentationConfig,
    augment_row,
    choose_window,
    crop_window,
    flip_row,
    swap_left_right,
    zoom_windows,
)
from textmask_training.data.manifest import manifest_samples
from textmask_training.data.sample import Sample
from textmask_training.data.splits import first_images, mix_sources, split_of, split_samples


def _rows(image: str, *texts: str) -> list[Sample]:
    return [Sample(Path(image), text, None, image, "test") for text in texts]


def test_split_never_shares_an_image(tmp_path):
    samples = manifest_samples(write_manifest(tmp_path, images=40))
    train, val = split_samples(samples, 0.25, seed=3)
    assert train
    assert val
    assert not {s.image_key for s in train} & {s.image_key for s in val}
    assert len(train) + len(val) == len(samples)


def test_split_is_deterministic():
    keys = [f"image_{index}.jpg" for index in range(200)]
    first = [split_of(key, 0.2, seed=1) for key in keys]
    assert first == [split_of(key, 0.2, seed=1) for key in keys]
    assert 20 <= first.count("val") <= 60
    assert first != [split_of(key, 0.2, seed=2) for key in keys]


def test_first_images_keeps_file_order():
    samples = _rows("b", "x", "y") + _rows("a", "x") + _rows("b", "z") + _rows("c", "x")
    kept = first_images(samples, 2)
    assert [(s.image_key, s.text) for s in kept] == [("b", "x"), ("b", "y"), ("a", "x"), ("b", "z")]


def test_mix_sources_follows_weights():
    small = _rows("a", *[f"t{i}" for i in range(10)])
    large = _rows("b", *[f"u{i}" for i in range(90)])
    mixed = mix_sources([small, large], [1.0, 1.0], seed=0)
    assert len(mixed) == 100
    assert sum(s.image_key == "a" for s in mixed) == 50
    assert mix_sources([small, large]) == small + large
    with pytest.raises(ValueError, match="one positive number per source"):
        mix_sources([small, large], [1.0])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the dog on the left", "the dog on the right"),
        ("Left shoe", "Right shoe"),
        ("RIGHTMOST car", "LEFTMOST car"),
        ("leftmost and rightmost", "rightmost and leftmost"),
        ("left-hand glove", "right-hand glove"),
        ("bright leftover", "bright leftover"),
    ],
)
def test_swap_left_right_words(text, expected):
    assert swap_left_right(text) == expected


def test_flip_mirrors_mask_and_text():
    pixels = np.zeros((4, 6, 3), dtype=np.uint8)
    pixels[:, 0] = 255
    mask = np.zeros((4, 6), dtype=bool)
    mask[:, :2] = True
    flipped_pixels, flipped_mask, text = flip_row(pixels, mask, "the cup on the left")
    assert text == "the cup on the right"
    assert flipped_mask[:, 4:].all()
    assert not flipped_mask[:, :4].any()
    assert (flipped_pixels[:, 5] == 255).all()


def test_crop_keeps_whole_object():
    rng = np.random.default_rng(0)
    mask = np.zeros((100, 120), dtype=bool)
    mask[70:90, 5:60] = True
    for _ in range(50):
        top, left, height, width = crop_window(mask, 2.0, rng)
        assert top >= 0
        assert top + height <= 100
        assert left >= 0
        assert left + width <= 120
        assert mask[top : top + height, left : left + width].sum() == mask.sum()
        assert height == 50
        assert width == 60


def test_zoom_windows_are_corners_and_centre():
    assert zoom_windows(300, 400, 2.0) == [
        (0, 0, 150, 200),
        (0, 200, 150, 200),
        (150, 0, 150, 200),
        (150, 200, 150, 200),
        (75, 100, 150, 200),
    ]
    assert set(zoom_windows(30, 40, 1.0)) == {(0, 0, 30, 40)}


def test_window_contains_whole_object():
    windows = zoom_windows(100, 120, 2.0)
    mask = np.zeros((100, 120), dtype=bool)
    mask[60:90, 70:110] = True  # inside the bottom-right window only
    rng = np.random.default_rng(0)
    assert {choose_window(mask, windows, 1.0, rng) for _ in range(20)} == {3}
    mask[30:40, 50:60] = True  # with this part no window contains the object
    assert choose_window(mask, windows, 1.0, rng) is None
    empty = np.zeros((100, 120), dtype=bool)
    assert {choose_window(empty, windows, 1.0, rng) for _ in range(100)} == set(range(5))


def test_window_share_sets_frequency():
    windows = zoom_windows(100, 120, 2.0)
    empty = np.zeros((100, 120), dtype=bool)
    rng = np.random.default_rng(0)
    draws = [choose_window(empty, windows, 0.3, rng) for _ in range(2000)]
    assert 0.26 < sum(draw is not None for draw in draws) / len(draws) < 0.34
    assert choose_window(empty, windows, 0.0, rng) is None


def test_augment_row_never_loses_the_object():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
    mask = np.zeros((60, 80), dtype=bool)
    mask[10:20, 60:75] = True
    config = AugmentationConfig(max_zoom=3.0)
    for _ in range(30):
        row = augment_row(pixels, mask, "the box on the right", config, rng)
        assert row.mask.sum() == mask.sum()
        assert row.pixels.shape[:2] == row.mask.shape
        assert row.text == ("the box on the left" if row.flipped else "the box on the right")


@pytest.mark.parametrize(
    ("candidate", "present"),
    [
        ("sneakers", ["boots"]),
        ("heels", ["shoes"]),
        ("pedestrian", ["person"]),
        ("woman", ["people"]),
        ("vehicle", ["car"]),
        ("purse", ["handbag"]),
        ("jeans", ["trousers"]),
        ("cardigan", ["t-shirt"]),
        ("blazer", ["coat"]),
        ("dining table", ["table"]),
        ("red car", ["the car on the left"]),
        ("cars", ["car"]),
    ],
)
def test_related_texts_are_excluded(candidate, present):
    assert is_related(candidate, present)


@pytest.mark.parametrize(
    ("candidate", "present"),
    [
        ("dog", ["person"]),
        ("sky", ["car", "road"]),
        ("the cat on the left", ["the dog on the left"]),
    ],
)
def test_unrelated_texts_are_allowed(candidate, present):
    assert not is_related(candidate, present)


def test_word_groups_are_lower_case_singular():
    for group in RELATED_WORD_GROUPS:
        for phrase in group:
            assert phrase == phrase.lower()
            assert not phrase.endswith("s") or phrase.endswith(("ss", "us"))


def test_absent_rows_avoid_present_and_related_texts():
    samples = (
        _rows("street", "car", "road")
        + _rows("shop", "boots", "handbag")
        + _rows("park", "dog", "sneakers", "vehicle", "purse", "tree")
    )
    rows = AbsentRows(samples, count=200, seed=0)
    assert len(rows) == 200
    texts_by_image = {
        "street": {"car", "road"},
        "shop": {"boots", "handbag"},
        "park": {"dog", "sneakers", "vehicle", "purse", "tree"},
    }
    drawn = [rows.draw(epoch=0, index=index) for index in range(200)]
    for row in drawn:
        assert row.mask is None
        assert not is_related(row.text, texts_by_image[row.image_key])
    shop_texts = {row.text for row in drawn if row.image_key == "shop"}
    assert shop_texts <= {"car", "dog", "road", "tree", "vehicle"}
    assert "sneakers" not in shop_texts
    assert "purse" not in shop_texts
    assert rows.draw(0, 5).text == AbsentRows(samples, 200, seed=0).draw(0, 5).text


def test_absent_count_share():
    assert absent_count(90, 0.1) == 10
    assert absent_count(90, 0.0) == 0
    with pytest.raises(ValueError, match="absent share"):
        absent_count(10, 1.0)


def test_absent_rows_stay_within_source():
    def rows(image, source, *texts):
        return [Sample(Path(image), text, None, image, source) for text in texts]

    # The fashion source labels garments only; the street photo's source also labels roads.
    samples = (
        rows("outfit-1", "fashion", "skirt", "hair")
        + rows("outfit-2", "fashion", "scarf", "hair")
        + rows("street", "streets", "road", "sky", "scarf")
    )
    absent = AbsentRows(samples, count=300, seed=1)
    drawn = [absent.draw(epoch=0, index=index) for index in range(300)]
    texts_by_image = defaultdict(set)
    for row in drawn:
        texts_by_image[row.image_key].add(row.text)
    assert texts_by_image["outfit-1"] == {"scarf"}
    assert texts_by_image["outfit-2"] == {"skirt"}
    assert texts_by_image["street"] == set()  # every "streets" text is present there


def test_absent_texts_by_rows():
    # "person" is labelled on nine photos and "cape" on one; the empty room has neither.
    samples = [row for index in range(9) for row in _rows(f"walk-{index}", "person")]
    samples += _rows("show", "cape") + _rows("room", "wall")

    def room_texts(text_choice: str) -> Counter[str]:
        absent = AbsentRows(samples, count=4000, seed=2, text_choice=text_choice)
        drawn = (absent.draw(epoch=0, index=index) for index in range(4000))
        return Counter(row.text for row in drawn if row.image_key == "room")

    uniform = room_texts("uniform")
    by_rows = room_texts("by-rows")
    assert set(by_rows) == {"person", "cape"}
    # Uniform draws pick each candidate equally often. By rows, "person" comes nine times as often.
    assert 0.8 < uniform["person"] / uniform["cape"] < 1.25
    assert 6 < by_rows["person"] / by_rows["cape"] < 13


def test_absent_texts_invalid_choice():
    with pytest.raises(ValueError, match="text_choice"):
        AbsentRows(_rows("room", "wall"), count=1, seed=0, text_choice="by-images")
    with pytest.raises(ValueError, match="absent_texts"):
        TrainConfig(train=("data.csv",), out="run", absent_texts="sometimes")
