"""The wheel contains every shipped data file, and every place that states the version agrees."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from textmask_core import __version__
from textmask_desktop.desktop_entry import APP_ID, ICON_SIZES

REPOSITORY = Path(__file__).resolve().parents[2]
RESOURCES = REPOSITORY / "resources"
# What setuptools needs to build the wheel: pyproject.toml maps these folders to packages.
BUILD_INPUTS = ("pyproject.toml", "README.md", "textmask_core", "textmask_desktop", "resources")
BUILD_SCRIPT = (
    "import sys\nfrom setuptools import build_meta\nprint(build_meta.build_wheel(sys.argv[1]))\n"
)


def shipped_data_files() -> list[Path]:
    """Every file under resources/ except Python code: all of them are loaded at run time."""
    return sorted(
        path.relative_to(RESOURCES)
        for path in RESOURCES.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    )


def _copy_sources(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in BUILD_INPUTS:
        source = REPOSITORY / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, target / name)
    shutil.copytree(
        REPOSITORY / "training" / "textmask_training",
        target / "training" / "textmask_training",
        ignore=ignore,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """Build the wheel from a copy of the sources, so no build folder lands in the checkout."""
    pytest.importorskip("setuptools.build_meta", reason="setuptools is not installed")
    source = tmp_path_factory.mktemp("source")
    output = tmp_path_factory.mktemp("wheel")
    _copy_sources(source)
    completed = subprocess.run(
        [sys.executable, "-c", BUILD_SCRIPT, str(output)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0 and "No module named" in completed.stderr:
        pytest.skip(f"the setuptools build backend is unavailable: {completed.stderr[-300:]}")
    assert completed.returncode == 0, completed.stderr[-3000:]
    name = completed.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(output / name) as archive:
        yield archive


def test_wheel_has_every_data_file(wheel):
    names = set(wheel.namelist())
    missing = [
        str(path)
        for path in shipped_data_files()
        if f"textmask_resources/{path.as_posix()}" not in names
    ]
    assert missing == [], "add these to [tool.setuptools.package-data] in pyproject.toml"


def source_packages() -> list[str]:
    """Every package folder (one with __init__.py) of the four installed packages."""
    roots = {
        "textmask_core": REPOSITORY / "textmask_core",
        "textmask_desktop": REPOSITORY / "textmask_desktop",
        "textmask_training": REPOSITORY / "training" / "textmask_training",
        "textmask_resources": RESOURCES,
    }
    packages = []
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            packages.append("/".join([name, *init.parent.relative_to(root).parts]))
    return sorted(packages)


def test_wheel_has_every_package(wheel):
    names = set(wheel.namelist())
    missing = [package for package in source_packages() if f"{package}/__init__.py" not in names]
    assert missing == [], "add these to [tool.setuptools] packages in pyproject.toml"


def test_wheel_has_desktop_files(wheel):
    names = set(wheel.namelist())
    expected = [
        f"textmask_resources/desktop/{APP_ID}.desktop",
        f"textmask_resources/desktop/{APP_ID}.metainfo.xml",
        f"textmask_resources/icons/hicolor/scalable/apps/{APP_ID}.svg",
    ]
    expected += [
        f"textmask_resources/icons/hicolor/{size}x{size}/apps/{APP_ID}.png" for size in ICON_SIZES
    ]
    for name in expected:
        assert name in names


def test_wheel_has_default_model(wheel):
    names = set(wheel.namelist())
    assert "textmask_resources/models/default/config.json" in names
    assert "textmask_resources/models/default/model.safetensors" in names


def test_wheel_metadata(wheel):
    metadata = next(name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
    entry_points = next(
        name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")
    )
    assert f"\nVersion: {__version__}\n" in wheel.read(metadata).decode()
    assert "textmask = textmask_desktop.cli:main" in wheel.read(entry_points).decode()


def test_metainfo_release_matches_version():
    metainfo = RESOURCES / "desktop" / f"{APP_ID}.metainfo.xml"
    versions = re.findall(r'<release version="([^"]+)"', metainfo.read_text(encoding="utf-8"))
    assert versions, "the metainfo has no <release> entry"
    assert versions[0] == __version__


def test_changelog_matches_version():
    changelog = (REPOSITORY / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, flags=re.MULTILINE)
    assert headings, "CHANGELOG.md has no '## [version]' heading"
    assert headings[0] == __version__
