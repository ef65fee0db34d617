"""Model names in the window: the Model menu's entries and the status-bar text.

A model is a trained checkpoint folder (shipped, fine-tuned by the user, or any folder), or a
preset whose fusion and mask head are untrained, so its masks are meaningless. The catalog
falls back to the untrained offline-default preset when the shipped default model is missing.
The window states which case applies, and names every model by its name, never by its path.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu

from textmask_core.model import DEFAULT_MODEL, ModelEntry

logger = logging.getLogger(__name__)

UNTRAINED_NOTE = "untrained: masks are meaningless"
UNTRAINED_WARNING = "Untrained model: masks are meaningless."
UNTRAINED_HINT = (
    "This model's fusion and mask head have random weights. Choose a trained model in the "
    "Model menu, install the shipped default model, or fine-tune on corrected masks."
)
MISSING_DEFAULT_HINT = (
    "The shipped default model is not installed, so 'default' loads this untrained preset."
)


@dataclass(frozen=True)
class ModelMenuItem:
    """One entry of the Model menu."""

    text: str
    request: str  # the name or folder that switch_model passes to the catalog
    tooltip: str
    checked: bool


def is_trained(entry: ModelEntry) -> bool:
    """Return whether `entry` is a checkpoint folder, as opposed to an untrained preset."""
    return entry.path is not None and entry.source != "preset"


def describe_model(entry: ModelEntry) -> str:
    """Return the model's name for the status bar, with the warning for an untrained one."""
    return entry.name if is_trained(entry) else f"{entry.name} ({UNTRAINED_NOTE})"


def short_model_name(request: str) -> str:
    """Return the folder name of a checkpoint path, or `request` itself when it is a name."""
    if "/" in request or "\\" in request:
        return Path(request).name or request
    return request


def model_identity(entry: ModelEntry) -> tuple[str, str]:
    """Return what makes two entries the same model: the resolved folder, or the preset name."""
    if entry.path is None:
        return ("preset", entry.name)
    return ("folder", str(entry.path.expanduser().resolve()))


def model_menu_items(
    installed: Sequence[ModelEntry],
    default: ModelEntry,
    current: ModelEntry | None,
    current_request: str | None,
) -> list[ModelMenuItem]:
    """List the Model menu: the default, the shipped and fine-tuned models, then the current one.

    `installed` is the catalog's list_models(), `default` what the catalog resolves "default"
    to (the untrained fallback preset when the shipped model is missing), and `current` the
    loaded model, requested as `current_request`. Entries that name the same folder or the same
    preset appear once, so a fine-tuned model opened by its path is not listed twice.
    """
    duplicates = {name for name, count in Counter(e.name for e in installed).items() if count > 1}
    candidates: list[tuple[ModelEntry, ModelMenuItem]] = []
    if not is_trained(default):
        candidates.append((default, _item(default, DEFAULT_MODEL, MISSING_DEFAULT_HINT)))
    for entry in installed:
        request = str(entry.path) if entry.name in duplicates else entry.name
        candidates.append((entry, _item(entry, request, str(entry.path))))
    if current is not None and current_request is not None:
        tooltip = str(current.path) if current.path is not None else UNTRAINED_HINT
        candidates.append((current, _item(current, current_request, tooltip)))

    current_identity = model_identity(current) if current is not None else None
    items: list[ModelMenuItem] = []
    seen: set[tuple[str, str]] = set()
    for entry, item in candidates:
        identity = model_identity(entry)
        if identity in seen:
            continue
        seen.add(identity)
        checked = identity == current_identity
        items.append(ModelMenuItem(item.text, item.request, item.tooltip, checked))
    return items


def _item(entry: ModelEntry, request: str, tooltip: str) -> ModelMenuItem:
    if not is_trained(entry):
        text = f"{entry.name} (untrained)"
    elif entry.source == "user":
        text = f"{entry.name} (fine-tuned)"
    elif entry.source == "path":
        text = f"{entry.name} (folder)"
    else:
        text = entry.name
    return ModelMenuItem(text, request, tooltip, checked=False)


def fill_model_menu(
    menu: QMenu,
    group: QActionGroup,
    items: Sequence[ModelMenuItem],
    choose: Callable[[str], None],
) -> None:
    """Replace the model actions in `menu` and `group`; `choose(request)` runs on a click."""
    menu.clear()
    for action in group.actions():
        group.removeAction(action)
    menu.setToolTipsVisible(True)
    for item in items:
        action = menu.addAction(item.text)
        action.setToolTip(item.tooltip)
        action.setCheckable(True)
        action.setChecked(item.checked)
        action.triggered.connect(lambda _checked=False, request=item.request: choose(request))
        group.addAction(action)
