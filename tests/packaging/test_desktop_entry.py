"""Menu entry install and uninstall under a temporary XDG_DATA_HOME, and the shipped files."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from textmask_desktop import desktop_entry
from textmask_desktop.cli import main
from textmask_desktop.desktop_entry import (
    APP_ID,
    ICON_SIZES,
    data_home,
    exec_argument,
    install_desktop_entry,
    launcher_command,
    manifest_path,
    uninstall_desktop_entry,
)

REPOSITORY = Path(__file__).resolve().parents[2]
RESOURCES = REPOSITORY / "resources"
DESKTOP_TEMPLATE = RESOURCES / "desktop" / f"{APP_ID}.desktop"
METAINFO = RESOURCES / "desktop" / f"{APP_ID}.metainfo.xml"


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Map every path under ``root`` to its bytes (None for folders)."""
    return {
        str(path.relative_to(root)): None if path.is_dir() else path.read_bytes()
        for path in sorted(root.rglob("*"))
    }


def desktop_keys(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def share(user_dirs) -> Path:
    return data_home()


def test_data_home_follows_xdg(share, user_dirs):
    assert share == user_dirs / ".local" / "share"
    assert data_home({"XDG_DATA_HOME": "/opt/data", "HOME": "/home/u"}) == Path("/opt/data")


@pytest.mark.parametrize("value", ["", "relative/share"])
def test_data_home_ignores_bad_value(value):
    environ = {"XDG_DATA_HOME": value, "HOME": "/home/u"}
    assert data_home(environ) == Path("/home/u/.local/share")


def test_install_writes_every_file(share):
    command = ["/opt/TextMask/textmask"]
    installed = install_desktop_entry(share, command)

    desktop_file = share / "applications" / f"{APP_ID}.desktop"
    metainfo = share / "metainfo" / f"{APP_ID}.metainfo.xml"
    svg = share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    pngs = [
        share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        for size in ICON_SIZES
    ]
    assert sorted(installed) == sorted([desktop_file, metainfo, svg, *pngs])
    assert metainfo.read_bytes() == METAINFO.read_bytes()
    assert svg.read_bytes() == (RESOURCES / "icons/hicolor/scalable/apps" / svg.name).read_bytes()
    for size, png in zip(ICON_SIZES, pngs, strict=True):
        source = RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / png.name
        assert png.read_bytes() == source.read_bytes()

    keys = desktop_keys(desktop_file)
    assert keys["Exec"] == "/opt/TextMask/textmask"
    assert keys["TryExec"] == "/opt/TextMask/textmask"
    assert keys["Icon"] == APP_ID
    assert keys["Name"] == desktop_keys(DESKTOP_TEMPLATE)["Name"]


def test_uninstall_restores_empty_home(share, user_dirs):
    before = snapshot(user_dirs)
    install_desktop_entry(share, ["/opt/TextMask/textmask"])
    assert manifest_path(share).is_file()

    removed = uninstall_desktop_entry(share)

    assert len(removed) == len(ICON_SIZES) + 3
    assert snapshot(user_dirs) == before


def test_uninstall_keeps_other_apps(share, user_dirs):
    other_entry = share / "applications" / "org.example.Other.desktop"
    other_icon = share / "icons" / "hicolor" / "48x48" / "apps" / "org.example.Other.png"
    for path in (other_entry, other_icon):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"not ours")
    before = snapshot(user_dirs)

    install_desktop_entry(share, ["/opt/TextMask/textmask"])
    uninstall_desktop_entry(share)

    after = snapshot(user_dirs)
    assert other_entry.read_bytes() == b"not ours"
    assert other_icon.read_bytes() == b"not ours"
    # Refreshed caches may remain beside the other app's files, but no file of ours.
    leftovers = set(after) - set(before)
    assert {Path(name).name for name in leftovers} <= {"mimeinfo.cache", "icon-theme.cache"}
    assert not [name for name in after if APP_ID in name]


def test_install_twice_then_uninstall(share, user_dirs):
    before = snapshot(user_dirs)
    install_desktop_entry(share, ["/opt/old/textmask"])
    first_manifest = json.loads(manifest_path(share).read_text())
    install_desktop_entry(share, ["/opt/new/textmask"])
    second_manifest = json.loads(manifest_path(share).read_text())

    assert second_manifest == first_manifest
    desktop_file = share / "applications" / f"{APP_ID}.desktop"
    assert desktop_keys(desktop_file)["Exec"] == "/opt/new/textmask"

    uninstall_desktop_entry(share)
    assert snapshot(user_dirs) == before
    assert uninstall_desktop_entry(share) == []
    assert snapshot(user_dirs) == before


def test_uninstall_without_manifest(share, user_dirs):
    install_desktop_entry(share, ["/opt/TextMask/textmask"])
    manifest_path(share).unlink()

    removed = uninstall_desktop_entry(share)

    assert len(removed) == len(ICON_SIZES) + 3
    assert not [path for path in user_dirs.rglob("*") if APP_ID in path.name]


def test_manifest_paths_outside_ignored(share, tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    manifest_path(share).parent.mkdir(parents=True)
    document = {"files": [str(outside), "../../../precious.txt"], "directories": [], "caches": []}
    manifest_path(share).write_text(json.dumps(document))

    assert uninstall_desktop_entry(share) == []
    assert outside.read_text() == "keep me"


def test_cli_installs_and_uninstalls(share, user_dirs, capsys):
    before = snapshot(user_dirs)

    assert main(["--install-desktop-entry"]) == 0
    desktop_file = share / "applications" / f"{APP_ID}.desktop"
    assert desktop_file.is_file()
    assert str(desktop_file) in capsys.readouterr().out
    # pytest is not a textmask launcher, so the entry starts this interpreter with -m.
    exec_value = desktop_keys(desktop_file)["Exec"]
    assert exec_value.endswith(" -m textmask_desktop")

    assert main(["--uninstall-desktop-entry"]) == 0
    assert snapshot(user_dirs) == before


def test_cli_reports_unwritable_folder(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "share"))

    assert main(["--install-desktop-entry"]) == 1
    error = capsys.readouterr().err
    assert "could not install the menu entry" in error
    assert "XDG_DATA_HOME" in error


def test_launcher_for_frozen_app(tmp_path):
    command = launcher_command(argv0="textmask", executable="/opt/tm/textmask", frozen=True)
    assert command == ["/opt/tm/textmask"]


def test_launcher_keeps_pipx_symlink(tmp_path):
    target = tmp_path / "venvs" / "textmask" / "bin" / "textmask"
    target.parent.mkdir(parents=True)
    target.write_text("#!/bin/sh\n")
    link = tmp_path / "bin" / "textmask"
    link.parent.mkdir()
    link.symlink_to(target)

    command = launcher_command(argv0=str(link), executable="/usr/bin/python3", frozen=False)

    assert command == [str(link)]


def test_launcher_for_python_module(tmp_path):
    main_file = tmp_path / "textmask_desktop" / "__main__.py"
    main_file.parent.mkdir()
    main_file.write_text("")

    command = launcher_command(argv0=str(main_file), executable="/venv/bin/python", frozen=False)

    assert command == ["/venv/bin/python", "-m", "textmask_desktop"]


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("/opt/textmask", "/opt/textmask"),
        ("/opt/Text Mask/textmask", '"/opt/Text Mask/textmask"'),
        ("/opt/$HOME/textmask", '"/opt/\\\\$HOME/textmask"'),
        ("C:\\textmask", '"C:\\\\\\\\textmask"'),
        ("100%", "100%%"),
    ],
)
def test_exec_argument_quoting(argument, expected):
    assert exec_argument(argument) == expected


def test_exec_argument_rejects_newline():
    with pytest.raises(ValueError, match="line break"):
        exec_argument("/opt/text\nmask")


def test_python_module_entry_point():
    completed = subprocess.run(
        [sys.executable, "-m", "textmask_desktop", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("textmask ")


@pytest.mark.skipif(shutil.which("gio") is None, reason="gio (Debian libglib2.0-bin) is missing")
def test_gio_launches_quoted_exec(share, tmp_path):
    """GLib parses the Exec line back into the same arguments, with odd characters."""
    folder = tmp_path / "dir with space $HOME 'single' \"double\" \\back (paren) ~tilde"
    folder.mkdir()
    output = tmp_path / "argv.json"
    script = folder / "launch me"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(output)!r}, 'w').write(json.dumps(sys.argv))\n"
    )
    script.chmod(0o755)
    command = [str(script), "--flag=1 2", "50%", "back\\slash", "$PATH"]
    install_desktop_entry(share, command)

    desktop_file = share / "applications" / f"{APP_ID}.desktop"
    subprocess.run(["gio", "launch", str(desktop_file)], check=True, timeout=30)

    deadline = time.monotonic() + 20
    while not output.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert json.loads(output.read_text()) == command


def _run_tool(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(arguments, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate is missing; install Debian's desktop-file-utils",
)
@pytest.mark.parametrize("program", ["/opt/TextMask/textmask", "/opt/Text Mask/$1 'x'/textmask"])
def test_installed_desktop_file_validates(share, program):
    install_desktop_entry(share, [program])
    completed = _run_tool(
        ["desktop-file-validate", str(share / "applications" / f"{APP_ID}.desktop")]
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    # Hints are suggestions, so only errors and warnings fail the test.
    problems = [line for line in completed.stdout.splitlines() if ": hint: " not in line]
    assert problems == []


@pytest.mark.skipif(
    shutil.which("appstreamcli") is None,
    reason="appstreamcli is missing; install Debian's appstream",
)
def test_metainfo_validates():
    completed = _run_tool(["appstreamcli", "validate", "--no-net", str(METAINFO)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "E:" not in completed.stdout
    assert "W:" not in completed.stdout


def test_wm_class_matches_application_name():
    """Qt's xcb plugin sets the window's WM_CLASS class to the application name; docks match
    it against StartupWMClass to show the window under the menu entry's icon."""
    from textmask_desktop.settings import APPLICATION

    assert desktop_keys(DESKTOP_TEMPLATE)["StartupWMClass"] == APPLICATION


def test_metainfo_names_desktop_file():
    text = METAINFO.read_text(encoding="utf-8")
    assert f"<id>{APP_ID}</id>" in text
    assert f'<launchable type="desktop-id">{APP_ID}.desktop</launchable>' in text
    assert "<project_license>Apache-2.0</project_license>" in text
    assert "non-commercial" in text


SCREENSHOT_URL_PREFIX = "https://raw.githubusercontent.com/textmask/textmask/main/"


def test_metainfo_screenshots_exist():
    """Software centres download each screenshot from the main branch, so a listed file that
    is missing from the repository shows as a broken image."""
    urls = [
        image.text.strip()
        for image in ElementTree.parse(METAINFO).getroot().iter("image")
        if image.text is not None
    ]
    assert urls, "the metainfo lists no screenshot"
    for url in urls:
        assert url.startswith(SCREENSHOT_URL_PREFIX), f"{url} is not a file of the repository"
        relative = url.removeprefix(SCREENSHOT_URL_PREFIX)
        assert (REPOSITORY / relative).is_file(), f"{relative} is listed but missing"
        if (REPOSITORY / ".git").exists() and shutil.which("git") is not None:
            tracked = _run_tool(
                ["git", "-C", str(REPOSITORY), "ls-files", "--error-unmatch", relative]
            )
            assert tracked.returncode == 0, f"{relative} exists but is not committed"


def _load_render_script():
    path = REPOSITORY / "packaging" / "render_icons.py"
    spec = importlib.util.spec_from_file_location("render_icons", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_pngs_match_svg(qapp):
    """The PNGs were rendered from the current SVG (rerun packaging/render_icons.py if not)."""
    from PIL import Image

    render_icons = _load_render_script()
    for size in ICON_SIZES:
        committed = Image.open(render_icons.png_path(size)).convert("RGBA")
        fresh = render_icons.render_pillow_image(render_icons.SVG_PATH, size)
        assert committed.size == (size, size)
        difference = np.abs(np.asarray(committed, np.int16) - np.asarray(fresh, np.int16))
        # A mean bound, so that antialiasing changes between Qt versions pass and an edited
        # SVG does not.
        assert difference.mean() < 1.0, f"{size} px PNG differs from the SVG"


def test_application_icon_paths_exist():
    paths = desktop_entry.application_icon_paths()
    assert len(paths) == len(ICON_SIZES)
    for path in paths:
        assert path.is_file()
        assert os.path.getsize(path) > 0
