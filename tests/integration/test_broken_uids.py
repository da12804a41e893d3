"""A server that cannot keep message UIDs, played by Dovecot behind a relay that rewrites its answers.

GNU imap4d on Maildir answers ``UID SEARCH UID 1:*`` with nothing while SELECT reports 40 messages, and gives
a folder a new UIDVALIDITY at every EXAMINE. Nothing can be tracked on such a server (a UID is the only
handle IMAP gives on a message), so the daemon must say so plainly and stop, not triage 0 of 40 messages
and report only "UIDVALIDITY changed".
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.imap_source import Mailbox, UidsUnreliable
from tests.dovecot import PASSWORD, Dovecot, clean_client
from tests.imap_proxy import RecordingProxy
from tests.integration.test_daemon import _rows, _sample_messages
from tests.integration.test_waiting import _imap_section
from tests.test_cli import run

ADVICE = "cannot keep message UIDs"


def _new_uidvalidity(every: Callable[[], int]) -> Callable[[bytes], bytes]:
    """A rewrite that adds ``every()`` to each UIDVALIDITY the server reports."""
    def rewrite(line: bytes) -> bytes:
        return re.sub(rb"UIDVALIDITY (\d+)", lambda m: b"UIDVALIDITY %d" % (int(m[1]) + every()), line)
    return rewrite


def _imap4d() -> Callable[[bytes], bytes]:
    """GNU imap4d on Maildir: UID SEARCH finds nothing, and every EXAMINE reports a new UIDVALIDITY."""
    counter = itertools.count(1)
    new_uidvalidity = _new_uidvalidity(lambda: next(counter))

    def rewrite(line: bytes) -> bytes:
        return b"* SEARCH\r\n" if line.startswith(b"* SEARCH") else new_uidvalidity(line)
    return rewrite


@pytest.fixture
def relay(request: pytest.FixtureRequest, dovecot: Dovecot) -> Iterator[RecordingProxy]:
    proxy = RecordingProxy("127.0.0.1", dovecot.port, rewrite=request.param())
    yield proxy
    proxy.close()


def _configured(config_file: Path, relay: RecordingProxy) -> Path:
    config_file.write_text(config_file.read_text() + _imap_section(relay.port))
    return config_file


@pytest.mark.parametrize("relay", [pytest.param(_imap4d, id="imap4d")], indirect=True)
def test_a_server_whose_uid_search_finds_nothing_is_named_plainly(dovecot: Dovecot, relay: RecordingProxy,
                                                                  config_file: Path, env: dict[str, str]) -> None:
    """Given 40 messages that SELECT counts and UID SEARCH does not find, when ``run --once`` runs, then it
    exits 1 with one line that names the server's fault and what to do, and records nothing."""
    with clean_client(dovecot) as client:
        client.multiappend("INBOX", _sample_messages()[:40])
        config = _configured(config_file, relay)
        done = run("run", "--once", "--config", str(config), env=env)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if ADVICE in line]
    assert len(lines) == 1, done.stderr
    assert "40 messages" in lines[0] and "UID SEARCH" in lines[0] and "another IMAP server" in lines[0]
    assert "Traceback" not in done.stderr and _rows(config) == []


@pytest.mark.parametrize("relay", [pytest.param(lambda: _new_uidvalidity(lambda: 7), id="stable")], indirect=True)
def test_a_uidvalidity_that_changes_within_one_connection_is_named(dovecot: Dovecot, relay: RecordingProxy,
                                                                   config_file: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Given a server that reports the same UIDVALIDITY at every EXAMINE, the daemon's mailbox goes on; given
    one that changes it between two EXAMINEs of one connection, it raises :class:`UidsUnreliable`."""
    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    account = load_config(_configured(config_file, relay)).accounts[0]
    steady = Mailbox(account)
    assert steady.select("INBOX") == steady.select("INBOX")
    steady.close()
    counter = itertools.count(1)
    flapping = RecordingProxy("127.0.0.1", dovecot.port, rewrite=_new_uidvalidity(lambda: next(counter)))
    mailbox = Mailbox(dataclasses.replace(account, port=flapping.port))
    mailbox.select("INBOX")
    with pytest.raises(UidsUnreliable, match=ADVICE):
        mailbox.select("INBOX")
    mailbox.close()
    flapping.close()


@pytest.mark.parametrize("relay", [pytest.param(lambda: _new_uidvalidity(lambda: int(time.time())),
                                                id="new-at-every-login")], indirect=True)
def test_a_uidvalidity_that_changes_at_every_run_is_named(dovecot: Dovecot, relay: RecordingProxy,
                                                          config_file: Path, env: dict[str, str]) -> None:
    """Given a server whose UIDVALIDITY is new a few seconds later, when ``run --once`` runs three times,
    then the first change is a re-sync (it happens: a restored mailbox) and the second, minutes after the
    first, is the server's fault, said in one line with exit 1."""
    with clean_client(dovecot) as client:
        client.multiappend("INBOX", _sample_messages()[:5])
    config = _configured(config_file, relay)
    outcomes = []
    for _ in range(3):
        done = run("run", "--once", "--config", str(config), env=env)
        outcomes.append((done.returncode, ADVICE in done.stderr, "Traceback" in done.stderr))
        time.sleep(1.1)  # a new second: a new UIDVALIDITY
    assert outcomes == [(0, False, False), (0, False, False), (1, True, False)], done.stderr
    assert "changed again after" in done.stderr


@pytest.mark.parametrize("relay", [pytest.param(_imap4d, id="imap4d")], indirect=True)
def test_check_config_names_a_server_that_cannot_keep_uids(dovecot: Dovecot, relay: RecordingProxy,
                                                           config_file: Path, env: dict[str, str]) -> None:
    """Given the same server, when ``check-config --connect`` runs, then it fails on that line before the
    owner ever starts the daemon."""
    with clean_client(dovecot) as client:
        client.multiappend("INBOX", _sample_messages()[:3])
        done = run("check-config", "--connect", "--config", str(_configured(config_file, relay)), env=env)
    assert done.returncode == 1, done.stdout
    assert ADVICE in done.stdout and "3 messages" in done.stdout and "all checks passed" not in done.stdout
