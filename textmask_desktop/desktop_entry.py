"""Menu entry, icons and AppStream metainfo for the current user on freedesktop systems.

``textmask --install-desktop-entry`` copies the shipped files from ``textmask_resources`` into
``$XDG_DATA_HOME`` (``~/.local/share`` when unset):

- ``applications/io.github.textmask.TextMask.desktop``, with ``Exec`` and ``TryExec`` set to the
  absolute path of the running launcher;
- ``icons/hicolor/<size>x<size>/apps/io.github.textmask.TextMask.png`` and
  ``icons/hicolor/scalable/apps/io.github.textmask.TextMask.svg``;
- ``metainfo/io.github.textmask.TextMask.metainfo.xml``.

It records the files, the folders it created and the caches it caused to be created in a
manifest, ``TextMask/desktop-entry.json`` under the same data folder, so that
``--uninstall-desktop-entry`` removes exactly those and nothing that was there before.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final

from textmask_core.atomic import atomic_write_bytes

if TYPE_CHECKING:
    # Only type checkers read this import, so Python 3.10 (which lacks the module) still runs.
    from importlib.resources.abc import Traversable

logger = logging.getLogger(__name__)

APP_ID: Final = "io.github.textmask.TextMask"
ICON_SIZES: Final = (16, 32, 48, 64, 128, 256, 512)
MANIFEST_NAME: Final = "desktop-entry.json"
REFRESH_TIMEOUT_SECONDS: Final = 30

# Characters that force quoting of an Exec argument (Desktop Entry Specification 1.5, "The Exec
# key"). Inside quotes, the four characters in EXEC_ESCAPED_IN_QUOTES take a backslash.
EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
EXEC_ESCAPED_IN_QUOTES = frozenset('"`$\\')


@dataclass(frozen=True)
class IntegrationFile:
    """One shipped file and the path it is installed to, relative to the data folder."""

    source: Traversable
    relative_target: Path


@dataclass(frozen=True)
class CacheTool:
    """A cache refresh command for one installed folder, and the cache file it writes there."""

    folder: Path
    cache_name: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    """Record of an install: written files, created folders and created caches, as paths
    relative to the data folder."""

    files: tuple[str, ...] = ()
    directories: tuple[str, ...] = ()
    caches: tuple[str, ...] = ()

    def merged(self, other: Manifest) -> Manifest:
        return Manifest(
            files=_union(self.files, other.files),
            directories=_union(self.directories, other.directories),
            caches=_union(self.caches, other.caches),
        )


def _union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


def data_home(environ: Mapping[str, str] = os.environ) -> Path:
    """Return ``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset, empty or relative.

    The XDG Base Directory Specification requires that a relative value is ignored.
    """
    value = environ.get("XDG_DATA_HOME", "")
    if value and Path(value).is_absolute():
        return Path(value)
    if value:
        logger.warning("ignoring XDG_DATA_HOME=%r because it is not an absolute path", value)
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "share"


def launcher_command(
    argv0: str | None = None,
    executable: str | None = None,
    frozen: bool | None = None,
) -> list[str]:
    """Return the command that starts this installation of TextMask, as absolute paths.

    A PyInstaller app is its own executable. A ``textmask`` script (pip, pipx) is used by the
    path it ran from, without resolving symbolic links, because pipx's ``~/.local/bin`` link
    stays valid when pipx recreates the virtual environment behind it. Any other start, such as
    ``python -m textmask_desktop``, becomes the running interpreter with ``-m``. PATH is not
    searched: it may lead to another installation than the one the user just ran.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    if frozen:
        return [os.path.abspath(executable)]
    if Path(argv0).stem == "textmask" and Path(argv0).is_file():
        return [os.path.abspath(argv0)]
    return [os.path.abspath(executable), "-m", "textmask_desktop"]


def exec_argument(argument: str) -> str:
    """Quote and escape one argument for a desktop file's ``Exec`` value.

    Applies the Exec quoting rule, then the string-value escape of backslashes, because
    readers undo them in the opposite order. A literal ``%`` becomes ``%%``.
    NOTE: GLib 2.x (gio launch, GNOME) rejects an entry whose program path contains ``%``,
    because it checks the path before it expands ``%%``. Arguments with ``%`` work.
    """
    if "\n" in argument or "\r" in argument:
        raise ValueError(
            f"cannot write {argument!r} into a desktop file because it contains a line break. "
            "Install TextMask under a path without line breaks."
        )
    if any(character in EXEC_RESERVED for character in argument):
        escaped = "".join(
            "\\" + character if character in EXEC_ESCAPED_IN_QUOTES else character
            for character in argument
        )
        argument = f'"{escaped}"'
    return argument.replace("\\", "\\\\").replace("%", "%%")


def render_desktop_file(template: str, command: Sequence[str]) -> str:
    """Return ``template`` with ``Exec`` set to ``command`` and ``TryExec`` to its program."""
    replacements = {
        "Exec": " ".join(exec_argument(argument) for argument in command),
        "TryExec": _escape_string_value(command[0]),
    }
    lines = []
    for line in template.splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and key in replacements:
            line = f"{key}={replacements.pop(key)}"
        lines.append(line)
    if replacements:
        raise ValueError(f"the desktop file template has no {', '.join(replacements)} key")
    return "\n".join(lines) + "\n"


def _escape_string_value(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(
            f"cannot write {value!r} into a desktop file because it contains a line break. "
            "Install TextMask under a path without line breaks."
        )
    return value.replace("\\", "\\\\")


def shipped_file(*parts: str) -> Traversable:
    """Return a file shipped in the ``textmask_resources`` package, such as an icon."""
    node = resources.files("textmask_resources")
    for part in parts:
        node = node / part
    return node


def application_icon_paths() -> list[Path]:
    """Return the shipped PNG icons, smallest first, for ``QIcon.addFile`` in the app."""
    return [Path(str(source)) for source in _icon_sources().values()]


def _icon_sources() -> dict[Path, Traversable]:
    theme = Path("icons") / "hicolor"
    sources = {
        theme / f"{size}x{size}" / "apps" / f"{APP_ID}.png": shipped_file(
            "icons", "hicolor", f"{size}x{size}", "apps", f"{APP_ID}.png"
        )
        for size in ICON_SIZES
    }
    return sources


def integration_files() -> list[IntegrationFile]:
    """List every file that an install writes, with its shipped source."""
    theme = Path("icons") / "hicolor"
    svg = theme / "scalable" / "apps" / f"{APP_ID}.svg"
    files = [
        IntegrationFile(shipped_file("desktop", f"{APP_ID}.desktop"), desktop_file_target()),
        IntegrationFile(
            shipped_file("desktop", f"{APP_ID}.metainfo.xml"),
            Path("metainfo") / f"{APP_ID}.metainfo.xml",
        ),
        IntegrationFile(shipped_file("icons", "hicolor", "scalable", "apps", svg.name), svg),
    ]
    files += [IntegrationFile(source, target) for target, source in _icon_sources().items()]
    return files


def desktop_file_target() -> Path:
    return Path("applications") / f"{APP_ID}.desktop"


def manifest_path(home: Path) -> Path:
    return home / "TextMask" / MANIFEST_NAME


def read_manifest(home: Path) -> Manifest | None:
    """Read the manifest of an earlier install, or return None when there is none."""
    path = manifest_path(home)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("ignoring the unreadable install manifest %s (%s)", path, error)
        return None
    return Manifest(
        files=_inside_paths(document.get("files", ())),
        directories=tuple(str(name) for name in document.get("directories", ())),
        caches=_inside_paths(document.get("caches", ())),
    )


def _inside_paths(names: Iterable[object]) -> tuple[str, ...]:
    """Keep the relative paths that stay inside the data folder, so that a hand-edited
    manifest cannot make the uninstaller delete files elsewhere."""
    kept = []
    for name in names:
        path = Path(str(name))
        if path.is_absolute() or ".." in path.parts:
            logger.warning("ignoring %r in the install manifest: not inside the data folder", name)
            continue
        kept.append(str(path))
    return tuple(kept)


def write_manifest(home: Path, manifest: Manifest) -> None:
    document = {
        "app_id": APP_ID,
        "files": list(manifest.files),
        "directories": list(manifest.directories),
        "caches": list(manifest.caches),
    }
    text = json.dumps(document, indent=2) + "\n"
    atomic_write_bytes(manifest_path(home), text.encode("utf-8"))


def cache_tools(home: Path) -> list[CacheTool]:
    """Return the desktop and icon cache refresh commands for the installed folders."""
    applications = home / "applications"
    icon_theme = home / "icons" / "hicolor"
    return [
        CacheTool(applications, "mimeinfo.cache", ("update-desktop-database", str(applications))),
        # -t: a user's hicolor folder usually has no index.theme, and without -t the tool stops.
        CacheTool(
            icon_theme,
            "icon-theme.cache",
            (
                "gtk-update-icon-cache",
                "--force",
                "--ignore-theme-index",
                "--quiet",
                str(icon_theme),
            ),
        ),
    ]


def refresh_caches(tools: Sequence[CacheTool]) -> None:
    """Run each cache tool that is installed. A failure is logged and skipped, because the
    caches only speed up lookups and desktops scan the folders without them."""
    for tool in tools:
        if not tool.folder.is_dir():
            continue
        program = shutil.which(tool.command[0])
        if program is None:
            logger.info("%s is not installed; skipping its cache refresh", tool.command[0])
            continue
        try:
            completed = subprocess.run(
                [program, *tool.command[1:]],
                capture_output=True,
                text=True,
                timeout=REFRESH_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            logger.warning("%s failed: %s", tool.command[0], error)
            continue
        if completed.returncode != 0:
            logger.warning(
                "%s exited with status %d: %s",
                tool.command[0],
                completed.returncode,
                completed.stderr.strip(),
            )


def missing_directories(home: Path, targets: Iterable[Path]) -> list[Path]:
    """Return the folders that writing ``targets`` would create, parents first."""
    missing: list[Path] = []
    for target in targets:
        for folder in reversed(target.parents):
            if not folder.exists() and folder not in missing:
                missing.append(folder)
    return missing


def install_desktop_entry(
    home: Path | None = None, command: Sequence[str] | None = None
) -> list[Path]:
    """Install the menu entry, icons and metainfo under ``home`` (default ``data_home()``).

    ``command`` is the Exec command line (default ``launcher_command()``). Installing again
    overwrites the files. Returns the installed file paths.
    """
    home = data_home() if home is None else home
    command = launcher_command() if command is None else list(command)
    files = integration_files()
    targets = [home / item.relative_target for item in files]
    planned = Manifest(
        files=tuple(str(item.relative_target) for item in files),
        directories=tuple(
            _relative(folder, home)
            for folder in missing_directories(home, [*targets, manifest_path(home)])
        ),
    )
    previous = read_manifest(home) or Manifest()
    # The manifest is written before the files, so a failed install can still be uninstalled.
    manifest = previous.merged(planned)
    manifest_path(home).parent.mkdir(parents=True, exist_ok=True)
    write_manifest(home, manifest)
    for item, target in zip(files, targets, strict=True):
        _install_file(item, target, command)
    created_caches = _refresh_and_find_new_caches(home)
    write_manifest(home, manifest.merged(Manifest(caches=created_caches)))
    logger.debug("installed the TextMask menu entry for %s", " ".join(command))
    return targets


def _relative(path: Path, home: Path) -> str:
    # Folders above the data folder (when it does not exist yet) are kept as absolute paths.
    return str(path.relative_to(home)) if path.is_relative_to(home) else str(path)


def _install_file(item: IntegrationFile, target: Path, command: Sequence[str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    data = item.source.read_bytes()
    if item.relative_target == desktop_file_target():
        data = render_desktop_file(data.decode("utf-8"), command).encode("utf-8")
    atomic_write_bytes(target, data)
    logger.debug("wrote %s", target)


def _refresh_and_find_new_caches(home: Path) -> tuple[str, ...]:
    tools = cache_tools(home)
    existed = {
        tool.folder / tool.cache_name for tool in tools if (tool.folder / tool.cache_name).exists()
    }
    refresh_caches(tools)
    created = [
        tool.folder / tool.cache_name
        for tool in tools
        if (tool.folder / tool.cache_name).exists() and tool.folder / tool.cache_name not in existed
    ]
    return tuple(_relative(path, home) for path in created)


def uninstall_desktop_entry(home: Path | None = None) -> list[Path]:
    """Remove what ``install_desktop_entry`` wrote under ``home`` and return the removed files.

    Without a manifest (nothing installed, or it was deleted), removes the files an install
    would write, if present. Running it twice is harmless.
    """
    home = data_home() if home is None else home
    manifest = read_manifest(home) or Manifest(
        files=tuple(str(item.relative_target) for item in integration_files())
    )
    removed = _remove_files(home / name for name in manifest.files)
    manifest_path(home).unlink(missing_ok=True)
    created_folders = [_absolute(name, home) for name in manifest.directories]
    _remove_empty_directories(created_folders)
    stale_caches = _remove_orphan_caches(home, manifest.caches)
    _remove_empty_directories(created_folders)
    refresh_caches([tool for tool in cache_tools(home) if tool.folder not in stale_caches])
    logger.debug("removed %d TextMask menu entry files from %s", len(removed), home)
    return removed


def _absolute(name: str, home: Path) -> Path:
    return Path(name) if Path(name).is_absolute() else home / name


def _remove_files(paths: Iterable[Path]) -> list[Path]:
    removed = []
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
        logger.debug("removed %s", path)
    return removed


def _remove_orphan_caches(home: Path, caches: Iterable[str]) -> set[Path]:
    """Delete caches that the install created and that now index nothing; return their
    folders. A cache beside other entries is kept, and the caller refreshes it."""
    orphan_folders = set()
    for name in caches:
        cache = _absolute(name, home)
        if cache.exists() and [entry.name for entry in cache.parent.iterdir()] == [cache.name]:
            cache.unlink()
            orphan_folders.add(cache.parent)
    return orphan_folders


def _remove_empty_directories(folders: Sequence[Path]) -> None:
    # Children before parents: the list from missing_directories is parents first.
    for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue
        except OSError:
            logger.debug("keeping %s because it is not empty", folder)


def run_desktop_entry_command(install: bool) -> int:
    """Run ``--install-desktop-entry`` (install=True) or ``--uninstall-desktop-entry``.

    Returns the process exit code: 0 on success, 1 when a file could not be written or
    removed, 2 on Windows and macOS, which have no freedesktop menu.
    """
    if sys.platform in ("win32", "darwin"):
        sys.stderr.write(
            "textmask: menu entries are for Linux and BSD desktops; on Windows and macOS, "
            "use the TextMask app bundle from packaging/README.md instead\n"
        )
        return 2
    home = data_home()
    try:
        if install:
            paths = install_desktop_entry(home)
            print(f"Installed {len(paths)} files; the menu entry is {home / desktop_file_target()}")
            print("Remove them with: textmask --uninstall-desktop-entry")
        else:
            paths = uninstall_desktop_entry(home)
            print(f"Removed {len(paths)} TextMask menu entry files from {home}")
    except (OSError, ValueError) as error:
        action = "install" if install else "remove"
        sys.stderr.write(
            f"textmask: could not {action} the menu entry under {home}: {error}\n"
            "Check that the folder is writable, or set XDG_DATA_HOME to a writable folder.\n"
        )
        return 1
    return 0
