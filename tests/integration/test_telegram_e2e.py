"""End to end: a real Dovecot, the daemon (workers, Sent watcher, housekeeping, Telegram) and the fake Bot API.

The daemon runs in-process with an injectable clock, so the follow-up cycle of a lead can be shown whole:
a referral arrives and is pushed; the owner answers it (in Sent) and the lead waits; the promised date passes
and the owner is nudged once, with a follow-up draft in Drafts; a lead whose correspondent wrote back before
the date is not nudged. Also: Done from the push, a stranger, and an outage during which triage goes on.
"""

from __future__ import annotations

import email
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, parse_config
from bot.store import Store
from bot.telegram_bot import TelegramOptions
from tests.dovecot import PASSWORD, Dovecot
from tests.fake_bot_api import TOKEN, FakeBotApi
from tests.integration.test_telegram import OWNER, STRANGER, buttons

DAY = 86_400


class Clock:
    """Wall time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def referral(n: int, *, days_ago: int, subject: str, reply_to: str = "") -> bytes:
    """A personal referral from a VIP organisation, promising a call within two weeks."""
    when = format_datetime(datetime.now(timezone.utc) - timedelta(days=days_ago))
    threading_headers = f"In-Reply-To: {reply_to}\r\nReferences: {reply_to}\r\n" if reply_to else ""
    return (
        f"From: Dana Ortiz <dana.ortiz{n}@deepmind.com>\r\nTo: Kai Andersen <kai@andersen.dk>\r\n"
        f"Subject: {subject}\r\nDate: {when}\r\nMessage-ID: <ref{n}.{time.time_ns()}@deepmind.com>\r\n"
        f"{threading_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hi Kai,\r\n\r\nI read your paper and I have referred you for the research engineer opening in my team\r\n"
        f"at DeepMind. I passed your CV to the hiring manager myself. HR will contact you within two weeks\r\n"
        f"to set up a first interview call.\r\n\r\nBest,\r\nDana Ortiz\r\nDirector of Research, DeepMind\r\n"
    ).encode()


def answer(n: int, original_id: str, *, sender: str, to: str, subject: str) -> bytes:
    """A plain reply threaded to ``original_id``."""
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: Re: {subject}\r\nDate: {format_datetime(datetime.now(timezone.utc))}"
        f"\r\nMessage-ID: <ans{n}.{time.time_ns()}@example.org>\r\nIn-Reply-To: {original_id}\r\n"
        f"References: {original_id}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Thank you, looking forward to it.\r\n"
    ).encode()


class Running:
    """The daemon in a thread, its fake Bot API, a store to look into, and the clock."""

    def __init__(self, config: Config, fake: FakeBotApi, clock: Clock) -> None:
        from bot.daemon import run_daemon

        self.config, self.fake, self.clock = config, fake, clock
        self.stop = threading.Event()
        self.result: list[int] = []
        options = TelegramOptions(poll_timeout=1, watch_interval=0.3, send_retry=(0.2, 0.5), read_timeout=2.0)
        self.thread = threading.Thread(target=lambda: self.result.append(run_daemon(
            config, stop=self.stop, clock=clock, telegram_options=options, housekeeping_every=0.3,
            say=lambda text: None)), daemon=True)
        self.thread.start()
        self.store = fake.wait_until(lambda: config.store.path.exists() and Store(config.store.path), timeout=60)

    def row(self, subject: str, folder: str = "INBOX") -> Any:
        return self.fake.wait_until(lambda: self.store._db.execute(
            "SELECT * FROM messages WHERE subject = ? AND folder = ?", (subject, folder)).fetchone(),
            timeout=30, what=f"the message {subject!r} recorded")

    def push(self, text: str, timeout: float = 30) -> dict[str, Any]:
        return self.fake.wait_until(lambda: [m for m in self.fake.sent_to(OWNER) if text in m["text"]],
                                    timeout=timeout, what=f"a push containing {text!r}")[0]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), "the daemon did not stop"
        assert self.result == [0]
        self.store.close()


@pytest.fixture
def running(tmp_path: Path, model_dir: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch,
            imap: Any) -> Iterator[Running]:  # noqa: F811 - pytest fixture injection
    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    monkeypatch.setenv("MBX_TEST_TG", TOKEN)
    fake = FakeBotApi()
    fake.start()
    r = Running(e2e_config(tmp_path, model_dir, dovecot, fake), fake, Clock())
    yield r
    r.close()
    fake.close()


def e2e_config(tmp_path: Path, model_dir: Path, dovecot: Dovecot, fake: FakeBotApi) -> Config:
    """The daemon's config for these tests: Dovecot, the fake Bot API, DeepMind as a VIP."""
    return parse_config({
        "imap": {"host": "localhost", "port": dovecot.tls_port, "username": "test", "password_env": "MBX_TEST_PW",
                 "ca_file": dovecot.ca_file, "batch_size": 20},
        "owner": {"name": "Kai Andersen", "address": "kai@andersen.dk", "signature": "Kai"},
        "store": {"path": str(tmp_path / "state.sqlite3")},
        "classifier": {"model_dir": str(model_dir)},
        "telegram": {"enabled": True, "token_env": "MBX_TEST_TG", "allowed_chat_ids": [OWNER],
                     "api_base_url": fake.base_url, "digest_time": "23:59"},
        "priority": {"vip": ["DeepMind"]},
        "watchdog": {"stale_minutes": 7 * 24 * 60},
    })


def _drafts(imap: Any) -> list[email.message.EmailMessage]:  # noqa: F811
    imap.select_folder("Drafts", readonly=True)
    uids = imap.search("ALL")
    data = imap.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
    return [email.message_from_bytes(d[b"BODY[]"], policy=policy.default) for d in data.values()]


def test_lead_push_done_stranger_and_outage(running: Running, imap: Any) -> None:  # noqa: F811
    fake = running.fake
    imap.append("INBOX", referral(1, days_ago=1, subject="Referral for the research engineer opening"))
    push = running.push("Referral for the research engineer opening")
    row = running.row("Referral for the research engineer opening")
    assert "Priority job lead" in push["text"] and "VIP" in push["text"]
    assert "📝 Show draft" in buttons(push), "the draft was recorded with the lead"
    # A stranger asking for the leads gets no data.
    fake.inject_message("/leads", STRANGER)
    fake.wait_until(lambda: fake.sent_to(STRANGER))
    time.sleep(0.5)
    assert [m["text"] for m in fake.sent_to(STRANGER)] == ["Sorry, this is a private bot."]
    # The owner presses Done on the push.
    card = fake.stored(OWNER, "Referral for the research engineer opening")
    fake.inject_callback(buttons(card)["✅ Done"], card)
    fake.wait_until(lambda: running.store.lead_by_message(row["id"])["state"] == "done", what="the lead done")
    # Outage: the Bot API goes down; triage goes on; the push arrives once when it is back.
    fake.stop()
    imap.append("INBOX", referral(2, days_ago=1, subject="Another referral, sent during the outage"))
    running.row("Another referral, sent during the outage")
    time.sleep(2.0)
    assert not [m for m in fake.sent_to(OWNER) if "during the outage" in m["text"]]
    fake.start()
    late = running.push("Another referral, sent during the outage")
    time.sleep(1.5)
    assert len([m for m in fake.sent_to(OWNER) if "during the outage" in m["text"]]) == 1
    assert "possible repeat" not in late["text"]


def test_follow_up_cycle_with_an_injectable_clock(running: Running, imap: Any) -> None:  # noqa: F811
    fake, store = running.fake, running.store
    # Two referrals, dated 13 days ago: "within two weeks" falls due tomorrow.
    imap.append("INBOX", referral(3, days_ago=13, subject="Referral to the robotics team"))
    imap.append("INBOX", referral(4, days_ago=13, subject="Referral to the language team"))
    a, c = running.row("Referral to the robotics team"), running.row("Referral to the language team")
    lead_a = store.lead_by_message(a["id"])
    assert lead_a["promise_due"] == (datetime.now(timezone.utc) - timedelta(days=13) + timedelta(days=14)).date(
    ).isoformat()
    running.push("Referral to the robotics team")
    # The owner answers both (their replies appear in Sent): both leads now wait for the other side.
    for n, row in ((5, a), (6, c)):
        imap.append("Sent", answer(n, row["message_id"], sender="Kai Andersen <kai@andersen.dk>",
                                   to=row["sender"], subject=row["subject"]))
    fake.wait_until(lambda: store.lead_by_message(a["id"])["state"] == "waiting"
                    and store.lead_by_message(c["id"])["state"] == "waiting", timeout=30, what="leads waiting")
    # The language team writes back before the date: that lead is the owner's turn again, no nudge for it.
    imap.append("INBOX", answer(7, c["message_id"], sender=c["sender"], to="kai@andersen.dk",
                                subject=c["subject"]))
    fake.wait_until(lambda: store.lead_by_message(c["id"])["state"] == "replied", timeout=30)
    time.sleep(1.0)
    assert not [m for m in fake.sent_to(OWNER) if "promised date" in m["text"]], "nothing is due yet"

    running.clock.offset += 2 * DAY  # the promised date passes
    nudge = running.push("A promised date has passed", timeout=30)
    assert "Referral to the robotics team" in nudge["text"] and "HR will contact you within two weeks" in nudge["text"]
    follow_up = fake.wait_until(lambda: [d for d in _drafts(imap) if "follow up" in d.get_content()],
                                timeout=30, what="the follow-up draft in Drafts")
    assert len(follow_up) == 1
    draft = follow_up[0]
    assert draft["In-Reply-To"] == a["message_id"] and draft["Subject"] == "Re: Referral to the robotics team"
    assert "HR will contact you within two weeks" in draft.get_content()
    time.sleep(1.5)  # several housekeeping ticks later: still once, and never for the lead that got an answer
    promised = [m for m in fake.sent_to(OWNER) if "A promised date has passed" in m["text"]]
    assert len(promised) == 1
    assert len([d for d in _drafts(imap) if "follow up" in d.get_content()]) == 1
    assert "Referral to the language team" not in promised[0]["text"]
    # The lead that got an answer is the owner's turn: after the 1-day target, a "still unanswered" nudge.
    running.push("Still unanswered", timeout=30)
    assert store.lead_by_message(a["id"])["nudges"] == 1


def test_run_once_delivers_its_pushes_before_it_exits(tmp_path: Path, model_dir: Path, dovecot: Dovecot,
                                                      monkeypatch: pytest.MonkeyPatch, imap: Any) -> None:  # noqa: F811
    from bot.daemon import run_daemon

    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    monkeypatch.setenv("MBX_TEST_TG", TOKEN)
    fake = FakeBotApi()  # down at first
    try:
        config = e2e_config(tmp_path, model_dir, dovecot, fake)
        imap.append("INBOX", referral(8, days_ago=1, subject="Referral sent while Telegram was down"))
        started = time.monotonic()
        assert run_daemon(config, once=True, say=lambda text: None) == 0, "triage succeeded: exit 0"
        assert time.monotonic() - started < 60
        store = Store(config.store.path)
        assert len(store.due(["telegram"])) == 1, "the push waits for the next run"
        fake.start()
        assert run_daemon(config, once=True, say=lambda text: None) == 0
        assert [m for m in fake.sent_to(OWNER) if "Referral sent while Telegram was down" in m["text"]]
        assert store.due(["telegram"]) == [] and len(fake.sent_to(OWNER)) == 1
        store.close()
    finally:
        fake.close()


def test_pause_stops_processing_until_resume(running: Running, imap: Any) -> None:  # noqa: F811
    fake = running.fake
    fake.wait_until(lambda: running.config.store.path.exists() and fake.count("getUpdates"), timeout=30)
    fake.inject_message("/pause", OWNER)
    fake.wait_until(lambda: [m for m in fake.sent_to(OWNER) if "Paused" in m["text"]])
    imap.append("INBOX", referral(9, days_ago=1, subject="Arrived while paused"))
    time.sleep(2.5)
    assert running.store._db.execute("SELECT COUNT(*) FROM messages WHERE subject = 'Arrived while paused'"
                                     ).fetchone()[0] == 0, "nothing is processed while paused"
    imap.select_folder("INBOX", readonly=True)
    assert all(b"\\Seen" not in f for f in imap.get_flags(imap.search("ALL")).values())
    fake.inject_message("/resume", OWNER)
    running.row("Arrived while paused")
    running.push("Arrived while paused")
