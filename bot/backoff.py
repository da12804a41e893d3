"""Exponential back-off with full jitter, shared by the IMAP workers and the Telegram side."""

from __future__ import annotations

import random


class Backoff:
    """Exponential back-off with full jitter between ``low`` and ``high`` seconds."""

    def __init__(self, low: float, high: float, rng: random.Random | None = None) -> None:
        self.low, self.high, self.attempt = low, high, 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        """The next delay (grows until ``high``)."""
        ceiling = min(self.high, self.low * (2 ** self.attempt))
        self.attempt += 1
        return self.low + self.rng.random() * max(0.0, ceiling - self.low)

    def reset(self) -> None:
        """After a success: start from ``low`` again."""
        self.attempt = 0
