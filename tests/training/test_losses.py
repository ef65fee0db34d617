"""The training loss, above all its handling of rows whose object is absent."""

from __future__ import annotations

import argparse

import pytest
import torch

from textmask_training.cli_train import add_train_arguments, config_from_arguments
from textmask_training.losses import LossWeights, segmentation_loss

SIZE = 64  # target side. The logits are at stride 4, as the model returns them.


def _absent_batch(blob_logit: float, padded_columns: int = 0):
    """One absent row: logits -6 everywhere except a 4x4 cell blob (1/16 of the photo)."""
    logits = torch.full((1, 1, SIZE // 4, SIZE // 4), -6.0)
    logits[..., :4, :4] = blob_logit
    target = torch.zeros(1, 1, SIZE, SIZE)
    valid = torch.ones(1, 1, SIZE, SIZE)
    if padded_columns:
        valid[..., SIZE - padded_columns :] = 0.0
    return logits.requires_grad_(), target, valid


def _loss(logits, target, valid, **weights):
    return segmentation_loss(
        logits, torch.zeros(1), target, valid, torch.zeros(1), LossWeights(**weights)
    )


def test_top_share_sees_a_small_false_blob():
    logits, target, valid = _absent_batch(blob_logit=4.0)
    whole = _loss(logits, target, valid).absent_mask
    top = _loss(logits, target, valid, absent_top_fraction=0.05).absent_mask
    # The blob covers 1/16 of the pixels: averaged over all of them it is diluted.
    assert top > 3.0
    assert whole < top / 4


def test_top_share_is_small_for_an_empty_answer():
    logits, target, valid = _absent_batch(blob_logit=-6.0)
    assert _loss(logits, target, valid, absent_top_fraction=0.05).absent_mask < 0.01


def test_top_share_ignores_padding():
    logits, target, valid = _absent_batch(blob_logit=-6.0, padded_columns=SIZE // 2)
    with torch.no_grad():
        # A confident mask over the padding, one cell clear of the photo so that bilinear
        # upsampling does not carry it onto valid pixels.
        logits[..., :, SIZE // 8 + 1 :] = 8.0
    loss = _loss(logits, target, valid, absent_top_fraction=0.05)
    assert loss.absent_mask < 0.05


def test_top_share_gradient_reaches_the_blob_only():
    logits, target, valid = _absent_batch(blob_logit=4.0)
    _loss(logits, target, valid, absent_top_fraction=0.05, absent_mask=1.0).total.backward()
    gradient = logits.grad[0, 0]
    assert (gradient[:4, :4] > 0).all()
    assert gradient[8:, 8:].abs().max() < 1e-3 * gradient[:4, :4].min()


def test_present_rows_ignore_the_absent_setting():
    logits = torch.randn(2, 1, SIZE // 4, SIZE // 4)
    target = torch.zeros(2, 1, SIZE, SIZE)
    target[:, :, 10:40, 10:40] = 1.0
    valid = torch.ones_like(target)
    present = torch.ones(2)
    args = (logits, torch.zeros(2), target, valid, present)
    whole = segmentation_loss(*args, LossWeights())
    top = segmentation_loss(*args, LossWeights(absent_top_fraction=0.02, absent_mask=1.0))
    assert whole.total.item() == pytest.approx(top.total.item())


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_top_share_must_be_a_share(share):
    with pytest.raises(ValueError, match="absent_top_fraction"):
        LossWeights(absent_top_fraction=share)


def test_cli_sets_the_absent_loss(tmp_path):
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(
        [
            "--train",
            "data.csv",
            "--out",
            str(tmp_path),
            "--absent-mask-weight",
            "1.5",
            "--absent-top-fraction",
            "0.02",
            "--absent-texts",
            "by-rows",
        ]
    )
    config = config_from_arguments(args)
    loss = config.loss
    assert (loss.absent_mask, loss.absent_top_fraction) == (1.5, 0.02)
    assert config.absent_texts == "by-rows"
    assert loss.dice == LossWeights().dice
