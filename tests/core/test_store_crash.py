"""Kill a writing process at random points and check that the store keeps every commit.

The writer (store_crash_writer.py) prints a step's index only after its transaction has
committed. After each SIGKILL the test reopens the database and requires that it equals
the plan's state after the reported steps, or after one more step: that step may have
committed just before the kill, before its index reached the pipe. Anything else, such
as a lost commit or half of a transaction, fails the test.
"""

from __future__ import annotations

import importlib.util
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from textmask_core.store import ProjectStore

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="SIGKILL exists only on POSIX systems"
)

WRITER_PATH = Path(__file__).with_name("store_crash_writer.py")
SEEDS = (11, 23, 37, 41, 53, 67)
READY_TIMEOUT_S = 60.0


def _load_writer():
    # Loaded by file path, so the test works whether or not tests/ is a package.
    spec = importlib.util.spec_from_file_location("store_crash_writer", WRITER_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


writer = _load_writer()


def _run_and_kill(image_folder: Path, store_path: Path, seed: int, round_index: int) -> int:
    """Start the writer, SIGKILL it after a seeded delay, return its reported step count."""
    command = [sys.executable, str(WRITER_PATH), str(image_folder), str(store_path)]
    process = subprocess.Popen(
        [*command, str(seed), str(round_index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT_S)
        first_line = process.stdout.readline() if ready else b""
        if first_line.strip() != b"ready":
            process.kill()
            stderr = process.communicate()[1].decode(errors="replace")
            pytest.fail(f"Writer did not start (seed {seed}): {first_line!r}\n{stderr}")
        time.sleep(random.Random(seed).uniform(0.05, 0.5))
        os.kill(process.pid, signal.SIGKILL)
        output, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, stderr.decode(errors="replace")
    indexes = [int(line) for line in output.split()]
    assert indexes == list(range(len(indexes))), f"Writer output is out of order: {indexes}"
    return len(indexes)


def _packed(mask: np.ndarray) -> bytes:
    return np.packbits(mask).tobytes()


def _expected(state) -> tuple[dict, dict]:
    """Return a round's planned state in the form that ``_stored`` reads from the store."""
    objects = {}
    for key, obj in state.objects.items():
        revisions = tuple((_packed(writer.mask_for(r.seed)), r.origin) for r in obj.revisions)
        objects[key] = (obj.image, obj.label, revisions)
    return objects, dict(state.statuses)


def _stored(store: ProjectStore, round_index: int) -> tuple[dict, dict]:
    objects: dict = {}
    statuses: dict = {}
    for path in writer.image_paths(round_index):
        image = store.image_by_path(path)
        if image.status != "new":
            statuses[path] = image.status
        for record in store.list_objects(image.id):
            revisions = tuple(
                (_packed(revision.mask.decode()), revision.origin)
                for revision in store.list_revisions(record.id)
            )
            objects[record.prompt] = (path, record.label, revisions)
    return objects, statuses


def _check_structure(store_path: Path) -> None:
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # The object's revision counter must name its last revision, and revisions must
        # run 1..n without gaps.
        mismatched = conn.execute(
            """
            SELECT o.id FROM objects AS o
            LEFT JOIN mask_revisions AS r ON r.object_id = o.id
            GROUP BY o.id
            HAVING COUNT(r.revision) != o.revision OR MAX(r.revision) != o.revision
            """
        ).fetchall()
        assert mismatched == []
        orphans = conn.execute(
            "SELECT COUNT(*) FROM mask_revisions WHERE object_id NOT IN (SELECT id FROM objects)"
        ).fetchone()[0]
        assert orphans == 0


def test_killed_writer_loses_no_commit(tmp_path: Path) -> None:
    image_folder = tmp_path / "images"
    image_folder.mkdir()
    store_path = tmp_path / "store" / "project.sqlite"
    with ProjectStore.open(image_folder, store_path) as store:
        paths = [path for index in range(len(SEEDS)) for path in writer.image_paths(index)]
        store.sync_images([Path(path) for path in paths])

    reported_total = 0
    matched: list[tuple[dict, dict]] = []
    for round_index, seed in enumerate(SEEDS):
        reported = _run_and_kill(image_folder, store_path, seed, round_index)
        reported_total += reported
        _check_structure(store_path)

        with ProjectStore.open(image_folder, store_path) as store:
            stored = _stored(store, round_index)
        candidates = [
            _expected(writer.expected_state(seed, round_index, count))
            for count in (reported, reported + 1)
        ]
        assert stored in candidates, (
            f"Round {round_index} (seed {seed}): the database matches neither the "
            f"{reported} reported steps nor one step more"
        )
        matched.append(stored)

    # The kills must have landed while the writer was busy, or the test proves nothing.
    assert reported_total >= 2 * len(SEEDS)
    with ProjectStore.open(image_folder, store_path) as store:
        for round_index, state in enumerate(matched):
            assert _stored(store, round_index) == state, f"Round {round_index} changed later"
