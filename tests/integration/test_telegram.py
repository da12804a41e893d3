"""The Telegram side against the fake Bot API: pushes, commands, buttons, strangers, outages, the watchdog.

PTB runs for real (its HTTP client, updater, rate limiter) against tests/fake_bot_api.py on 127.0.0.1; the
store is a real SQLite file. The end-to-end test with Dovecot and the daemon is in test_telegram_e2e.py.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, parse_config
from bot.health import Health
from bot.models import Decision
from bot.store import MessageKey, Store
from bot.telegram_bot import TelegramOptions, TelegramService
from tests.fake_bot_api import TOKEN, FakeBotApi

OWNER = 42
STRANGER = 666


@dataclass
class Bot:
    """A running TelegramService, its fake API, and a store to look at."""

    service: TelegramService
    fake: FakeBotApi
    store: Store
    stop: threading.Event
    health: Health
    config: Config

    def lead(self, uid: int, *, priority: bool = True, unsure: bool = False, label: str = "job_lead",
             subject: str = "Referral: research engineer role", push: bool = True) -> int:
        """Record a message like the daemon does (decision + Telegram push in one transaction)."""
        decision = Decision(label=label, confidence=0.55 if unsure else 0.93, unsure=unsure,  # type: ignore[arg-type]
                            priority=priority, reasons=('"referral" +1.20', "priority 0.81: referral +1.4"), faq=(),
                            draft=None)
        what = "lead" if priority else "question"
        where = f"me/INBOX/1/{uid}"
        actions = [("telegram", f"tg:{what}:{where}:{OWNER}", {"chat_id": OWNER, "what": what})] if push else []
        row = self.store.record_decision(
            MessageKey("me", "INBOX", 1, uid), message_id=f"<m{uid}@example.org>",
            sender="Dana Ortiz <dana@deepmind.com>", subject=subject, date="2026-11-20T09:30:00+00:00",
            decision=decision, actions=actions, address="dana@deepmind.com",
            summary="I passed your CV to the hiring manager & <HR> will call within two weeks.",
            body="I passed your CV to the hiring manager. HR will call you within two weeks.")
        self.service.wake()
        return row

    def say(self, text: str, chat: int = OWNER, **kwargs: Any) -> dict[str, Any]:
        """The owner (or ``chat``) writes ``text``; returns the bot's next reply to that chat."""
        before = len(self.fake.sent_to(chat))
        self.fake.inject_message(text, chat, **kwargs)
        return self.fake.wait_until(lambda: self.fake.sent_to(chat)[before:], what=f"a reply to {text!r}")[0]

    def card(self, row: int) -> dict[str, Any]:
        """The stored Telegram message of the card about ``row``."""
        return self.fake.stored(OWNER, f"#{row}")


def make_config(tmp_path: Path, model_dir: Path, base_url: str, **telegram: Any) -> Config:
    models = tmp_path / "model"
    if not models.exists():
        shutil.copytree(model_dir, models)
    return parse_config({
        "store": {"path": str(tmp_path / "state.sqlite3")},
        "classifier": {"model_dir": str(models)},
        "telegram": {"enabled": True, "token_env": "MB_TEST_TG_TOKEN", "allowed_chat_ids": [OWNER],
                     "api_base_url": base_url, **telegram},
        "watchdog": {"stale_minutes": 1},
    }, source=None)


def start_bot(tmp_path: Path, model_dir: Path, fake: FakeBotApi, *, wait_ready: bool = True,
              options: TelegramOptions | None = None) -> Bot:
    config = make_config(tmp_path, model_dir, fake.base_url)
    stop, health = threading.Event(), Health()
    service = TelegramService(config, health, threading.Event(), stop, token=TOKEN,
                              options=options or TelegramOptions(poll_timeout=1, watch_interval=0.2,
                                                                 send_retry=(0.2, 0.5), startup_retry=(0.2, 0.5),
                                                                 read_timeout=1.5))
    service.start()
    if wait_ready:
        assert service.ready.wait(15), "the Telegram side did not connect"
    return Bot(service, fake, Store(config.store.path), stop, health, config)


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    api = FakeBotApi()
    api.start()
    yield api
    api.close()


@pytest.fixture
def bot(tmp_path: Path, model_dir: Path, fake: FakeBotApi) -> Iterator[Bot]:
    b = start_bot(tmp_path, model_dir, fake)
    yield b
    b.stop.set()
    assert b.service.thread is not None
    b.service.thread.join(10)
    assert not b.service.thread.is_alive(), "the Telegram thread did not stop"
    b.store.close()


def press(bot: Bot, data: str, message: dict[str, Any], user: int | None = None) -> None:
    """Press a button and wait until the press was answered."""
    before = len(bot.fake.answers)
    bot.fake.inject_callback(data, message, user_id=user)
    bot.fake.wait_until(lambda: len(bot.fake.answers) > before, what=f"an answer to {data!r}")


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Button text -> callback data of a stored message."""
    return {b["text"]: b["callback_data"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row}


# --------------------------------------------------------------------------- pushes and buttons


def test_priority_lead_is_pushed_once_with_its_buttons(bot: Bot) -> None:
    row = bot.lead(7)
    push = bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), what="the push")[0]
    text = push["text"]
    assert push["parse_mode"] == "HTML"
    assert f"#{row}" in text and "Dana Ortiz" in text and "deepmind.com" in text
    assert "Referral: research engineer role" in text
    assert "&lt;HR&gt;" in text and "&amp;" in text, "the summary must be escaped for HTML"
    assert "Why:" in text and "referral" in text
    labels = [b["text"] for r in push["reply_markup"]["inline_keyboard"] for b in r]
    assert labels == ["✅ Done", "💤 1 day", "💤 1 week", "🏷 Relabel"]
    assert bot.store.lead_by_message(row)["state"] == "notified"
    time.sleep(0.5)
    assert len(bot.fake.sent_to(OWNER)) == 1
    assert bot.fake.commands and {c["command"] for c in bot.fake.commands} >= {
        "status", "leads", "pending", "show", "draft", "label", "done", "snooze", "pause", "resume", "retrain",
        "digest"}


def test_done_button_closes_the_lead_and_edits_the_card(bot: Bot) -> None:
    row = bot.lead(8)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER))
    card = bot.card(row)
    press(bot, buttons(card)["✅ Done"], card)
    bot.fake.wait_until(lambda: "✅ Done." in bot.card(row)["text"], what="the card edit")
    assert bot.store.lead_by_message(row)["state"] == "done"
    assert bot.store.get(row)["status"] == "done"
    assert "✅ Done." in bot.card(row)["text"]
    assert "reply_markup" not in bot.card(row), "a done card has no buttons left"


def test_snooze_button_and_wake_up(bot: Bot) -> None:
    row = bot.lead(9)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER))
    card = bot.card(row)
    press(bot, buttons(card)["💤 1 day"], card)
    lead = bot.store.lead_by_message(row)
    assert lead["state"] == "snoozed" and lead["snoozed_until"] > time.time() + 86_000
    # The day passes: the housekeeping tick wakes it and it is pushed again, once.
    bot.store._db.execute("UPDATE leads SET snoozed_until = 1 WHERE message_row = ?", (row,))
    assert bot.store.wake_snoozed([OWNER]) == 1
    assert bot.store.wake_snoozed([OWNER]) == 0
    bot.service.wake()
    again = bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER)[1:], what="the wake-up push")[0]
    assert "Snooze over" in again["text"]
    assert bot.store.lead_by_message(row)["state"] == "notified"


def test_relabel_through_the_menu_records_a_correction(bot: Bot) -> None:
    row = bot.lead(10)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER))
    card = bot.card(row)
    press(bot, buttons(card)["🏷 Relabel"], card)
    menu = bot.fake.wait_until(lambda: "back" in str(bot.card(row).get("reply_markup")) and bot.card(row))
    assert set(buttons(menu)) == {"congratulation", "advice request", "phd offer", "job lead", "other", "« back"}
    press(bot, buttons(menu)["phd offer"], menu)
    feedback = bot.store.feedback()
    assert [(f["message_row"], f["old_label"], f["new_label"]) for f in feedback] == [(row, "job_lead", "phd_offer")]
    assert "will call you within two weeks" in feedback[0]["body"], "the correction keeps the text to train on"
    assert bot.store.get(row)["label"] == "phd_offer"
    bot.fake.wait_until(lambda: "Relabel" in str(bot.card(row).get("reply_markup")),
                        what="the card's normal buttons back")


def test_unsure_message_is_asked_as_a_question_and_the_answer_is_a_correction(bot: Bot) -> None:
    row = bot.lead(11, priority=False, unsure=True, label="other", subject="hmm, quick thing")
    push = bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER))[0]
    assert "which label?" in push["text"]
    card = bot.card(row)
    assert set(buttons(card)) == {"congratulation", "advice request", "phd offer", "job lead", "other"}
    press(bot, buttons(card)["advice request"], card)
    assert [(f["old_label"], f["new_label"]) for f in bot.store.feedback()] == [("other", "advice_request")]
    assert bot.store.get(row)["unsure"] == 0


def test_forged_or_misplaced_button_data_does_nothing(bot: Bot) -> None:
    first, second = bot.lead(12), bot.lead(13)
    bot.fake.wait_until(lambda: len(bot.fake.sent_to(OWNER)) == 2)
    card = bot.card(first)
    for data in (f"d:{second}", "d:99999", "d:0", f"d:{first}:x", "x" * 64, f"l:{first}:9", f"z:{first}:5y",
                 "ri:../../etc", ""):
        press(bot, data, card)
    assert bot.store.lead_by_message(first)["state"] == "notified"
    assert bot.store.lead_by_message(second)["state"] == "notified"
    assert bot.store.feedback() == []
    assert all(a.get("text") == "This button is not valid." for a in bot.fake.answers)


# --------------------------------------------------------------------------- strangers


def test_a_stranger_gets_no_data_and_one_refusal(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    row = bot.lead(14)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER))
    reply = bot.say("/leads", chat=STRANGER)
    assert reply["text"] == "Sorry, this is a private bot."
    for text in ("/leads", "/status", f"/show {row}", f"/done {row}", "/pause"):
        bot.fake.inject_message(text, STRANGER)
    # A stranger pressing a real button of the owner's card (forwarded data) changes nothing either.
    press(bot, f"d:{row}", bot.card(row), user=STRANGER)
    time.sleep(0.6)
    assert len(bot.fake.sent_to(STRANGER)) == 1, "at most one polite refusal"
    assert bot.store.lead_by_message(row)["state"] == "notified"
    assert not bot.service.paused.is_set()
    assert any("refused an update from chat 666" in r.getMessage() for r in caplog.records)


def test_edited_commands_are_not_polled(bot: Bot) -> None:
    row = bot.lead(15)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER))
    bot.fake.inject_message(f"/done {row}", OWNER, kind="edited_message")
    time.sleep(0.6)
    assert bot.store.lead_by_message(row)["state"] == "notified"
    polls = [p for m, p in bot.fake.calls if m == "getUpdates"]
    assert polls and set(polls[-1]["allowed_updates"]) == {"message", "callback_query"}


# --------------------------------------------------------------------------- commands


def test_commands(bot: Bot) -> None:
    row = bot.lead(16)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER))
    assert "/status" in bot.say("/help")["text"] and "/snooze" in bot.say("/start")["text"]
    status = bot.say("/status")["text"]
    assert "Open leads: 1 (1 priority)" in status and "Model:" in status and "macro-F1" in status
    leads = bot.say("/leads")["text"]
    assert f"/show_{row}" in leads and "Referral: research engineer role" in leads
    assert "No drafts waiting." in bot.say("/pending")["text"]
    shown = bot.say(f"/show {row}")
    assert f"#{row}" in shown["text"] and "reply_markup" in shown
    assert bot.say(f"/show_{row}")["text"] == shown["text"]
    assert "No draft" in bot.say(f"/draft {row}")["text"]
    assert "No message #999" in bot.say("/show 999")["text"]
    assert "Usage: /label" in bot.say(f"/label {row} spam")["text"]
    assert "job lead → <b>phd offer</b>" in bot.say(f"/label {row} phd_offer")["text"]
    assert "snoozed until" in bot.say(f"/snooze {row} 3h")["text"]
    assert bot.store.lead_by_message(row)["state"] == "snoozed"
    assert "Usage: /snooze" in bot.say(f"/snooze {row} soon")["text"]
    assert "is done" in bot.say(f"/done {row}")["text"]
    assert bot.store.lead_by_message(row)["state"] == "done"
    assert "Paused" in bot.say("/pause")["text"] and bot.service.paused.is_set()
    assert bot.store.setting("paused") == "1"
    assert "Paused" in bot.say("/status")["text"]
    assert "Resumed" in bot.say("/resume")["text"] and not bot.service.paused.is_set()
    assert "mentorbox digest" in bot.say("/digest")["text"]
    assert "/help" in bot.say("what's up?")["text"]


def test_draft_is_shown_and_long_texts_are_split(bot: Bot) -> None:
    from bot.drafting import Owner, build_reply
    from bot.parser import parse_mail

    row = bot.lead(17, push=False)
    original = parse_mail(b"From: Dana <dana@deepmind.com>\r\nSubject: Role\r\nMessage-ID: <m17@example.org>\r\n\r\nHi")
    text = "Thank you <so> much & more.\n" + "\n".join(f"Line {i}: " + "words " * 12 for i in range(120))
    raw = build_reply(original, text, Owner("Kai", "kai@example.org", "Kai"))
    bot.store.enqueue("draft", "draft:me/INBOX/1/17", {"folder": "Drafts", "message_id": "<d@x>", "message": raw},
                      row)  # (as the daemon queues it: the bytes, kept apart from the JSON payload)
    before = len(bot.fake.sent_to(OWNER))
    bot.fake.inject_message(f"/draft {row}", OWNER)
    pieces = bot.fake.wait_until(lambda: len(bot.fake.sent_to(OWNER)) >= before + 3 and bot.fake.sent_to(OWNER)[before:])
    time.sleep(0.3)
    pieces = bot.fake.sent_to(OWNER)[before:]
    assert len(pieces) >= 3 and all(len(p["text"]) <= 4096 for p in pieces)
    joined = "\n".join(p["text"] for p in pieces)
    assert "Thank you &lt;so&gt; much &amp; more." in joined and "Line 119:" in joined


def _phish_draft(bot: Bot, uid: int, *, push: bool = True) -> tuple[int, bytes]:
    """A priority lead whose Reply-To is another address than its From, recorded with its draft and its push
    in one transaction, as the daemon records them."""
    from bot.drafting import Owner, build_reply
    from bot.parser import parse_mail

    original = parse_mail(b"From: Dana <dana@deepmind.com>\r\nReply-To: collect-cvs@phish.example\r\n"
                          b"Subject: Role\r\nMessage-ID: <m%d@example.org>\r\n\r\nSend me your CV." % uid)
    raw = build_reply(original, "Thank you, here it is.", Owner("Kai", "kai@example.org", "Kai"))
    decision = Decision(label="job_lead", confidence=0.93, unsure=False, priority=True, reasons=(), faq=(),
                        draft="Thank you, here it is.")
    where = f"me/INBOX/1/{uid}"
    row = bot.store.record_decision(
        MessageKey("me", "INBOX", 1, uid), message_id=f"<m{uid}@example.org>", sender="Dana <dana@deepmind.com>",
        subject="Role", date=None, decision=decision, address="dana@deepmind.com",
        actions=[("draft", f"draft:{where}", {"folder": "Drafts", "message_id": "<d@x>", "message": raw}),
                 *([("telegram", f"tg:lead:{where}:{OWNER}", {"chat_id": OWNER, "what": "lead"})] if push else [])])
    bot.service.wake()
    return row, raw


def test_draft_shows_where_it_goes_and_warns_about_a_reply_to_elsewhere(bot: Bot) -> None:
    """Given a draft addressed to a Reply-To that is not the sender, when the owner asks /draft, then To: is that
    address (not the owner's own From) and a warning says the reply does not go to the sender."""
    row, _ = _phish_draft(bot, 21, push=False)
    text = bot.say(f"/draft {row}")["text"]
    assert "<b>To:</b> collect-cvs@phish.example\n" in text
    assert "kai@example.org" not in text
    assert "⚠ replies go to collect-cvs@phish.example, not to the sender" in text


def test_push_card_names_the_draft_recipient(bot: Bot) -> None:
    """Given a priority lead with a draft to a Reply-To elsewhere, when it is pushed, then the card names the
    recipient and warns."""
    row, _ = _phish_draft(bot, 22)
    push = bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), what="the push")[0]
    assert f"#{row}" in push["text"]
    assert "A reply draft to collect-cvs@phish.example is in your Drafts folder." in push["text"]
    assert "⚠ replies go to collect-cvs@phish.example, not to the sender" in push["text"]


def test_a_card_about_hostile_text_is_delivered(bot: Bot) -> None:
    """Given a lead whose subject is 100 KB of HTML-like, Markdown-like and control text, when it is pushed, then
    Telegram accepts the card (valid HTML, below the length limit) and shows the text literally."""
    row = bot.lead(23, subject="<b>*x*</b> _y_ [z](http://evil.example) &amp; \x1b[2J\u202e" + "w" * 100_000)
    push = bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), what="the push")[0]
    assert f"#{row}" in push["text"] and len(push["text"]) < 1_000
    assert "&lt;b&gt;*x*&lt;/b&gt; _y_ [z](http://evil.example) &amp;amp; ␛[2J\\u202e" in push["text"]


def test_a_draft_quoting_styled_unicode_is_delivered(bot: Bot) -> None:
    """Given a draft of 6,000 "𝐛𝐨𝐥𝐝" letters (two UTF-16 units each, which Telegram counts), when the owner asks
    /draft, then every piece is accepted and the whole text arrives."""
    from bot.drafting import Owner, build_reply
    from bot.parser import parse_mail

    row = bot.lead(24, push=False)
    styled = "𝐇𝐞𝐥𝐥𝐨 " * 1_000
    original = parse_mail(b"From: Dana <dana@deepmind.com>\r\nSubject: Role\r\n\r\nHi")
    raw = build_reply(original, styled, Owner("Kai", "kai@example.org", "Kai"))
    bot.store.enqueue("draft", "draft:me/INBOX/1/24", {"folder": "Drafts", "message": raw}, row)
    before = len(bot.fake.sent_to(OWNER))
    bot.fake.inject_message(f"/draft {row}", OWNER)
    bot.fake.wait_until(lambda: len(bot.fake.sent_to(OWNER)) >= before + 3, what="three pieces")
    time.sleep(0.3)
    joined = "".join(p["text"] for p in bot.fake.sent_to(OWNER)[before:])
    assert joined.count("𝐇𝐞𝐥𝐥𝐨") == 1_000


def test_draft_whose_text_was_dropped_points_to_the_drafts_folder(bot: Bot) -> None:
    row = bot.lead(18, push=False)
    bot.store.enqueue("draft", "draft:me/INBOX/1/18", {"folder": "Drafts", "message": b"Subject: Re\r\n\r\nHi"}, row)
    (item,) = bot.store.due(["draft"])
    bot.store.complete_all([(item, "7", "Drafts/7")], message_status="drafted")
    assert bot.store.forget_draft_texts(time.time() + 1) == 1
    text = bot.say(f"/draft {row}")["text"]
    assert "is in your Drafts folder" in text and "30 days" in text


# --------------------------------------------------------------------------- outages


def test_outage_push_arrives_once_when_the_api_is_back(bot: Bot) -> None:
    bot.fake.stop()
    row = bot.lead(20)
    time.sleep(1.5)
    assert bot.fake.sent_to(OWNER) == []
    item = [i for i in bot.store.due(["telegram"])]
    assert len(item) <= 1 and bot.store.outbox_counts().get("done", 0) == 0, "not delivered, still waiting"
    bot.fake.start()
    push = bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), timeout=20, what="the push after the outage")[0]
    assert f"#{row}" in push["text"] and "possible repeat" not in push["text"]
    time.sleep(1.0)
    assert len(bot.fake.sent_to(OWNER)) == 1, "exactly once"
    # And the bot answers commands again (PTB's updater reconnected).
    assert "Open leads" in bot.say("/leads", )["text"]


def test_429_is_respected_and_the_push_is_sent_once(bot: Bot) -> None:
    bot.fake.fail_next["sendMessage"] = [(429, {"ok": False, "error_code": 429,
                                               "description": "Too Many Requests: retry after 1",
                                               "parameters": {"retry_after": 1}})]
    started = time.monotonic()
    bot.lead(21)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), what="the push after a 429")
    assert time.monotonic() - started >= 1.0, "retry_after was respected"
    assert bot.fake.count("sendMessage") == 2 and len(bot.fake.sent_to(OWNER)) == 1
    assert "possible repeat" not in bot.fake.sent_to(OWNER)[0]["text"]


def test_5xx_is_retried_without_a_repeat_mark(bot: Bot) -> None:
    bot.fake.fail_next["sendMessage"] = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})]
    bot.lead(22)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), what="the push after a 502")
    assert bot.fake.count("sendMessage") == 2 and len(bot.fake.sent_to(OWNER)) == 1
    assert "possible repeat" not in bot.fake.sent_to(OWNER)[0]["text"]


def test_a_timed_out_send_is_resent_marked_as_a_possible_repeat(bot: Bot) -> None:
    """The one case where the owner can see a push twice: Telegram got it but its answer was lost."""
    bot.fake.hang["sendMessage"] = 3.0  # longer than the client's read timeout (1.5 s)
    row = bot.lead(23)
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), what="the first (unanswered) send")
    bot.fake.hang.clear()
    both = bot.fake.wait_until(lambda: len(bot.fake.sent_to(OWNER)) >= 2 and bot.fake.sent_to(OWNER), timeout=15)
    time.sleep(0.5)
    assert len(bot.fake.sent_to(OWNER)) == 2
    assert "possible repeat" not in both[0]["text"] and both[1]["text"].startswith("♻️")
    assert f"#{row}" in both[1]["text"]


def test_startup_with_the_api_down_retries_until_it_is_up(tmp_path: Path, model_dir: Path) -> None:
    fake = FakeBotApi()  # not started: connection refused
    try:
        b = start_bot(tmp_path, model_dir, fake, wait_ready=False)
        time.sleep(1.5)
        assert not b.service.ready.is_set() and b.service.thread is not None and b.service.thread.is_alive()
        fake.start()
        assert b.service.ready.wait(15), "connected once the API came up"
        b.lead(24)
        fake.wait_until(lambda: fake.sent_to(OWNER), what="the push")
        b.stop.set()
        b.service.thread.join(10)
        b.store.close()
    finally:
        fake.close()


def test_a_stalled_poll_is_restarted(tmp_path: Path, model_dir: Path, fake: FakeBotApi) -> None:
    b = start_bot(tmp_path, model_dir, fake, options=TelegramOptions(
        poll_timeout=1, watch_interval=0.2, stall_after=3.0, read_timeout=30.0, send_retry=(0.2, 0.5)))
    try:
        fake.hang["getUpdates"] = 60.0  # answers never come back; PTB would wait (and retry) silently
        time.sleep(1.5)
        fake.hang.clear()
        reply = b.say("/help")
        assert "/status" in reply["text"]
    finally:
        b.stop.set()
        assert b.service.thread is not None
        b.service.thread.join(10)
        b.store.close()


# --------------------------------------------------------------------------- watchdog and secrets


def test_watchdog_tells_once_and_again_on_recovery(bot: Bot) -> None:
    bot.health.register("me/INBOX")
    bot.health.failed("me/INBOX", "auth", "LOGIN failed")
    alert = bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), what="the alert")[0]
    assert "refuses the login" in alert["text"]
    time.sleep(0.8)
    assert len(bot.fake.sent_to(OWNER)) == 1, "told once, not at every check"
    bot.health.sync_ok("me/INBOX")
    fixed = bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER)[1:], what="the recovery")[0]
    assert "Recovered" in fixed["text"] and "login works again" in fixed["text"]
    time.sleep(0.6)
    assert len(bot.fake.sent_to(OWNER)) == 2


def test_the_token_never_reaches_the_logs(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    from bot.logs import REDACTOR

    caplog.set_level(logging.DEBUG)
    logging.getLogger().addFilter(REDACTOR)
    for handler in logging.getLogger().handlers:
        handler.addFilter(REDACTOR)
    bot.fake.stop()
    bot.lead(25)
    time.sleep(1.0)
    bot.fake.start()
    bot.fake.wait_until(lambda: bot.fake.sent_to(OWNER), timeout=20)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "getUpdates" in text or "sendMessage" in text or "Telegram" in text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


def test_retrain_reports_and_installs_on_the_button(bot: Bot) -> None:
    from classifier.artifact import ModelStore

    models = ModelStore(bot.config.classifier.model_dir)
    before = models.pointer()["current"]
    first = bot.say("/retrain")
    assert "Retraining in the background" in first["text"]
    report = bot.fake.wait_until(
        lambda: [m for m in bot.fake.sent_to(OWNER) if "Retrain report" in m["text"]], timeout=240,
        what="the retrain report")[0]
    assert "macro-F1" in report["text"]
    version = report["text"].split("new model ")[1].split(":")[0]
    stored = bot.fake.stored(OWNER, "Retrain report")
    assert set(buttons(stored)) == {"Install", "Discard"}
    assert models.pointer()["current"] == before, "nothing is installed before the owner decides"
    press(bot, buttons(stored)["Install"], stored)
    bot.fake.wait_until(lambda: models.pointer()["current"] == version, what="the install")
    assert "Installed model" in bot.fake.stored(OWNER, "Installed")["text"]
