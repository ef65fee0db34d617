"""The composer: wires image encoder, text encoder, fusion and mask head."""

from __future__ import annotations

import torch
from torch import nn

from textmask_core.model.class_prior import PRIOR_CHANNELS, ClassPrior
from textmask_core.model.config import ModelConfig
from textmask_core.model.fusion import Fusion
from textmask_core.model.image_encoders import build_image_encoder
from textmask_core.model.mask_head import MaskHead, MaskOutput
from textmask_core.model.text_encoders import TextFeatures, build_text_encoder

ImageFeatures = list[torch.Tensor]


class TextMaskModel(nn.Module):
    """Text-conditioned segmentation: (images, prompts) -> mask logits and presence logits.

    The model returns logits and never thresholds; ``textmask_core.predictor`` does that.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.image_encoder = build_image_encoder(config.image_encoder)
        self.text_encoder = build_text_encoder(config.text_encoder)
        text_dim = self.text_encoder.out_channels
        self.class_prior: ClassPrior | None = None
        if config.class_prior.enabled:
            if not config.text_encoder.frozen:
                raise ValueError(
                    "class_prior needs a frozen text encoder; set text_encoder.frozen to true"
                )
            self.class_prior = ClassPrior(config.class_prior, self.image_encoder, text_dim)
        self.fusion = Fusion(
            config.fusion,
            self.image_encoder.out_channels,
            text_dim,
            prior_channels=PRIOR_CHANNELS if self.class_prior is not None else 0,
        )
        self.mask_head = MaskHead(config.mask_head, config.fusion.dim, text_dim)
        if config.mask_head.presence_input == "conditioned" and (
            32 not in config.fusion.conditioned_strides
        ):
            raise ValueError(
                'mask_head.presence_input "conditioned" reads the prompt-conditioned map at '
                "stride 32; add 32 to fusion.conditioned_strides"
            )

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        """Encode normalised images (B, 3, S, S) into maps at strides 4, 8, 16 and 32."""
        return self.image_encoder(images)

    def encode_text(self, prompts: list[str]) -> TextFeatures:
        return self.text_encoder(prompts)

    def decode(
        self,
        image_features: ImageFeatures,
        text_features: TextFeatures,
        image_index: torch.Tensor | None = None,
    ) -> MaskOutput:
        """Decode one mask per prompt.

        ``image_index`` (P,) gives the image row of each prompt; None pairs prompt i with image i,
        or, when there is one image, pairs every prompt with it.
        """
        prompts = text_features.pooled.shape[0]
        if image_index is None:
            images = image_features[0].shape[0]
            image_index = (
                torch.zeros(prompts, dtype=torch.long) if images == 1 else torch.arange(prompts)
            )
        image_index = image_index.to(image_features[0].device)
        prior = None
        if self.class_prior is not None:
            prior = self.class_prior(
                image_features[-1], text_features.pooled, image_index, self.text_encoder
            )
        fused = self.fusion(image_features, text_features, image_index, prior)
        return self.mask_head(fused, text_features.pooled)

    def forward(
        self, images: torch.Tensor, prompts: list[str], image_index: torch.Tensor | None = None
    ) -> MaskOutput:
        return self.decode(self.encode_image(images), self.encode_text(prompts), image_index)

    def train(self, mode: bool = True) -> TextMaskModel:
        super().train(mode)
        # Frozen encoders keep their batch-norm statistics and no dropout.
        if self.config.image_encoder.frozen:
            self.image_encoder.eval()
        if self.config.text_encoder.frozen:
            self.text_encoder.eval()
        return self

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The image encoder's (mean, std) on the 0..1 RGB scale."""
        return self.image_encoder.mean, self.image_encoder.std

    def stored_prefixes(self) -> tuple[str, ...]:
        """State-dict prefixes a checkpoint must store.

        Encoders whose weights come from a package or a local pretrained file are left out
        while fully frozen, because they are rebuilt from that source when loading.
        """
        prefixes = ["fusion.", "mask_head."]
        image, text = self.config.image_encoder, self.config.text_encoder
        if image.weights is None or not image.frozen or image.trainable_stages > 0:
            prefixes.append("image_encoder.")
        if self.class_prior is not None:
            # The classifier comes with the image encoder's weights; the encoded class names
            # are always stored.
            prefixes += ["class_prior.name_features", "class_prior.names_encoded"]
            if image.weights is None:
                prefixes += ["class_prior.head.", "class_prior.classifier."]
        if text.weights is None or not text.frozen:
            prefixes.append("text_encoder.")
        return tuple(prefixes)
