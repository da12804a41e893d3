"""The daemon against a real Dovecot: exactly-once triage, threaded drafts, UIDVALIDITY changes, kill -9,
IDLE, SIGTERM and status."""

from __future__ import annotations

import email
import mailbox as mailboxlib
import random
import re
import signal
import socket
import sqlite3
import subprocess
import time
from email import policy
from pathlib import Path

import pytest

from bot.config import load_config
from bot.imap_source import ActionRefused, ImapConnectError, Mailbox
from tests.conftest import NASTY, SAMPLE_MBOX
from tests.dovecot import DOVEADM, PASSWORD, Dovecot
from tests.test_cli import _mentorbox, run

ANSWERED = {"congratulation", "advice_request", "phd_offer", "job_lead"}


def _sample_messages() -> list[bytes]:
    box = mailboxlib.mbox(SAMPLE_MBOX, create=False)
    try:
        return [box.get_bytes(k) for k in box.keys()]
    finally:
        box.close()


def _drafts(imap) -> list[email.message.EmailMessage]:  # type: ignore[no-untyped-def]
    imap.select_folder("Drafts", readonly=True)
    uids = imap.search("ALL")
    data = imap.fetch(uids, [b"BODY.PEEK[]", b"FLAGS"]) if uids else {}
    for item in data.values():
        assert b"\\Draft" in item[b"FLAGS"]
    return [email.message_from_bytes(d[b"BODY[]"], policy=policy.default) for d in data.values()]


def _rows(config: Path) -> list[sqlite3.Row]:
    path = config.parent / "state.sqlite3"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute("SELECT * FROM messages ORDER BY uid"))
    except sqlite3.OperationalError:  # the daemon has not created its tables yet
        return []
    finally:
        db.close()


def crlf(messages: list[bytes]) -> list[bytes]:
    """Messages with CRLF line ends, as delivered mail has them (Cyrus refuses "bare newlines")."""
    return [re.sub(rb"\r?\n", b"\r\n", raw) for raw in messages]


def test_run_once_triages_everything_once_and_drafts_threaded_replies(server_imap, server_config: Path,  # type: ignore[no-untyped-def]
                                                                      env) -> None:
    """On Dovecot and on Cyrus (see tests/integration/test_servers.py)."""
    imap, daemon_config = server_imap, server_config
    messages = crlf(_sample_messages())
    for raw in messages:
        imap.append("INBOX", raw)
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    rows = _rows(daemon_config)
    assert len(rows) == len(messages)
    drafts = _drafts(imap)
    deserving = [r for r in rows if r["label"] in ANSWERED]
    assert len(drafts) == len(deserving) > 30
    originals = {r["message_id"]: r for r in rows}
    for draft in drafts:
        original = originals[draft["In-Reply-To"]]
        assert original["label"] in ANSWERED and original["status"] == "drafted"
        assert draft["References"].split()[-1] == original["message_id"]
        assert draft["From"] == "Kai Andersen <kai@andersen.dk>"
        assert draft["Subject"].startswith("Re: ")
    # Never marks anything read, never deletes.
    imap.select_folder("INBOX", readonly=True)
    flags = imap.get_flags(imap.search("ALL"))
    assert len(flags) == len(messages) and all(b"\\Seen" not in f for f in flags.values())
    # One structured line per message.
    assert done.stderr.count("triaged") == len(messages)
    assert "label=" in done.stderr and "action=" in done.stderr

    again = run("run", "--once", "--config", str(daemon_config), env=env)
    assert again.returncode == 0, again.stderr
    assert len(_drafts(imap)) == len(drafts) and len(_rows(daemon_config)) == len(messages)


def test_a_mailbox_of_broken_mail_is_triaged_whole_with_sane_drafts(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """Every hand-made broken message (tests/fixtures/nasty) through the real daemon and Dovecot: each one is
    recorded and none fails, and every draft goes to an address and is threaded when the original has a
    Message-ID. Mail with no address to reply to gets no draft."""
    originals = sorted(NASTY.glob("*.eml"))
    for path in originals:
        imap.append("INBOX", path.read_bytes())
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = _rows(daemon_config)
    assert len(rows) == len(originals)
    assert [r["status"] for r in rows if r["status"] not in ("drafted", "classified")] == []
    drafts = _drafts(imap)
    assert len(drafts) == sum(1 for r in rows if r["status"] == "drafted") > len(originals) // 2
    for draft in drafts:
        assert "@" in str(draft["To"]), draft["To"]
    threaded = {str(d["In-Reply-To"]) for d in drafts if d["In-Reply-To"]}
    with_id = {r["message_id"] for r in rows if r["status"] == "drafted" and r["message_id"]}
    assert threaded == with_id
    anonymous = [r for r in rows if r["message_id"] in ("<nasty-23@example.org>", "<nasty-25@example.org>")]
    assert len(anonymous) == 2 and all(r["status"] == "classified" for r in anonymous)


def test_uidvalidity_change_resyncs_by_message_id(imap, dovecot: Dovecot, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """Messages known by Message-ID are recorded again under their new UIDs, without drafts; new ones are
    processed; mail older than the first start's window (skipped then) stays skipped."""
    import datetime as dt

    for raw in _sample_messages()[10:14]:
        imap.append("INBOX", raw, msg_time=dt.datetime.now() - dt.timedelta(days=300))
    messages = _sample_messages()[:10] + [  # and two without a Message-ID: known by sender, date and subject
        b"From: Lee Park <lee@x.org>\r\nSubject: PhD offer one\r\nDate: Tue, 03 Mar 2026 10:00:00 +0100\r\n\r\n"
        b"Dear Kai, we would like to offer you a funded PhD position in our lab.\r\n",
        b"From: Lee Park <lee@x.org>\r\nSubject: Congrats!\r\nDate: Tue, 03 Mar 2026 10:05:00 +0100\r\n\r\n"
        b"Congratulations on the paper, Kai!\r\n"]
    for raw in messages:
        imap.append("INBOX", raw)
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    drafts_before = len(_drafts(imap))
    assert sum(1 for r in _rows(daemon_config) if not r["message_id"]) == 2
    uidvalidity = imap.folder_status("INBOX", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    dovecot.doveadm("mailbox", "update", "-u", "test", "--uid-validity", str(uidvalidity + 11), "INBOX")
    new = b"From: Prof. Ada Byron <ada@cs.ox.ac.uk>\r\nSubject: PhD with us?\r\nMessage-ID: <new-after-uv@x>\r\n\r\n" \
          b"Dear Kai, would you consider a fully funded PhD position in my group at Oxford?\r\n"
    imap.append("INBOX", new)
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    assert "UIDVALIDITY of INBOX changed" in done.stderr
    rows = _rows(daemon_config)
    assert {r["uidvalidity"] for r in rows} == {uidvalidity, uidvalidity + 11}
    assert len([r for r in rows if r["uidvalidity"] == uidvalidity + 11]) == 13
    assert len(_drafts(imap)) == drafts_before + 1  # only the new message got a draft
    # status counts the folder as it is now, not both generations of its rows.
    status = run("status", "--config", str(daemon_config), env=env).stdout
    line = next(x for x in status.splitlines() if "default/INBOX: last sync" in x)
    assert f"(UIDVALIDITY {uidvalidity + 11})" in line
    assert sum(int(n) for n in re.findall(r"[a-z_]+ (\d+)", line.split("); ")[1].split("; failed")[0])) == 13, line


def test_a_backfill_after_a_uidvalidity_change_drafts_nothing_twice(imap, dovecot: Dovecot,  # type: ignore[no-untyped-def]
                                                                     daemon_config: Path, env) -> None:
    """Old mail backfilled under the old UIDVALIDITY is left out of the re-sync (it is older than the first
    start's window); a second backfill afterwards finds it by Message-ID: recorded again, not drafted again."""
    import datetime as dt

    for raw in _sample_messages()[:8]:
        imap.append("INBOX", raw, msg_time=dt.datetime.now() - dt.timedelta(days=300))
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    since = (dt.date.today() - dt.timedelta(days=400)).isoformat()
    assert run("backfill", "--since", since, "--config", str(daemon_config), env=env).returncode == 0
    drafted = len(_drafts(imap))
    assert len(_rows(daemon_config)) == 8 and drafted > 0
    uidvalidity = imap.folder_status("INBOX", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    dovecot.doveadm("mailbox", "update", "-u", "test", "--uid-validity", str(uidvalidity + 7), "INBOX")
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    assert len(_rows(daemon_config)) == 8 and len(_drafts(imap)) == drafted
    again = run("backfill", "--since", since, "--config", str(daemon_config), env=env)
    assert again.returncode == 0, again.stderr
    rows = _rows(daemon_config)
    assert len(rows) == 16 and len([r for r in rows if r["uidvalidity"] == uidvalidity + 7]) == 8
    assert len(_drafts(imap)) == drafted, "a backfilled message was drafted twice"


def test_kill_minus_9_never_skips_or_duplicates(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """Given a backlog, when the daemon is killed with SIGKILL mid-batch several times and restarted,
    then every message is recorded once and every draft exists exactly once."""
    messages = _sample_messages()
    rng = random.Random(3)
    copies = 8
    for copy in range(copies):
        imap.multiappend("INBOX", [raw.replace(b"Message-ID: <", f"Message-ID: <c{copy}-".encode(), 1)
                                   for raw in messages])
    total = len(messages) * copies
    kills, seen = 0, []
    for _ in range(12):
        before = len(_rows(daemon_config))
        proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(daemon_config)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_rows(daemon_config)) == before:
            time.sleep(0.05)  # wait until it is processing, then kill it somewhere in the batch
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        seen.append(len(_rows(daemon_config)))
        if seen[-1] >= total:
            break
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    rows = _rows(daemon_config)
    assert len(rows) == total and len({(r["uidvalidity"], r["uid"]) for r in rows}) == total
    drafts = _drafts(imap)
    replied_to = [d["In-Reply-To"] for d in drafts]
    assert len(replied_to) == len(set(replied_to)), "a draft was appended twice"
    assert len(drafts) == sum(1 for r in rows if r["label"] in ANSWERED)
    print(f"rows recorded at each kill: {seen} of {total}")
    assert kills >= 3 and seen[0] < total, seen  # it really was killed mid-way, several times


def test_idle_picks_up_new_mail_and_sigterm_exits_cleanly(server_imap, server_config: Path,  # type: ignore[no-untyped-def]
                                                          env) -> None:
    """On Dovecot and on Cyrus, whose IDLE is served by a separate idled."""
    imap, daemon_config = server_imap, server_config
    proc = _start_daemon(daemon_config, env)
    try:
        time.sleep(1.0)
        imap.append("INBOX", b"From: Jane Roe <jane@deepmind.com>\r\nSubject: Referral\r\nMessage-ID: <idle1@x>\r\n\r\n"
                             b"Hi Kai, I'd like to refer you for a research engineer role on my team. HR will "
                             b"reach out within two weeks to set up a call.\r\n")
        started = time.monotonic()
        while time.monotonic() - started < 15 and not _drafts(imap):
            time.sleep(0.1)
        latency = time.monotonic() - started
        assert _drafts(imap), "no draft appeared after APPEND while the daemon was idling"
        assert latency < 5
    finally:
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
        stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert time.monotonic() - stopped < 10
    assert "mentorbox stopped" in stderr


def test_sigterm_mid_backlog_exits_cleanly_and_the_next_run_goes_on(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM while a backlog of many batches is being triaged: exit 0 within 10 s with what was recorded
    kept; the next run triages the rest, each message once, one draft each."""
    total = _append_backlog(imap, "t")
    proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(daemon_config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_rows(daemon_config)) < total // 4:
        time.sleep(0.02)
    stopped = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(15)
    took = time.monotonic() - stopped
    stderr = proc.stderr.read() if proc.stderr else ""
    at_stop = len(_rows(daemon_config))
    assert code == 0 and took < 10, (code, took, stderr)
    assert "mentorbox stopped" in stderr and "Traceback" not in stderr
    assert 0 < at_stop < total, at_stop  # it really was stopped mid-way
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    _assert_once_each_with_one_draft(daemon_config, imap, total)
    print(f"stopped at {at_stop} of {total} rows, in {took:.2f} s")


def _append_backlog(imap, tag: str, copies: int = 6) -> int:  # type: ignore[no-untyped-def]
    """Copies of the sample mail with distinct Message-IDs, several batches' worth; how many there are."""
    messages = _sample_messages()
    for copy in range(copies):
        imap.multiappend("INBOX", [raw.replace(b"Message-ID: <", f"Message-ID: <{tag}{copy}-".encode(), 1)
                                   for raw in messages])
    return len(messages) * copies


def _assert_once_each_with_one_draft(config: Path, client, total: int) -> None:  # type: ignore[no-untyped-def]
    """Every message recorded once, and exactly one reply draft per message that deserves one (follow-up
    drafts for overdue promises in the sample leads are written too while the daemon runs: not counted)."""
    rows = _rows(config)
    assert len(rows) == total and len({r["uid"] for r in rows}) == total
    drafts = [d for d in _drafts(client) if not d["Message-ID"].startswith("<mentorbox.followup.")]
    replied_to = [d["In-Reply-To"] for d in drafts]
    assert len(replied_to) == len(set(replied_to)), "a draft was appended twice"
    assert len(drafts) == sum(1 for r in rows if r["label"] in ANSWERED)
    assert all(r["status"] == "drafted" for r in rows if r["label"] in ANSWERED)


def _start_daemon(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``mentorbox run`` and wait until it has synced once (its folder state exists)."""
    proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(config)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _rows_exist(config):
        time.sleep(0.2)
    return proc


def _rows_exist(config: Path) -> bool:
    path = config.parent / "state.sqlite3"
    if not path.exists():
        return False
    db = sqlite3.connect(path)
    try:
        return bool(db.execute("SELECT COUNT(*) FROM folders").fetchone()[0])
    except sqlite3.Error:
        return False
    finally:
        db.close()


def test_status_reports_folders_labels_and_model(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    for raw in _sample_messages()[:6]:
        imap.append("INBOX", raw)
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    done = run("status", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    assert "model: " in done.stdout and "held-out macro-F1" in done.stdout
    assert "default/INBOX: last sync" in done.stdout and "failed 0" in done.stdout
    assert "default/Sent (Sent, read for your replies to leads): last sync" in done.stdout
    # The owner stops watching INBOX: its messages stay in the store, and status says why it is listed.
    daemon_config.write_text(daemon_config.read_text().replace("batch_size = 20\n",
                                                               'batch_size = 20\nfolders = ["Archive"]\n'))
    moved = run("status", "--config", str(daemon_config), env=env)
    assert moved.returncode == 0, moved.stderr
    assert "default/Archive: never synced" in moved.stdout
    assert "default/INBOX (no longer in the config): last sync" in moved.stdout
    assert "open leads:" in done.stdout and "backlog: 0 action(s) waiting" in done.stdout
    digest = run("digest", "--config", str(daemon_config), env=env)
    assert digest.returncode == 0, digest.stderr
    assert "New in the last 24 hours: 6" in digest.stdout and "Open leads:" in digest.stdout
    drafted = sum(1 for r in _rows(daemon_config) if r["status"] == "drafted")
    assert f"Drafts waiting for you: {drafted}" in digest.stdout


def test_wrong_password_once_exits_1_with_one_line(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    done = run("run", "--once", "--config", str(daemon_config), env={**env, "MBX_TEST_PW": "nope-nope"})
    assert done.returncode == 1
    assert "refused the login" in done.stderr and "nope-nope" not in done.stderr
    assert "Traceback" not in done.stderr


def test_one_bad_message_does_not_block_the_others(imap, daemon_config: Path, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A template that fails for one subject: that message is recorded as failed and retried a bounded
    number of times; the others are triaged and drafted."""
    import shutil

    from bot.drafting import shipped_templates_dir

    templates = tmp_path / "templates"
    shutil.copytree(shipped_templates_dir(), templates)
    path = templates / "congratulation.txt.j2"
    path.write_text("{% if 'BOOM' in subject %}{{ 1 // 0 }}{% endif %}" + path.read_text())
    daemon_config.write_text(daemon_config.read_text() + f'\n[drafts]\ntemplates_dir = "{templates}"\n')
    imap.append("INBOX", b"From: a@x.org\r\nSubject: BOOM congrats\r\nMessage-ID: <boom@x>\r\n\r\n"
                         b"Congratulations on the spotlight, well deserved!\r\n")
    imap.append("INBOX", b"From: b@x.org\r\nSubject: congrats\r\nMessage-ID: <fine@x>\r\n\r\n"
                         b"Congratulations on the spotlight, what a great paper!\r\n")
    for attempt in range(1, 5):
        done = run("run", "--once", "--config", str(daemon_config), env=env)
        assert done.returncode == 0, done.stderr
        rows = {r["message_id"]: r for r in _rows(daemon_config)}
        assert rows["<fine@x>"]["status"] == "drafted"
        assert rows["<boom@x>"]["status"] == "failed" and "ZeroDivisionError" in rows["<boom@x>"]["error"]
        assert rows["<boom@x>"]["attempts"] == min(attempt, 3)
    assert len(_drafts(imap)) == 1


def test_json_log_lines(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    import json

    for raw in _sample_messages()[:3]:
        imap.append("INBOX", raw)
    done = run("run", "--once", "--log-format", "json", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    triaged = [line for line in lines if line["msg"] == "triaged"]
    assert len(triaged) == 3
    for line in triaged:
        assert {"folder", "uid", "label", "confidence", "action"} <= set(line)
        assert line["folder"] == "INBOX"


def test_keywords_and_moves_only_when_configured(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    daemon_config.write_text(daemon_config.read_text().replace(
        "batch_size = 20\n", 'batch_size = 20\ntag_with_keywords = true\nmove_to_folders = { other = "Triage/Other" }\n'))
    for raw in _sample_messages():
        imap.append("INBOX", raw)
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    rows = _rows(daemon_config)
    others = [r for r in rows if r["label"] == "other"]
    imap.select_folder("Triage/Other", readonly=True)
    assert len(imap.search("ALL")) == len(others) > 0
    imap.select_folder("INBOX", readonly=True)
    flags = imap.get_flags(imap.search("ALL"))
    assert len(flags) == len(rows) - len(others)
    assert all(any(f.startswith(b"mentorbox-") for f in fl) and b"\\Seen" not in fl for fl in flags.values())
    again = run("run", "--once", "--config", str(daemon_config), env=env)
    assert again.returncode == 0 and len(_rows(daemon_config)) == len(rows)


def _outbox(config: Path, kind: str) -> list[sqlite3.Row]:
    """The store's outbox actions of one kind (``draft``, ``move``, ...), oldest first."""
    db = sqlite3.connect(f"file:{config.parent / 'state.sqlite3'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute("SELECT * FROM outbox WHERE kind = ? ORDER BY id", (kind,)))
    finally:
        db.close()


def test_a_move_the_server_refuses_fails_alone(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """A folder name the server will not create ("~" starts a home-directory path in Dovecot) must not look
    like a dropped connection: before, every sync ended in a reconnect at that move, `run --once` exited 1
    and the moves after it never happened."""
    daemon_config.write_text(daemon_config.read_text().replace(
        "batch_size = 20\n",
        'batch_size = 20\nmove_to_folders = { other = "~Other", congratulation = "Thanks" }\n'))
    for raw in _sample_messages():
        imap.append("INBOX", raw)
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "reconnect" not in done.stderr.lower()
    assert "Invalid mailbox name" in done.stderr
    assert "under '~Other' (0 given up after 3 tries, the rest tried again in 10 minutes)" in done.stderr
    rows = _rows(daemon_config)
    assert len(rows) == len(_sample_messages())
    counts = {label: sum(r["label"] == label for r in rows) for label in ("other", "congratulation")}
    assert counts["other"] > 0 and counts["congratulation"] > 0
    imap.select_folder("Thanks", readonly=True)
    assert len(imap.search("ALL")) == counts["congratulation"], "the moves that can be done are done"
    imap.select_folder("INBOX", readonly=True)
    assert len(imap.search("ALL")) == len(rows) - counts["congratulation"], "the refused ones stay in INBOX"
    assert len(_drafts(imap)) > 0, "drafts are made as usual"
    refused = [r for r in _outbox(daemon_config, "move") if r["result"] != "Thanks"]
    assert len(refused) == counts["other"]
    assert all(r["state"] == "pending" and r["attempts"] == 1 and "Invalid mailbox name" in r["last_error"]
               for r in refused)

    db = sqlite3.connect(daemon_config.parent / "state.sqlite3")
    for attempt in (2, 3):  # the retry time comes; after the last attempt the move is left as failed
        db.execute("UPDATE outbox SET not_before = 0 WHERE kind = 'move'")
        db.commit()
        again = run("run", "--once", "--config", str(daemon_config), env=env)
        assert again.returncode == 0, again.stderr
        assert f"({counts['other'] if attempt == 3 else 0} given up after 3 tries" in again.stderr
        states = {r["state"] for r in _outbox(daemon_config, "move") if r["result"] != "Thanks"}
        assert states == ({"pending"} if attempt < 3 else {"failed"}), attempt
    db.execute("UPDATE outbox SET not_before = 0 WHERE kind = 'move'")
    db.commit()
    db.close()
    quiet = run("run", "--once", "--config", str(daemon_config), env=env)
    assert quiet.returncode == 0 and "refused" not in quiet.stderr, "a failed move is not tried again"
    assert len(_rows(daemon_config)) == len(rows)


def test_a_refused_tag_or_move_is_a_refusal_and_a_broken_link_is_not(imap, daemon_config: Path,  # type: ignore[no-untyped-def]
                                                                    monkeypatch) -> None:
    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    imap.append("INBOX", b"From: a@x.org\r\nSubject: hi\r\nMessage-ID: <k1@x>\r\n\r\nHello\r\n")
    mailbox = Mailbox(load_config(daemon_config).accounts[0])
    mailbox.select("INBOX", readonly=False)
    uid = mailbox.uids_after(0)[0]
    with pytest.raises(ActionRefused, match="Keyword length too long"):
        mailbox.add_keyword([uid], "k" * 60)  # Dovecot stores keywords of up to 50 characters
    with pytest.raises(ActionRefused, match=r"move messages to '~Other': \[CANNOT\] Invalid mailbox name"):
        mailbox.move([uid], "~Other")
    mailbox.add_keyword([uid], "mentorbox-other")  # the connection is still good
    imap.select_folder("INBOX", readonly=True)
    assert b"mentorbox-other" in imap.get_flags([uid])[uid]
    mailbox.client._imap.sock.shutdown(socket.SHUT_RDWR)  # noqa: SLF001 - the link breaks under us
    with pytest.raises(ImapConnectError):
        mailbox.move([uid], "Elsewhere")
    mailbox.close()


def test_two_accounts_and_two_folders(imap, dovecot: Dovecot, config_file: Path, env) -> None:  # type: ignore[no-untyped-def]
    imap.create_folder("Lists")
    imap.append("INBOX", b"From: a@x.org\r\nSubject: congrats\r\nMessage-ID: <t1@x>\r\n\r\nCongratulations!\r\n")
    imap.append("Lists", b"From: b@x.org\r\nSubject: thanks\r\nMessage-ID: <t2@x>\r\n\r\nThank you for the post!\r\n")
    other = dovecot.client(user="bot")
    other.select_folder("INBOX")
    old = other.search("ALL")
    if old:
        other.delete_messages(old)
        other.expunge()
    other.append("INBOX", b"From: c@x.org\r\nSubject: PhD?\r\nMessage-ID: <b1@x>\r\n\r\nWould you do a PhD with me?\r\n")
    common = f'host = "localhost"\nport = {dovecot.tls_port}\npassword_env = "MBX_TEST_PW"\nca_file = "{dovecot.ca_file}"\n'
    config_file.write_text(config_file.read_text()
                           + f'\n[[accounts]]\nname = "main"\nusername = "test"\nfolders = ["INBOX", "Lists"]\n{common}'
                           + f'\n[[accounts]]\nname = "side"\nusername = "bot"\n{common}')
    done = run("run", "--once", "--config", str(config_file), env=env)
    assert done.returncode == 0, done.stderr
    keys = {(r["account"], r["folder"], r["message_id"]) for r in _rows(config_file)}
    assert keys == {("main", "INBOX", "<t1@x>"), ("main", "Lists", "<t2@x>"), ("side", "INBOX", "<b1@x>")}
    other.select_folder("Drafts", readonly=True)
    assert len(other.search("ALL")) == 1
    other.logout()


@pytest.mark.parametrize("command", [["run", "--once"], ["backfill", "--since", "2026-01-05"]])
def test_daemon_refuses_to_start_with_a_broken_template(daemon_config: Path, env, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         command: list[str]) -> None:
    import shutil

    from bot.drafting import shipped_templates_dir

    templates = tmp_path / "templates"
    shutil.copytree(shipped_templates_dir(), templates)
    (templates / "phd_offer.txt.j2").write_text("{{ greeting }\n")
    daemon_config.write_text(daemon_config.read_text() + f'\n[drafts]\ntemplates_dir = "{templates}"\n')
    done = run(*command, "--config", str(daemon_config), env=env)
    assert done.returncode == 2
    assert "phd_offer.txt.j2:1:" in done.stderr and "check-config" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "state.sqlite3").exists()


def test_first_start_skips_old_mail_and_backfill_gets_it(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    old = dt.datetime.now() - dt.timedelta(days=30)
    for i, raw in enumerate(_sample_messages()[:5]):
        imap.append("INBOX", raw, msg_time=old)
    imap.append("INBOX", b"From: n@x.org\r\nSubject: congrats\r\nMessage-ID: <recent@x>\r\n\r\nCongratulations!\r\n")
    first = run("run", "--once", "--config", str(daemon_config), env=env)
    assert first.returncode == 0, first.stderr
    assert [r["message_id"] for r in _rows(daemon_config)] == ["<recent@x>"]
    assert "5 message(s) from before" in first.stderr and "mentorbox backfill --since DATE" in first.stderr
    since = (dt.date.today() - dt.timedelta(days=40)).isoformat()
    done = run("backfill", "--since", since, "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    assert f"default/INBOX: 5 older message(s) triaged since {since}" in done.stdout
    assert len(_rows(daemon_config)) == 6
    again = run("backfill", "--since", since, "--config", str(daemon_config), env=env)
    assert "0 older message(s)" in again.stdout and len(_rows(daemon_config)) == 6
    bad = run("backfill", "--since", "last tuesday", "--config", str(daemon_config), env=env)
    assert bad.returncode == 2 and "expected a date like 2026-01-31" in bad.stderr


def test_a_message_delivered_twice_gets_one_draft(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """The same Message-ID from the same sender (by CC and by a list; in one batch or later) is one message:
    recorded under each UID, drafted once. The same Message-ID from someone else is another message."""
    phd = (b"From: Prof. Ada Byron <ada@cs.ox.ac.uk>\r\nSubject: PhD with us?\r\nMessage-ID: <twice@ox>\r\n\r\n"
           b"Dear Kai, would you consider a fully funded PhD position in my group at Oxford?\r\n")
    imap.append("INBOX", phd)
    imap.append("INBOX", phd.replace(b"Subject: PhD", b"List-Id: <ml.ox.ac.uk>\r\nSubject: PhD"))
    imap.append("INBOX", phd.replace(b"ada@cs.ox.ac.uk", b"someone@else.org").replace(b"Ada Byron", b"B. Else"))
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    imap.append("INBOX", phd)
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    rows = _rows(daemon_config)
    assert len(rows) == 4 and {r["message_id"] for r in rows} == {"<twice@ox>"}
    assert [r["label"] for r in rows] == ["phd_offer"] * 4
    drafts = _drafts(imap)
    assert sorted(d["To"].addresses[0].addr_spec for d in drafts) == ["ada@cs.ox.ac.uk", "someone@else.org"]
    assert "the same message as default/INBOX UID" in done.stderr


def test_old_mail_after_the_first_starts_window_stays_skipped(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """UID order is not date order (a migrated mailbox, mail moved in from an archive): old mail with UIDs above
    the first start's recent mail is skipped by the first start and still skipped by every pass after it."""
    import datetime as dt

    old = dt.datetime.now() - dt.timedelta(days=300)
    imap.append("INBOX", b"From: n@x.org\r\nSubject: congrats\r\nMessage-ID: <recent@x>\r\n\r\nCongratulations!\r\n")
    for raw in _sample_messages()[:10]:
        imap.append("INBOX", raw, msg_time=old)
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    assert [r["message_id"] for r in _rows(daemon_config)] == ["<recent@x>"]
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    assert [r["message_id"] for r in _rows(daemon_config)] == ["<recent@x>"], "old mail leaked into a later pass"
    imap.append("INBOX", b"From: m@x.org\r\nSubject: well done\r\nMessage-ID: <later@x>\r\n\r\nWell done!\r\n",
                msg_time=old)  # (new to the folder after the first start: processed, whatever its date)
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    assert [r["message_id"] for r in _rows(daemon_config)] == ["<recent@x>", "<later@x>"]


def test_a_first_start_cut_short_goes_on_with_the_same_rule(imap, daemon_config: Path, env,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped after its first batch, the first start's next pass takes the rest of the recent mail, and
    still none of the old mail above it (the pass's rule is kept in the store until it has finished)."""
    import datetime as dt
    import threading

    from bot.config import load_config
    from bot.daemon import FolderWorker, start_services
    from bot.imap_source import Mailbox

    old = dt.datetime.now() - dt.timedelta(days=300)
    recent = [raw.replace(b"Message-ID: <", b"Message-ID: <new-", 1) for raw in _sample_messages()[:30]]
    imap.multiappend("INBOX", recent[:25])
    for raw in _sample_messages()[30:36]:
        imap.append("INBOX", raw, msg_time=old)
    imap.multiappend("INBOX", recent[25:])
    monkeypatch.setenv("MBX_TEST_PW", env["MBX_TEST_PW"])
    config = load_config(daemon_config)
    services = start_services(config, lambda _: None)
    stop = threading.Event()
    worker = FolderWorker(config.accounts[0], "INBOX", services, stop)
    triage = FolderWorker._triage_batch

    def first_batch_only(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        done = triage(self, *args, **kwargs)
        stop.set()  # (as SIGTERM would, after the message in hand)
        return done

    monkeypatch.setattr(FolderWorker, "_triage_batch", first_batch_only)
    mailbox = Mailbox(config.accounts[0])
    try:
        worker.sync(mailbox)
    finally:
        mailbox.close()
        worker.close()
    assert 0 < len(_rows(daemon_config)) < 30
    monkeypatch.setattr(FolderWorker, "_triage_batch", triage)
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    rows = _rows(daemon_config)
    assert len(rows) == 30 and all(r["message_id"].startswith("<new-") for r in rows), "old mail was taken"
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    assert len(_rows(daemon_config)) == 30


def test_huge_message_is_fetched_partly_and_still_triaged(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    daemon_config.write_text(daemon_config.read_text().replace("batch_size = 20\n",
                                                               "batch_size = 20\nmax_message_bytes = 20000\n"))
    body = b"Dear Kai, would you consider a fully funded PhD position in my group? " + b"x" * 200 + b"\r\n"
    huge = (b"From: Prof. Li Wei <li@tsinghua.edu.cn>\r\nSubject: PhD position\r\nMessage-ID: <huge@x>\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + body
            + b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b"QUJD" * 50_000 + b"\r\n--b--\r\n")
    imap.append("INBOX", huge)
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    (row,) = _rows(daemon_config)
    assert row["message_id"] == "<huge@x>" and row["label"] == "phd_offer" and row["status"] == "drafted"


def test_dropped_connection_while_idling_reconnects(imap, dovecot: Dovecot, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """The server kicks the daemon's session while it idles: it reconnects and still sees new mail."""
    proc = _start_daemon(daemon_config, env)
    try:
        time.sleep(1.5)
        dovecot.doveadm("kick", "test")
        time.sleep(0.5)
        imap = dovecot.client()  # the fixture's client was kicked too
        imap.append("INBOX", b"From: Sam Lee <sam@lab.example>\r\nSubject: Interview\r\nMessage-ID: <after-kick@x>"
                             b"\r\n\r\nHi Kai, could we schedule an interview for the research engineer role?\r\n")
        started = time.monotonic()
        while time.monotonic() - started < 30 and not _rows(daemon_config):
            time.sleep(0.2)
        assert [r["message_id"] for r in _rows(daemon_config)] == ["<after-kick@x>"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        stderr = proc.stderr.read() if proc.stderr else ""
    assert "retrying in" in stderr, stderr


def _lead_states(config: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{config.parent / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT m.message_id, l.state FROM leads l JOIN messages m ON m.id = l.message_row")
        return dict(rows.fetchall())
    finally:
        db.close()


def test_leads_follow_replies_in_sent_and_answers_in_inbox(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """A lead arrives (new); the owner's reply appears in Sent (waiting); the other side answers (replied).
    A second lead answered only by address and subject also moves to waiting."""
    imap.append("INBOX", b"From: Priya Raman <priya@deepmind.com>\r\nSubject: Referral for an RSE role\r\n"
                         b"Message-ID: <lead1@deepmind.com>\r\n\r\nHi Kai, I'd like to refer you for a research "
                         b"engineer role on my team. HR will contact you within two weeks to set up a call.\r\n")
    imap.append("INBOX", b"From: Prof. Ada Byron <ada@cs.ox.ac.uk>\r\nSubject: PhD position in Oxford\r\n"
                         b"Message-ID: <lead2@ox.ac.uk>\r\n\r\nDear Kai, would you consider a fully funded PhD "
                         b"position in my group? Could we have a call next week?\r\n")
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    assert _lead_states(daemon_config) == {"<lead1@deepmind.com>": "new", "<lead2@ox.ac.uk>": "new"}

    imap.append("Sent", b"From: Kai Andersen <kai@andersen.dk>\r\nTo: Priya Raman <priya@deepmind.com>\r\n"
                        b"Subject: Re: Referral for an RSE role\r\nMessage-ID: <reply1@andersen.dk>\r\n"
                        b"In-Reply-To: <lead1@deepmind.com>\r\nReferences: <lead1@deepmind.com>\r\n\r\nThank you!\r\n")
    imap.append("Sent", b"From: Kai Andersen <kai@andersen.dk>\r\nTo: ada@cs.ox.ac.uk\r\n"
                        b"Subject: RE: PhD position in Oxford\r\nMessage-ID: <reply2@andersen.dk>\r\n\r\nYes!\r\n")
    done = run("run", "--once", "--config", str(daemon_config), env=env)
    assert done.returncode == 0, done.stderr
    assert _lead_states(daemon_config) == {"<lead1@deepmind.com>": "waiting", "<lead2@ox.ac.uk>": "waiting"}
    assert "moved 2 lead(s) to waiting" in done.stderr

    imap.append("INBOX", b"From: Priya Raman <priya@deepmind.com>\r\nSubject: Re: Referral for an RSE role\r\n"
                         b"Message-ID: <answer1@deepmind.com>\r\nIn-Reply-To: <reply1@andersen.dk>\r\n"
                         b"References: <lead1@deepmind.com> <reply1@andersen.dk>\r\n\r\nGreat, HR has your CV.\r\n")
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    states = _lead_states(daemon_config)
    assert states["<lead1@deepmind.com>"] == "replied" and states["<lead2@ox.ac.uk>"] == "waiting"
    imap.select_folder("Sent", readonly=True)
    assert all(b"\\Seen" not in f for f in imap.get_flags(imap.search("ALL")).values())


def test_connection_kicked_mid_backlog_loses_and_duplicates_nothing(imap, dovecot: Dovecot, daemon_config: Path,
                                                                     env) -> None:  # type: ignore[no-untyped-def]
    """Given a backlog of many batches, when the server drops the daemon's session several times while it
    fetches and APPENDs (both happen on the worker's IMAP lane while it classifies), then the daemon
    reconnects and ends with every message recorded once and exactly one draft per message that needs one."""
    total = _append_backlog(imap, "k")
    proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(daemon_config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    kicked_at = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(kicked_at) < 3:
            count = len(_rows(daemon_config))
            if count >= total:
                break
            if count > (len(kicked_at) + 1) * total // 5:
                # Also drops the test's own client: it reconnects below. Exit 68: no session to kick (the
                # daemon records a batch it fetched before the last kick, and is still reconnecting): later.
                kicked = subprocess.run([DOVEADM, "-c", dovecot.conf, "kick", "test"], capture_output=True,
                                        text=True)
                assert kicked.returncode in (0, 68), kicked.stderr
                if kicked.returncode == 0:
                    kicked_at.append(count)
            time.sleep(0.02)
        while time.monotonic() < deadline:
            rows = _rows(daemon_config)
            if len(rows) >= total and all(r["status"] != "classified" or r["label"] not in ANSWERED for r in rows):
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        stderr = proc.stderr.read() if proc.stderr else ""
    _assert_once_each_with_one_draft(daemon_config, dovecot.client(), total)
    assert kicked_at and kicked_at[0] < total, kicked_at  # it really was cut off mid-way
    # A kick while fetching makes that batch's messages suspects, fetched one at a time after reconnecting.
    assert stderr.count("retrying in") + stderr.count("one at a time") >= len(kicked_at), stderr
    print(f"kicked at {kicked_at} of {total} rows")


def _outbox_states(config: Path) -> list[str]:
    db = sqlite3.connect(f"file:{config.parent / 'state.sqlite3'}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute("SELECT state FROM outbox WHERE kind = 'draft'")]
    finally:
        db.close()


def test_after_a_crash_between_append_and_done_it_still_watches_the_inbox(imap, daemon_config: Path,
                                                                          env) -> None:  # type: ignore[no-untyped-def]
    """Given a draft that reached Drafts but was left claimed (a crash before it was marked done), when the
    daemon starts, it finds the draft in Drafts (no second copy) and then goes back to watching INBOX:
    mail arriving afterwards is triaged while it idles."""
    imap.append("INBOX", _sample_messages()[0])
    assert run("run", "--once", "--config", str(daemon_config), env=env).returncode == 0
    db = sqlite3.connect(daemon_config.parent / "state.sqlite3")
    with db:
        assert db.execute("UPDATE outbox SET state = 'claimed' WHERE kind = 'draft'").rowcount == 1
    db.close()
    proc = _start_daemon(daemon_config, env)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 30 and _outbox_states(daemon_config) != ["done"]:
            time.sleep(0.1)  # the first sync has found the draft in Drafts
        time.sleep(1.0)  # and is idling now
        imap.append("INBOX", b"From: Sam Lee <sam@lab.example>\r\nSubject: Interview\r\nMessage-ID: <after-crash@x>"
                             b"\r\n\r\nHi Kai, could we schedule an interview for the research engineer role?\r\n")
        started = time.monotonic()
        while time.monotonic() - started < 15 and len(_rows(daemon_config)) < 2:
            time.sleep(0.2)
        assert [r["message_id"] for r in _rows(daemon_config)][-1] == "<after-crash@x>"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert len(_drafts(imap)) == 2
