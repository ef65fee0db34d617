"""Counted nouns for messages and spin boxes: "1 image", "2 images", never "1 images"."""

from __future__ import annotations

from PySide6.QtWidgets import QSpinBox, QWidget


def noun_for(count: int, singular: str, plural: str | None = None) -> str:
    """Return `singular` for a count of 1, else `plural` (default: `singular` + "s")."""
    if count == 1:
        return singular
    return plural if plural is not None else singular + "s"


def count_noun(count: int, singular: str, plural: str | None = None) -> str:
    """Return the count and the noun that agrees with it, e.g. "1 mask" or "3 masks"."""
    return f"{count} {noun_for(count, singular, plural)}"


class CountSpinBox(QSpinBox):
    """A spin box whose unit suffix agrees with its value: "1 image", "5 images"."""

    def __init__(
        self,
        singular: str,
        plural: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._singular = singular
        self._plural = plural
        self.valueChanged.connect(self._update_suffix)
        self._update_suffix(self.value())

    def _update_suffix(self, value: int) -> None:
        self.setSuffix(" " + noun_for(value, self._singular, self._plural))
