"""Predict masks for prompts on one image at a time, reusing encoded images and prompts."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import torch
from numpy.typing import NDArray

from textmask_core.devices import autocast_context, select_device
from textmask_core.imageio import LoadedImage
from textmask_core.model.text_encoders import TextFeatures
from textmask_core.model.textmask_model import ImageFeatures, TextMaskModel
from textmask_core.preprocess import Letterbox, prepare_image, restore_map

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
DEFAULT_PRESENCE_THRESHOLD = 0.5

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class LRUCache(Generic[Key, Value]):
    """A small least-recently-used cache with a fixed number of entries."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"cache capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[Key, Value] = OrderedDict()

    def get(self, key: Key) -> Value | None:
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Key, value: Value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one prompt on one image.

    pixel_probabilities: float32 (H, W) in [0, 1] at the original image size.
    presence: probability in [0, 1] that the prompt names something in the image.
    probabilities: pixel_probabilities, or all zeros when presence < presence_threshold.
    """

    prompt: str
    pixel_probabilities: NDArray[np.float32]
    presence: float
    presence_threshold: float

    @property
    def is_present(self) -> bool:
        return self.presence >= self.presence_threshold

    @property
    def probabilities(self) -> NDArray[np.float32]:
        if self.is_present:
            return self.pixel_probabilities
        return np.zeros_like(self.pixel_probabilities)

    def mask(self, threshold: float = DEFAULT_THRESHOLD) -> NDArray[np.bool_]:
        """Return the boolean mask of pixels whose probability is at least ``threshold``."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if not self.is_present:
            return np.zeros(self.pixel_probabilities.shape, dtype=bool)
        return self.pixel_probabilities >= threshold


@dataclass(frozen=True)
class _EncodedImage:
    features: ImageFeatures
    geometry: Letterbox


class Predictor:
    """Runs a ``TextMaskModel`` for interactive use.

    ``set_image`` encodes an image once (kept in an LRU cache of ``image_cache_size`` images);
    each ``predict`` then runs only the text encoder (cached per prompt), fusion and mask head.
    Not thread-safe: use one predictor per thread, or a lock around it.
    """

    def __init__(
        self,
        model: TextMaskModel,
        device: str = "auto",
        *,
        image_cache_size: int = 4,
        text_cache_size: int = 256,
        presence_threshold: float = DEFAULT_PRESENCE_THRESHOLD,
    ) -> None:
        self.device = select_device(device)
        self.model = model.to(self.device).eval()
        self.presence_threshold = presence_threshold
        self._images: LRUCache[Hashable, _EncodedImage] = LRUCache(image_cache_size)
        self._texts: LRUCache[str, TextFeatures] = LRUCache(text_cache_size)
        self._current: _EncodedImage | None = None

    def set_image(
        self, image: LoadedImage | NDArray[np.uint8], key: Hashable | None = None
    ) -> None:
        """Encode ``image`` (or take it from the cache) and make it the current image.

        ``key`` identifies the image in the cache; by default a loaded image is keyed by its
        path and size and an array by a hash of its bytes.
        """
        pixels = image.pixels if isinstance(image, LoadedImage) else image
        cache_key = key if key is not None else _default_key(image)
        cached = self._images.get(cache_key)
        if cached is None:
            cached = self._encode_image(pixels)
            self._images.put(cache_key, cached)
        self._current = cached

    def predict(self, prompt: str) -> Prediction:
        return self.predict_many([prompt])[0]

    def predict_many(self, prompts: Sequence[str]) -> list[Prediction]:
        """Predict one mask per prompt on the current image."""
        if self._current is None:
            raise RuntimeError("call set_image before predict")
        cleaned = [_clean_prompt(prompt) for prompt in prompts]
        if not cleaned:
            return []
        text = self._text_features(cleaned)
        with torch.inference_mode(), autocast_context(self.device):
            output = self.model.decode(self._current.features, text)
        probabilities = torch.sigmoid(output.mask_logits.float())[:, 0].cpu().numpy()
        presences = torch.sigmoid(output.presence_logits.float()).cpu().numpy()
        return [
            Prediction(
                prompt=prompt,
                pixel_probabilities=restore_map(probabilities[index], self._current.geometry),
                presence=float(presences[index]),
                presence_threshold=self.presence_threshold,
            )
            for index, prompt in enumerate(cleaned)
        ]

    def clear_cache(self) -> None:
        self._images.clear()
        self._texts.clear()
        self._current = None

    def _encode_image(self, pixels: NDArray[np.uint8]) -> _EncodedImage:
        mean, std = self.model.normalization
        config = self.model.config
        tensor, geometry = prepare_image(
            pixels, config.input_size, mean, std, config.aspect_buckets
        )
        with torch.inference_mode(), autocast_context(self.device):
            features = self.model.encode_image(tensor.unsqueeze(0).to(self.device))
        return _EncodedImage(features=features, geometry=geometry)

    def _text_features(self, prompts: list[str]) -> TextFeatures:
        missing = [prompt for prompt in dict.fromkeys(prompts) if self._texts.get(prompt) is None]
        if missing:
            with torch.inference_mode(), autocast_context(self.device):
                encoded = self.model.encode_text(missing)
            for index, prompt in enumerate(missing):
                self._texts.put(prompt, encoded.select(torch.tensor([index])))
        return _stack_text([self._texts.get(prompt) for prompt in prompts])


def _clean_prompt(prompt: str) -> str:
    cleaned = " ".join(prompt.split())
    if not cleaned:
        raise ValueError("the prompt is empty; type what to mask, for example 'car'")
    return cleaned


def _stack_text(parts: list[TextFeatures | None]) -> TextFeatures:
    """Concatenate single-prompt features, padding the token axis to the longest prompt."""
    present = [part for part in parts if part is not None]
    longest = max(part.tokens.shape[1] for part in present)
    tokens, masks = [], []
    for part in present:
        pad = longest - part.tokens.shape[1]
        tokens.append(torch.nn.functional.pad(part.tokens, (0, 0, 0, pad)))
        masks.append(torch.nn.functional.pad(part.attention_mask, (0, pad), value=False))
    pooled = torch.cat([part.pooled for part in present])
    return TextFeatures(tokens=torch.cat(tokens), attention_mask=torch.cat(masks), pooled=pooled)


def _default_key(image: LoadedImage | NDArray[np.uint8]) -> Hashable:
    if isinstance(image, LoadedImage):
        return ("path", str(image.path), image.width, image.height)
    digest = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).hexdigest()
    return ("array", image.shape, digest)
