"""Predictor: sizes, caching, thresholds and devices, on the tiny model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from textmask_core.errors import DeviceUnavailableError
from textmask_core.imageio import load_image
from textmask_core.model import build_model, preset_config
from textmask_core.predictor import LRUCache, Prediction, Predictor
from textmask_core.preprocess import letterbox_geometry, prepare_image, restore_map


@pytest.fixture
def predictor():
    torch.manual_seed(0)
    return Predictor(build_model("tiny"), device="cpu")


def _photo(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("size", [(480, 640), (640, 480), (37, 1001), (1, 1)])
def test_mask_has_original_size(predictor, size):
    predictor.set_image(_photo(*size))
    prediction = predictor.predict("car")
    assert prediction.pixel_probabilities.shape == size
    assert prediction.pixel_probabilities.dtype == np.float32
    assert prediction.mask().shape == size
    assert prediction.mask().dtype == bool


def test_probabilities_in_unit_range(predictor):
    predictor.set_image(_photo(100, 80))
    probabilities = predictor.predict("dog").pixel_probabilities
    assert probabilities.min() >= 0.0
    assert probabilities.max() <= 1.0


def test_reprompt_reuses_image_features(predictor, monkeypatch):
    predictor.set_image(_photo(60, 90))
    calls = []
    original = predictor.model.encode_image
    monkeypatch.setattr(predictor.model, "encode_image", lambda x: calls.append(1) or original(x))
    predictor.predict("cat")
    predictor.predict("the dog on the left")
    predictor.set_image(_photo(60, 90))  # same bytes: served from the cache
    assert calls == []


def test_prompt_features_cached(predictor, monkeypatch):
    predictor.set_image(_photo(60, 90))
    first = predictor.predict("cat")
    calls = []
    original = predictor.model.encode_text
    monkeypatch.setattr(predictor.model, "encode_text", lambda p: calls.append(p) or original(p))
    second = predictor.predict("cat")
    assert calls == []
    np.testing.assert_array_equal(first.pixel_probabilities, second.pixel_probabilities)


def test_many_prompts_match_single_prompts(predictor):
    predictor.set_image(_photo(50, 70))
    together = predictor.predict_many(["a", "the tall tree on the right"])
    alone = predictor.predict("the tall tree on the right")
    np.testing.assert_allclose(
        together[1].pixel_probabilities, alone.pixel_probabilities, atol=1e-5
    )


def test_empty_prompt_rejected(predictor):
    predictor.set_image(_photo(20, 20))
    with pytest.raises(ValueError, match="prompt is empty"):
        predictor.predict("   ")


def test_predict_before_set_image(predictor):
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict("car")


def test_absent_prediction_gives_empty_mask():
    probabilities = np.full((4, 5), 0.9, dtype=np.float32)
    absent = Prediction("x", probabilities, presence=0.2, presence_threshold=0.5)
    present = Prediction("x", probabilities, presence=0.8, presence_threshold=0.5)
    assert not absent.mask().any()
    assert not absent.probabilities.any()
    assert present.mask().all()


def test_threshold_bounds_checked():
    prediction = Prediction("x", np.zeros((2, 2), np.float32), 1.0, 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        prediction.mask(1.5)


def test_lru_cache_evicts_oldest():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert len(cache) == 2


def test_unavailable_named_device_is_error():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(DeviceUnavailableError, match="unavailable"):
        Predictor(build_model("tiny"), device="cuda")


def test_invalid_device_name_is_error():
    with pytest.raises(DeviceUnavailableError, match="invalid device name"):
        Predictor(build_model("tiny"), device="gpu please")


def test_letterbox_keeps_aspect_ratio():
    geometry = letterbox_geometry(480, 640, 384)
    assert geometry.resized_size == (288, 384)
    tall = letterbox_geometry(825, 550, 384)
    assert tall.resized_size == (384, 256)


@pytest.mark.parametrize(
    ("height", "width", "canvas", "resized"),
    [
        (825, 550, (640, 416), (624, 416)),  # a street-fashion photo: 2:3 bucket
        (480, 640, (448, 576), (432, 576)),  # a COCO photo: 4:3 bucket
        (500, 500, (512, 512), (512, 512)),
        (10, 1000, (352, 736), (7, 736)),  # wider than any bucket: the widest one
    ],
)
def test_aspect_bucket_canvas_sizes(height, width, canvas, resized):
    geometry = letterbox_geometry(height, width, 512, canvas=True)
    assert geometry.canvas_size == canvas
    assert geometry.resized_size == resized
    assert all(side % 32 == 0 for side in canvas)
    assert 0.85 < canvas[0] * canvas[1] / 512**2 < 1.1


def test_restore_map_bucket_canvas_exact():
    geometry = letterbox_geometry(300, 200, 128, canvas=True)
    assert geometry.canvas_size == (160, 96)
    assert geometry.resized_size == (144, 96)
    low = np.zeros((40, 24), np.float32)
    low[:18] = 1.0  # canvas rows 0 to 72: the top half of the 144-tall resized image
    restored = restore_map(low, geometry)
    assert restored.shape == (300, 200)
    assert restored[:140].min() > 0.5
    assert restored[160:].max() < 0.5


def test_bucket_predictor_keeps_photo_size():
    torch.manual_seed(0)
    config = dataclasses.replace(preset_config("tiny"), input_size=128, aspect_buckets=True)
    predictor = Predictor(build_model(config), device="cpu")
    predictor.set_image(_photo(300, 120))
    prediction = predictor.predict("car")
    assert prediction.pixel_probabilities.shape == (300, 120)
    # The 1:2 bucket's canvas is 192 x 96 pixels, 48 x 24 cells at stride 4.
    assert predictor._current.features[0].shape[-2:] == (48, 24)


def test_padding_is_zero_after_normalisation():
    tensor, geometry = prepare_image(_photo(100, 200), 64, (0.5,) * 3, (0.25,) * 3)
    assert tensor.shape == (3, 64, 64)
    assert geometry.resized_size == (32, 64)
    assert torch.all(tensor[:, 32:, :] == 0)


def test_restore_map_is_pixel_exact():
    # A map that is 1 on the left half of the resized image must come back as the left half.
    geometry = letterbox_geometry(300, 400, 64)
    low = np.zeros((16, 16), np.float32)
    low[:, :8] = 1.0  # left half of the 64-wide square, i.e. of the 64-wide resized image
    restored = restore_map(low, geometry)
    assert restored.shape == (300, 400)
    assert restored[:, :190].min() > 0.5
    assert restored[:, 210:].max() < 0.5


def test_exif_photo_predicts_at_display_size(predictor, cases_dir):
    image = load_image(cases_dir / "exif_orientation6.jpg")
    predictor.set_image(image)
    assert predictor.predict("red block").mask().shape == (640, 480)
