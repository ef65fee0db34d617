"""Timestamps as stored: ISO 8601 text in UTC with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def now_text() -> str:
    """Return the current UTC time, for example ``2025-01-31T09:05:00.123+00:00``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> datetime:
    """Parse a stored timestamp into a timezone-aware datetime."""
    return datetime.fromisoformat(text)
