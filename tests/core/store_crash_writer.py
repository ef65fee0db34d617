"""Writer process for the store crash test, and the model of what it writes.

Run as a script, it opens a project store, prints "ready", then performs the steps of a
seeded plan, one transaction each, and prints a step's index after its commit returned.
The test kills it with SIGKILL and replays the same plan with ``expected_state`` to learn
what the database must contain.

Each round works on its own images, and an object's prompt is its plan key (for example
"r2-o17"), so the expected state of a round does not depend on database ids.

Usage: python store_crash_writer.py IMAGE_FOLDER STORE_PATH SEED ROUND
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from textmask_core.store import ObjectState, ProjectStore

MASK_SHAPE = (24, 32)
IMAGES_PER_ROUND = 3
LABELS = ("cat", "dog", "car")
STATUSES = ("predicted", "edited", "done")
MAX_STEPS = 100_000


def image_paths(round_index: int) -> list[str]:
    return [f"round {round_index}/image {index}.png" for index in range(IMAGES_PER_ROUND)]


def mask_for(seed: int) -> np.ndarray:
    """Return the mask that a plan seed stands for: noise plus a filled rectangle."""
    rng = np.random.default_rng(seed)
    mask = rng.random(MASK_SHAPE) < 0.3
    top, left = rng.integers(0, 12, size=2)
    mask[top : top + 8, left : left + 12] = True
    return mask


@dataclass(frozen=True)
class Revision:
    seed: int
    origin: str


@dataclass(frozen=True)
class PlannedObject:
    image: str
    label: str
    revisions: tuple[Revision, ...]


@dataclass(frozen=True)
class Add:
    key: str
    image: str
    label: str
    revision: Revision


@dataclass(frozen=True)
class UpdateMask:
    key: str
    revision: Revision


@dataclass(frozen=True)
class SaveImage:
    """The whole object list of one image; a None revision keeps the current mask."""

    image: str
    objects: tuple[tuple[str, str, Revision | None], ...]  # key, label, new revision
    status: str


Step = Add | UpdateMask | SaveImage


@dataclass
class RoundState:
    """Objects by key and image statuses of one round, as the plan expects them."""

    objects: dict[str, PlannedObject] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)

    def apply(self, step: Step) -> None:
        if isinstance(step, Add):
            self.objects[step.key] = PlannedObject(step.image, step.label, (step.revision,))
        elif isinstance(step, UpdateMask):
            current = self.objects[step.key]
            revisions = (*current.revisions, step.revision)
            self.objects[step.key] = replace(current, revisions=revisions)
        else:
            self._apply_save(step)

    def _apply_save(self, step: SaveImage) -> None:
        listed_keys = {key for key, _, _ in step.objects}
        for key in [key for key, obj in self.objects.items() if obj.image == step.image]:
            if key not in listed_keys:
                del self.objects[key]
        for key, label, revision in step.objects:
            current = self.objects.get(key)
            revisions = current.revisions if current is not None else ()
            if revision is not None:
                revisions = (*revisions, revision)
            self.objects[key] = PlannedObject(step.image, label, revisions)
        self.statuses[step.image] = step.status


def plan(seed: int, round_index: int) -> Iterator[Step]:
    """Yield the steps of one round; the same arguments always give the same steps."""
    rng = random.Random(seed * 1_000 + round_index)
    state = RoundState()
    images = image_paths(round_index)
    for index in range(MAX_STEPS):
        # Each step owns 10,000 consecutive mask seeds: one for a new object and one for
        # each object whose mask a save replaces.
        mask_seed = (seed * MAX_STEPS + index) * 10_000
        step = _next_step(rng, state, images, f"r{round_index}-", mask_seed)
        state.apply(step)
        yield step


def _next_step(
    rng: random.Random, state: RoundState, images: list[str], prefix: str, mask_seed: int
) -> Step:
    kind = rng.choice(("add", "update", "save")) if state.objects else "add"
    if kind == "add":
        key = f"{prefix}o{mask_seed}"
        origin = rng.choice(("predicted", "edited"))
        return Add(key, rng.choice(images), rng.choice(LABELS), Revision(mask_seed, origin))
    if kind == "update":
        key = rng.choice(sorted(state.objects))
        return UpdateMask(key, Revision(mask_seed, "edited"))
    image = rng.choice(images)
    listed: list[tuple[str, str, Revision | None]] = []
    for key in sorted(key for key, obj in state.objects.items() if obj.image == image):
        choice = rng.random()
        if choice < 0.3:
            continue  # deleted by the save
        revision = Revision(mask_seed + len(listed) + 1, "edited") if choice < 0.65 else None
        listed.append((key, rng.choice(LABELS), revision))
    listed.append((f"{prefix}o{mask_seed}", rng.choice(LABELS), Revision(mask_seed, "edited")))
    return SaveImage(image, tuple(listed), rng.choice(STATUSES))


def expected_state(seed: int, round_index: int, step_count: int) -> RoundState:
    """Return the state after the first ``step_count`` steps of a round."""
    state = RoundState()
    steps = plan(seed, round_index)
    for _ in range(step_count):
        state.apply(next(steps))
    return state


def _run_step(store: ProjectStore, step: Step, ids: dict[str, int], images: dict[str, int]) -> None:
    if isinstance(step, Add):
        mask = mask_for(step.revision.seed)
        model = "crash-model" if step.revision.origin == "predicted" else None
        record = store.add_object(
            images[step.image], step.label, step.key, mask, step.revision.origin, model
        )
        ids[step.key] = record.id
    elif isinstance(step, UpdateMask):
        store.update_object_mask(ids[step.key], mask_for(step.revision.seed), "edited")
    else:
        _run_save(store, step, ids, images)


def _run_save(
    store: ProjectStore, step: SaveImage, ids: dict[str, int], images: dict[str, int]
) -> None:
    image_id = images[step.image]
    current = {record.prompt: record for record in store.list_objects(image_id)}
    states = []
    for key, label, revision in step.objects:
        stored = current.get(key)
        if revision is None:
            mask, origin, model = stored.mask.decode(), stored.origin, stored.model_name
        else:
            mask, origin, model = mask_for(revision.seed), revision.origin, None
        object_id = None if stored is None else stored.id
        states.append(ObjectState(object_id, label, key, mask, origin, model))
    records = store.save_image_objects(image_id, states, status=step.status)
    for key in [key for key in ids if key in current]:
        del ids[key]
    for record in records:
        ids[record.prompt] = record.id


def main(argv: list[str]) -> None:
    image_folder, store_path, seed, round_index = argv
    store = ProjectStore.open(Path(image_folder), Path(store_path))
    paths = image_paths(int(round_index))
    images = {path: store.image_by_path(path).id for path in paths}
    ids: dict[str, int] = {}
    print("ready", flush=True)
    for index, step in enumerate(plan(int(seed), int(round_index))):
        _run_step(store, step, ids, images)
        print(index, flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
