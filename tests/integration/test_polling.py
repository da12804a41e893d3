"""A server without IDLE: the daemon polls every ``imap.poll_seconds`` and never sends IDLE.

A Dovecot of its own advertises every capability it has except IDLE (``imap_capability``), and the daemon
talks to it through a relay that records the commands on the wire.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dovecot import Dovecot, empty_mailbox, logout_quietly, start_dovecot
from tests.imap_proxy import RecordingProxy
from tests.integration.test_daemon import _rows
from tests.test_cli import _mentorbox

NO_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
    "I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE "
    "SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
)
"""Dovecot 2.3's own post-login capabilities, less IDLE."""

POLL = 5  # the smallest imap.poll_seconds the config accepts


@pytest.fixture(scope="module")
def no_idle() -> Iterator[Dovecot]:
    server = start_dovecot(extra_conf=f"imap_capability = {NO_IDLE}\n")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(no_idle: Dovecot) -> Iterator[RecordingProxy]:
    relay = RecordingProxy("127.0.0.1", no_idle.port)
    yield relay
    relay.close()


def test_without_idle_the_daemon_polls_and_picks_up_new_mail(no_idle: Dovecot, proxy: RecordingProxy,  # type: ignore[no-untyped-def]
                                                             config_file: Path, isolated_env) -> None:
    client = no_idle.client()
    empty_mailbox(client)
    assert b"IDLE" not in client.capabilities()
    config_file.write_text(
        config_file.read_text()
        + f'\n[imap]\nhost = "127.0.0.1"\nport = {proxy.port}\ntls = "none"\nusername = "test"\n'
          f'password_env = "MBX_TEST_PW"\npoll_seconds = {POLL}\nwatch_sent = false\n'
    )
    env = {**isolated_env, "MBX_TEST_PW": "secret"}
    proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(config_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "EXAMINE" not in proxy.commands():
            time.sleep(0.1)
        assert "EXAMINE" in proxy.commands(), proxy.commands()
        time.sleep(1.0)  # the first sync is done; now it waits for the next poll
        client.append("INBOX", b"From: Sam Lee <sam@lab.example>\r\nSubject: Interview\r\nMessage-ID: <polled@x>"
                               b"\r\n\r\nHi Kai, could we schedule an interview for the research engineer role?\r\n")
        appended = time.monotonic()
        while time.monotonic() - appended < 3 * POLL and not _rows(config_file):
            time.sleep(0.1)
        waited = time.monotonic() - appended
        assert [r["message_id"] for r in _rows(config_file)] == ["<polled@x>"]
        assert waited <= POLL + 3, f"found after {waited:.1f} s with a {POLL} s poll"
        time.sleep(POLL + 1)  # one more quiet poll
    finally:
        proc.send_signal(signal.SIGTERM)
        stderr = proc.communicate(timeout=15)[1]
        logout_quietly(client)
    assert proc.returncode == 0, stderr
    commands = proxy.commands()
    assert "IDLE" not in commands, commands
    assert proxy.connections() == 1, "polling must not reconnect"
    assert commands.count("UID SEARCH") >= 3, commands  # the first sync and at least two polls after it
    assert "Traceback" not in stderr
