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


def test_the_text_of_old_drafts_is_dropped_once_a_day(tmp_path: Path) -> None:
    """At start-up and then once a day: a draft stored in Drafts more than DRAFT_TEXT_DAYS ago loses its bytes."""
    from bot.housekeeping import DRAFT_TEXT_DAYS

    config = parse_config({"store": {"path": str(tmp_path / "s.db")}})
    now = [datetime(2026, 11, 23, 9, 0).timestamp()]
    store = Store(config.store.path, clock=lambda: now[0])
    for uid in (1, 2):
        store.enqueue("draft", f"draft:a/INBOX/1/{uid}", {"folder": "Drafts", "message": b"Hi %d" % uid})
    first, second = store.due(["draft"])
    store.complete_all([(first, "1", "Drafts/1")], message_status="drafted")
    owner = Owner("Kai", "kai@example.org", "Kai")
    house = Housekeeping(config, Drafter(shipped_templates_dir(), owner), owner, clock=lambda: now[0])
    now[0] += DRAFT_TEXT_DAYS * 86_400 - 60
    house.tick()  # at start-up: nothing is old enough yet
    store.complete_all([(second, "2", "Drafts/2")], message_status="drafted")
    now[0] += 120
    house.tick()  # the first is old enough now, but a day has not passed since the last look
    assert store.outbox_item(first.id).payload["message"] == b"Hi 1"
    now[0] += 86_400
    house.tick()
    assert "message" not in store.outbox_item(first.id).payload
    assert store.outbox_item(second.id).payload["message"] == b"Hi 2"
    house.close()
