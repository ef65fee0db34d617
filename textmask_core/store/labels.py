"""SQL for the labels table, label name rules and the default colour palette.

Label names are unique without regard to ASCII case ("Cat" and "cat" are one label) and
keep the case they were first written in. Positions give the display order and the COCO
category ids (position rank plus 1). Transactions belong to the caller.
"""

from __future__ import annotations

import re
import sqlite3

from textmask_core.store.records import LabelRecord

# Distinct, saturated colours that stay readable over photos, in assignment order.
PALETTE: tuple[str, ...] = (
    "#e6332a",
    "#1f78d1",
    "#2ca02c",
    "#ff8c1a",
    "#9b3fd6",
    "#00b3b3",
    "#f2c500",
    "#e0218a",
    "#7fbf1f",
    "#8c564b",
    "#3a4fc4",
    "#ff6f61",
    "#17becf",
    "#b8860b",
    "#6a7f8c",
    "#c71585",
)
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_COLUMNS = "id, name, colour, position"


def normalize_name(name: str) -> str:
    """Return the name without surrounding white space; raise ValueError if it is empty."""
    if not isinstance(name, str):
        raise TypeError(f"A label name must be a string, got {type(name).__name__}.")
    stripped = name.strip()
    if not stripped:
        raise ValueError(f"Invalid label name {name!r}: it must contain a visible character.")
    return stripped


def normalize_colour(colour: str) -> str:
    """Return ``colour`` in lower case; raise ValueError unless it is ``#rrggbb``."""
    if not isinstance(colour, str) or _COLOUR.fullmatch(colour) is None:
        raise ValueError(f"Invalid label colour {colour!r}; use #rrggbb, for example #1f78d1.")
    return colour.lower()


def select_labels(conn: sqlite3.Connection) -> list[LabelRecord]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM labels ORDER BY position")
    return [LabelRecord(*row) for row in rows]


def select_label(conn: sqlite3.Connection, name: str) -> LabelRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM labels WHERE name = ?", (name,)).fetchone()
    return None if row is None else LabelRecord(*row)


def ensure_label(conn: sqlite3.Connection, name: str, colour: str | None = None) -> LabelRecord:
    """Return the label called ``name``, inserting it at the end if it does not exist.

    ``colour`` applies only to a new label. Without it the new label gets the first
    palette colour that no label uses yet.
    """
    name = normalize_name(name)
    existing = select_label(conn, name)
    if existing is not None:
        return existing
    colour = normalize_colour(colour) if colour is not None else _unused_colour(conn)
    position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM labels").fetchone()[0]
    cursor = conn.execute(
        "INSERT INTO labels (name, colour, position) VALUES (?, ?, ?)", (name, colour, position)
    )
    return LabelRecord(id=cursor.lastrowid, name=name, colour=colour, position=position)


def _unused_colour(conn: sqlite3.Connection) -> str:
    used = {row[0] for row in conn.execute("SELECT colour FROM labels")}
    for colour in PALETTE:
        if colour not in used:
            return colour
    # Every palette colour is taken, so repeat the palette in order.
    label_count = conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    return PALETTE[label_count % len(PALETTE)]


def update_name(conn: sqlite3.Connection, label_id: int, name: str) -> None:
    conn.execute("UPDATE labels SET name = ? WHERE id = ?", (name, label_id))


def update_colour(conn: sqlite3.Connection, label_id: int, colour: str) -> None:
    conn.execute("UPDATE labels SET colour = ? WHERE id = ?", (colour, label_id))
