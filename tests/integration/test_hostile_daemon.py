"""Hostile mail and faults in the daemon, against the suite's Dovecot: every hostile message is recorded, a
message the parser fails on is recorded as failed and the rest go on, and a worker stopped by a fault stops
the daemon loudly (non-zero, one line in plain words), never with status 0."""

from __future__ import annotations

import email
import sqlite3
import subprocess
import time
from email import policy
from pathlib import Path

import pytest

import bot.daemon
import bot.reader
from bot.config import load_config
from bot.drafting import MAX_LINE
from bot.imap_source import connect
from tests.dovecot import PASSWORD
from tests.integration.test_daemon import _rows, _sample_messages
from tests.test_cli import _mentorbox, run

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
POISON = (b"From: Ana Ruiz <ana@example.net>\r\nSubject: charset undefined\r\nMessage-ID: <poison@example.net>\r\n"
          b"Content-Type: text/plain; charset=undefined\r\n\r\nhello, congratulations on the paper\r\n")


def _raw_drafts(imap) -> list[bytes]:  # type: ignore[no-untyped-def]
    imap.select_folder("Drafts", readonly=True)
    uids = imap.search("ALL")
    return [d[b"BODY[]"] for d in imap.fetch(uids, [b"BODY.PEEK[]"]).values()] if uids else []


def test_a_mailbox_of_hostile_mail_is_triaged_whole(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """Every hostile fixture the server accepts is recorded (none failed), each draft goes to one address at
    most, no draft line is over 998 octets, and the UTF-8 draft to an SMTPUTF8 sender is stored."""
    taken = 0
    for path in sorted(HOSTILE.glob("*.eml")):
        try:
            imap.append("INBOX", path.read_bytes())
            taken += 1
        except Exception:  # noqa: BLE001 - a server may refuse raw NULs in a literal; the rest must get through
            pass
    assert taken >= 58
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    rows = _rows(daemon_config)
    assert len(rows) == taken
    assert [(r["uid"], r["error"]) for r in rows if r["status"] == "failed"] == []
    drafts = _raw_drafts(imap)
    assert len(drafts) == sum(1 for r in rows if r["status"] == "drafted") > taken // 2
    for raw in drafts:
        assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE
        draft = email.message_from_bytes(raw, policy=policy.default)
        assert draft["Bcc"] is None and len(draft.get_all("To") or []) == 1
        (to,) = draft["To"].addresses
        assert "evil.example" not in to.addr_spec
    assert any(b"To: \"Jos\xc3\xa9 N\xc3\xba\xc3\xb1ez\" <jos\xc3\xa9@ejemplo.es>" in raw for raw in drafts)
    again = run("run", "--once", "--config", str(daemon_config), env=env)
    assert again.returncode == 0 and len(_raw_drafts(imap)) == len(drafts)


def test_poison_mail_is_triaged_like_any_other(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """``charset=undefined`` once stopped the worker at every start; now it is one more message."""
    for raw in [POISON, *_sample_messages()[:4]]:
        imap.append("INBOX", raw)
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(daemon_config)
    assert len(rows) == 5 and all(r["status"] in ("drafted", "classified") for r in rows)
    poison = next(r for r in rows if r["message_id"] == "<poison@example.net>")
    assert poison["label"] and "hello" in (poison["body"] or "")


def test_a_message_the_parser_fails_on_is_recorded_as_failed_and_the_others_go_on(  # type: ignore[no-untyped-def]
        imap, daemon_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second guard, with a parser bug injected: the message is recorded as failed with its error and
    its attempts counted (given up after three), the rest of its batch is triaged and drafted."""
    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    real = bot.daemon.parse_mail

    def parse(raw: bytes):  # type: ignore[no-untyped-def]
        if b"POISON-MARK" in raw:
            raise UnicodeError("an injected parser bug")
        return real(raw)

    monkeypatch.setattr(bot.daemon, "parse_mail", parse)
    messages = _sample_messages()[:6]
    messages.insert(3, b"From: x@example.net\r\nSubject: POISON-MARK\r\nMessage-ID: <mark@x>\r\n\r\nCongrats!\r\n")
    for raw in messages:
        imap.append("INBOX", raw)
    config = load_config(daemon_config)

    def once() -> int:  # (a connector of its own: the daemon parses every message itself, no reader process)
        return bot.daemon.run_daemon(config, once=True, say=lambda text: None, connector=lambda a: connect(a))

    assert once() == 0
    rows = {r["uid"]: r for r in _rows(daemon_config)}
    assert len(rows) == 7
    failed = [r for r in rows.values() if r["status"] == "failed"]
    poisoned = sorted(rows)[3]
    assert len(failed) == 1 and failed[0]["uid"] == poisoned and failed[0]["attempts"] == 1
    assert "UnicodeError: an injected parser bug" in failed[0]["error"]
    drafted = sum(1 for r in rows.values() if r["status"] == "drafted")
    assert drafted >= 4 and len(_raw_drafts(imap)) == drafted
    for attempt in (2, 3, 3):
        assert once() == 0
        (row,) = [r for r in _rows(daemon_config) if r["uid"] == poisoned]
        assert row["status"] == "failed" and row["attempts"] == attempt
    assert len(_raw_drafts(imap)) == drafted, "nothing was drafted twice"


def test_a_message_the_reader_fails_to_parse_goes_back_to_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader process parses with the same guard: a message it fails on is answered unparsed, so that the
    daemon records the failure against that message (and the reader goes on with the batch)."""
    real = bot.reader.parse_mail
    monkeypatch.setattr(bot.reader, "parse_mail",
                        lambda raw: (_ for _ in ()).throw(UnicodeError("bug")) if b"BAD" in raw else real(raw))
    batch = bot.reader._parsed([1, 2, 3], 7, {1: b"Subject: ok\r\n\r\nhi", 2: b"Subject: BAD\r\n\r\n", 3: b"x"})
    assert sorted(batch.mails) == [1, 3] and batch.unparsed == {2: b"Subject: BAD\r\n\r\n"}
    mails, broken = bot.daemon.FolderWorker._parse(batch.unparsed, batch.mails)
    assert sorted(mails) == [1, 2, 3] and broken == {}, "the daemon parses what the reader could not"
    monkeypatch.setattr(bot.daemon, "parse_mail", bot.reader.parse_mail)
    mails, broken = bot.daemon.FolderWorker._parse(batch.unparsed, batch.mails)
    assert sorted(mails) == [1, 3] and sorted(broken) == [2] and isinstance(broken[2], UnicodeError)


def test_a_daemon_whose_store_cannot_grow_waits_and_goes_on_when_it_can(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """A store that cannot grow (a file-size limit here, as a full disk) stopped the worker and the daemon
    exited 0, and stayed down. Now the daemon stays up and says so in one line per try, without a traceback;
    once the store can grow again (the limit lifted on the running process), it goes on by itself: every
    message recorded once, each draft made once."""
    first = run("run", "--once", "--config", str(daemon_config), env=env)  # (the store and the FAQ model made)
    assert first.returncode == 0, first.stderr
    messages = _sample_messages()
    for raw in messages:
        imap.append("INBOX", raw)
    store = daemon_config.parent / "state.sqlite3"
    room = max(p.stat().st_size for p in store.parent.glob("state.sqlite3*")) // 1024 + 48  # (KiB)
    command = " ".join(f"'{part}'" for part in [*_mentorbox(), "run", "--config", str(daemon_config)])
    log = daemon_config.parent / "daemon.log"
    with log.open("w") as err:
        proc = subprocess.Popen(["bash", "-c", f"ulimit -S -f {room}; exec {command}"], stdout=subprocess.DEVNULL,
                                stderr=err, env=env, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "cannot write the state store" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        assert "cannot write the state store" in log.read_text()
        assert proc.poll() is None, "the daemon waits for room; it does not stop"
        assert len(_rows(daemon_config)) < len(messages)
        subprocess.run(["prlimit", f"--pid={proc.pid}", "--fsize=unlimited:"], check=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sum(r["status"] != "failed" for r in _rows(daemon_config)) < len(messages):
            time.sleep(0.3)
    finally:
        proc.terminate()
        code = proc.wait(30)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "Traceback" not in text and "unexpected error" not in text, text[-3000:]
    rows = _rows(daemon_config)
    assert len(rows) == len(messages) and all(r["status"] in ("drafted", "classified") for r in rows)
    drafts = _raw_drafts(imap)
    assert len(drafts) == sum(1 for r in rows if r["status"] == "drafted"), "each draft made once"


def test_store_faults_are_named_in_plain_words(tmp_path: Path) -> None:
    """Real SQLite errors (a full database, a read-only one, a damaged file) each get their line."""
    from bot.faults import describe_fault

    path = tmp_path / "s.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (x)")
    db.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.Error) as full:
        db.execute("INSERT INTO t VALUES (?)", ("x" * 20_000,))
    db.close()
    assert describe_fault(full.value, path).startswith("the state store's disk is full")
    readonly = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as refused:
        readonly.execute("INSERT INTO t VALUES (1)")
    readonly.close()
    assert describe_fault(refused.value, path).startswith("the state store is read-only")
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(sqlite3.Error) as damaged:
        sqlite3.connect(path).execute("SELECT * FROM t")
    assert describe_fault(damaged.value, path).startswith("the state store is damaged")
    assert describe_fault(OSError(28, "No space left on device", "/x/y"), path).startswith("the disk is full (/x/y)")
    assert "a bug" in describe_fault(KeyError("x"), path)


def test_a_fault_that_stops_the_daemon_is_told_on_telegram_once(tmp_path: Path, model_dir: Path, dovecot,  # type: ignore[no-untyped-def]
                                                                 imap, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store (which holds the Telegram outbox) may be what failed: the owner is told at once, directly,
    and a restart that meets the same fault does not tell him again."""
    from bot.telegram_bot import TelegramOptions
    from tests.fake_bot_api import TOKEN, FakeBotApi
    from tests.integration.test_telegram import OWNER
    from tests.integration.test_telegram_e2e import e2e_config

    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    monkeypatch.setenv("MBX_TEST_TG", TOKEN)

    def full(self, mailbox, **kwargs):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("database or disk is full")  # (an injected fault)

    monkeypatch.setattr(bot.daemon.FolderWorker, "sync", full)
    fake = FakeBotApi()
    fake.start()
    try:
        config = e2e_config(tmp_path, model_dir, dovecot, fake)
        options = TelegramOptions(poll_timeout=1, watch_interval=0.3, send_retry=(0.2, 0.5), read_timeout=2.0)
        for _ in range(2):
            assert bot.daemon.run_daemon(config, telegram_options=options, say=lambda text: None) == 1
            alerts = [m["text"] for m in fake.sent_to(OWNER) if "mentorbox stopped" in m["text"]]
            assert len(alerts) == 1 and "the state store's disk is full" in alerts[0]
    finally:
        fake.close()


def test_a_store_that_cannot_be_written_is_told_on_telegram_once_while_the_daemon_waits(  # type: ignore[no-untyped-def]
        tmp_path: Path, model_dir: Path, dovecot, imap, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk is waited out, not a reason to stop: the worker tries again and again, the owner is told
    once, directly (the outbox is in the store that cannot be written), and the daemon stops cleanly."""
    import threading

    from bot.errors import StoreError
    from bot.telegram_bot import TelegramOptions
    from tests.fake_bot_api import TOKEN, FakeBotApi
    from tests.integration.test_telegram import OWNER
    from tests.integration.test_telegram_e2e import e2e_config

    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    monkeypatch.setenv("MBX_TEST_TG", TOKEN)
    tries: list[float] = []

    def full(self, mailbox, **kwargs):  # type: ignore[no-untyped-def]
        tries.append(time.monotonic())
        raise StoreError("cannot write the state store: database or disk is full (is its disk full?)")

    monkeypatch.setattr(bot.daemon.FolderWorker, "sync", full)
    monkeypatch.setattr(bot.daemon, "NET_RETRY", (0.2, 0.5))
    fake = FakeBotApi()
    fake.start()
    stop = threading.Event()
    codes: list[int] = []
    try:
        config = e2e_config(tmp_path, model_dir, dovecot, fake)
        options = TelegramOptions(poll_timeout=1, watch_interval=0.3, send_retry=(0.2, 0.5), read_timeout=2.0)
        daemon = threading.Thread(target=lambda: codes.append(bot.daemon.run_daemon(
            config, stop=stop, telegram_options=options, say=lambda text: None)))
        daemon.start()
        fake.wait_until(lambda: len(tries) >= 5, timeout=60, what="five tries")
        waiting = [m["text"] for m in fake.sent_to(OWNER) if "mentorbox is waiting" in m["text"]]
        assert len(waiting) == 1 and "disk is full" in waiting[0]
        stop.set()
        daemon.join(30)
        assert codes == [0]
    finally:
        stop.set()
        fake.close()
