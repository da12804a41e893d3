"""A server that refuses drafts (a full mailbox) against the real daemon: nothing is lost or marked done.

Dovecot's quota plugin (count backend, a limit on the number of messages) answers a MULTIAPPEND that would
go over the limit with ``NO [OVERQUOTA]`` and stores none of it, as a full Gmail or Exchange mailbox does.
imapclient returns that NO instead of raising it, so before this test the daemon took it for success and
marked every refused draft as drafted: the drafts were gone for good.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.imap_source import AppendRefused, Mailbox
from tests.dovecot import PASSWORD, Dovecot, clean_client, start_dovecot
from tests.imap_proxy import RecordingProxy
from tests.integration.test_daemon import ANSWERED, _drafts, _outbox, _rows, _sample_messages
from tests.integration.test_waiting import NO_IDLE, _imap_section
from tests.test_cli import run

LIMIT = 50
"""Messages the user may keep: the 48 sample messages fit, the drafts for them do not."""

QUOTA = f"""
mail_plugins = $mail_plugins quota
plugin {{
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:messages={LIMIT}
}}
"""


@pytest.fixture(scope="module")
def full() -> Iterator[Dovecot]:
    with start_dovecot(extra_conf=QUOTA) as server:
        yield server


@pytest.fixture
def imap(full: Dovecot):  # type: ignore[no-untyped-def]
    with clean_client(full) as client:
        yield client


def test_drafts_refused_over_quota_wait_and_arrive_once_when_there_is_room(  # type: ignore[no-untyped-def]
        imap, full: Dovecot, config_file: Path, isolated_env: dict[str, str]) -> None:
    config_file.write_text(
        config_file.read_text()
        + f'\n[imap]\nhost = "localhost"\nport = {full.tls_port}\nusername = "test"\n'
          f'password_env = "MBX_TEST_PW"\nca_file = "{full.ca_file}"\nbatch_size = 20\n'
    )
    env = {**isolated_env, "MBX_TEST_PW": PASSWORD}
    messages = _sample_messages()
    assert len(messages) < LIMIT
    imap.multiappend("INBOX", messages)
    # The mailbox is left with no room at all (a draft that fits is stored, as it should be: the drafts of a
    # batch go out in more than one APPEND, so with room for two, two would be).
    imap.create_folder("Archive")
    imap.multiappend("Archive", [b"Subject: kept\r\n\r\nold mail\r\n"] * (LIMIT - len(messages)))

    # The mailbox is full: triage goes on, every draft is refused, none is stored or marked done; the run
    # says so and exits 1 (a cron job must not report success while the drafts are missing).
    first = run("run", "--once", "--config", str(config_file), env=env)
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr
    assert "the server refused" in first.stderr and "OVERQUOTA" in first.stderr
    refused = re.compile(r" ERROR +mentorbox\.daemon: (\d+) draft\(s\) refused by the server are not in Drafts; "
                         r"kept, and offered again by a run from \d\d:\d\d on: .*OVERQUOTA")
    said = [m for m in map(refused.search, first.stderr.splitlines()) if m]
    assert len(said) == 1, first.stderr
    rows = _rows(config_file)
    assert len(rows) == len(messages) and not [r for r in rows if r["status"] == "failed"]
    deserving = [r for r in rows if r["label"] in ANSWERED]
    assert len(deserving) > 30 and _drafts(imap) == []
    assert all(r["status"] == "classified" for r in deserving), "a refused draft was marked as drafted"
    waiting = _outbox(config_file, "draft")
    assert len(waiting) == len(deserving) == int(said[0].group(1))
    assert {w["state"] for w in waiting} == {"pending"}
    assert all("OVERQUOTA" in w["last_error"] and w["not_before"] > time.time() + 300 for w in waiting)

    # Run again at once: the refused drafts are not offered again before their time (no hammering), and
    # they are still missing: exit 1 again.
    again = run("run", "--once", "--config", str(config_file), env=env)
    assert again.returncode == 1, again.stderr
    assert "the server refused" not in again.stderr and _drafts(imap) == []
    assert len([line for line in again.stderr.splitlines() if refused.search(line)]) == 1, again.stderr

    # The owner makes room; ten minutes pass (the retry time is moved, not waited for).
    imap.select_folder("INBOX")
    imap.delete_messages(imap.search("ALL")[: len(messages) - 5])
    imap.expunge()
    db = sqlite3.connect(config_file.parent / "state.sqlite3")
    with db:
        db.execute("UPDATE outbox SET not_before = 0 WHERE kind = 'draft'")
    db.close()

    last = run("run", "--once", "--config", str(config_file), env=env)
    assert last.returncode == 0, last.stderr
    drafts = _drafts(imap)
    assert sorted(str(d["In-Reply-To"]) for d in drafts) == sorted(r["message_id"] for r in deserving)
    assert {r["status"] for r in _rows(config_file) if r["label"] in ANSWERED} == {"drafted"}
    assert {w["state"] for w in _outbox(config_file, "draft")} == {"done"}


@pytest.fixture(scope="module")
def no_literal_plus() -> Iterator[Dovecot]:
    with start_dovecot(extra_conf=f"imap_capability = {NO_IDLE.replace('LITERAL+ ', '')} IDLE\n") as server:
        yield server


@pytest.mark.parametrize("literal_plus", [True, False])
def test_append_is_one_command_and_a_refusal_is_an_error(request, config_file: Path, literal_plus: bool,  # type: ignore[no-untyped-def]
                                                         monkeypatch) -> None:
    """On the wire through a relay: with LITERAL+ the drafts go out as one APPEND with non-synchronizing
    literals; without it (a server that does not offer it), imapclient's MULTIAPPEND waits for each "+".
    Either way the UIDs come back, and a NO raises :class:`AppendRefused` instead of passing for success."""
    server = request.getfixturevalue("full" if literal_plus else "no_literal_plus")
    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    relay = RecordingProxy("127.0.0.1", server.port)
    config_file.write_text(config_file.read_text() + _imap_section(relay.port))
    with clean_client(server) as client:
        mailbox = Mailbox(load_config(config_file).accounts[0])
        assert ("LITERAL+" in mailbox.capabilities) == literal_plus
        drafts = [f"From: kai@andersen.dk\r\nSubject: Re: {i}\r\n\r\nThank you.\r\n".encode() for i in range(3)]
        uids = mailbox.append("Drafts", drafts)
        client.select_folder("Drafts", readonly=True)
        assert uids == sorted(client.search("ALL")) and len(uids) == 3
        with pytest.raises(AppendRefused, match="TRYCREATE"):
            mailbox.append("No such folder", drafts)
        assert mailbox.append("Drafts", drafts[:1]) == [uids[-1] + 1], "the connection is still good"
        mailbox.close()
    sent = relay.sent()
    assert relay.commands().count("APPEND") == 3
    # 3 + 3 + 1 literals; without LITERAL+ the server refuses the second APPEND at its first literal, and
    # nothing more of it is sent.
    assert sent.count(b"+}\r\n") == (7 if literal_plus else 0)
    assert sent.count(b"}\r\n") == (7 if literal_plus else 5)
    relay.close()


def test_refused_drafts_go_to_the_drafts_folder_configured_now(dovecot: Dovecot, config_file: Path,  # type: ignore[no-untyped-def]
                                                              isolated_env: dict[str, str]) -> None:
    """Given drafts the server refused because ``drafts_folder`` named a folder that is gone (renamed on the
    server), when the owner corrects ``drafts_folder`` and the drafts are due again, then they are stored in
    the folder configured now, each once, not offered to the old name for ever."""
    with clean_client(dovecot) as client:
        base = config_file.read_text()
        section = (f'\n[imap]\nhost = "localhost"\nport = {dovecot.tls_port}\nusername = "test"\n'
                   f'password_env = "MBX_TEST_PW"\nca_file = "{dovecot.ca_file}"\nbatch_size = 20\n')
        config_file.write_text(base + section + 'drafts_folder = "Entwürfe"\n')
        env = {**isolated_env, "MBX_TEST_PW": PASSWORD}
        client.multiappend("INBOX", _sample_messages()[:16])
        first = run("run", "--once", "--config", str(config_file), env=env)
        assert first.returncode == 1, first.stderr  # (drafts refused and not in Drafts: a run that failed)
        assert "the server refused" in first.stderr and "TRYCREATE" in first.stderr
        waiting = _outbox(config_file, "draft")
        assert waiting and {w["state"] for w in waiting} == {"pending"}

        client.create_folder("Brouillons")
        config_file.write_text(base + section + 'drafts_folder = "Brouillons"\n')
        # (no waiting out the 10 minutes after a refusal: the folder it was refused for is not the one now)
        again = run("run", "--once", "--config", str(config_file), env=env)
        assert again.returncode == 0, again.stderr
        assert "the server refused" not in again.stderr.replace("draft(s) the server refused", "")
        assert f"{len(waiting)} draft(s) the server refused for another Drafts folder go to Brouillons now" \
            in again.stderr
        assert f"{len(waiting)} draft(s) the server refused before are in Drafts now" in again.stderr
        client.select_folder("Brouillons", readonly=True)
        assert len(client.search("ALL")) == len(waiting)
        assert {w["state"] for w in _outbox(config_file, "draft")} == {"done"}
        assert not client.folder_exists("Entwürfe")
