"""Tests of the project store against real SQLite files and real pycocotools RLE."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import platformdirs
import pytest

from textmask_core.errors import StoreError
from textmask_core.store import (
    SCHEMA_VERSION,
    ObjectState,
    ProjectStore,
    default_store_path,
    encode_mask,
    fallback_store_path,
)
from textmask_core.store.labels import PALETTE
from textmask_core.store.schema import MIGRATIONS, Migration, migrate

HEIGHT, WIDTH = 24, 32


def box_mask(top: int, left: int, bottom: int, right: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Bilder für Tests 画像"
    folder.mkdir()
    return folder


@pytest.fixture
def store(image_folder: Path):
    with ProjectStore.open(image_folder) as opened:
        yield opened


@pytest.fixture
def image_id(store: ProjectStore) -> int:
    store.sync_images([store.image_folder / "photo one.jpg"])
    image = store.image_by_path("photo one.jpg")
    store.set_image_size(image.id, WIDTH, HEIGHT)
    return image.id


def revision_count(store: ProjectStore, object_id: int) -> int:
    """Count an object's revision rows through a separate connection."""
    with sqlite3.connect(store.path) as conn:
        query = "SELECT COUNT(*) FROM mask_revisions WHERE object_id = ?"
        return conn.execute(query, (object_id,)).fetchone()[0]


# Opening, pragmas and migrations


def test_open_creates_database_in_folder(image_folder: Path) -> None:
    with ProjectStore.open(image_folder) as store:
        assert store.path == image_folder.resolve() / ".textmask" / "project.sqlite"
        assert store.path.is_file()
        assert store.schema_version == SCHEMA_VERSION
        assert store.image_folder == image_folder.resolve()


def test_open_sets_durability_pragmas(store: ProjectStore) -> None:
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_open_explicit_store_path(image_folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "elsewhere with space" / "my project.sqlite"
    with ProjectStore.open(image_folder, store_path) as store:
        store.sync_images([image_folder / "a.png"])
        assert store.path == store_path
    assert store_path.is_file()
    assert not (image_folder / ".textmask").exists()
    with ProjectStore.open(image_folder, store_path) as reopened:
        assert [image.path for image in reopened.list_images()] == ["a.png"]


def test_open_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not found"):
        ProjectStore.open(tmp_path / "missing")


def test_open_migrates_empty_file(image_folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "empty.sqlite"
    store_path.write_bytes(b"")
    with ProjectStore.open(image_folder, store_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        store.sync_images([image_folder / "a.png"])
    with sqlite3.connect(store_path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"images", "labels", "objects", "mask_revisions"} <= tables
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_open_rejects_newer_version(image_folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "project.sqlite"
    ProjectStore.open(image_folder, store_path).close()
    with sqlite3.connect(store_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StoreError, match="newer TextMask") as caught:
        ProjectStore.open(image_folder, store_path)
    assert str(store_path) in str(caught.value)
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_open_rejects_text_file(image_folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "notes.sqlite"
    store_path.write_text("These are notes, not a database.\n" * 100)
    with pytest.raises(StoreError, match="not a TextMask project") as caught:
        ProjectStore.open(image_folder, store_path)
    assert str(store_path) in str(caught.value)
    assert store_path.read_text().startswith("These are notes")


def test_open_rejects_foreign_sqlite(image_folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "other.sqlite"
    with sqlite3.connect(store_path) as conn:
        conn.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(StoreError, match="another program") as caught:
        ProjectStore.open(image_folder, store_path)
    assert str(store_path) in str(caught.value)
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0


def test_open_directory_as_store_path(image_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="Cannot open"):
        ProjectStore.open(image_folder, tmp_path)


def test_failed_migration_keeps_previous_version(tmp_path: Path) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (id INTEGER)")
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    migrations = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "broken", broken))
    path = tmp_path / "project.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(StoreError, match="no such table"):
        migrate(conn, path, migrations)

    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    half_done = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'")
    assert half_done.fetchone()[0] == 0
    conn.close()


def test_migrate_applies_later_steps_only(tmp_path: Path) -> None:
    applied: list[int] = []

    def add_notes(conn: sqlite3.Connection) -> None:
        applied.append(2)
        conn.execute("CREATE TABLE notes (text TEXT)")

    migrations = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "add notes", add_notes))
    path = tmp_path / "project.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path) == len(MIGRATIONS)
    assert migrate(conn, path, migrations) == len(migrations)
    assert migrate(conn, path, migrations) == len(migrations)
    assert applied == [2]
    conn.close()


def test_closed_store_raises(image_folder: Path) -> None:
    store = ProjectStore.open(image_folder)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_images()
    with pytest.raises(StoreError, match="closed"):
        store.add_label("cat")


def test_two_stores_see_each_other(image_folder: Path) -> None:
    with ProjectStore.open(image_folder) as first, ProjectStore.open(image_folder) as second:
        first.sync_images([image_folder / "a.png"])
        assert [image.path for image in second.list_images()] == ["a.png"]


def test_store_usable_from_worker_thread(store: ProjectStore, image_id: int) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            record = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "edited", None)
            results.append(record.id)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=10)
    assert errors == []
    assert [obj.id for obj in store.list_objects(image_id)] == results


# Where the database lives


def test_default_store_path_writable(image_folder: Path) -> None:
    expected = image_folder.resolve() / ".textmask" / "project.sqlite"
    assert default_store_path(image_folder) == expected


def test_fallback_store_path_layout(image_folder: Path) -> None:
    path = fallback_store_path(image_folder)
    assert path.name == "project.sqlite"
    assert path.parent.parent == Path(platformdirs.user_data_dir("TextMask")) / "projects"
    assert len(path.parent.name) == 16
    assert int(path.parent.name, 16) >= 0
    assert fallback_store_path(image_folder / ".." / image_folder.name) == path
    assert fallback_store_path(image_folder.parent) != path


def test_default_store_path_blocked_by_file(
    image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data home"))
    (image_folder / ".textmask").write_text("not a folder")
    path = default_store_path(image_folder)
    assert path == fallback_store_path(image_folder)
    assert path.is_relative_to(tmp_path / "data home")


def test_default_store_path_read_only_folder(
    image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.name == "posix" and os.geteuid() == 0:
        pytest.skip("root can write to read-only folders, so chmod cannot make one read-only")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data home"))
    (image_folder / "a.png").write_bytes(b"")
    image_folder.chmod(0o555)
    try:
        path = default_store_path(image_folder)
        assert path == fallback_store_path(image_folder)
        with ProjectStore.open(image_folder) as store:
            assert store.path == path
            assert store.sync_images([image_folder / "a.png"]) == 1
        assert not (image_folder / ".textmask").exists()
    finally:
        image_folder.chmod(0o755)


# Images


def test_sync_images_adds_only_new(store: ProjectStore, image_folder: Path) -> None:
    first = [image_folder / "b.png", image_folder / "sub dir" / "ä 1.png"]
    assert store.sync_images(first) == 2
    assert store.sync_images([*first, image_folder / "c.png"]) == 1
    paths = [image.path for image in store.list_images()]
    assert paths == ["b.png", "c.png", "sub dir/ä 1.png"]


def test_sync_images_accepts_relative_paths(store: ProjectStore) -> None:
    assert store.sync_images([Path("nested/x.png")]) == 1
    assert store.image_by_path(store.image_folder / "nested" / "x.png") is not None


def test_sync_images_rejects_outside_paths(store: ProjectStore, image_folder: Path) -> None:
    inside = image_folder / "a.png"
    for outside in (image_folder.parent / "b.png", Path("../b.png"), image_folder):
        with pytest.raises(ValueError, match="inside the image folder"):
            store.sync_images([inside, outside])
    assert store.list_images() == []


def test_sync_images_through_symlinked_folder(
    store: ProjectStore, image_folder: Path, tmp_path: Path
) -> None:
    link = tmp_path / "link to images"
    link.symlink_to(image_folder, target_is_directory=True)
    assert store.sync_images([link / "a.png"]) == 1
    assert store.image_by_path(image_folder / "a.png") is not None


def test_sync_ten_thousand_images(store: ProjectStore, image_folder: Path) -> None:
    paths = [
        image_folder / f"batch {index // 1000}" / f"img_{index}.jpg" for index in range(10_000)
    ]
    started = time.perf_counter()
    added = store.sync_images(paths)
    elapsed = time.perf_counter() - started
    assert added == 10_000
    # A loose bound for shared CI machines; strict timing belongs in a benchmark.
    assert elapsed < 5.0
    assert len(store.list_images()) == 10_000


def test_list_images_natural_order(store: ProjectStore) -> None:
    names = ["img10.png", "img2.png", "B.png", "a.png", "img1.png"]
    store.sync_images([Path(name) for name in names])
    paths = [image.path for image in store.list_images()]
    assert paths == ["a.png", "B.png", "img1.png", "img2.png", "img10.png"]


def test_list_images_by_status(store: ProjectStore) -> None:
    store.sync_images([Path("a.png"), Path("b.png"), Path("c.png")])
    b_id = store.image_by_path("b.png").id
    store.set_image_status(b_id, "done")
    assert [image.path for image in store.list_images("done")] == ["b.png"]
    assert [image.path for image in store.list_images("new")] == ["a.png", "c.png"]
    with pytest.raises(ValueError, match="Invalid image status"):
        store.list_images("finished")


def test_get_image_and_by_path(store: ProjectStore, image_folder: Path) -> None:
    store.sync_images([image_folder / "Ordner" / "café.png"])
    by_relative = store.image_by_path("Ordner/café.png")
    by_absolute = store.image_by_path(image_folder / "Ordner" / "café.png")
    assert by_relative == by_absolute
    assert store.get_image(by_relative.id) == by_relative
    assert store.absolute_path(by_relative) == image_folder.resolve() / "Ordner" / "café.png"
    assert by_relative.status == "new"
    assert by_relative.width is None
    assert store.image_by_path("missing.png") is None
    with pytest.raises(StoreError, match="Image 999 not found"):
        store.get_image(999)


def test_set_image_status_and_error(store: ProjectStore) -> None:
    store.sync_images([Path("a.png")])
    image = store.image_by_path("a.png")

    broken = store.set_image_status(image.id, "unreadable", error="truncated file")
    assert broken.status == "unreadable"
    assert broken.error == "truncated file"
    assert broken.updated_at >= image.updated_at

    fixed = store.set_image_status(image.id, "new")
    assert fixed.error is None
    with pytest.raises(ValueError, match="only valid with status 'unreadable'"):
        store.set_image_status(image.id, "done", error="oops")
    with pytest.raises(ValueError, match="Invalid image status"):
        store.set_image_status(image.id, "finished")
    with pytest.raises(StoreError, match="not found"):
        store.set_image_status(999, "done")


def test_set_image_size(store: ProjectStore) -> None:
    store.sync_images([Path("a.png")])
    image = store.image_by_path("a.png")
    sized = store.set_image_size(image.id, 640, 480)
    assert (sized.width, sized.height) == (640, 480)
    with pytest.raises(ValueError, match="Invalid image size"):
        store.set_image_size(image.id, 0, 480)


def test_count_by_status(store: ProjectStore) -> None:
    store.sync_images([Path("a.png"), Path("b.png"), Path("c.png")])
    store.set_image_status(store.image_by_path("a.png").id, "done")
    counts = store.count_by_status()
    assert counts == {"new": 2, "predicted": 0, "edited": 0, "done": 1, "unreadable": 0}


# Labels


def test_add_label_is_idempotent(store: ProjectStore) -> None:
    cat = store.add_label("Cat")
    assert store.add_label("cat") == cat
    assert store.add_label("  CAT ") == cat
    assert cat.name == "Cat"
    assert [label.name for label in store.list_labels()] == ["Cat"]


def test_add_label_assigns_distinct_colours(store: ProjectStore) -> None:
    created = [store.add_label(f"label {index}") for index in range(8)]
    colours = [label.colour for label in created]
    assert len(set(colours)) == 8
    assert all(len(colour) == 7 and colour.startswith("#") for colour in colours)
    assert [label.position for label in store.list_labels()] == list(range(8))


def test_add_label_with_colour(store: ProjectStore) -> None:
    assert store.add_label("sky", "#A0B0C0").colour == "#a0b0c0"
    assert store.add_label("tree").colour == PALETTE[0]
    for bad in ("red", "#12345", "#12345g", "a0b0c0"):
        with pytest.raises(ValueError, match="Invalid label colour"):
            store.add_label("grass", bad)
    with pytest.raises(ValueError, match="Invalid label name"):
        store.add_label("   ")
    assert [label.name for label in store.list_labels()] == ["sky", "tree"]


def test_rename_label(store: ProjectStore, image_id: int) -> None:
    store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "edited", None)
    store.add_label("dog")
    assert store.rename_label("cat", "Kitten").name == "Kitten"
    assert store.list_objects(image_id)[0].label == "Kitten"
    assert store.rename_label("kitten", "KITTEN").name == "KITTEN"
    with pytest.raises(ValueError, match="that label exists"):
        store.rename_label("KITTEN", "Dog")
    with pytest.raises(StoreError, match="not found"):
        store.rename_label("horse", "pony")
    assert [label.name for label in store.list_labels()] == ["KITTEN", "dog"]


def test_set_label_colour(store: ProjectStore) -> None:
    store.add_label("cat")
    assert store.set_label_colour("CAT", "#00FF00").colour == "#00ff00"
    assert store.list_labels()[0].colour == "#00ff00"
    with pytest.raises(ValueError, match="Invalid label colour"):
        store.set_label_colour("cat", "green")


# Objects and revisions


def test_add_object_writes_revision_one(store: ProjectStore, image_id: int) -> None:
    mask = box_mask(2, 3, 10, 12)
    record = store.add_object(image_id, "cat", "a grey cat", mask, "predicted", "tiny-v1")
    assert record.image_id == image_id
    assert record.label == "cat"
    assert record.prompt == "a grey cat"
    assert record.revision == 1
    assert record.origin == "predicted"
    assert record.model_name == "tiny-v1"
    assert record.visible is True
    assert record.locked is False
    assert np.array_equal(store.object_mask(record.id), mask)
    assert store.get_object(record.id) == record
    assert [label.name for label in store.list_labels()] == ["cat"]
    revisions = store.list_revisions(record.id)
    assert [revision.revision for revision in revisions] == [1]
    assert revisions[0].mask == record.mask


def test_add_object_rejects_bad_masks(store: ProjectStore, image_id: int) -> None:
    with pytest.raises(ValueError, match="does not fit image"):
        store.add_object(image_id, "cat", "cat", np.ones((5, 5), bool), "edited", None)
    with pytest.raises(TypeError, match="threshold probabilities"):
        store.add_object(image_id, "cat", "cat", np.ones((HEIGHT, WIDTH)), "edited", None)
    with pytest.raises(ValueError, match="H×W"):
        store.add_object(image_id, "cat", "cat", np.ones((HEIGHT, WIDTH, 3), bool), "edited", None)
    with pytest.raises(ValueError, match="Invalid mask origin"):
        store.add_object(image_id, "cat", "cat", box_mask(0, 0, 2, 2), "manual", None)
    with pytest.raises(StoreError, match="not found"):
        store.add_object(999, "cat", "cat", box_mask(0, 0, 2, 2), "edited", None)
    assert store.list_objects(image_id) == []
    assert store.list_labels() == []


def test_add_object_accepts_integer_mask(store: ProjectStore, image_id: int) -> None:
    mask = box_mask(1, 1, 5, 5).astype(np.uint8) * 255
    record = store.add_object(image_id, "cat", "cat", mask, "edited", None)
    assert np.array_equal(store.object_mask(record.id), mask > 0)


def test_update_object_mask_appends_revision(store: ProjectStore, image_id: int) -> None:
    predicted = box_mask(0, 0, 8, 8)
    corrected = box_mask(0, 0, 10, 12)
    record = store.add_object(image_id, "cat", "cat", predicted, "predicted", "tiny")

    updated = store.update_object_mask(record.id, corrected)
    assert updated.revision == 2
    assert updated.origin == "edited"
    assert updated.model_name is None
    assert np.array_equal(store.object_mask(record.id), corrected)

    latest = store.latest_revision(record.id)
    assert latest.revision == 2
    assert np.array_equal(latest.mask.decode(), corrected)
    first = store.first_predicted_revision(record.id)
    assert first.revision == 1
    assert np.array_equal(first.mask.decode(), predicted)


def test_update_object_mask_same_mask_no_revision(store: ProjectStore, image_id: int) -> None:
    mask = box_mask(0, 0, 8, 8)
    record = store.add_object(image_id, "cat", "cat", mask, "edited", None)
    assert store.update_object_mask(record.id, mask.copy()).revision == 1
    assert len(store.list_revisions(record.id)) == 1


def test_first_predicted_revision_none_for_drawn(store: ProjectStore, image_id: int) -> None:
    record = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "edited", None)
    store.update_object_mask(record.id, box_mask(0, 0, 6, 6))
    assert store.first_predicted_revision(record.id) is None
    store.update_object_mask(record.id, box_mask(0, 0, 9, 9), "predicted", "tiny")
    assert store.first_predicted_revision(record.id).revision == 3


def test_update_object_fields(store: ProjectStore, image_id: int) -> None:
    record = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "edited", None)
    updated = store.update_object(record.id, label="dog", prompt="small dog", locked=True)
    assert updated.label == "dog"
    assert updated.prompt == "small dog"
    assert updated.locked is True
    assert updated.visible is True
    assert updated.revision == 1
    hidden = store.update_object(record.id, visible=False)
    assert hidden.visible is False
    assert hidden.label == "dog"
    assert [label.name for label in store.list_labels()] == ["cat", "dog"]
    with pytest.raises(StoreError, match="not found"):
        store.update_object(999, prompt="x")


def test_delete_object_removes_revisions(store: ProjectStore, image_id: int) -> None:
    first = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "predicted", "m")
    store.update_object_mask(first.id, box_mask(0, 0, 6, 6))
    store.delete_object(first.id)

    assert store.list_objects(image_id) == []
    assert revision_count(store, first.id) == 0
    with pytest.raises(StoreError, match="not found"):
        store.get_object(first.id)
    with pytest.raises(StoreError, match="not found"):
        store.delete_object(first.id)
    second = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "edited", None)
    assert second.id > first.id


def test_list_objects_in_creation_order(store: ProjectStore, image_id: int) -> None:
    ids = [
        store.add_object(image_id, name, name, box_mask(0, 0, 2, 2), "edited", None).id
        for name in ("zebra", "ant", "moose")
    ]
    assert [record.id for record in store.list_objects(image_id)] == ids
    with pytest.raises(StoreError, match="not found"):
        store.list_objects(999)


def test_merge_objects_unites_masks(store: ProjectStore, image_id: int) -> None:
    left = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 5, 5), "predicted", "m")
    right = store.add_object(image_id, "dog", "dog", box_mask(10, 10, 15, 15), "edited", None)

    merged = store.merge_objects([left.id, right.id], into_label="animal")
    assert merged.id == left.id
    assert merged.label == "animal"
    assert merged.prompt == "cat"
    assert merged.origin == "edited"
    assert merged.revision == 2
    expected = box_mask(0, 0, 5, 5) | box_mask(10, 10, 15, 15)
    assert np.array_equal(store.object_mask(merged.id), expected)
    assert [record.id for record in store.list_objects(image_id)] == [left.id]


def test_merge_objects_rejects_bad_input(store: ProjectStore, image_id: int) -> None:
    store.sync_images([Path("other.png")])
    other_image = store.image_by_path("other.png").id
    on_image = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 5, 5), "edited", None)
    ton_image = store.add_object(other_image, "cat", "cat", box_mask(0, 0, 5, 5), "edited", None)
    with pytest.raises(ValueError, match="different images"):
        store.merge_objects([on_image.id, ton_image.id])
    with pytest.raises(ValueError, match="two or more"):
        store.merge_objects([on_image.id])
    with pytest.raises(ValueError, match="two or more"):
        store.merge_objects([on_image.id, on_image.id])
    assert store.get_object(on_image.id).revision == 1
    assert store.get_object(ton_image.id).revision == 1


# Saving an image's objects


def test_save_image_objects_full_state(store: ProjectStore, image_id: int) -> None:
    unchanged_mask = box_mask(0, 0, 4, 4)
    unchanged = store.add_object(image_id, "cat", "cat", unchanged_mask, "predicted", "m")
    changed = store.add_object(image_id, "cat", "cat", box_mask(5, 5, 9, 9), "predicted", "m")
    removed = store.add_object(image_id, "dog", "dog", box_mask(0, 20, 4, 24), "predicted", "m")
    new_mask = box_mask(12, 0, 20, 8)
    changed_mask = box_mask(5, 5, 12, 12)

    states = [
        ObjectState(None, "bird", "a bird", new_mask, "edited"),
        ObjectState(unchanged.id, "cat", "cat", unchanged_mask, "predicted", "m", locked=True),
        ObjectState(changed.id, "cat", "cat", changed_mask, "edited", visible=False),
    ]
    records = store.save_image_objects(image_id, states, status="edited")

    assert [record.id for record in records[1:]] == [unchanged.id, changed.id]
    assert records[0].id > removed.id
    assert records[0].label == "bird"
    assert records[1].revision == 1
    assert records[1].locked is True
    assert records[2].revision == 2
    assert records[2].visible is False
    assert np.array_equal(store.object_mask(records[2].id), changed_mask)
    assert np.array_equal(store.object_mask(records[0].id), new_mask)
    assert sorted(r.id for r in store.list_objects(image_id)) == sorted(r.id for r in records)
    assert store.get_image(image_id).status == "edited"
    assert revision_count(store, removed.id) == 0


def test_save_image_objects_all_or_nothing(store: ProjectStore, image_id: int) -> None:
    store.sync_images([Path("other.png")])
    other_image = store.image_by_path("other.png").id
    mine = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "predicted", "m")
    foreign = store.add_object(other_image, "cat", "cat", box_mask(0, 0, 4, 4), "edited", None)
    before = store.list_objects(image_id)

    states = [
        ObjectState(None, "new label", "x", box_mask(1, 1, 3, 3), "edited"),
        ObjectState(mine.id, "cat", "cat", box_mask(0, 0, 8, 8), "edited"),
        ObjectState(foreign.id, "cat", "cat", box_mask(0, 0, 8, 8), "edited"),
    ]
    with pytest.raises(ValueError, match="not on image"):
        store.save_image_objects(image_id, states, status="done")

    assert store.list_objects(image_id) == before
    assert store.get_image(image_id).status == "new"
    assert [label.name for label in store.list_labels()] == ["cat"]


def test_save_image_objects_disk_full_rolls_back(store: ProjectStore) -> None:
    store.sync_images([Path("large.png")])
    image_id = store.image_by_path("large.png").id
    first = store.add_object(image_id, "cat", "cat", np.ones((300, 300), bool), "edited", None)
    second = store.add_object(image_id, "dog", "dog", np.ones((300, 300), bool), "edited", None)
    noise = np.random.default_rng(0).random((300, 300)) > 0.5
    states = [
        ObjectState(first.id, "new label", "renamed", np.zeros((300, 300), bool), "edited"),
        ObjectState(None, "cat", "noise", noise, "edited"),
    ]
    # Capping the file at its current size makes SQLite fail with "database or disk is
    # full" once the large new mask needs pages, after the first writes of the save.
    page_count = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {page_count}")
    with pytest.raises(StoreError, match="full"):
        store.save_image_objects(image_id, states, status="done")
    store._conn.execute("PRAGMA max_page_count = 1073741823")

    assert store.list_objects(image_id) == [first, second]
    assert [label.name for label in store.list_labels()] == ["cat", "dog"]
    assert store.get_image(image_id).status == "new"
    assert store.list_revisions(first.id) == [store.latest_revision(first.id)]


def test_save_image_objects_rejects_bad_states(store: ProjectStore, image_id: int) -> None:
    record = store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "edited", None)
    state = ObjectState(record.id, "cat", "cat", box_mask(0, 0, 4, 4), "edited")
    with pytest.raises(ValueError, match="appear once"):
        store.save_image_objects(image_id, [state, state], status="edited")
    with pytest.raises(ValueError, match="'unreadable'"):
        store.save_image_objects(image_id, [state], status="unreadable")
    small = ObjectState(None, "cat", "cat", np.ones((3, 3), bool), "edited")
    with pytest.raises(ValueError, match="does not fit image"):
        store.save_image_objects(image_id, [state, small], status="edited")
    unnamed = ObjectState(None, " ", "cat", box_mask(0, 0, 4, 4), "edited")
    with pytest.raises(ValueError, match="Invalid label name"):
        store.save_image_objects(image_id, [state, unnamed], status="edited")
    no_prompt = ObjectState(None, "cat", None, box_mask(0, 0, 4, 4), "edited")
    with pytest.raises(TypeError, match="prompt must be a string"):
        store.save_image_objects(image_id, [state, no_prompt], status="edited")
    assert [obj.id for obj in store.list_objects(image_id)] == [record.id]


def test_save_image_objects_empty_deletes_all(store: ProjectStore, image_id: int) -> None:
    store.add_object(image_id, "cat", "cat", box_mask(0, 0, 4, 4), "predicted", "m")
    assert store.save_image_objects(image_id, [], status="done") == []
    assert store.list_objects(image_id) == []
    assert store.get_image(image_id).status == "done"


# Training samples


def test_training_samples_selection(store: ProjectStore) -> None:
    store.sync_images([Path("predicted.png"), Path("edited.png"), Path("done.png")])
    ids = {image.path: image.id for image in store.list_images()}
    prediction = box_mask(0, 0, 6, 6)
    correction = box_mask(0, 0, 9, 9)

    store.add_object(ids["predicted.png"], "cat", "cat", prediction, "predicted", "m")
    store.set_image_status(ids["predicted.png"], "predicted")

    corrected = store.add_object(ids["edited.png"], "cat", "cat", prediction, "predicted", "m")
    store.update_object_mask(corrected.id, correction)
    store.add_object(ids["edited.png"], "dog", "dog", prediction, "predicted", "m")
    store.set_image_status(ids["edited.png"], "edited")

    accepted = store.add_object(ids["done.png"], "dog", "dog", prediction, "predicted", "m")
    drawn = store.add_object(ids["done.png"], "cat", "cat", correction, "edited", None)
    store.set_image_status(ids["done.png"], "done")

    samples = store.training_samples()
    assert [sample.object_id for sample in samples] == [corrected.id, accepted.id, drawn.id]
    by_id = {sample.object_id: sample for sample in samples}
    assert np.array_equal(by_id[corrected.id].mask, correction)
    assert np.array_equal(by_id[corrected.id].predicted_mask, prediction)
    assert np.array_equal(by_id[accepted.id].mask, prediction)
    assert np.array_equal(by_id[accepted.id].predicted_mask, prediction)
    assert by_id[drawn.id].predicted_mask is None
    assert by_id[drawn.id].image_path == store.image_folder / "done.png"
    assert by_id[drawn.id].label == "cat"


def test_training_samples_filters(store: ProjectStore) -> None:
    store.sync_images([Path("edited.png"), Path("done.png")])
    ids = {image.path: image.id for image in store.list_images()}
    store.add_object(ids["edited.png"], "Cat", "cat", box_mask(0, 0, 5, 5), "edited", None)
    done_dog = store.add_object(ids["done.png"], "dog", "dog", box_mask(0, 0, 5, 5), "edited", None)
    store.set_image_status(ids["edited.png"], "edited")
    store.set_image_status(ids["done.png"], "done")

    assert [s.label for s in store.training_samples(labels=["cat"])] == ["Cat"]
    assert [s.object_id for s in store.training_samples(statuses=("done",))] == [done_dog.id]
    assert store.training_samples(labels=[]) == []
    with pytest.raises(ValueError, match="Invalid image status"):
        store.training_samples(statuses=("finished",))


# Stored form


def test_masks_stored_as_coco_rle(store: ProjectStore, image_id: int) -> None:
    mask = box_mask(3, 4, 9, 20)
    record = store.add_object(image_id, "cat", "cat", mask, "edited", None)
    with sqlite3.connect(store.path) as conn:
        row = conn.execute(
            "SELECT mask_height, mask_width, mask_counts FROM mask_revisions WHERE object_id = ?",
            (record.id,),
        ).fetchone()
    assert row == (HEIGHT, WIDTH, encode_mask(mask).counts)
    assert record.mask.to_coco() == {"size": [HEIGHT, WIDTH], "counts": row[2].decode("ascii")}
