"""Back-off delays: within bounds, growing, jittered, and back to the start after a success."""

from __future__ import annotations

import random

from bot.backoff import Backoff
from bot.daemon import AUTH_RETRY, NET_RETRY


def test_delays_stay_between_low_and_a_doubling_ceiling_capped_at_high() -> None:
    backoff = Backoff(1.0, 300.0, random.Random(1))
    for attempt in range(20):
        delay = backoff.next()
        assert 1.0 <= delay <= min(300.0, 2.0**attempt), (attempt, delay)


def test_delays_are_jittered_so_workers_do_not_retry_in_step() -> None:
    """Many workers dropped by the same outage must not all come back at the same moment."""
    delays = []
    for seed in range(50):
        backoff = Backoff(1.0, 300.0, random.Random(seed))
        for _ in range(6):
            delay = backoff.next()
        delays.append(delay)
    assert len({round(d, 3) for d in delays}) > 40
    assert min(delays) < 10 < 25 < max(delays) <= 32


def test_a_success_starts_again_from_low() -> None:
    backoff = Backoff(5.0, 3600.0, random.Random(2))
    for _ in range(10):
        backoff.next()
    backoff.reset()
    assert backoff.next() == 5.0  # the first delay has no room to jitter: the ceiling is low itself


def test_refused_logins_are_retried_slowly_and_network_errors_quickly() -> None:
    assert AUTH_RETRY[0] >= 60 and AUTH_RETRY[1] >= 3600  # a refused password is not hammered
    assert NET_RETRY[0] <= 5 and NET_RETRY[1] <= 600  # a dropped link is retried soon, never later than 10 min
