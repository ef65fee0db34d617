"""TextMask training: fine-tuning on corrected masks and evaluation."""
