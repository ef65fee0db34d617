"""Render the TextMask icon SVG to the PNG, ICO and ICNS files that get committed.

Run from the repository root after changing the SVG:

    .venv/bin/python packaging/render_icons.py

PNGs go to resources/icons/hicolor/<size>x<size>/apps/ (the freedesktop icon theme layout,
installed as-is by ``textmask --install-desktop-entry``). The Windows .ico and the macOS .icns
go to packaging/icons/ because only the PyInstaller build uses them. Rendering uses Qt's SVG
renderer from PySide6-Essentials (PySide6.QtSvg), so no other SVG tool is needed.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[1]
APP_ID = "io.github.textmask.TextMask"
ICON_THEME_DIR = REPOSITORY / "resources" / "icons" / "hicolor"
SVG_PATH = ICON_THEME_DIR / "scalable" / "apps" / f"{APP_ID}.svg"
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
PLATFORM_ICON_DIR = REPOSITORY / "packaging" / "icons"
# Windows shows at most 256 px from an .ico. An .icns goes up to 1024 px (512 px at 2x), which
# is rendered from the SVG rather than scaled up from the 512 px PNG.
ICO_SIZES = (16, 32, 48, 64, 128, 256)
ICNS_SIZE = 1024


def png_path(size: int, theme_dir: Path = ICON_THEME_DIR) -> Path:
    return theme_dir / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def render_svg(svg_path: Path, size: int):
    """Render ``svg_path`` to a square premultiplied-ARGB QImage of ``size`` pixels."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg_path))
    if not renderer.isValid():
        raise ValueError(f"{svg_path} is not a valid SVG file; fix it and run this script again")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def write_pngs(svg_path: Path = SVG_PATH, theme_dir: Path = ICON_THEME_DIR) -> list[Path]:
    written = []
    for size in PNG_SIZES:
        target = png_path(size, theme_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not render_svg(svg_path, size).save(str(target), "PNG"):
            raise OSError(f"Qt could not write {target}; check that the folder is writable")
        written.append(target)
    return written


def render_pillow_image(svg_path: Path, size: int):
    """Render ``svg_path`` like ``render_svg`` and return it as an RGBA Pillow image."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    render_svg(svg_path, size).save(buffer, "PNG")
    buffer.close()
    return Image.open(io.BytesIO(data.data())).convert("RGBA")


def write_platform_icons(
    svg_path: Path = SVG_PATH, out_dir: Path = PLATFORM_ICON_DIR
) -> list[Path]:
    """Write textmask.ico (Windows) and textmask.icns (macOS) with Pillow."""
    out_dir.mkdir(parents=True, exist_ok=True)
    largest = render_pillow_image(svg_path, ICNS_SIZE)
    ico_path = out_dir / "textmask.ico"
    # Pillow scales the image down to each size with its own resampling filter.
    largest.save(ico_path, format="ICO", sizes=[(size, size) for size in ICO_SIZES])
    icns_path = out_dir / "textmask.icns"
    largest.save(icns_path, format="ICNS")
    return [ico_path, icns_path]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (keeps Qt up)
    for path in write_pngs() + write_platform_icons():
        logger.info("wrote %s", path.relative_to(REPOSITORY))
    return 0


if __name__ == "__main__":
    sys.exit(main())
