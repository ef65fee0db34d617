"""TextMask core: model, predictor, image I/O, masks, export formats and project store.

This package never imports Qt, ``textmask_training`` or ``textmask_desktop``.
"""

__version__ = "0.1.0"
