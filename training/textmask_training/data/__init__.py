"""Training data: sources (manifest, project, MagicBrush, COCO), splits, augmentation."""

from textmask_training.data.sample import Sample
from textmask_training.data.sources import SOURCE_HELP, SourceSpec, load_source, parse_source
from textmask_training.data.splits import first_images, mix_sources, split_of, split_samples

__all__ = [
    "SOURCE_HELP",
    "Sample",
    "SourceSpec",
    "first_images",
    "load_source",
    "mix_sources",
    "parse_source",
    "split_of",
    "split_samples",
]
