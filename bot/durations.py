"""Durations as people write and read them ("2d", "1w", "3 h ago"); shared by the config and Telegram."""

from __future__ import annotations

import re

_UNIT = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_duration(text: str) -> int | None:
    """``30m``, ``3h``, ``2d``, ``1w``, ``1d12h`` -> seconds (None if not understood, zero or over a year)."""
    text = text.strip().lower()
    if not re.fullmatch(r"(\d{1,4}\s*[mhdw]\s*)+", text):
        return None
    total = sum(int(n) * _UNIT[u] for n, u in re.findall(r"(\d+)\s*([mhdw])", text))
    return total if 0 < total <= 366 * 86_400 else None


def ago(seconds: float) -> str:
    """A duration as people say it (``42 s``, ``7 min``, ``3.5 h``, ``2.0 d``)."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"
