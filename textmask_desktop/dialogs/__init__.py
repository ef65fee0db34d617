"""Dialogs of the TextMask window: export, batch prediction, settings, shortcuts and errors."""
