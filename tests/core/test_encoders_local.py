"""ResNet, BERT and CLIP encoders loaded from local files, at tiny sizes."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from safetensors.torch import save_file

from textmask_core.errors import EncoderWeightsMissingError
from textmask_core.model import (
    FusionConfig,
    ImageEncoderConfig,
    MaskHeadConfig,
    ModelConfig,
    TextEncoderConfig,
    build_model,
)
from textmask_core.model.text_encoders import minilm_package_folder

TINY_BERT = dict(
    vocab_size=30522,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=64,
)


@pytest.fixture
def bert_folder(tmp_path):
    """A tiny BERT saved as transformers does, with the MiniLM tokenizer files beside it."""
    folder = tmp_path / "tiny-bert"
    torch.manual_seed(0)
    transformers.BertModel(transformers.BertConfig(**TINY_BERT)).save_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_package_folder()))
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def resnet_file(tmp_path):
    from torchvision.models.resnet import BasicBlock, ResNet

    torch.manual_seed(0)
    network = ResNet(BasicBlock, [1, 1, 1, 1])
    path = tmp_path / "resnet.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(path))
    return path, network


def _config(image: ImageEncoderConfig, text: TextEncoderConfig) -> ModelConfig:
    return ModelConfig(
        image_encoder=image,
        text_encoder=text,
        fusion=FusionConfig(dim=16, heads=2, attention_strides=(32,)),
        mask_head=MaskHeadConfig(channels=(16, 16, 16, 8)),
        input_size=64,
    )


def test_resnet_and_bert_load_from_local_files(bert_folder, resnet_file):
    path, network = resnet_file
    image = ImageEncoderConfig(
        kind="resnet", weights=str(path), resnet_block="basic", resnet_layers=(1, 1, 1, 1)
    )
    text = TextEncoderConfig(kind="bert", weights=str(bert_folder), tokenizer=None)
    model = build_model(_config(image, text))
    torch.testing.assert_close(model.image_encoder.stem[0].weight, network.conv1.weight)
    assert model.text_encoder.out_channels == 32
    assert model.stored_prefixes() == ("fusion.", "mask_head.")
    output = model(torch.randn(1, 3, 64, 64), ["the dog on the left"])
    assert output.mask_logits.shape == (1, 1, 16, 16)


def test_missing_resnet_weights_message(tmp_path):
    image = ImageEncoderConfig(kind="resnet", weights=str(tmp_path / "absent.safetensors"))
    text = TextEncoderConfig(kind="bert", weights=None, architecture=TINY_BERT)
    with pytest.raises(EncoderWeightsMissingError, match="absent.safetensors"):
        build_model(_config(image, text))


def test_missing_bert_never_downloads(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    image = ImageEncoderConfig(
        kind="resnet", weights=None, resnet_block="basic", resnet_layers=(1, 1, 1, 1)
    )
    text = TextEncoderConfig(kind="bert", weights="no-such-org/no-such-bert", tokenizer=None)
    with pytest.raises(EncoderWeightsMissingError, match="never downloads"):
        build_model(_config(image, text))


def test_clip_text_tower_from_local_folder(tmp_path):
    vocab = {
        "<|startoftext|>": 0,
        "<|endoftext|>": 1,
        "a</w>": 2,
        "dog</w>": 3,
        "d": 4,
        "o": 5,
        "g</w>": 6,
        "a": 7,
        "do": 8,
    }
    folder = tmp_path / "tiny-clip"
    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\nd o\ndo g</w>\n")
    tokenizer = transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    tokenizer.save_pretrained(folder)
    clip_config = transformers.CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=16,
        eos_token_id=1,
        bos_token_id=0,
        pad_token_id=1,
    )
    transformers.CLIPTextModel(clip_config).save_pretrained(folder)
    image = ImageEncoderConfig(
        kind="resnet", weights=None, resnet_block="basic", resnet_layers=(1, 1, 1, 1)
    )
    text = TextEncoderConfig(kind="clip", weights=str(folder), tokenizer=None, max_tokens=16)
    model = build_model(_config(image, text))
    features = model.encode_text(["a dog", "dog"])
    assert features.pooled.shape == (2, 32)
    assert features.attention_mask[0].sum() > features.attention_mask[1].sum()
