"""TextMask desktop application and command line (the application layer)."""
