"""The model's name and training state in the status bar, the prompt panel and the Model menu."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from app_support import make_window

from textmask_core.model import (
    DEFAULT_MODEL,
    ModelEntry,
    build_model,
    save_checkpoint,
    user_models_dir,
)
from textmask_core.model.catalog import shipped_models_dir
from textmask_core.model.checkpoint import CONFIG_FILE
from textmask_desktop.main_window import MainWindow
from textmask_desktop.model_menu import (
    UNTRAINED_WARNING,
    describe_model,
    model_menu_items,
    short_model_name,
)

SHIPPED_DEFAULT = (shipped_models_dir() / DEFAULT_MODEL / CONFIG_FILE).is_file()
# Without the shipped model, "default" loads the untrained fallback preset.
DEFAULT_TEXT = DEFAULT_MODEL if SHIPPED_DEFAULT else "offline-default (untrained)"


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def _checkpoint(folder: Path) -> Path:
    """Save the tiny preset as a checkpoint folder, which the app treats as a trained model."""
    return save_checkpoint(build_model("tiny"), folder, preset="tiny")


def _start(qtbot, window: MainWindow, model: str) -> None:
    with qtbot.waitSignal(window.predictions.model_ready, timeout=60_000):
        window.start(None, model)
    qtbot.waitUntil(lambda: not window.predictions.is_busy, timeout=30_000)


def _menu_texts(window: MainWindow) -> list[str]:
    return [action.text() for action in window.window_actions.model_group.actions()]


def _checked_texts(window: MainWindow) -> list[str]:
    actions = window.window_actions.model_group.actions()
    return [action.text() for action in actions if action.isChecked()]


def test_untrained_preset_is_named_plainly(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    _start(qtbot, window, "tiny")

    label = window.status_widgets.model_label
    assert label.text() == "Model: tiny (untrained: masks are meaningless)"
    assert "random weights" in label.toolTip()
    assert not window.prompt_panel.model_warning.isHidden()
    assert window.prompt_panel.model_warning.text() == UNTRAINED_WARNING
    assert _checked_texts(window) == ["tiny (untrained)"]
    window.close()


@pytest.mark.skipif(SHIPPED_DEFAULT, reason="the trained default model is installed")
def test_missing_shipped_default_says_untrained(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    _start(qtbot, window, "default")

    assert window.predictions.handle.entry.name == "offline-default"
    text = window.status_widgets.model_label.text()
    assert text == "Model: offline-default (untrained: masks are meaningless)"
    assert "ready" not in text
    assert _checked_texts(window) == ["offline-default (untrained)"]
    assert window.settings.last_model == "default"
    window.close()


def test_checkpoint_folder_is_trained(qtbot, tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "models" / "street-signs")
    window = make_window(qtbot, tmp_path)
    _start(qtbot, window, str(folder))

    label = window.status_widgets.model_label
    assert label.text() == "Model: street-signs"
    assert label.toolTip() == str(folder)
    assert window.prompt_panel.model_warning.isHidden()
    assert _checked_texts(window) == ["street-signs (folder)"]
    window.close()


@pytest.mark.skipif(not SHIPPED_DEFAULT, reason="the trained default model is not installed")
def test_shipped_default_is_trained(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    _start(qtbot, window, "default")

    assert window.status_widgets.model_label.text() == "Model: default"
    assert window.prompt_panel.model_warning.isHidden()
    assert _checked_texts(window) == ["default"]
    window.close()


def test_folder_start_still_offers_others(qtbot, tmp_path: Path) -> None:
    _checkpoint(user_models_dir() / "mine")
    folder = _checkpoint(tmp_path / "m")
    window = make_window(qtbot, tmp_path)
    _start(qtbot, window, str(folder))

    assert _menu_texts(window) == [DEFAULT_TEXT, "mine (fine-tuned)", "m (folder)"]
    assert _checked_texts(window) == ["m (folder)"]
    assert all(str(tmp_path) not in text for text in _menu_texts(window))

    default_action = window.window_actions.model_group.actions()[0]
    with qtbot.waitSignal(window.predictions.model_ready, timeout=60_000) as ready:
        default_action.trigger()
    assert ready.args == ["default"]
    qtbot.waitUntil(lambda: not window.predictions.is_busy, timeout=30_000)
    assert _checked_texts(window) == [DEFAULT_TEXT]
    window.close()


def test_user_model_by_path_listed_once(qtbot, tmp_path: Path) -> None:
    """Switching to a fine-tuned model by its folder, as "Use the new model" does."""
    folder = _checkpoint(user_models_dir() / "tiny-ft-20260101-120000")
    window = make_window(qtbot, tmp_path)
    _start(qtbot, window, "tiny")
    with qtbot.waitSignal(window.predictions.model_ready, timeout=60_000):
        window.switch_model(str(folder))
    qtbot.waitUntil(lambda: not window.predictions.is_busy, timeout=30_000)

    texts = _menu_texts(window)
    assert texts.count("tiny-ft-20260101-120000 (fine-tuned)") == 1
    assert not any(str(folder) in text for text in texts)
    assert _checked_texts(window) == ["tiny-ft-20260101-120000 (fine-tuned)"]
    assert window.status_widgets.model_label.text() == "Model: tiny-ft-20260101-120000"
    window.close()


def test_failed_load_keeps_loaded_name(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    _start(qtbot, window, "tiny")
    with qtbot.waitSignal(window.predictions.model_failed, timeout=30_000):
        window.switch_model(str(tmp_path / "no-such-model"))
    qtbot.waitUntil(lambda: not window.predictions.is_busy, timeout=30_000)

    assert window.status_widgets.model_label.text().startswith("Model: tiny (untrained")
    assert "no-such-model failed; still using tiny" in window.statusBar().currentMessage()
    assert window.errors.current_box is not None  # the reason is in the error dialog
    window.close()


def test_menu_items_deduplicate_by_folder(tmp_path: Path) -> None:
    user = tmp_path / "user" / "ft"
    user.mkdir(parents=True)
    shipped = ModelEntry("default", tmp_path / "shipped" / "default", "shipped")
    installed = [shipped, ModelEntry("ft", user, "user")]
    current = ModelEntry("ft", tmp_path / "user" / ".." / "user" / "ft", "path")

    items = model_menu_items(installed, shipped, current, str(current.path))

    assert [item.text for item in items] == ["default", "ft (fine-tuned)"]
    assert [item.request for item in items] == ["default", "ft"]
    assert [item.checked for item in items] == [False, True]


def test_menu_items_same_name_use_paths(tmp_path: Path) -> None:
    shipped = ModelEntry("default", tmp_path / "shipped" / "default", "shipped")
    user = ModelEntry("default", tmp_path / "user" / "default", "user")

    items = model_menu_items([shipped, user], shipped, None, None)

    assert [item.text for item in items] == ["default", "default (fine-tuned)"]
    assert [item.request for item in items] == [str(shipped.path), str(user.path)]
    assert not any(item.checked for item in items)


def test_describe_model_and_short_names(tmp_path: Path) -> None:
    assert describe_model(ModelEntry("default", tmp_path, "shipped")) == "default"
    assert describe_model(ModelEntry("offline-default", None, "preset")) == (
        "offline-default (untrained: masks are meaningless)"
    )
    assert short_model_name("/home/ada/models/street-signs") == "street-signs"
    assert short_model_name("tiny") == "tiny"


def test_menu_items_missing_default_fallback(tmp_path: Path) -> None:
    fallback = ModelEntry("offline-default", None, "preset")
    user = ModelEntry("ft", tmp_path / "ft", "user")

    items = model_menu_items([user], fallback, fallback, DEFAULT_MODEL)

    assert [item.text for item in items] == ["offline-default (untrained)", "ft (fine-tuned)"]
    assert [item.request for item in items] == [DEFAULT_MODEL, "ft"]
    assert [item.checked for item in items] == [True, False]
    assert "not installed" in items[0].tooltip
