"""XOAUTH2 against a real Dovecot whose oauth2 passdb asks an introspection endpoint about every token.

The owner's token helper is a real command (a small script reading the token from a file and counting its
calls); a token "expires" when the endpoint stops calling it active, as a provider's would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dovecot import PASSWORD, Dovecot, clean_client, start_dovecot
from tests.integration.test_daemon import _drafts, _rows, _sample_messages
from tests.oauth_server import IntrospectionServer
from tests.test_cli import _mentorbox, run

HELPER = """\
import fcntl
import sys
from pathlib import Path
tokens, calls = Path(sys.argv[1]), Path(sys.argv[2])
with tokens.open("r+") as queue:
    fcntl.flock(queue, fcntl.LOCK_EX)  # the daemon's connections log in at once: one caller at a time
    with calls.open("a") as fh:
        fh.write("call\\n")
    lines = queue.read().split()
    print(lines[0])
    if len(lines) > 1:  # a queue of tokens: each call hands out the next one
        queue.seek(0)
        queue.truncate()
        queue.write("\\n".join(lines[1:]) + "\\n")
"""
"""The owner's token helper. It takes a lock because the daemon's connections (the watched folder's, the
Sent folder's) log in at the same moment: without it, two calls could both read the queue before either
wrote it back, and both hand out the first token (a test that failed under load)."""


@pytest.fixture(scope="module")
def oauth() -> Iterator[tuple[Dovecot, IntrospectionServer]]:
    """A Dovecot of its own that takes XOAUTH2 tokens, checked by an introspection endpoint on 127.0.0.1."""
    endpoint = IntrospectionServer().start()
    server = start_dovecot(oauth2_introspection_url=endpoint.url)
    try:
        yield server, endpoint
    finally:
        server.stop()
        endpoint.stop()


@pytest.fixture
def mailbox(oauth: tuple[Dovecot, IntrospectionServer]):  # type: ignore[no-untyped-def]
    """The password client of the test user, on an emptied mailbox."""
    server, endpoint = oauth
    endpoint.forget()
    with clean_client(server) as client:
        yield client


@pytest.fixture
def helper(tmp_path: Path) -> tuple[Path, Path]:
    """(tokens file, calls file) of the token helper the config runs."""
    tokens, calls = tmp_path / "tokens", tmp_path / "calls"
    tokens.write_text("unset\n")
    calls.write_text("")
    (tmp_path / "helper.py").write_text(HELPER)
    return tokens, calls


@pytest.fixture
def xoauth2_config(config_file: Path, oauth: tuple[Dovecot, IntrospectionServer],
                   helper: tuple[Path, Path]) -> Path:
    server, _ = oauth
    tokens, calls = helper
    command = [sys.executable, str(config_file.parent / "helper.py"), str(tokens), str(calls)]
    config_file.write_text(
        config_file.read_text()
        + f'\n[imap]\nhost = "localhost"\nport = {server.tls_port}\nusername = "test"\nauth = "xoauth2"\n'
          f'oauth2_token_command = {json.dumps(command)}\nca_file = "{server.ca_file}"\nbatch_size = 20\n'
    )
    return config_file


def _calls(helper: tuple[Path, Path]) -> int:
    return len(helper[1].read_text().split())


def test_run_once_logs_in_with_the_helpers_token_and_drafts(oauth, mailbox, xoauth2_config: Path,  # type: ignore[no-untyped-def]
                                                           helper: tuple[Path, Path], isolated_env) -> None:
    _, endpoint = oauth
    token = "ya29.first-access-token-0001"
    endpoint.activate(token)
    helper[0].write_text(token + "\n")
    for raw in _sample_messages()[:5]:
        mailbox.append("INBOX", raw)
    done = run("run", "--once", "--config", str(xoauth2_config), env=isolated_env)
    assert done.returncode == 0, done.stderr
    seen = endpoint.seen()  # one login per connection (INBOX, and Sent for the leads), each checked by the provider
    assert seen and set(seen) == {token}
    assert _calls(helper) == len(seen)  # the token is fetched for every login, never kept from an earlier one
    assert len(_rows(xoauth2_config)) == 5
    drafted = [r for r in _rows(xoauth2_config) if r["status"] == "drafted"]
    assert drafted and len(_drafts(mailbox)) == len(drafted)
    assert token not in done.stderr and token not in done.stdout


def test_a_refused_token_is_asked_for_once_more_at_once(oauth, mailbox, xoauth2_config: Path,  # type: ignore[no-untyped-def]
                                                       helper: tuple[Path, Path], isolated_env) -> None:
    """The helper first hands out a token that has just expired, then a fresh one: no slow auth back-off."""
    _, endpoint = oauth
    endpoint.activate("fresh-token-0002")
    helper[0].write_text("expired-token-0001\nfresh-token-0002\n")
    mailbox.append("INBOX", _sample_messages()[0])
    done = run("run", "--once", "--config", str(xoauth2_config), env=isolated_env)
    assert done.returncode == 0, done.stderr
    seen = endpoint.seen()  # (in the order the provider was asked: the connections log in side by side)
    assert seen.count("expired-token-0001") == 1
    assert set(seen) == {"expired-token-0001", "fresh-token-0002"}
    assert _calls(helper) == len(seen)
    assert len(_rows(xoauth2_config)) == 1
    assert "expired-token-0001" not in done.stderr and "fresh-token-0002" not in done.stderr


def test_a_token_refused_twice_is_a_login_failure_not_a_loop(oauth, mailbox, xoauth2_config: Path,  # type: ignore[no-untyped-def]
                                                            helper: tuple[Path, Path], isolated_env) -> None:
    _, endpoint = oauth
    helper[0].write_text("revoked-token-0003\n")  # the helper keeps giving the same dead token
    done = run("run", "--once", "--config", str(xoauth2_config), env=isolated_env)
    assert done.returncode == 1
    assert "refused the login" in done.stderr and "Traceback" not in done.stderr
    assert "revoked-token-0003" not in done.stderr
    seen = endpoint.seen()
    assert seen and set(seen) == {"revoked-token-0003"}
    assert _calls(helper) == 2 * len(seen)  # asked again once per login, but the same token is not sent twice
    assert _rows(xoauth2_config) == []


def test_after_a_disconnect_the_daemon_logs_in_with_the_helpers_new_token(  # type: ignore[no-untyped-def]
        oauth, mailbox, xoauth2_config: Path, helper: tuple[Path, Path], isolated_env) -> None:
    """The provider ends the session when the token expires (Outlook does, with a BYE): the daemon reconnects
    with a token fetched again, not the one it logged in with."""
    server, endpoint = oauth
    endpoint.activate("session-token-0004")
    helper[0].write_text("session-token-0004\n")
    proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(xoauth2_config)], env=isolated_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "session-token-0004" not in endpoint.seen():
            time.sleep(0.1)
        time.sleep(1.0)  # logged in; now idling
        endpoint.revoke("session-token-0004")  # it expires ...
        endpoint.activate("session-token-0005")
        helper[0].write_text("session-token-0005\n")  # ... and the helper has refreshed it
        server.doveadm("kick", "test")  # the provider ends the session
        time.sleep(0.5)
        client = server.client()  # the fixture's client was kicked too
        client.append("INBOX", b"From: Sam Lee <sam@lab.example>\r\nSubject: Interview\r\nMessage-ID: <oauth-after@x>"
                               b"\r\n\r\nHi Kai, could we schedule an interview for the research engineer role?\r\n")
        client.logout()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _rows(xoauth2_config):
            time.sleep(0.2)
        assert [r["message_id"] for r in _rows(xoauth2_config)] == ["<oauth-after@x>"]
    finally:
        proc.send_signal(signal.SIGTERM)
        stderr = proc.communicate(timeout=15)[1]
    assert proc.returncode == 0, stderr
    assert endpoint.seen()[-1] == "session-token-0005"
    assert "session-token-0004" not in endpoint.seen()[endpoint.seen().index("session-token-0005"):]
    assert "session-token-000" not in stderr
    assert PASSWORD not in stderr
