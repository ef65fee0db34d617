"""Two Gloo processes on the loopback interface train the tiny preset in step."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from shapes import write_manifest

from textmask_training.api import AugmentationConfig, TrainConfig
from textmask_training.distributed import shard_for_rank
from textmask_training.trainer import Trainer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, manifest: str, folder: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    config = TrainConfig(
        train=(manifest,),
        out=Path(folder) / "out",
        model="tiny",
        max_steps=4,
        batch_size=4,
        trainable="all-unfrozen",
        device="cpu",
        cache_dir=Path(folder) / "cache",
        tensorboard=False,
        augmentation=AugmentationConfig(scale_crop=False, colour_jitter=False),
    )
    trainer = Trainer(config)
    kinds = [record.kind for record in trainer.run()]
    assert kinds[-1] == "done", kinds
    # Parameters only: batch-norm statistics follow each rank's own last batch, and DDP
    # broadcasts rank 0's at the start of every forward.
    state = {name: value.detach().contiguous() for name, value in trainer.model.named_parameters()}
    save_file(state, str(Path(folder) / f"rank{rank}.safetensors"))


@pytest.mark.slow
def test_two_gloo_ranks_keep_identical_weights(tmp_path):
    manifest = write_manifest(tmp_path / "data", images=8, seed=4)
    mp.spawn(_worker, args=(2, _free_port(), str(manifest), str(tmp_path)), nprocs=2, join=True)
    first = load_file(str(tmp_path / "rank0.safetensors"))
    second = load_file(str(tmp_path / "rank1.safetensors"))
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name
    torch.manual_seed(0)
    from textmask_core.model import build_model

    start = build_model("tiny").state_dict()
    assert not torch.equal(first["mask_head.logits.weight"], start["mask_head.logits.weight"])
    assert (tmp_path / "out" / "last" / "training_state.json").is_file()


def test_shard_for_rank_splits_items(monkeypatch):
    items = list(range(10))
    shares = []
    for rank in range(3):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "3")
        shares.append(shard_for_rank(items))
    assert sorted(item for share in shares for item in share) == items
    assert shares[0] == [0, 3, 6, 9]
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert shard_for_rank(items) == items
