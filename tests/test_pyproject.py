"""pyproject.toml lists every Python package of the source tree, so wheels are complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _packages_on_disk(top: str, folder: Path) -> set[str]:
    return {
        ".".join([top, *init.parent.relative_to(folder).parts])
        for init in folder.rglob("__init__.py")
    }


def test_every_package_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(config["setuptools"]["packages"])
    folders = {
        "textmask_core": ROOT / "textmask_core",
        "textmask_desktop": ROOT / "textmask_desktop",
    }
    folders.update(
        {name: ROOT / path for name, path in config["setuptools"]["package-dir"].items()}
    )
    on_disk = set().union(*(_packages_on_disk(name, folder) for name, folder in folders.items()))
    assert on_disk - listed == set()
    assert listed - on_disk == set()
