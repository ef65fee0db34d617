"""The ranking AUC and the split of absent rows that the presence sweep reports."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from textmask_training.recipes.presence_sweep import ranking_auc, related_to_present


def test_auc_of_separated_scores():
    assert ranking_auc([0.9, 0.8], [0.1, 0.2, 0.3]) == 1.0
    assert ranking_auc([0.1], [0.9]) == 0.0


def test_auc_counts_ties_as_half():
    assert ranking_auc([0.5, 0.5], [0.5]) == 0.5
    assert ranking_auc([0.7, 0.5], [0.5, 0.1]) == pytest.approx(0.875)


def test_auc_matches_counting_all_pairs():
    generator = np.random.default_rng(3)
    positive = generator.integers(0, 20, 40).tolist()  # integers, so there are ties
    negative = generator.integers(0, 15, 30).tolist()
    wins = 0.0
    pairs = list(itertools.product(positive, negative))
    for high, low in pairs:
        if high > low:
            wins += 1.0
        elif high == low:
            wins += 0.5
    assert ranking_auc(positive, negative) == pytest.approx(wins / len(pairs))


def test_auc_needs_both_kinds():
    with pytest.raises(ValueError, match="positive and one negative"):
        ranking_auc([0.5], [])


def test_absent_rows_split_by_relation_to_present_texts():
    texts = ["shoes", "person", "heels", "necklace", "the man on the left", "bags"]
    present = [True, True, False, False, False, False]
    # "heels" shares the footwear group with "shoes", "man" the person group with "person".
    assert related_to_present(texts, present) == [False, False, True, False, True, False]


def test_nothing_present_relates_nothing():
    assert related_to_present(["shoes", "heels"], [False, False]) == [False, False]
