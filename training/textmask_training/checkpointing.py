"""Training state beside a checkpoint, so an interrupted run continues with the same next step.

A run's ``out/last`` folder is a normal checkpoint (``save_checkpoint``) of the latest step plus:

- ``training_state.json``: counters, best metric, the run's config and the Python and NumPy
  random states;
- ``optimizer.safetensors``: the AdamW moments, one tensor per parameter and moment;
- ``training_state.safetensors``: the torch random states and the L2-SP starting weights.

Nothing is pickled. The learning-rate schedule is a function of the step, so the step counter
restores it.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as serialize_tensors

from textmask_core.atomic import atomic_write_bytes
from textmask_core.errors import CheckpointError
from textmask_core.model import TextMaskModel, save_checkpoint
from textmask_core.model.checkpoint import CONFIG_FILE

logger = logging.getLogger(__name__)

STATE_FORMAT = "textmask-training-state"
STATE_VERSION = 1
LAST_FOLDER = "last"
STATE_FILE = "training_state.json"
OPTIMIZER_FILE = "optimizer.safetensors"
TENSORS_FILE = "training_state.safetensors"


@dataclass
class Counters:
    """Progress counters of a run, updated in place by the trainer and saved as JSON."""

    step: int = 0  # finished optimizer steps
    epoch: int = 0  # the epoch the next step belongs to
    batch_in_epoch: int = 0  # batches of that epoch already taken
    best_metric: float | None = None  # best validation mean IoU so far
    best_step: int | None = None
    evals_without_improvement: int = 0
    metrics_before: dict[str, Any] | None = None  # validation summary of the starting model
    best_metrics: dict[str, Any] | None = None
    elapsed_seconds: float = 0.0  # training time of earlier sessions of this run
    finished: bool = False  # early stopping ended the run


@dataclass(frozen=True)
class SavedState:
    counters: Counters
    config: dict[str, Any]
    random_state: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(repr=False)
    optimizer: dict[str, Any] = field(repr=False)


def resume_folder(path: Path) -> Path:
    """Return the folder with the training state: ``path`` itself or ``path/last``."""
    for candidate in (path, path / LAST_FOLDER):
        if (candidate / STATE_FILE).is_file():
            return candidate
    raise CheckpointError(
        f"no training state in {path}: expected {STATE_FILE} there or in {path / LAST_FOLDER}; "
        "pass the --out folder of an earlier run"
    )


def save_training_state(
    folder: Path,
    model: TextMaskModel,
    optimizer: torch.optim.Optimizer,
    counters: Counters,
    config: dict[str, Any],
    extra_tensors: dict[str, torch.Tensor],
    metadata: dict[str, Any],
) -> None:
    """Write the checkpoint and the training state; the JSON goes last, so a state file only
    exists next to complete tensors."""
    save_checkpoint(model, folder, preset="custom", metadata=metadata)
    moments, groups = _split_optimizer(optimizer)
    atomic_write_bytes(folder / OPTIMIZER_FILE, serialize_tensors(moments))
    tensors = {**random_tensors(), **{f"anchor.{name}": t for name, t in extra_tensors.items()}}
    atomic_write_bytes(folder / TENSORS_FILE, serialize_tensors(tensors))
    document = {
        "format": STATE_FORMAT,
        "format_version": STATE_VERSION,
        "counters": asdict(counters),
        "config": config,
        "random_state": random_state_json(),
        "param_groups": groups,
    }
    atomic_write_bytes(folder / STATE_FILE, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    logger.debug("saved training state at step %d to %s", counters.step, folder)


def load_training_state(folder: Path) -> SavedState:
    document = _read_document(folder / STATE_FILE)
    tensors = load_file(str(folder / TENSORS_FILE))
    moments = load_file(str(folder / OPTIMIZER_FILE))
    return SavedState(
        counters=Counters(**document["counters"]),
        config=document["config"],
        random_state=document["random_state"],
        tensors=tensors,
        optimizer=_join_optimizer(moments, document["param_groups"]),
    )


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"cannot read the training state {path}: {error}") from error
    if document.get("format") != STATE_FORMAT or document.get("format_version") != STATE_VERSION:
        raise CheckpointError(
            f"{path} is not a TextMask training state of version {STATE_VERSION}; "
            "it was written by another program or another TextMask version"
        )
    return document


def anchor_tensors(state: SavedState) -> dict[str, torch.Tensor]:
    prefix = "anchor."
    return {name[len(prefix) :]: t for name, t in state.tensors.items() if name.startswith(prefix)}


def has_checkpoint(folder: Path) -> bool:
    return (folder / CONFIG_FILE).is_file()


# --- optimizer ---------------------------------------------------------------------------------


def _split_optimizer(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Return the per-parameter state as flat tensors and the param groups as JSON."""
    state = optimizer.state_dict()
    moments = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            moments[f"{index}.{key}"] = tensor.detach().cpu().contiguous()
    return moments, state["param_groups"]


def _join_optimizer(
    moments: dict[str, torch.Tensor], groups: list[dict[str, Any]]
) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in moments.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    return {"state": state, "param_groups": groups}


# --- random state ------------------------------------------------------------------------------


def random_tensors() -> dict[str, torch.Tensor]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    return tensors


def random_state_json() -> dict[str, Any]:
    version, python_state, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(python_state), gauss],
        "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)],
    }


def restore_random_state(state: SavedState) -> None:
    version, python_state, gauss = state.random_state["python"]
    random.setstate((version, tuple(python_state), gauss))
    kind, keys, position, has_gauss, cached = state.random_state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state.tensors["rng.torch"])
    cuda_states = [
        state.tensors[f"rng.cuda.{i}"]
        for i in range(torch.cuda.device_count())
        if f"rng.cuda.{i}" in state.tensors
    ]
    if cuda_states:
        torch.cuda.set_rng_state_all(cuda_states)
