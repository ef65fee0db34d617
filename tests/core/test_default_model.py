"""The shipped default model loads offline and answers a present and an absent prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from textmask_core.imageio import load_image, load_mask
from textmask_core.model import load_model, resolve_model
from textmask_core.predictor import Predictor

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    entry = resolve_model(None)
    assert entry.source == "shipped", "resources/models/default is missing from the package"
    model, _ = load_model(None)
    return Predictor(model, "cpu")


def test_default_model_is_shipped_checkpoint(predictor):
    entry = resolve_model("default")
    assert entry.path is not None
    assert (entry.path / "model.safetensors").stat().st_size < 25 * 1024 * 1024


def test_present_class_gets_its_mask(predictor):
    predictor.set_image(load_image(PHOTOS / "bus.jpg"))
    mask = predictor.predict("bus").mask()
    truth = load_mask(PHOTOS / "bus_mask.png")
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.6


@pytest.mark.parametrize("prompt", ["necklace", "sunglasses"])
def test_absent_class_gets_empty_mask(predictor, prompt):
    # The model still returns a mask for many absent prompts (see docs/model-card.md). These
    # two accessories are absent from the street photo, so their masks must cover under 1 %.
    predictor.set_image(load_image(PHOTOS / "bus.jpg"))
    assert predictor.predict(prompt).mask().mean() < 0.01
