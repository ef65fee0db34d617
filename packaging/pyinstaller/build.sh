#!/usr/bin/env bash
# Build the one-folder TextMask app with PyInstaller into dist/textmask/ (Linux and macOS).
#
# The build runs in its own virtual environment (build/pyinstaller-venv by default) with
# TextMask installed from this checkout without -e, so the app contains the package files and
# the shipped model, never a link back to the source folder. Run it from any folder:
#
#     packaging/pyinstaller/build.sh
#
# Environment variables: PYTHON (the Python that creates the build environment, default
# python3), BUILD_VENV (its folder), PYINSTALLER_VERSION.
set -euo pipefail

repository="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-python3}"
build_venv="${BUILD_VENV:-$repository/build/pyinstaller-venv}"
pyinstaller_version="${PYINSTALLER_VERSION:-6.22.3}"

if [ ! -d "$repository/resources/models/default" ]; then
    echo "warning: resources/models/default is missing; the app will fall back to an" \
        "untrained model" >&2
fi

if [ ! -x "$build_venv/bin/python" ]; then
    echo "Creating the build environment $build_venv"
    "$python" -m venv "$build_venv"
fi
"$build_venv/bin/python" -m pip install --quiet "pyinstaller==$pyinstaller_version" "$repository"
# Reinstalled without its dependencies, so that the build has this checkout's files even when
# the version number did not change since the last build.
"$build_venv/bin/python" -m pip install --quiet --no-deps --force-reinstall "$repository"

cd "$repository"
start=$(date +%s)
"$build_venv/bin/pyinstaller" --noconfirm --clean \
    --distpath "$repository/dist" \
    --workpath "$repository/build/pyinstaller" \
    packaging/pyinstaller/textmask.spec
end=$(date +%s)

echo "Built $repository/dist/textmask in $((end - start)) s ($(du -sh dist/textmask | cut -f1))"
echo "Try it: dist/textmask/textmask --version"
