"""Find models by name: shipped ones in textmask_resources, fine-tuned ones in the user folder."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs

import textmask_resources
from textmask_core.errors import CheckpointError, ModelNotFoundError
from textmask_core.model.checkpoint import CONFIG_FILE, CheckpointInfo, load_checkpoint
from textmask_core.model.presets import PRESETS, build_model, preset_config
from textmask_core.model.textmask_model import TextMaskModel

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
ModelSource = Literal["shipped", "user", "path", "preset"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path | None
    source: ModelSource


def shipped_models_dir() -> Path:
    # The package's own folder, not importlib.resources: in a PyInstaller app files() returns
    # a MultiplexedPath whose str() is its repr, not a path.
    return Path(textmask_resources.__file__).resolve().parent / "models"


def user_models_dir() -> Path:
    """Folder for fine-tuned models: ``<user data dir>/TextMask/models`` (under XDG_DATA_HOME)."""
    return Path(platformdirs.user_data_dir("TextMask", appauthor=False)) / "models"


def list_models() -> list[ModelEntry]:
    """Return the shipped models, then the user's fine-tuned ones, each sorted by name."""
    entries = []
    for source, folder in (("shipped", shipped_models_dir()), ("user", user_models_dir())):
        if folder.is_dir():
            for child in sorted(folder.iterdir()):
                if (child / CONFIG_FILE).is_file():
                    entries.append(ModelEntry(child.name, child, source))
    return entries


def resolve_model(name_or_path: str | Path | None = None) -> ModelEntry:
    """Find a checkpoint folder by path or name; None means the shipped default model.

    Lookup order: an existing folder path, a user model, a shipped model, then a preset name
    (which builds a model whose fusion and head are untrained).
    """
    name = str(name_or_path) if name_or_path is not None else DEFAULT_MODEL
    as_path = Path(name).expanduser()
    if as_path.is_dir():
        if not (as_path / CONFIG_FILE).is_file():
            raise CheckpointError(
                f"{as_path} is not a TextMask model folder: {CONFIG_FILE} is missing"
            )
        return ModelEntry(as_path.name, as_path, "path")
    for entry in list_models():
        if entry.name == name and entry.source == "user":
            return entry
    for entry in list_models():
        if entry.name == name:
            return entry
    if name in PRESETS:
        return ModelEntry(name, None, "preset")
    if name == DEFAULT_MODEL:
        # No trained default is installed: fall back to the untrained offline preset, loudly.
        logger.warning(
            "the shipped default model is missing; using the untrained offline-default preset"
        )
        return ModelEntry("offline-default", None, "preset")
    raise ModelNotFoundError(_not_found_message(name, as_path))


def _not_found_message(name: str, as_path: Path) -> str:
    """Describe a failed lookup: a missing folder when ``name`` is written like a path."""
    if not _looks_like_path(name):
        return (
            f"no model named {name!r}; pass a checkpoint folder or a known model name. "
            f"{_known_models_text()}"
        )
    if as_path.exists():
        return (
            f"{name} is a file, not a model folder; pass the checkpoint folder that contains "
            f"{CONFIG_FILE}"
        )
    return (
        f"model folder {name} not found; pass an existing checkpoint folder or a known model "
        f"name. {_known_models_text()}"
    )


def _looks_like_path(name: str) -> bool:
    """Return True when ``name`` contains a path separator or starts with '.' or '~'."""
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(separator in name for separator in separators) or name.startswith((".", "~"))


def _known_models_text() -> str:
    """List the names ``resolve_model`` accepts: default first, then installed models, presets."""
    installed = list(dict.fromkeys(entry.name for entry in list_models()))
    default = DEFAULT_MODEL if DEFAULT_MODEL in installed else f"{DEFAULT_MODEL} (not installed)"
    others = [name for name in installed if name != DEFAULT_MODEL]
    known = ", ".join([default, *others])
    return f"Known models are {known} and the untrained presets {', '.join(PRESETS)}."


def load_model(name_or_path: str | Path | None = None) -> tuple[TextMaskModel, CheckpointInfo]:
    """Load a named model, a checkpoint folder or a preset (see ``resolve_model``)."""
    entry = resolve_model(name_or_path)
    if entry.path is None:
        logger.warning("model %r is a preset with an untrained fusion and mask head", entry.name)
        config = preset_config(entry.name)
        return build_model(config), CheckpointInfo(
            path=Path(entry.name), preset=entry.name, config=config
        )
    return load_checkpoint(entry.path)
