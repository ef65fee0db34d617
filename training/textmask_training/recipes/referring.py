"""Referring rows ("the dog on the left") made from per-instance masks.

Only unambiguous cases are kept: the chosen object's centre must be clearly apart from the
next object's along x (for left and right), or its area clearly larger (for biggest).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textmask_core.imageio import load_mask

# The chosen object's centre must lead the next one's by this share of the image width.
MIN_CENTRE_GAP = 0.12
# The biggest object must have at least this many times the area of the second biggest.
MIN_AREA_RATIO = 1.6
# Objects smaller than this share of the image are ignored as answers and as rivals.
MIN_AREA_SHARE = 0.002

TEMPLATES = {
    "left": ("the {name} on the left", "the leftmost {name}", "the left {name}"),
    "right": ("the {name} on the right", "the rightmost {name}", "the right {name}"),
    "biggest": ("the biggest {name}", "the largest {name}"),
}


@dataclass(frozen=True)
class Instance:
    mask_path: Path
    centre_x: float
    area: int


@dataclass(frozen=True)
class ReferringCase:
    image: Path
    label: str
    relation: str
    mask_path: Path


def read_instances(instances_csv: Path) -> dict[tuple[Path, str], list[Instance]]:
    """Group the instances of ``instances.csv`` by (image, label), with their geometry."""
    root = instances_csv.parent
    groups: dict[tuple[Path, str], list[Instance]] = defaultdict(list)
    with instances_csv.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            mask_path = root / record["mask"]
            mask = load_mask(mask_path)
            area = int(mask.sum())
            if area < MIN_AREA_SHARE * mask.size:
                continue
            xs = np.nonzero(mask)[1]
            instance = Instance(mask_path, float(xs.mean()) / mask.shape[1], area)
            groups[(root / record["image"], record["label"])].append(instance)
    return groups


def referring_cases(groups: dict[tuple[Path, str], list[Instance]]) -> list[ReferringCase]:
    cases = []
    for (image, label), instances in sorted(groups.items()):
        if len(instances) < 2:
            continue
        by_x = sorted(instances, key=lambda item: item.centre_x)
        if by_x[1].centre_x - by_x[0].centre_x >= MIN_CENTRE_GAP:
            cases.append(ReferringCase(image, label, "left", by_x[0].mask_path))
        if by_x[-1].centre_x - by_x[-2].centre_x >= MIN_CENTRE_GAP:
            cases.append(ReferringCase(image, label, "right", by_x[-1].mask_path))
        by_area = sorted(instances, key=lambda item: -item.area)
        if by_area[0].area >= MIN_AREA_RATIO * by_area[1].area:
            cases.append(ReferringCase(image, label, "biggest", by_area[0].mask_path))
    return cases
