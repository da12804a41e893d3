"""The daily digest is enqueued once per day and chat, at the configured local time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.config import parse_config
from bot.drafting import Drafter, Owner, shipped_templates_dir
from bot.housekeeping import Housekeeping
from bot.store import Store


def test_digest_is_enqueued_once_a_day_after_its_time(tmp_path: Path) -> None:
    config = parse_config({
        "store": {"path": str(tmp_path / "s.db")},
        "telegram": {"enabled": True, "token_env": "X", "allowed_chat_ids": [42, 43], "digest_time": "08:30"},
    })
    now = [datetime(2026, 11, 23, 8, 29).timestamp()]
    owner = Owner("Kai", "kai@example.org", "Kai")
    house = Housekeeping(config, Drafter(shipped_templates_dir(), owner), owner, clock=lambda: now[0])
    assert house.tick() == 0, "not before 08:30"
    now[0] += 60
    assert house.tick() == 2, "one per chat"
    assert house.tick() == 0
    now[0] += 86_400
    assert house.tick() == 2, "and again the next day"
    store = Store(config.store.path)
    texts = [i.payload["text"] for i in store.due(["telegram"])]
    assert len(texts) == 4 and all("mentorbox digest" in t and "Nudges sent" in t for t in texts)
    house.close()
