"""Locust's --run-time values ("90", "30s", "5m", "1h30m") in seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)([hms]?)")
_SECONDS = {"h": 3600, "m": 60, "s": 1, "": 1}


def run_time_seconds(value: str) -> int | None:
    """Seconds, or None when the value is not one Locust accepts."""
    text = value.strip().lower()
    if not text or not re.fullmatch(r"(\d+[hms]?)+", text):
        return None
    parts = _PART.findall(text)
    if len(parts) > 1 and any(unit == "" for _, unit in parts):
        return None
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


def human(seconds: float) -> str:
    """12s, 4m05s, 1h02m03s."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
