"""Faults around the daemon against the real Dovecot: they end loudly, with one line and an exit code, and
never in a duplicate draft or push.

Two processes on one store, a store emptied or damaged under a mailbox that already holds mentorbox's drafts,
drafts the server refuses in a ``--once`` run.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.integration.test_daemon import ANSWERED, _drafts, _rows, _sample_messages, _start_daemon
from tests.test_cli import _mentorbox, run


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
