"""A prior map from the image encoder's ImageNet classifier, matched to the prompt by name.

The frozen encoders cover more classes than a small training set shows. The image encoder was
trained to name 1,000 ImageNet classes, and the sentence encoder puts "sofa" closest to the
class name "studio couch" and "bus" closest to "school bus". The prior runs the encoder's
classifier at every position of the coarsest feature map. It then looks up the ImageNet classes
whose names are closest to the prompt and returns, per position, how likely those classes are.
Nothing in it trains, and the fusion learns how much weight to give it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from textmask_core.model.config import ClassPriorConfig
from textmask_core.model.image_encoders import ImageEncoder

# The prior's channels: the matched classes' log-probability at each position, the same
# relative to its highest position, the matched log-probability of the whole image, and the
# cosine of the closest class name.
PRIOR_CHANNELS = 4

# Log-probabilities are divided by this so that the channels are of order one.
_LOG_SCALE = 5.0
# A floor under the matched probability before taking its log.
_PROBABILITY_FLOOR = 1e-4


def imagenet_class_names() -> list[str]:
    """Return the 1,000 ImageNet class names in the classifier's output order."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


class ClassPrior(nn.Module):
    """Compute (P, ``PRIOR_CHANNELS``, h, w) prior maps for P prompts at stride 32.

    ``encoder.classifier_parts()`` gives the frozen head (feature map to pre-pooling features)
    and the linear classifier. They are registered here, outside the encoder, so that they never
    count as an encoder stage, never train, and keep their batch-norm statistics.
    The sentence features of the class names come from the model's frozen text encoder.
    """

    def __init__(self, config: ClassPriorConfig, encoder: ImageEncoder, text_dim: int) -> None:
        super().__init__()
        if config.top_k < 1 or config.temperature <= 0:
            raise ValueError(
                "class_prior needs top_k >= 1 and temperature > 0, got "
                f"{config.top_k} and {config.temperature}"
            )
        self.config = config
        self.head, self.classifier = encoder.classifier_parts()
        self.requires_grad_(False)
        self.class_names = imagenet_class_names()
        if self.classifier.out_features != len(self.class_names):
            raise ValueError(
                f"class_prior needs a classifier with {len(self.class_names)} ImageNet classes, "
                f"the image encoder's has {self.classifier.out_features}"
            )
        # Encoding 1,000 names takes seconds on a CPU, so they are encoded once, on first use,
        # and saved with the checkpoint (see TextMaskModel.stored_prefixes).
        self.register_buffer("name_features", torch.zeros(len(self.class_names), text_dim))
        self.register_buffer("names_encoded", torch.tensor(False))
        # The last images' classifier output, reused while the same feature map comes back:
        # the predictor decodes every prompt of an image from the same tensors, and nothing
        # changes image features in place.
        self._last_images: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def train(self, mode: bool = True) -> ClassPrior:
        # Always in evaluation mode: the head's batch norm keeps its ImageNet statistics.
        return super().train(False)

    def encoded_names(self, text_encoder: nn.Module) -> torch.Tensor:
        """Return the unit-length sentence features (1000, D) of the class names."""
        if not bool(self.names_encoded):
            chunks = [
                text_encoder(self.class_names[start : start + 250]).pooled
                for start in range(0, len(self.class_names), 250)
            ]
            self.name_features.copy_(F.normalize(torch.cat(chunks), dim=-1))
            self.names_encoded.fill_(True)
        return self.name_features

    def class_log_probabilities(self, coarsest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the classifier's log-probabilities per position (B, K, h, w) and image (B, K)."""
        memo = self._last_images
        if memo is not None and memo[0] is coarsest:
            return memo[1], memo[2]
        features = self.head(coarsest)  # (B, F, h, w)
        logits = torch.einsum("bfhw,kf->bkhw", features, self.classifier.weight)
        logits = logits + self.classifier.bias[None, :, None, None]
        # The classifier's output for the whole image averages its logits over positions.
        per_image = logits.mean(dim=(2, 3)).log_softmax(dim=1)
        per_position = logits.log_softmax(dim=1)
        self._last_images = (coarsest, per_position, per_image)
        return per_position, per_image

    @torch.no_grad()
    def forward(
        self,
        coarsest: torch.Tensor,
        pooled_text: torch.Tensor,
        image_index: torch.Tensor,
        text_encoder: nn.Module,
    ) -> torch.Tensor:
        """Return the prior for each prompt from the images' coarsest maps (B, C, h, w)."""
        log_probs, image_log_probs = self.class_log_probabilities(coarsest)
        names = self.encoded_names(text_encoder)
        cosines = F.normalize(pooled_text, dim=-1) @ names.T  # (P, K)
        top = cosines.topk(min(self.config.top_k, names.shape[0]), dim=1)
        log_weights = (top.values / self.config.temperature).log_softmax(dim=1)  # (P, k)

        chosen = log_probs[image_index[:, None], top.indices]  # (P, k, h, w)
        local = torch.logsumexp(chosen + log_weights[:, :, None, None], dim=1)  # (P, h, w)
        whole = torch.logsumexp(
            image_log_probs[image_index[:, None], top.indices] + log_weights,
            dim=1,
        )  # (P,)

        floor = math.log(_PROBABILITY_FLOOR)
        local = local.clamp(min=floor)
        whole = whole.clamp(min=floor)
        relative = local - local.flatten(1).amax(dim=1)[:, None, None]
        broadcast = local.new_ones(local.shape)
        return torch.stack(
            [
                local / _LOG_SCALE,
                relative / _LOG_SCALE,
                broadcast * (whole / _LOG_SCALE)[:, None, None],
                broadcast * top.values[:, 0, None, None],
            ],
            dim=1,
        )
