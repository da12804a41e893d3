"""What to tell the owner when a fault stops mentorbox: one line that names the cause and the way out.

A worker that stops on an error nobody planned for stops the daemon (its state store, which every worker
shares, is what keeps each message triaged and drafted exactly once, and a worker that failed on it cannot
be trusted to go on). The owner must then learn, from one log line and one Telegram message, what is wrong
in words he can act on: "the state store's disk is full", not ``sqlite3.OperationalError``. Pure: no IO.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

_STORE_FAULTS = (
    ("database or disk is full", "the state store's disk is full ({path}): free some space, then start "
                                 "mentorbox again (nothing was lost: what was not recorded is fetched again)"),
    ("readonly database", "the state store is read-only ({path}): give mentorbox write access to it and its "
                          "folder, then start it again"),
    ("unable to open database", "the state store cannot be opened ({path}): check that its folder exists and "
                                "is writable"),
    ("disk i/o error", "the state store could not be written or read ({path}: disk I/O error): check the free "
                       "space, file size limits and the disk (dmesg), then start mentorbox again"),
    ("malformed", "the state store is damaged ({path}): move it aside and start mentorbox again (it starts a "
                  "new one and finds its drafts already in Drafts)"),
    ("not a database", "the state store is damaged ({path}): move it aside and start mentorbox again (it starts "
                       "a new one and finds its drafts already in Drafts)"),
)
_OS_FAULTS = {
    errno.ENOSPC: "the disk is full ({file}): free some space, then start mentorbox again",
    errno.EDQUOT: "the disk quota is used up ({file}): free some space, then start mentorbox again",
    errno.EROFS: "the file system is read-only ({file}): remount it writable, then start mentorbox again",
    errno.EACCES: "permission denied ({file}): give mentorbox write access, then start it again",
    errno.ENOMEM: "the machine ran out of memory: mentorbox stopped; start it again",
}


def describe_fault(exc: BaseException, store_path: str | Path) -> str:
    """The owner's one line for a fault that stopped a worker: a store or disk fault in plain words, anything
    else as the unexpected error it is (a bug, to report)."""
    text = str(exc)
    if isinstance(exc, sqlite3.Error):
        lowered = text.lower()
        for needle, line in _STORE_FAULTS:
            if needle in lowered:
                return line.format(path=store_path)
        return f"the state store failed ({store_path}): {text}"
    if isinstance(exc, OSError) and exc.errno in _OS_FAULTS:
        return _OS_FAULTS[exc.errno].format(file=exc.filename or store_path)
    if isinstance(exc, MemoryError):
        return _OS_FAULTS[errno.ENOMEM]
    return f"unexpected error: {type(exc).__name__}: {text} (a bug: please report it with the log)"
