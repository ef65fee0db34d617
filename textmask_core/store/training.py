"""Selection of the masks that fine-tuning may learn from.

A mask qualifies when the user has reviewed it: its latest revision is an edit, or its
image is marked done (the user accepted every object on it). An untouched prediction on
an image that is only "predicted" or "edited" does not qualify, because the user may not
have reviewed it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from textmask_core.store.images import check_status
from textmask_core.store.labels import normalize_name
from textmask_core.store.records import ImageStatus, TrainingSample
from textmask_core.store.rle import EncodedMask

_SAMPLE_QUERY = """
    SELECT i.id, o.id, i.path, l.name, o.prompt,
           r.mask_height, r.mask_width, r.mask_counts,
           p.mask_height, p.mask_width, p.mask_counts
    FROM objects AS o
    JOIN images AS i ON i.id = o.image_id
    JOIN labels AS l ON l.id = o.label_id
    JOIN mask_revisions AS r ON r.object_id = o.id AND r.revision = o.revision
    LEFT JOIN mask_revisions AS p ON p.object_id = o.id AND p.revision = (
        SELECT MIN(revision) FROM mask_revisions
        WHERE object_id = o.id AND origin = 'predicted'
    )
    WHERE i.status IN ({statuses})
      AND (r.origin = 'edited' OR i.status = 'done')
      {label_filter}
    ORDER BY i.id, o.id
"""


def select_samples(
    conn: sqlite3.Connection,
    image_folder: Path,
    labels: Sequence[str] | None,
    statuses: Sequence[ImageStatus],
) -> list[TrainingSample]:
    """Return the qualifying objects on images whose status is in ``statuses``.

    ``labels`` limits the result to those label names (ASCII case ignored); None keeps
    every label. Masks are decoded, so memory grows with the number of samples.
    """
    for status in statuses:
        check_status(status)
    parameters: list[object] = list(statuses)
    label_filter = ""
    if labels is not None:
        names = [normalize_name(label) for label in labels]
        label_filter = f"AND l.name IN ({', '.join('?' * len(names))})"
        parameters.extend(names)
    query = _SAMPLE_QUERY.format(statuses=", ".join("?" * len(statuses)), label_filter=label_filter)
    return [_to_sample(row, image_folder) for row in conn.execute(query, parameters)]


def _to_sample(row: tuple, image_folder: Path) -> TrainingSample:
    image_id, object_id, path, label, prompt = row[:5]
    mask = EncodedMask(height=row[5], width=row[6], counts=bytes(row[7]))
    predicted = None
    if row[10] is not None:
        predicted = EncodedMask(height=row[8], width=row[9], counts=bytes(row[10])).decode()
    return TrainingSample(
        image_id=image_id,
        object_id=object_id,
        image_path=image_folder / path,
        label=label,
        prompt=prompt,
        mask=mask.decode(),
        predicted_mask=predicted,
    )
