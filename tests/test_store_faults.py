"""A state store that is damaged, or that cannot be written, as the owner meets it: one line that says what is
wrong and what to do, a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from bot.errors import StoreBusy
from bot.store import Store, StoreLock
from tests.test_cli import run

UNREACHABLE = '\n[imap]\nhost = "127.0.0.1"\nport = 1\nusername = "u"\npassword_env = "MBX_TEST_PW"\n'


def _store_with_mail(path: Path, messages: int = 2000) -> None:
    """A store of a few MB, as after some weeks: rows enough that the middle of the file is table pages."""
    Store(path).close()
    db = sqlite3.connect(path)
    now = time.time()
    with db:
        db.executemany(
            "INSERT INTO messages (account, folder, uidvalidity, uid, message_id, label, body, identity, created_at,"
            " updated_at) VALUES ('default', 'INBOX', 1, ?, ?, 'other', ?, ?, ?, ?)",
            [(uid, f"<m{uid}@x.org>", "thanks for the talk " * 50, f"<m{uid}@x.org>", now, now)
             for uid in range(1, messages + 1)])
    db.close()


def test_a_store_damaged_in_the_middle_says_so_and_how_to_recover(config_file: Path,
                                                                  isolated_env: dict[str, str]) -> None:
    """Given a store with garbage written into the middle of the file (a bad disk, a copy cut short), when
    ``status`` or ``run --once`` runs, then each says in one line that the file is damaged and how to go on
    (move it aside: a new store finds mentorbox's drafts in Drafts), exit 1; once it is moved aside, ``status``
    works again."""
    config_file.write_text(config_file.read_text() + UNREACHABLE)
    store = config_file.parent / "state.sqlite3"
    _store_with_mail(store)
    size = store.stat().st_size
    with store.open("r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"garbage!" * 4096)
    env = {**isolated_env, "MBX_TEST_PW": "pw"}
    for args in (["status"], ["run", "--once"]):
        done = run(*args, "--config", str(config_file), env=env)
        assert done.returncode == 1, (args, done.stderr)
        line = done.stderr.strip()
        assert "\n" not in line and "Traceback" not in line and "a bug" not in line, line
        assert line.startswith(f"mentorbox: error: the state store '{store}' is damaged (not a valid database: "), line
        assert line.endswith(f"move it aside with its -wal and -shm files (e.g. mv {store} {store}.damaged) and "
                             "start again; mentorbox makes a new store and finds the drafts it made in Drafts, so "
                             "none is made twice"), line
        assert "cannot connect" not in done.stderr  # found before any work
    checked = run("check-config", "--config", str(config_file), env=env)
    assert checked.returncode == 1 and f"the state store '{store}' is damaged" in checked.stdout + checked.stderr
    store.rename(store.with_name("state.sqlite3.damaged"))
    done = run("status", "--config", str(config_file), env=env)
    assert done.returncode == 0, done.stderr


def test_a_store_path_that_is_a_directory_is_named_as_such(config_file: Path, isolated_env: dict[str, str]) -> None:
    """Given ``store.path`` naming a directory (a common slip: the data dir instead of the file), ``status``
    and ``run --once`` say so in one line and what to write instead, exit 1."""
    folder = config_file.parent / "data"
    folder.mkdir()
    text = config_file.read_text().replace(str(config_file.parent / "state.sqlite3"), str(folder))
    config_file.write_text(text + UNREACHABLE)
    env = {**isolated_env, "MBX_TEST_PW": "pw"}
    for args in (["status"], ["run", "--once"]):
        done = run(*args, "--config", str(config_file), env=env)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr.splitlines()[-1] == (
            f"mentorbox: error: the state store '{folder}' is a directory: store.path names the database file "
            f"(e.g. '{folder / 'state.sqlite3'}')"), done.stderr


def test_the_store_lock_holds_however_the_store_is_named(tmp_path: Path) -> None:
    """Given a process holding a store, a second holder through a symlink to the file is refused, naming the
    PID; once the first lets go, the store can be taken again (flock locks are per open file, so this holds
    within one process as between two)."""

    real = tmp_path / "data" / "state.sqlite3"
    real.parent.mkdir()
    Store(real).close()
    alias = tmp_path / "mentorbox.sqlite3"  # (another config's name for the same file)
    alias.symlink_to(real)
    first = StoreLock(real)
    with pytest.raises(StoreBusy, match=rf"another mentorbox \(PID {os.getpid()}\) is already working on the state"
                                        rf" store '{alias}'"):
        StoreLock(alias)
    first.release()
    with StoreLock(alias):
        assert (real.parent / "state.sqlite3.lock").read_text() == f"{os.getpid()}\n"
