"""A message the server cannot deliver must not hold up the rest of the folder.

The test makes one message's file in Dovecot's Maildir unreadable to Dovecot, which is what a damaged disk
or a botched restore looks like from the outside: Dovecot answers the FETCH of any batch that holds it by
ending the session ("Internal error occurred"). Before, the daemon reconnected and fetched the same batch
again, forever: nothing after that message was ever triaged.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.dovecot import Dovecot
from tests.integration.test_daemon import ANSWERED, _drafts, _rows, _sample_messages
from tests.test_cli import run


def _maildir_file(server: Dovecot, message_id: str) -> Path:
    """The file of the test user's INBOX message with this Message-ID."""
    root = Path(server.dir) / "mail" / "test" / "Maildir"
    for path in [*root.glob("new/*"), *root.glob("cur/*")]:
        if f"Message-ID: {message_id}".encode() in path.read_bytes()[:4000]:
            return path
    raise AssertionError(f"no file for {message_id}")


def test_an_unfetchable_message_fails_alone_and_the_rest_is_triaged(imap, dovecot: Dovecot,  # type: ignore[no-untyped-def]
                                                                    daemon_config: Path, env) -> None:
    messages = _sample_messages()[:30]  # two batches of the tests' 20
    imap.multiappend("INBOX", messages)
    imap.select_folder("INBOX", readonly=True)
    uids = sorted(imap.search("ALL"))
    bad_id = str(imap.fetch([uids[4]], [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])[uids[4]][
        b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip())
    damaged = _maildir_file(dovecot, bad_id)
    os.chmod(damaged, 0)
    try:
        started = time.monotonic()
        done = run("run", "--once", "--config", str(daemon_config), env=env)
        took = time.monotonic() - started
    finally:
        os.chmod(damaged, 0o600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "to fetch those 20 message(s) one at a time" in done.stderr
    assert done.stderr.count("message could not be fetched") == 3  # its bounded attempts, then left alone
    assert took < 60, "narrowing down must not wait out network back-offs"

    rows = {r["uid"]: r for r in _rows(daemon_config)}
    assert sorted(rows) == uids
    bad = rows[uids[4]]
    assert bad["status"] == "failed" and bad["attempts"] == 3
    assert "the server could not deliver it" in bad["error"]
    good = [r for uid, r in rows.items() if uid != uids[4]]
    assert all(r["status"] in ("drafted", "classified") and r["label"] for r in good)
    drafts = _drafts(imap)
    assert sorted(str(d["In-Reply-To"]) for d in drafts) == sorted(
        r["message_id"] for r in good if r["label"] in ANSWERED)

    # The next run leaves the failed message alone (no fetch of it, no new attempt) and is quiet.
    os.chmod(damaged, 0)
    try:
        again = run("run", "--once", "--config", str(daemon_config), env=env)
    finally:
        os.chmod(damaged, 0o600)
    assert again.returncode == 0, again.stderr
    assert "could not be fetched" not in again.stderr and "one at a time" not in again.stderr
    status = run("status", "--config", str(daemon_config), env=env)
    assert "failed 1" in status.stdout, status.stdout
    assert f"failed: UID {uids[4]} (no Message-ID) (given up): the server could not deliver it" in status.stdout
    assert "mentorbox retry-failed --account default --folder INBOX" in status.stdout

    # The owner mends the file and asks for another try: the message is triaged, once.
    again = run("retry-failed", "--config", str(daemon_config), env=env)
    assert again.returncode == 0 and again.stdout.startswith("1 failed message(s) will be tried again"), again.stdout
    mended = run("run", "--once", "--config", str(daemon_config), env=env)
    assert mended.returncode == 0, mended.stderr
    fixed = {r["uid"]: r for r in _rows(daemon_config)}[uids[4]]
    assert fixed["status"] in ("drafted", "classified") and fixed["label"] and fixed["error"] in (None, "")
    assert len(_rows(daemon_config)) == len(uids)
    assert len(_drafts(imap)) == len(drafts) + (fixed["label"] in ANSWERED), "its draft, and only its"
    assert run("retry-failed", "--config", str(daemon_config), env=env).stdout.strip() == "no failed messages"
