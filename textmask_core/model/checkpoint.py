"""Checkpoint folders: ``config.json`` plus ``model.safetensors``; no pickle anywhere."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import textmask_core
from textmask_core.errors import CheckpointError
from textmask_core.model.config import ModelConfig
from textmask_core.model.textmask_model import TextMaskModel

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "textmask-checkpoint"
CHECKPOINT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class CheckpointInfo:
    """The description a checkpoint folder stores beside its weights."""

    path: Path
    preset: str
    config: ModelConfig
    metadata: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    model: TextMaskModel,
    folder: str | Path,
    *,
    preset: str = "custom",
    metadata: dict[str, Any] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``model`` to ``folder``; frozen package encoders are not stored (see
    ``TextMaskModel.stored_prefixes``). Each file is written to a temporary name and renamed.

    ``metadata`` (training data, metrics, ...) goes into config.json with the date and the
    code version added.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = stored_state_dict(model)
    if extra_tensors:
        tensors.update(extra_tensors)
    document = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "preset": preset,
        "model": model.config.to_dict(),
        "stored_prefixes": list(model.stored_prefixes()),
        "metadata": {
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "code_version": textmask_core.__version__,
            **(metadata or {}),
        },
    }
    _write_atomically(folder / WEIGHTS_FILE, lambda path: save_file(tensors, str(path)))
    _write_atomically(
        folder / CONFIG_FILE,
        lambda path: path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8"),
    )
    logger.info("saved checkpoint %s (%d tensors)", folder, len(tensors))
    return folder


def stored_state_dict(model: TextMaskModel) -> dict[str, torch.Tensor]:
    prefixes = model.stored_prefixes()
    return {
        name: tensor.detach().cpu().contiguous()
        for name, tensor in model.state_dict().items()
        if name.startswith(prefixes)
    }


def _write_atomically(target: Path, write) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(descriptor)
    try:
        write(Path(temporary))
        # mkstemp (and safetensors) create files readable by their owner only; give the
        # file the mode any new file gets under the user's umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_checkpoint_info(folder: str | Path) -> CheckpointInfo:
    """Read and validate ``config.json`` without building the model."""
    folder = Path(folder)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"{folder} is not a TextMask checkpoint: {CONFIG_FILE} is missing")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{config_path} is not valid JSON: {error}") from error
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f'{config_path} is not a TextMask checkpoint config (expected "format": '
            f'"{CHECKPOINT_FORMAT}")'
        )
    version = document.get("format_version")
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{config_path} has checkpoint format version {version}; this TextMask reads "
            f"version {CHECKPOINT_VERSION}. Update TextMask to load it"
        )
    try:
        config = ModelConfig.from_dict(document["model"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{config_path} has an invalid model config: {error}") from error
    return CheckpointInfo(
        path=folder,
        preset=str(document.get("preset", "custom")),
        config=config,
        metadata=dict(document.get("metadata", {})),
    )


def load_checkpoint(folder: str | Path) -> tuple[TextMaskModel, CheckpointInfo]:
    """Rebuild the model from the folder's config and load its weights.

    Raises ``CheckpointError`` for a missing, corrupt or foreign file, and for tensors whose
    names or shapes disagree with the config (the message names the config field).
    """
    info = read_checkpoint_info(folder)
    tensors = read_weights(info.path / WEIGHTS_FILE)
    model = TextMaskModel(info.config)
    load_stored_state(model, tensors, source=info.path / WEIGHTS_FILE)
    return model, info


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint weights {path} are missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({error}); the file is corrupt or "
            "was not written by TextMask"
        ) from error


def load_stored_state(model: TextMaskModel, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``tensors`` into ``model`` after checking names and shapes."""
    expected = stored_state_dict(model)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(
        name for name in set(tensors) - set(expected) if not name.startswith("extra.")
    )
    if missing or unexpected:
        details = []
        if missing:
            details.append(f"missing {_summarise_names(missing)}")
        if unexpected:
            details.append(f"unexpected {_summarise_names(unexpected)}")
        raise CheckpointError(
            f"{source} does not match its model config: {'; '.join(details)} "
            f"(config field {_config_field(missing + unexpected)!r})"
        )
    for name, tensor in expected.items():
        if tensors[name].shape != tensor.shape:
            raise CheckpointError(
                f"{source}: tensor {name!r} has shape {tuple(tensors[name].shape)} in the file "
                f"but {tuple(tensor.shape)} in a model built from config field "
                f"{_config_field([name])!r}"
            )
    model.load_state_dict({name: tensors[name] for name in expected}, strict=False)


def _summarise_names(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return f"{len(names)} tensor(s): {shown}" + (", ..." if len(names) > 3 else "")


def _config_field(names: list[str]) -> str:
    """Map a state-dict name such as ``fusion.lateral.0.0.weight`` to its config field."""
    return names[0].split(".", 1)[0] if names else "model"
