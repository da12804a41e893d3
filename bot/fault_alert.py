"""Telling the owner, once, that a fault stopped mentorbox.

The service manager restarts a stopped daemon every 30 s, and a full disk stays full for hours: without a
memory of what was said, the owner would get the same Telegram message a hundred times an hour. The memory
is a small file beside the state store, made at start-up and overwritten in place, so that it still works
when the disk has no free block left.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("mentorbox.daemon")

FAULT_MARKER = ".last-fault"
"""The file, beside the state store, that remembers the last fault the owner was told of on Telegram."""
FAULT_REPEAT = 6 * 3600.0
"""Seconds before the same fault is told again: the service manager restarts mentorbox every 30 s, and a
full disk stays full for hours."""


class FaultMarker:
    """The last fault the owner was told of, and when, in a small file made when the daemon starts: a full
    disk can still overwrite its bytes in place, so the owner is not told the same thing at every restart."""

    SIZE = 512

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if not path.exists() or path.stat().st_size != self.SIZE:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(b" " * self.SIZE)
        except OSError:
            pass  # no marker: the owner may be told more than once

    def told_recently(self, reason: str, now: float) -> bool:
        """Whether the owner was told of this very fault less than :data:`FAULT_REPEAT` seconds ago."""
        try:
            stamp, _, text = self.path.read_bytes().decode("utf-8", "replace").strip().partition(" ")
            return text == reason[: self.SIZE - 32] and now - float(stamp) < FAULT_REPEAT
        except (OSError, ValueError):
            return False

    def remember(self, reason: str, now: float) -> None:
        """Note that the owner was told of ``reason`` at ``now``, in place (no new disk block needed)."""
        data = f"{now:.0f} {reason[: self.SIZE - 32]}".encode("utf-8")[: self.SIZE].ljust(self.SIZE)
        try:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError:
            pass


def alert_owner(telegram: Any, marker: FaultMarker, text: str, now: float) -> None:
    """Tell the owner on Telegram ``text`` (HTML) about a fault, at once, not through the store's outbox (the
    store may be what failed), unless he was told the same a short while ago."""
    if marker.told_recently(text, now):
        log.info("the owner was told of this fault on Telegram within the last %d hours", FAULT_REPEAT // 3600)
        return
    if telegram.alert_now(text):
        marker.remember(text, now)
