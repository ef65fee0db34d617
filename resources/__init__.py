"""Data files shipped with TextMask: the default model, icons and desktop-integration files."""
