"""How the daemon waits for mail, checked on the wire through a relay that records the commands.

- With IDLE, the IDLE is ended and re-issued (with a NOOP in between) before the server's 30-minute limit;
  the renewal period is shortened for the test.
- With a server that does not offer IDLE (a Dovecot of its own that advertises every capability it has
  except IDLE, via ``imap_capability``), it polls every ``imap.poll_seconds`` and never sends IDLE.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.daemon
from bot.config import load_config
from tests.dovecot import Dovecot, clean_client, start_dovecot
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
    with start_dovecot(extra_conf=f"imap_capability = {NO_IDLE}\n") as server:
        yield server


@pytest.fixture
def no_idle_imap(no_idle: Dovecot):  # type: ignore[no-untyped-def]
    with clean_client(no_idle) as client:
        yield client


@pytest.fixture
def proxy(no_idle: Dovecot) -> Iterator[RecordingProxy]:
    relay = RecordingProxy("127.0.0.1", no_idle.port)
    yield relay
    relay.close()


MESSAGE = (b"From: Sam Lee <sam@lab.example>\r\nSubject: Interview\r\nMessage-ID: <waited@x>\r\n\r\n"
           b"Hi Kai, could we schedule an interview for the research engineer role?\r\n")


def _imap_section(port: int, **extra: object) -> str:
    lines = ['host = "127.0.0.1"', f"port = {port}", 'tls = "none"', 'username = "test"',
             'password_env = "MBX_TEST_PW"', "watch_sent = false"]
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n[imap]\n" + "\n".join(lines) + "\n"


def _wait_for(predicate, seconds: float) -> float:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true or ``seconds`` pass; the time it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds and not predicate():
        time.sleep(0.1)
    return time.monotonic() - started


def test_idle_is_renewed_with_a_noop_and_still_hears_new_mail(dovecot: Dovecot, imap, config_file: Path,  # type: ignore[no-untyped-def]
                                                              monkeypatch) -> None:
    monkeypatch.setattr(bot.daemon, "IDLE_RENEW", 2.0)  # 25 minutes in real life (Dovecot ends IDLE at 30)
    monkeypatch.setenv("MBX_TEST_PW", "secret")
    client = imap
    relay = RecordingProxy("127.0.0.1", dovecot.port)
    config_file.write_text(config_file.read_text() + _imap_section(relay.port))
    stop = threading.Event()
    codes: list[int] = []
    daemon = threading.Thread(target=lambda: codes.append(bot.daemon.run_daemon(load_config(config_file),
                                                                                 stop=stop, say=lambda _: None)))
    daemon.start()
    try:
        assert _wait_for(lambda: relay.commands().count("IDLE") >= 3, 20) < 20, relay.commands()
        client.append("INBOX", MESSAGE)
        assert _wait_for(lambda: bool(_rows(config_file)), 10) < 3  # heard at once, through a renewed IDLE
        assert [r["message_id"] for r in _rows(config_file)] == ["<waited@x>"]
    finally:
        stop.set()
        daemon.join(15)
        relay.close()
    assert codes == [0]
    commands = relay.commands()
    waits = [c for c in commands if c in ("IDLE", "NOOP")]
    assert waits[:5] == ["IDLE", "NOOP", "IDLE", "NOOP", "IDLE"], commands  # each renewal: DONE, NOOP, IDLE
    assert relay.connections() == 1, "renewing must not reconnect"


def test_without_idle_the_daemon_polls_and_picks_up_new_mail(no_idle_imap, proxy: RecordingProxy,  # type: ignore[no-untyped-def]
                                                             config_file: Path, isolated_env) -> None:
    client = no_idle_imap
    assert b"IDLE" not in client.capabilities()
    config_file.write_text(config_file.read_text() + _imap_section(proxy.port, poll_seconds=POLL))
    env = {**isolated_env, "MBX_TEST_PW": "secret"}
    proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(config_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert _wait_for(lambda: "EXAMINE" in proxy.commands(), 30) < 30, proxy.commands()
        time.sleep(1.0)  # the first sync is done; now it waits for the next poll
        client.append("INBOX", MESSAGE)
        waited = _wait_for(lambda: bool(_rows(config_file)), 3 * POLL)
        assert [r["message_id"] for r in _rows(config_file)] == ["<waited@x>"]
        assert waited <= POLL + 3, f"found after {waited:.1f} s with a {POLL} s poll"
        time.sleep(POLL + 1)  # one more quiet poll
    finally:
        proc.send_signal(signal.SIGTERM)
        stderr = proc.communicate(timeout=15)[1]
    assert proc.returncode == 0, stderr
    commands = proxy.commands()
    assert "IDLE" not in commands, commands
    assert proxy.connections() == 1, "polling must not reconnect"
    assert commands.count("UID SEARCH") >= 3, commands  # the first sync and at least two polls after it
    assert "Traceback" not in stderr
