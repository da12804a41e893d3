"""Faults around the daemon against the real Dovecot: they end loudly, with one line and an exit code, and
never in a duplicate draft or push.

Two processes on one store, a store emptied or damaged under a mailbox that already holds mentorbox's drafts,
drafts the server refuses in a ``--once`` run.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.fake_bot_api import TOKEN, FakeBotApi
from tests.integration.test_daemon import ANSWERED, _drafts, _rows, _sample_messages, _start_daemon
from tests.test_cli import _mentorbox, run

OWNER = 4242


def _store(config: Path) -> Path:
    return config.parent / "state.sqlite3"


def test_a_second_daemon_on_the_same_store_is_refused_and_a_killed_ones_lock_goes_with_it(  # type: ignore[no-untyped-def]
        imap, daemon_config: Path, env) -> None:
    """Given a daemon running on a store, when a second ``run`` (or ``run --once``, or ``backfill``) starts on
    it, then it exits 1 at once with one line naming the first one's PID, and drafts nothing; ``status``
    works meanwhile. When the first is killed with SIGKILL, the next ``run --once`` is not blocked."""
    messages = _sample_messages()[:10]
    imap.multiappend("INBOX", messages)
    first = _start_daemon(daemon_config, env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_rows(daemon_config)) < len(messages):
            time.sleep(0.1)
        for args in (["run", "--once"], ["backfill", "--since", "2000-01-01"], ["run"]):
            second = run(*args, "--config", str(daemon_config), env=env)
            assert second.returncode == 1, (args, second.stderr)
            assert second.stderr.splitlines()[-1] == (
                f"mentorbox: error: another mentorbox (PID {first.pid}) is already working on the state store "
                f"'{_store(daemon_config)}': stop it first (status and digest work meanwhile)"), second.stderr
            assert "Traceback" not in second.stderr and "started" not in second.stderr
        status = run("status", "--config", str(daemon_config), env=env)
        assert status.returncode == 0, status.stderr
        assert "default/INBOX: last sync" in status.stdout
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    rows = _rows(daemon_config)
    deserving = [r for r in rows if r["label"] in ANSWERED]
    assert len(rows) == len(messages) and deserving
    drafts = _drafts(imap)
    assert sorted(str(d["In-Reply-To"]) for d in drafts) == sorted(r["message_id"] for r in deserving)

    after = run("run", "--once", "--config", str(daemon_config), env=env)  # the lock died with the process
    assert after.returncode == 0, after.stderr
    assert len(_drafts(imap)) == len(drafts)


def _telegram_section(fake: FakeBotApi) -> str:
    return (f'\n[telegram]\nenabled = true\ntoken_env = "MBX_TEST_TG"\nallowed_chat_ids = [{OWNER}]\n'
            f'api_base_url = "{fake.base_url}"\n\n[priority]\nvip = ["DeepMind"]\n')


def _outbox_rows(config: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(f"file:{_store(config)}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute("SELECT outbox.*, messages.status AS status, leads.state AS lead FROM outbox"
                               " LEFT JOIN messages ON messages.id = outbox.message_row"
                               " LEFT JOIN leads ON leads.message_row = outbox.message_row"))
    finally:
        db.close()


def test_an_emptied_store_finds_its_drafts_in_drafts_and_repeats_neither_draft_nor_push(  # type: ignore[no-untyped-def]
        imap, daemon_config: Path, env) -> None:
    """Given a mailbox triaged once (drafts in Drafts, leads pushed to Telegram), when the store is emptied (a
    0-byte file: a failed restore) and ``run --once`` runs again, then it says so in one WARNING line (how
    many drafts, that their messages are not drafted again, what probably happened), appends no second
    draft, records each draft found as stored with its UID, and pushes no lead again."""
    fake = FakeBotApi()
    fake.start()
    try:
        daemon_config.write_text(daemon_config.read_text() + _telegram_section(fake))
        env = {**env, "MBX_TEST_TG": TOKEN}
        messages = _sample_messages()
        imap.multiappend("INBOX", messages)
        first = run("run", "--once", "--config", str(daemon_config), env=env)
        assert first.returncode == 0, first.stderr
        drafts = _drafts(imap)
        pushed = len(fake.sent)
        assert len(drafts) > 30 and pushed > 0
        imap.select_folder("Drafts", readonly=True)
        uids = {str(d["Message-ID"]): uid for uid, d in zip(sorted(imap.search("ALL")), _drafts(imap))}

        _store(daemon_config).write_bytes(b"")  # what a failed restore or a deleted store leaves
        again = run("run", "--once", "--config", str(daemon_config), env=env)
        assert again.returncode == 0, again.stderr
        assert len(_drafts(imap)) == len(drafts), "a draft was appended a second time"
        warnings = [line for line in again.stderr.splitlines() if " WARNING " in line]
        assert len(warnings) == 1, warnings
        assert re.search(rf"Drafts holds {len(drafts)} draft\(s\) mentorbox made, but the state store "
                         rf"{re.escape(str(_store(daemon_config)))} has no record of any: the store is new "
                         r"\(deleted, emptied, or restored from an older backup\?\)\. The messages they answer will "
                         r"not be drafted again, nor pushed to Telegram again", warnings[0]), warnings[0]
        rows = _rows(daemon_config)
        assert len(rows) == len(messages)
        deserving = [r for r in rows if r["label"] in ANSWERED]
        assert {r["status"] for r in deserving} == {"drafted"}
        outbox = _outbox_rows(daemon_config)
        stored = {r["message_row"]: r for r in outbox if r["kind"] == "draft"}
        assert len(stored) == len(drafts) and {r["state"] for r in stored.values()} == {"done"}
        for row in deserving:  # each recorded with the UID it has in Drafts
            draft = stored[row["id"]]
            message_id = json.loads(draft["payload"])["message_id"]
            assert draft["result"] == str(uids[message_id]) and row["draft_ref"] == f"Drafts/{uids[message_id]}"
        pushes = [r for r in outbox if r["kind"] == "telegram"]
        assert not [r for r in pushes if r["status"] == "drafted"], "a message drafted before was pushed again"
        assert len(fake.sent) == pushed + len(pushes)
        assert all(r["lead"] == "notified" for r in outbox if r["kind"] == "draft" and r["lead"])
    finally:
        fake.close()


def test_backfill_exits_1_when_the_server_refuses_its_drafts(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """Given a Drafts folder the server refuses (configured, but not there: APPEND answers NO [TRYCREATE]),
    when ``backfill`` triages older mail, then it records everything, keeps the drafts to offer again, and
    says in one ERROR line that they are not in Drafts: exit 1, not 0."""
    daemon_config.write_text(daemon_config.read_text() + 'drafts_folder = "Gone"\n')
    messages = _sample_messages()[:12]
    imap.multiappend("INBOX", messages)
    done = run("backfill", "--since", "2000-01-01", "--config", str(daemon_config), env=env)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    rows = _rows(daemon_config)
    waiting = [r for r in rows if r["label"] in ANSWERED]
    assert len(rows) == len(messages) and waiting and {r["status"] for r in waiting} == {"classified"}
    said = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(said) == 1 and re.search(
        rf"{len(waiting)} draft\(s\) refused by the server are not in Drafts; kept, and offered again by a run "
        r"from \d\d:\d\d on: .*TRYCREATE", said[0]), done.stderr
    assert "default/INBOX: 12 older message(s) triaged since 2000-01-01" in done.stdout


def _run_limited(config: Path, env: dict[str, str], max_file_bytes: int) -> subprocess.CompletedProcess[str]:
    """``run --once`` with no file of its allowed to grow past ``max_file_bytes`` (RLIMIT_FSIZE): a disk that
    fills up, for this process alone (Python ignores SIGXFSZ, so a write past it fails with EFBIG)."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([*_mentorbox(), "run", "--once", "--config", str(config)], env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL, preexec_fn=limit, check=False)


def test_a_store_that_cannot_grow_is_one_line_and_exit_1_and_loses_nothing(  # type: ignore[no-untyped-def]
        imap, daemon_config: Path, env) -> None:
    """Given a store whose disk fills up during the first sync (its files may not grow past 400 KB), when
    ``run --once`` runs, then it stops with one ERROR line naming the store and the cause, exit 1, and no
    traceback; once there is room, the next run records every message once and makes each draft once."""
    run("run", "--once", "--config", str(daemon_config), env=env)  # (start-up files made; the store too)
    assert _store(daemon_config).exists()
    messages = _sample_messages()
    imap.multiappend("INBOX", messages)
    full = _run_limited(daemon_config, env, 400_000)
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr and "unexpected error" not in full.stderr, full.stderr
    assert re.search(rf" ERROR +mentorbox\.daemon: cannot write the state store '{re.escape(str(_store(daemon_config)))}'"
                     r": (database or disk is full|disk I/O error) \(is its disk full\?\)", full.stderr), full.stderr
    assert len(_rows(daemon_config)) < len(messages)

    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    rows = _rows(daemon_config)
    assert len(rows) == len(messages) and len({r["uid"] for r in rows}) == len(messages)
    drafts = _drafts(imap)
    assert sorted(str(d["In-Reply-To"]) for d in drafts) == sorted(
        r["message_id"] for r in rows if r["label"] in ANSWERED)


def test_a_follow_up_draft_already_in_drafts_is_not_made_again(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """Found in a new-user trial: after the store was lost, the first day's nudges put a second copy of each
    follow-up draft into Drafts (the look for old drafts is done by then). A follow-up draft is looked up
    by its Message-ID before it is appended."""
    from bot.store import MessageKey, Store

    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0  # (the store made)
    message_id = "<mentorbox.followup.0123456789abcdef01234567@andersen.dk>"
    raw = (f"From: kai@andersen.dk\r\nTo: dana@lab.example\r\nSubject: Re: Interview\r\nMessage-ID: {message_id}"
           f"\r\nX-Mentorbox: draft\r\n\r\nJust following up.\r\n").encode()
    imap.append("Drafts", raw, flags=[b"\\Draft"])  # made before the store was lost
    store = Store(_store(daemon_config))
    try:
        key = MessageKey("default", "INBOX", 1, 1)
        store.enqueue("draft", f"draft:{key.account}/{key.folder}/1/1:followup",
                      {"folder": None, "message_id": message_id, "message": raw, "follow_up": True})
    finally:
        store.close()
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    copies = [d for d in _drafts(imap) if str(d["Message-ID"]) == message_id]
    assert len(copies) == 1
    assert [r["state"] for r in _outbox_rows(daemon_config) if r["kind"] == "draft"] == ["done"]
