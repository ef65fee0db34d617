"""Absent-object rows: an image paired with a text that names nothing in it, and an empty mask.

A candidate text is never related to a text of the image. It shares no content word with it
(after a simple plural rule) and no word group of ``RELATED_WORD_GROUPS``, because "sneakers"
asked of a photo of boots has no clearly empty mask.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from textmask_training.data.sample import Sample

logger = logging.getLogger(__name__)

# Words and phrases that can name the same thing, or things a labeller would not tell apart.
# Each group is written in singular form; texts are reduced to singular before matching.
RELATED_WORD_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group)
    for group in (
        {
            "shoe",
            "boot",
            "sneaker",
            "sandal",
            "heel",
            "loafer",
            "flat",
            "pump",
            "footwear",
            "trainer",
            "clog",
            "wedge",
            "slipper",
        },
        {
            "person",
            "man",
            "woman",
            "people",
            "pedestrian",
            "human",
            "child",
            "kid",
            "boy",
            "girl",
            "rider",
            "bicyclist",
            "cyclist",
            "player",
            "men",
            "women",
            "children",
        },
        {"car", "vehicle", "automobile", "truck", "van", "suv", "taxi"},
        {"bag", "purse", "handbag", "wallet", "backpack", "clutch", "tote"},
        {"pant", "jean", "trouser", "legging", "short", "tight", "stocking"},
        {
            "shirt",
            "t-shirt",
            "tshirt",
            "tee",
            "blouse",
            "top",
            "sweater",
            "sweatshirt",
            "jumper",
            "cardigan",
            "hoodie",
            "vest",
        },
        {"jacket", "coat", "blazer", "parka"},
        {"table", "dining table", "desk"},
        {"bicycle", "bike", "motorcycle", "motorbike"},
        {"couch", "sofa", "bench", "chair"},
        {"dress", "skirt", "gown"},
        {"glass", "sunglass", "eyeglass", "spectacle"},
        {"hat", "cap", "beanie", "helmet"},
        {"sidewalk", "pavement", "footpath", "road", "street"},
        {"tree", "bush", "plant", "vegetation", "shrub"},
        {"building", "house", "wall"},
        {"sign", "signboard", "traffic sign", "pole", "signpost"},
        {"tv", "television", "monitor", "screen", "laptop"},
        {"cell phone", "phone", "mobile phone", "smartphone"},
        {"dog", "puppy"},
        {"cat", "kitten", "kitty"},
    )
)

# Words that name a place or a choice, not a thing. Sharing one does not relate two texts.
FUNCTION_WORDS = frozenset(
    "a an the of on in at to with and or by from for its his her their this that these those "
    "left right leftmost rightmost top bottom middle center centre front back behind near next "
    "big bigger biggest small smaller smallest large larger largest all some one two three "
    "other side closest nearest farthest first second last".split()
)

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def singular(word: str) -> str:
    """Reduce a plural English noun to its singular with a few suffix rules (no dictionary)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "uses")) and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def text_words(text: str) -> tuple[str, ...]:
    """Return the lower-case singular words of a text, hyphenated words kept whole."""
    return tuple(singular(word) for word in _WORD.findall(text.lower()))


@lru_cache(maxsize=65536)
def content_words(text: str) -> frozenset[str]:
    return frozenset(word for word in text_words(text) if word not in FUNCTION_WORDS)


@lru_cache(maxsize=65536)
def word_groups(text: str) -> frozenset[int]:
    """Return the indices of the groups of ``RELATED_WORD_GROUPS`` that the text mentions."""
    words = text_words(text)
    return frozenset(
        index
        for index, group in enumerate(RELATED_WORD_GROUPS)
        if any(_contains_phrase(words, text_words(phrase)) for phrase in group)
    )


def _contains_phrase(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(words[start : start + size] == phrase for start in range(len(words) - size + 1))


class PresentTerms(NamedTuple):
    """Content words and word groups of all the present texts of one image."""

    words: frozenset[str]
    groups: frozenset[int]

    @classmethod
    def of(cls, present_texts: Iterable[str]) -> PresentTerms:
        texts = list(present_texts)
        return cls(
            frozenset().union(*(content_words(text) for text in texts)),
            frozenset().union(*(word_groups(text) for text in texts)),
        )

    def is_related_to(self, candidate: str) -> bool:
        return bool(content_words(candidate) & self.words or word_groups(candidate) & self.groups)


def is_related(candidate: str, present_texts: Iterable[str]) -> bool:
    """Return whether ``candidate`` shares a content word or a word group with any present text."""
    return PresentTerms.of(present_texts).is_related_to(candidate)


# Ways for AbsentRows to pick a text among an image's candidates (see its docstring).
ABSENT_TEXT_CHOICES = ("uniform", "by-rows")


def absent_count(present_rows: int, share: float) -> int:
    """Return how many absent rows make them ``share`` of all rows."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"absent share must be in [0, 1), got {share}")
    return round(present_rows * share / (1.0 - share))


class AbsentRows:
    """Draws absent rows on demand; row ``index`` of ``epoch`` is the same in every run.

    An image's candidates are the distinct texts of the samples from its own source (a
    manifest, project or data set). A source is labelled with its own vocabulary: a street
    fashion data set marks garments but not the road behind the person, so "road", borrowed
    from a source that does label roads, would teach the model to erase a visible road. Every
    text annotated on an image counts as present there, including texts whose mask is empty,
    so a drawn row never contradicts a row of the data.

    ``text_choice`` sets how a candidate text is picked. "uniform" picks every candidate equally
    often. "by-rows" picks a candidate in proportion to its rows in the source, so every text is
    drawn as absent at about the same rate relative to its own rows. Uniform draws make a rare
    text ("cap", "romper") absent far more often than present, and the presence score can then
    learn to veto the word itself.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        count: int,
        seed: int,
        text_choice: str = "uniform",
    ) -> None:
        if text_choice not in ABSENT_TEXT_CHOICES:
            raise ValueError(
                f"text_choice must be one of {', '.join(ABSENT_TEXT_CHOICES)}, got {text_choice!r}"
            )
        self.seed = seed
        texts_by_image: dict[str, set[str]] = defaultdict(set)
        rows_by_source: dict[str, Counter[str]] = defaultdict(Counter)
        first_sample: dict[str, Sample] = {}
        for sample in samples:
            texts_by_image[sample.image_key].add(sample.text)
            rows_by_source[sample.source][sample.text] += 1
            first_sample.setdefault(sample.image_key, sample)
        vocabulary = {source: sorted(counts) for source, counts in rows_by_source.items()}
        self._choices = []
        for key, present in texts_by_image.items():
            base = first_sample[key]
            # The present texts' terms are pooled once per image, because a source with 800
            # photos and 1,000 texts gives close to a million candidate checks.
            terms = PresentTerms.of(present)
            allowed = [text for text in vocabulary[base.source] if not terms.is_related_to(text)]
            if not allowed:
                continue
            weights = None
            if text_choice == "by-rows":
                counts = rows_by_source[base.source]
                weights = np.array([counts[text] for text in allowed], dtype=np.float64)
                weights /= weights.sum()
            self._choices.append((base, allowed, weights))
        self.count = count if self._choices else 0
        if count and not self._choices:
            logger.warning(
                "no image has an unrelated text to ask for; training without absent rows"
            )

    def __len__(self) -> int:
        return self.count

    def draw(self, epoch: int, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, epoch, index, 0xAB5E])
        base, allowed, weights = self._choices[int(rng.integers(len(self._choices)))]
        if weights is None:
            text = allowed[int(rng.integers(len(allowed)))]
        else:
            text = allowed[int(rng.choice(len(allowed), p=weights))]
        return Sample(
            image_path=base.image_path,
            text=text,
            mask=None,
            image_key=base.image_key,
            source="absent rows drawn from the training texts",
        )
