"""Everything a training run needs, built from its config: model, data, caches, optimizer."""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from textmask_core.model import TextMaskModel, build_model, load_checkpoint, load_model
from textmask_core.model.text_encoders import TextFeatures
from textmask_training.checkpointing import (
    LAST_FOLDER,
    Counters,
    SavedState,
    anchor_tensors,
    load_training_state,
    restore_random_state,
    resume_folder,
)
from textmask_training.config import TrainConfig
from textmask_training.data.absent import AbsentRows, absent_count
from textmask_training.data.assemble import TrainingData, assemble_data
from textmask_training.data.augment import WINDOW_COUNT
from textmask_training.data.rows import Letterboxing, TrainingRows, collate_rows
from textmask_training.data.sample import Sample
from textmask_training.data.sampler import ResumableSampler
from textmask_training.distributed import DistributedContext, barrier
from textmask_training.feature_cache import (
    CacheKey,
    ImageFeatureCache,
    TextFeatureCache,
    default_cache_dir,
)
from textmask_training.parts import (
    StartingPointPenalty,
    select_trainable,
    set_training_mode,
    trained_parts,
)

logger = logging.getLogger(__name__)


class TrainingForward(nn.Module):
    """The trained computation as one module, so DistributedDataParallel wraps every forward.

    Takes either images or cached image features, and either prompts or cached prompt features;
    returns (mask_logits, presence_logits, L2-SP penalty). The penalty is computed here because
    DistributedDataParallel counts every use of a parameter outside ``forward`` twice.
    """

    def __init__(self, model: TextMaskModel) -> None:
        super().__init__()
        self.model = model
        self.penalty: StartingPointPenalty | None = None  # set once the weights are final
        self.image_cache: ImageFeatureCache | None = None  # reruns trained stages on its maps

    def forward(
        self,
        images: torch.Tensor | None,
        features: list[torch.Tensor] | None,
        prompts: list[str],
        text: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if features is None:
            image_features = self.model.encode_image(images)
        elif self.image_cache is not None:
            image_features = self.image_cache.complete(self.model, features)
        else:
            image_features = features
        text_features = TextFeatures(*text) if text is not None else self.model.encode_text(prompts)
        output = self.model.decode(image_features, text_features)
        assert self.penalty is not None, "set the L2-SP penalty before the first step"
        return output.mask_logits, output.presence_logits, self.penalty(self.model)


@dataclass(eq=False)
class TrainingSession:
    config: TrainConfig
    context: DistributedContext
    model: TextMaskModel
    forward: nn.Module  # TrainingForward, wrapped in DistributedDataParallel when distributed
    optimizer: torch.optim.Optimizer
    penalty: StartingPointPenalty
    rows: TrainingRows
    sampler: ResumableSampler
    loader: DataLoader
    val: list[Sample]
    image_cache: ImageFeatureCache | None
    text_cache: TextFeatureCache | None
    counters: Counters
    total_steps: int
    description: dict[str, Any]

    @property
    def last_folder(self) -> Path:
        return self.config.out / LAST_FOLDER


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def effective_config(config: TrainConfig) -> tuple[TrainConfig, SavedState | None]:
    """Return the config to run and the saved state when ``config.resume`` is set."""
    if config.resume is None:
        return config, None
    state = load_training_state(resume_folder(config.resume))
    return TrainConfig.from_dict(state.config).resumed_with(config), state


def build_session(
    config: TrainConfig, context: DistributedContext, state: SavedState | None
) -> TrainingSession:
    seed_everything(config.seed)
    model = _load_model(config, state)
    select_trainable(model, config.trainable, config.image_trainable_stages)
    model.to(context.device)
    inner = TrainingForward(model)
    forward: nn.Module = inner
    if context.is_distributed:
        # Broadcasts rank 0's weights, so every rank starts identical even from random weights.
        # Without L2-SP some parameters (BERT's pooler) get no gradient; with it, the penalty
        # in forward uses every trained parameter.
        forward = DistributedDataParallel(
            forward,
            find_unused_parameters=config.l2sp_weight == 0,
            device_ids=[context.device] if context.device.type == "cuda" else None,
        )
    # After the broadcast above, so every rank pulls toward the same starting weights.
    inner.penalty = StartingPointPenalty(model, config.l2sp_weight)
    set_training_mode(model)
    data = _assemble(config)
    image_cache = _image_cache(config, model, context, data)
    inner.image_cache = image_cache
    rows = _training_rows(config, model, data.train, image_cache)
    sampler = ResumableSampler(
        len(rows),
        config.batch_size,
        config.seed,
        context.rank,
        context.world_size,
        groups=rows.canvas_keys if model.config.aspect_buckets else None,
    )
    session = TrainingSession(
        config=config,
        context=context,
        model=model,
        forward=forward,
        optimizer=_optimizer(model, config),
        penalty=inner.penalty,
        rows=rows,
        sampler=sampler,
        loader=_loader(rows, sampler, config),
        val=data.val,
        image_cache=image_cache,
        text_cache=None if "text_encoder" in trained_parts(model) else TextFeatureCache(),
        counters=Counters(),
        total_steps=_total_steps(config, sampler),
        description={**data.describe(), "absent_rows_per_epoch": len(rows) - len(data.train)},
    )
    if state is not None:
        _restore(session, state)
    return session


def _load_model(config: TrainConfig, state: SavedState | None) -> TextMaskModel:
    if state is not None:
        return load_checkpoint(resume_folder(config.resume))[0]  # type: ignore[arg-type]
    model = load_model(config.model)[0]
    if config.input_size is None or config.input_size == model.config.input_size:
        return model
    # The weights fit any input size, because the fusion takes positions as coordinates in
    # [-1, 1]. Building draws random weights, so the generator is forked: the run's random
    # state stays as if the starting folder had been saved at this size.
    with torch.random.fork_rng(devices=[]):
        resized = build_model(dataclasses.replace(model.config, input_size=config.input_size))
    resized.load_state_dict(model.state_dict())
    logger.info(
        "training at input size %d instead of the starting model's %d",
        config.input_size,
        model.config.input_size,
    )
    return resized


def _assemble(config: TrainConfig) -> TrainingData:
    data = assemble_data(
        config.train,
        config.val,
        val_fraction=config.val_fraction,
        source_weights=config.source_weights,
        max_images=config.max_images,
        max_val_images=config.max_val_images,
        labels=config.labels,
        statuses=config.statuses,
        extract_dir=_cache_root(config) / "magicbrush",
        seed=config.seed,
    )
    logger.info("training data: %s", data.describe())
    return data


def _cache_root(config: TrainConfig) -> Path:
    return config.cache_dir if config.cache_dir is not None else default_cache_dir()


def _image_cache(
    config: TrainConfig, model: TextMaskModel, context: DistributedContext, data: TrainingData
) -> ImageFeatureCache | None:
    """Return a filled feature cache, or None when image features must be computed online."""
    if not config.feature_cache:
        return None
    if model.image_encoder.first_trained_map() == 0 or config.augmentation.changes_pixels:
        logger.info(
            "image features are computed online: the image encoder's early stages train or "
            "scale/crop or colour augmentation is on"
        )
        return None
    augmentation = config.augmentation
    cache = ImageFeatureCache(_cache_root(config), model, augmentation.window_zoom)
    flips = (False, True) if augmentation.flip else (False,)
    train_images = dict.fromkeys(sample.image_path for sample in data.train)
    pairs: list[CacheKey] = [(path, flipped) for path in train_images for flipped in flips]
    if augmentation.zoom_windows:  # rows draw their windows at random, so every window is cached
        pairs += [(path, False, index) for path in train_images for index in range(WINDOW_COUNT)]
    pairs += [(path, False) for path in dict.fromkeys(sample.image_path for sample in data.val)]
    pairs = list(dict.fromkeys(pairs))
    # Each machine fills its own cache folder: its processes split the work by local rank.
    cache.fill(model, pairs[context.local_rank :: context.local_world_size], context.device)
    barrier(context)
    return cache


def _training_rows(
    config: TrainConfig,
    model: TextMaskModel,
    train: list[Sample],
    image_cache: ImageFeatureCache | None,
) -> TrainingRows:
    mean, std = model.normalization
    absent = AbsentRows(
        train,
        absent_count(len(train), config.absent_share),
        config.seed,
        text_choice=config.absent_texts,
    )
    return TrainingRows(
        train,
        Letterboxing(model.config.input_size, mean, std, model.config.aspect_buckets),
        augmentation=config.augmentation,
        absent=absent,
        seed=config.seed,
        feature_cache=image_cache,
    )


def _loader(rows: TrainingRows, sampler: ResumableSampler, config: TrainConfig) -> DataLoader:
    return DataLoader(
        rows,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        collate_fn=collate_rows,
        persistent_workers=False,
        # Its own generator: each new iterator draws a seed, which must not move the global torch
        # random state that dropout uses, or a resumed run would differ from an uninterrupted one.
        generator=torch.Generator().manual_seed(config.seed),
    )


def _optimizer(model: TextMaskModel, config: TrainConfig) -> torch.optim.Optimizer:
    """Build AdamW with one group for the encoders' trained weights (at ``encoder_lr_scale``)
    and one for the rest. A group with no trained weights is left out."""
    encoder_names = ("image_encoder.", "text_encoder.")
    encoders, others = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (encoders if name.startswith(encoder_names) else others).append(parameter)
    groups = [
        {"params": params, "lr_scale": scale}
        for params, scale in ((others, 1.0), (encoders, config.encoder_lr_scale))
        if params
    ]
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def _total_steps(config: TrainConfig, sampler: ResumableSampler) -> int:
    steps = sum(sampler.batches_in(epoch) for epoch in range(config.epochs))
    return min(steps, config.max_steps) if config.max_steps is not None else steps


def _restore(session: TrainingSession, state: SavedState) -> None:
    session.optimizer.load_state_dict(state.optimizer)
    session.penalty.load_state_tensors(anchor_tensors(state))
    session.counters = state.counters
    restore_random_state(state)
    logger.info("resumed at step %d (epoch %d)", state.counters.step, state.counters.epoch + 1)
