"""The object-size recipe: bucket edges, labels, and a run of the tiny model on shapes."""

from __future__ import annotations

import re

from shapes import write_manifest

from textmask_core.imageio import load_mask
from textmask_core.manifest import read_manifest
from textmask_training.recipes.object_size import BUCKET_EDGES, bucket_index, bucket_labels, main


def test_bucket_index_at_edges():
    assert bucket_index(0.0) == 0
    assert bucket_index(0.0099) == 0
    assert bucket_index(0.01) == 1
    assert bucket_index(0.39) == 3
    assert bucket_index(0.4) == 4
    assert bucket_index(1.0) == len(BUCKET_EDGES)


def test_bucket_labels_cover_every_bucket():
    labels = bucket_labels()
    assert len(labels) == len(BUCKET_EDGES) + 1
    assert labels[0] == "under 1 %"
    assert labels[1] == "1 % to 5 %"
    assert labels[-1] == "40 % or more"


def test_recipe_prints_row_per_bucket(tmp_path, capsys):
    manifest = write_manifest(tmp_path / "data", images=2, size=(64, 48))
    assert main([str(manifest), "tiny", "tiny"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| object covers | rows | tiny | tiny |"
    rows = lines[2:]
    assert len(rows) == len(BUCKET_EDGES) + 1
    counted = sum(int(row.split(" | ")[1]) for row in rows)
    present = sum(load_mask(row.mask).any() for row in read_manifest(manifest))
    assert counted == present
    scores = [float(score) for score in re.findall(r"\| (\d\.\d{3})", "\n".join(rows))]
    assert all(0.0 <= score <= 1.0 for score in scores)
