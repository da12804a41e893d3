"""A message that arrives while the worker is busy (between SELECT and IDLE) is not left waiting.

Dovecot announces it (``* n EXISTS``) in the response to whatever command runs at that moment; imaplib keeps
that response aside, and an IDLE started afterwards hears nothing more about it. Mailbox.wait() must look
at what was announced before it starts to idle.
"""

from __future__ import annotations

import time
from typing import Any

from bot.config import parse_config
from bot.imap_source import Mailbox
from tests.dovecot import PASSWORD, Dovecot

RAW = b"From: a@example.org\r\nSubject: hello\r\nMessage-ID: <race@example.org>\r\n\r\nHi\r\n"


def test_mail_announced_during_a_command_wakes_the_next_wait(dovecot: Dovecot, imap: Any,  # noqa: F811
                                                             monkeypatch: Any) -> None:
    monkeypatch.setenv("MBX_RACE_PW", PASSWORD)
    account = parse_config({"imap": {"host": "localhost", "port": dovecot.tls_port, "username": "test",
                                     "password_env": "MBX_RACE_PW", "ca_file": dovecot.ca_file}}).accounts[0]
    mailbox = Mailbox(account)
    try:
        mailbox.select("INBOX")
        assert mailbox.uids_after(0) == []
        imap.append("INBOX", RAW)  # arrives while "the worker" is between commands
        time.sleep(1.2)
        mailbox.noop()  # any command: the announcement comes with its response and is set aside
        started = time.monotonic()
        assert mailbox.wait(5.0, lambda: False) == "new"
        assert time.monotonic() - started < 0.5, "woken at once, not at the next message"
        mailbox.select("INBOX")
        assert mailbox.wait(1.5, lambda: False) == "timeout", "nothing new after a fresh SELECT"
    finally:
        mailbox.close()
