"""Caches of encoder outputs: image features on disk, prompt features in memory.

Image features are only valid for the exact encoder weights and input size, so the cache
folder is named by a fingerprint of the image encoder's config, the input size and, when the
encoder's weights are not those its config loads (random or trained weights), a hash of those
weights. Freezing changes no feature, so a run that unfreezes stages of a pretrained encoder
uses the frozen model's cache until its weights change. Files are
named by a hash of the image file's bytes, so a renamed image still hits and an edited one
misses. A flipped photo and each fixed zoom window of it get files of their own. Each file
contains the four maps as float16. When the last encoder stages train,
their maps are recomputed at each use from the cached map before them, so in effect only the
frozen stages are cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import platformdirs
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as serialize_tensors

from textmask_core.atomic import atomic_write_bytes
from textmask_core.devices import autocast_context
from textmask_core.imageio import load_image, read_image_size
from textmask_core.model import TextMaskModel
from textmask_core.model.image_encoders import build_image_encoder
from textmask_core.model.text_encoders import TextFeatures
from textmask_core.preprocess import canvas_size, prepare_image
from textmask_training.data.augment import AugmentationConfig, cut_window, zoom_windows

logger = logging.getLogger(__name__)

FEATURE_NAMES = ("stride_4", "stride_8", "stride_16", "stride_32")

CacheKey = tuple[Path, bool] | tuple[Path, bool, int | None]
"""(image, flipped) or (image, flipped, window index), where the index points into the
photo's ``zoom_windows``."""


def default_cache_dir() -> Path:
    """Return ``<user cache dir>/TextMask`` (``~/.cache/TextMask`` on Linux)."""
    return Path(platformdirs.user_cache_dir("TextMask", appauthor=False))


def file_digest(path: Path) -> str:
    """Return the BLAKE2b hash (32 hex digits) of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encoder_fingerprint(model: TextMaskModel) -> str:
    """Return a hash that changes whenever the image features of an image would change."""
    # Which stages train does not change the features. The config is described as frozen, so
    # caches written before this rule keep their names.
    encoder_config = replace(model.config.image_encoder, frozen=True, trainable_stages=0)
    description = {
        "image_encoder": asdict(encoder_config),
        "input_size": model.config.input_size,
        "class": type(model.image_encoder).__name__,
    }
    if model.config.aspect_buckets:  # only then, so that square models keep their caches
        description["aspect_buckets"] = True
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode())
    if _weights_differ_from_source(model):
        # Weights that live in the checkpoint (random or fine-tuned) are part of the identity.
        for name, tensor in sorted(model.image_encoder.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def _weights_differ_from_source(model: TextMaskModel) -> bool:
    """Return whether the image encoder's weights or buffers differ from those its config loads
    from a package or a file. Random weights (no source) always count as different."""
    config = model.config.image_encoder
    if config.weights is None:
        return True
    if "image_encoder." not in model.stored_prefixes():
        return False  # a fully frozen encoder is rebuilt from its source when loaded
    reference = build_image_encoder(config).state_dict()
    current = model.image_encoder.state_dict()
    return current.keys() != reference.keys() or any(
        not torch.equal(current[name].cpu(), tensor) for name, tensor in reference.items()
    )


class ImageFeatureCache:
    """Float16 image features on disk, one safetensors file per (image, flipped, window)."""

    def __init__(
        self,
        root: Path,
        model: TextMaskModel,
        window_zoom: float = AugmentationConfig.window_zoom,
    ) -> None:
        self.folder = Path(root) / "features" / encoder_fingerprint(model)
        self.window_zoom = window_zoom  # windows are the photo's ``zoom_windows`` at this zoom
        self._digests: dict[Path, str] = {}
        # Maps from this index on come from trained encoder stages. The cached ones are the
        # starting weights' output, so each use recomputes them from the map before them.
        self.recompute_from = model.image_encoder.first_trained_map()

    def complete(self, model: TextMaskModel, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        """Return the maps ``model`` computes now: the cached ones, with trained stages rerun."""
        if self.recompute_from >= len(FEATURE_NAMES):
            return maps
        if self.recompute_from == 0:
            raise ValueError(
                "cached features cannot serve a model whose stem or first stage trains, so "
                "encode images online"
            )
        return model.image_encoder.forward_from(maps, self.recompute_from)

    def file_for(self, image_path: Path, flipped: bool, window: int | None = None) -> Path:
        digest = self._digests.get(image_path) or file_digest(image_path)
        self._digests[image_path] = digest
        suffix = "-flipped" if flipped else ""
        if window is not None:  # the zoom is in the name, since another zoom crops other pixels
            suffix += f"-window{window}-zoom{self.window_zoom:g}"
        return self.folder / digest[:2] / f"{digest}{suffix}.safetensors"

    def load(
        self, image_path: Path, flipped: bool, window: int | None = None
    ) -> list[torch.Tensor]:
        """Return the four float16 maps (C, h, w); raise ``KeyError`` when the file is missing."""
        file = self.file_for(image_path, flipped, window)
        try:
            tensors = load_file(str(file))
        except (FileNotFoundError, SafetensorError, OSError) as error:
            raise KeyError(
                f"no cached features for {image_path} (flipped={flipped}, window={window}) "
                f"in {file}"
            ) from error
        return [tensors[name] for name in FEATURE_NAMES]

    def fill(
        self,
        model: TextMaskModel,
        images: Sequence[CacheKey],
        device: torch.device,
        batch_size: int = 8,
    ) -> int:
        """Encode the keys that have no file yet; return how many were encoded."""
        keys = [_full_key(key) for key in images]
        missing = [key for key in dict.fromkeys(keys) if not self.file_for(*key).is_file()]
        if missing:
            logger.info("encoding %d image(s) into the feature cache %s", len(missing), self.folder)
        # A batch needs one canvas shape, so images are encoded in groups of equal canvas. A
        # window is padded to its photo's canvas, as a zoom-crop is in online training.
        config = model.config
        by_canvas: dict[tuple[int, int], list[tuple[Path, bool, int | None]]] = defaultdict(list)
        for key in missing:
            width, height = read_image_size(key[0])
            shape = canvas_size(height, width, config.input_size, config.aspect_buckets)
            by_canvas[shape].append(key)
        for shape, shape_keys in by_canvas.items():
            for start in range(0, len(shape_keys), batch_size):
                self._encode_batch(model, shape_keys[start : start + batch_size], shape, device)
        return len(missing)

    def _encode_batch(
        self,
        model: TextMaskModel,
        keys: list[tuple[Path, bool, int | None]],
        shape: tuple[int, int],
        device: torch.device,
    ) -> None:
        mean, std = model.normalization
        tensors = []
        for path, flipped, window in keys:
            pixels = load_image(path).pixels
            pixels = pixels[:, ::-1].copy() if flipped else pixels
            if window is not None:
                pixels = cut_window(
                    pixels, zoom_windows(*pixels.shape[:2], self.window_zoom)[window]
                )
            image, _ = prepare_image(pixels, model.config.input_size, mean, std, shape)
            tensors.append(image)
        with torch.inference_mode(), autocast_context(device):
            maps = model.encode_image(torch.stack(tensors).to(device))
        for row, key in enumerate(keys):
            self._write(self.file_for(*key), [level[row] for level in maps])

    def _write(self, file: Path, maps: list[torch.Tensor]) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        tensors = {
            name: level.detach().to("cpu", torch.float16).contiguous().clone()
            for name, level in zip(FEATURE_NAMES, maps, strict=True)
        }
        atomic_write_bytes(file, serialize_tensors(tensors))


def _full_key(key: CacheKey) -> tuple[Path, bool, int | None]:
    return (key[0], key[1], key[2] if len(key) > 2 else None)  # type: ignore[misc]


class TextFeatureCache:
    """Encoded prompts of a text encoder that does not train, kept in memory per prompt."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def encode(self, model: TextMaskModel, prompts: Sequence[str]) -> TextFeatures:
        missing = [prompt for prompt in dict.fromkeys(prompts) if prompt not in self._items]
        if missing:
            with torch.no_grad():
                encoded = model.encode_text(missing)
            for row, prompt in enumerate(missing):
                length = int(encoded.attention_mask[row].sum())
                self._items[prompt] = (
                    encoded.tokens[row, :length].float(),
                    encoded.pooled[row].float(),
                )
        return _stack([self._items[prompt] for prompt in prompts])


def _stack(items: list[tuple[torch.Tensor, torch.Tensor]]) -> TextFeatures:
    """Pad per-prompt token features (T_i, C) to (P, T, C) with an attention mask."""
    longest = max(tokens.shape[0] for tokens, _ in items)
    channels = items[0][0].shape[1]
    device = items[0][0].device
    tokens = torch.zeros(len(items), longest, channels, device=device)
    attention_mask = torch.zeros(len(items), longest, dtype=torch.bool, device=device)
    for row, (token_features, _) in enumerate(items):
        tokens[row, : token_features.shape[0]] = token_features
        attention_mask[row, : token_features.shape[0]] = True
    pooled = torch.stack([pooled for _, pooled in items])
    return TextFeatures(tokens=tokens, attention_mask=attention_mask, pooled=pooled)
