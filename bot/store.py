"""The state store: SQLite, WAL, versioned schema, created with mode 0600.

What it guarantees the daemon:

* a message is known by ``(account, folder, uidvalidity, uid)`` *and* by its Message-ID, so a UIDVALIDITY
  change can re-sync without processing anything twice;
* each row keeps its status and last error, so a failed message is retried a bounded number of times and
  a processed one is never fetched again;
* side effects (APPEND a draft, push a notification) go through an **outbox**: the decision and the actions
  it calls for are written in one transaction; an action is *claimed* before it runs and *completed* with
  its result (e.g. the draft's UID) in the same transaction that moves the message's status on. A crash
  between the two leaves a claimed-but-not-completed action, which the executor re-checks (is the draft
  already in Drafts?) before it runs again, instead of blindly repeating it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shlex
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self

from bot.errors import StoreBusy, StoreError
from bot.models import LABELS, LEAD_LABELS, Decision

MESSAGE_STATUSES = ("new", "classified", "drafted", "notified", "done", "snoozed", "failed")
OUTBOX_STATES = ("pending", "claimed", "done", "failed")

_MIGRATIONS: tuple[str, ...] = (
    # 1: messages, folders, feedback, outbox
    """
    CREATE TABLE folders (
        account TEXT NOT NULL,
        folder TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL DEFAULT 0,
        last_sync REAL,
        PRIMARY KEY (account, folder)
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        folder TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        message_id TEXT NOT NULL DEFAULT '',
        sender TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        date TEXT,
        label TEXT,
        confidence REAL,
        unsure INTEGER NOT NULL DEFAULT 0,
        priority INTEGER NOT NULL DEFAULT 0,
        reasons TEXT NOT NULL DEFAULT '[]',
        faq TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'new',
        draft_ref TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (account, folder, uidvalidity, uid)
    );
    CREATE INDEX messages_by_message_id ON messages (account, message_id);
    CREATE INDEX messages_by_status ON messages (status);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        message_row INTEGER REFERENCES messages (id),
        old_label TEXT,
        new_label TEXT NOT NULL,
        sender TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        message_row INTEGER REFERENCES messages (id),
        dedup_key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0,
        result TEXT,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX outbox_by_state ON outbox (state, not_before);
    """,
    # 2: questions that matched no FAQ entry (for `mentorbox faq-gaps`)
    """
    CREATE TABLE faq_gaps (
        id INTEGER PRIMARY KEY,
        message_key TEXT NOT NULL,
        sender TEXT NOT NULL DEFAULT '',
        date TEXT,
        question TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (message_key, question)
    );
    """,
    # 3: leads (PhD offers and job leads), tracked until done
    """
    CREATE TABLE leads (
        id INTEGER PRIMARY KEY,
        message_row INTEGER NOT NULL UNIQUE REFERENCES messages (id),
        label TEXT NOT NULL,
        correspondent TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        priority INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'new',
        promise_due TEXT,
        snoozed_until REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX leads_by_state ON leads (state);
    """,
    # 4: Telegram (cards sent, uncertain deliveries), message text for corrections, settings, lead nudges
    """
    ALTER TABLE messages ADD COLUMN address TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN summary TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN body TEXT NOT NULL DEFAULT '';
    CREATE INDEX messages_by_address ON messages (address, created_at);
    ALTER TABLE outbox ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE leads ADD COLUMN nudges INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE tg_cards (
        chat_id INTEGER NOT NULL,
        tg_message_id INTEGER NOT NULL,
        ref TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (chat_id, tg_message_id)
    );
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 5: Message-IDs looked up across accounts (is this mail an answer to one of our leads?)
    """
    CREATE INDEX messages_by_message_id_only ON messages (message_id);
    """,
    # 6: a draft's bytes apart from its outbox row (written once; claims and completions rewrite small rows)
    """
    CREATE TABLE outbox_data (
        outbox_id INTEGER PRIMARY KEY REFERENCES outbox (id),
        data BLOB NOT NULL
    );
    """,
    # 7: what tells a message from others (bot.models.identity): its Message-ID, or a hash for one without
    """
    ALTER TABLE messages ADD COLUMN identity TEXT NOT NULL DEFAULT '';
    UPDATE messages SET identity = message_id WHERE message_id IS NOT NULL;
    CREATE INDEX messages_by_identity ON messages (account, identity);
    """,
)
LEAD_STATES = ("new", "notified", "replied", "waiting", "done", "snoozed", "dropped")
OPEN_LEAD_STATES = ("new", "notified", "replied", "waiting", "snoozed")
SCHEMA_VERSION = len(_MIGRATIONS)
BODY_KEPT = 8000
"""Characters of a message's new text kept in the store (for corrections; the mail stays on the server)."""


@dataclass(frozen=True)
class MessageKey:
    """Where a message lives on the server; UIDVALIDITY is part of the key (a UID alone is not unique)."""

    account: str
    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class OutboxItem:
    """An action still to perform (or performed), as stored."""

    id: int
    kind: str
    message_row: int | None
    dedup_key: str
    payload: dict[str, Any]
    state: str
    attempts: int
    result: str | None
    last_error: str | None
    uncertain: bool = False
    """A send that timed out or was interrupted: it may have been delivered already."""


_CHUNK = 500
"""Ids per ``IN (...)`` list: well under SQLite's limit on bound variables (999 before version 3.32)."""
DATA_KEY = "message"
"""The payload key of an action's bytes (a draft as RFC 5322). They are stored apart from the JSON payload, in
``outbox_data``: a draft is written once, and claiming or completing it rewrites a row of 200 bytes instead
of one of 7 KB (base64 in JSON). Items read back hold them as ``bytes`` under this key."""
_ITEMS = ("SELECT outbox.*, outbox_data.data AS data FROM outbox"
          " LEFT JOIN outbox_data ON outbox_data.outbox_id = outbox.id")


def _create_private(path: Path) -> None:
    """Create the database file 0600 before SQLite opens it, so it never exists world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another thread or process of ours created it between the check and the open
    os.close(fd)


def lock_path(store_path: Path) -> Path:
    """The lock file of a store: next to it, named after it."""
    return store_path.with_name(store_path.name + ".lock")


class StoreLock:
    """Sole use of a state store by the process that drafts and pushes from it (``run``, ``backfill``).

    An exclusive ``flock`` on a file next to the store, which holds the holder's PID for the message a second
    process prints. The kernel releases the lock with the process however it ends (``kill -9`` included), so a
    lock left behind never blocks a restart; the file itself may stay and means nothing unlocked. Read-only
    commands (``status``, ``digest``) do not take it and work while the daemon runs.
    """

    def __init__(self, store_path: str | os.PathLike[str]) -> None:
        path = lock_path(Path(store_path).resolve())  # (one lock however the store is named: a symlink too)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {str(path)!r} of the state store: "
                             f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip()
            os.close(self._fd)
            raise StoreBusy(
                f"another mentorbox (PID {holder or 'unknown'}) is already working on the state store "
                f"{str(store_path)!r}: stop it first (status and digest work meanwhile)") from None
        pid = f"{os.getpid()}\n".encode("ascii")
        try:
            os.pwrite(self._fd, pid, 0)  # (then cut: a process that reads meanwhile never finds it empty)
            os.ftruncate(self._fd, len(pid))
        except OSError as exc:  # (a full disk: the lock is held, but the store will not be writable either)
            self.release()
            raise StoreError(f"cannot write the lock file {str(path)!r} of the state store: "
                             f"{exc.strerror or exc}") from None

    def release(self) -> None:
        """Give the store up (the lock goes with the process anyway)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


DAMAGE = ("malformed", "not a database", "corrupt")
"""Words of SQLite's errors for a file that is not (or no longer) a sound database."""


def is_damage(exc: BaseException) -> bool:
    """Whether a SQLite error says the database file itself is damaged (rather than busy, full or read-only)."""
    return isinstance(exc, sqlite3.DatabaseError) and any(word in str(exc) for word in DAMAGE)


def damaged(path: str | os.PathLike[str], detail: str) -> StoreError:
    """The error for a damaged store: what is wrong, and how to get going again without duplicates (a new
    store finds the drafts mentorbox made in Drafts, see ``FolderWorker._look_for_drafts``). The -wal file
    goes aside too: SQLite would otherwise replay it into the new store."""
    name = str(path)
    return StoreError(f"the state store {name!r} is damaged (not a valid database: {detail}): move it aside with "
                      f"its -wal and -shm files (e.g. mv {shlex.quote(name)} {shlex.quote(name + '.damaged')}) and "
                      f"start again; mentorbox makes a new store and finds the drafts it made in Drafts, so none is "
                      f"made twice")


def _use_wal(db: sqlite3.Connection, *, patience: float = 30.0) -> None:
    """Switch the database to WAL, waiting out a connection that is switching it at the same moment.

    SQLite answers "database is locked" at once here, without calling the busy handler, when another
    connection holds the lock the switch needs: that happens when the daemon's threads open a new store
    together.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Store:
    """Access to the state database. One instance per thread (sqlite3 connections are not shared)."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Any = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._depth = 0
        if self.path.is_dir():
            raise StoreError(f"the state store {str(path)!r} is a directory: store.path names the database file "
                             f"(e.g. {str(self.path / 'state.sqlite3')!r})")
        try:
            if str(path) != ":memory:":
                _create_private(self.path)
            # One Store belongs to one thread at a time; a daemon worker's is made in the main thread.
            self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            if str(path) != ":memory:":
                _use_wal(self._db)
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise damaged(path, str(exc)) from None
            raise StoreError(f"cannot open the state store {str(path)!r}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot create the state store {str(path)!r}: {exc.strerror or exc}") from None

    # ------------------------------------------------------------------ plumbing

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the state store {str(self.path)!r} has schema version {version}, newer than this mentorbox "
                f"({SCHEMA_VERSION}): upgrade mentorbox"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                # Another process (or thread) may have migrated meanwhile: re-read under the write lock.
                if self._db.execute("PRAGMA user_version").fetchone()[0] > number:
                    continue
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: everything inside commits together or not at all.

        Inside another transaction (a worker records a whole batch in one) it is a savepoint: a failure
        undoes this unit alone, and nothing is durable before the outer transaction commits.
        """
        if self._db.in_transaction:
            self._depth += 1
            name = f"unit{self._depth}"
            with self._writing():
                self._db.execute(f"SAVEPOINT {name}")
                try:
                    yield self._db
                except BaseException:
                    if self._db.in_transaction:  # (SQLite rolls the whole transaction back itself on some errors)
                        self._db.execute(f"ROLLBACK TO {name}")
                        self._db.execute(f"RELEASE {name}")
                    raise
                else:
                    self._db.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
            return
        with self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a write that failed for want of room (or of a working disk) into a :class:`StoreError`.

        It is then an error the daemon knows: logged in one line and retried after a pause (a disk that fills
        up is freed again), ``--once`` exits 1; nothing is lost, since what was not committed is processed
        again. Any other error stays what it is.
        """
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "full" not in text and "disk I/O error" not in text:
                raise
            raise StoreError(f"cannot write the state store {str(self.path)!r}: {text} (is its disk full?)") from None

    def check(self) -> None:
        """Raise :func:`damaged` unless SQLite finds the whole file sound (``PRAGMA quick_check``: every page
        read once, about 1 s per 200 MB). For the processes that write drafts, once at start: a store damaged
        in the middle opens without complaint and fails at the first query that reads the bad page."""
        try:
            problem = str(self._db.execute("PRAGMA quick_check(1)").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, str(exc)) from None
        if problem != "ok":  # (e.g. "*** in database main ***\nPage 12: btreeInitPage() returns error code 11")
            raise damaged(self.path, " ".join(problem.replace("*** in database main ***", "").split()))

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self._db.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # ------------------------------------------------------------------ folders

    def folder_state(self, account: str, folder: str) -> tuple[int, int] | None:
        """``(uidvalidity, last_uid)`` last recorded for a folder, or None if it was never synced."""
        row = self._db.execute(
            "SELECT uidvalidity, last_uid FROM folders WHERE account = ? AND folder = ?", (account, folder)
        ).fetchone()
        return (row["uidvalidity"], row["last_uid"]) if row else None

    def set_folder_state(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Record a folder's UIDVALIDITY and the highest UID fully recorded."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO folders (account, folder, uidvalidity, last_uid, last_sync) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
                "last_uid = excluded.last_uid, last_sync = excluded.last_sync",
                (account, folder, uidvalidity, last_uid, self._clock()),
            )

    def folders(self) -> dict[tuple[str, str], sqlite3.Row]:
        """Every synced folder's row (uidvalidity, last_uid, last_sync) by (account, folder)."""
        return {(r["account"], r["folder"]): r for r in self._db.execute("SELECT * FROM folders")}

    # ------------------------------------------------------------------ messages

    def folder_summary(self, account: str, folder: str) -> tuple[dict[str, int], int]:
        """Messages per label in one folder, and how many failed: of the folder as it is now (its current
        UIDVALIDITY, when it has been synced; after a change the rows of the old one stay, for the record)."""
        state = self.folder_state(account, folder)
        where = "account = ? AND folder = ?" + (" AND uidvalidity = ?" if state is not None else "")
        args = (account, folder, *((state[0],) if state is not None else ()))
        counts = dict(self._db.execute(
            f"SELECT label, COUNT(*) FROM messages WHERE {where} AND label IS NOT NULL GROUP BY label", args))
        failed = self._db.execute(f"SELECT COUNT(*) FROM messages WHERE {where} AND status = 'failed'",
                                  args).fetchone()[0]
        return counts, int(failed)

    def open_leads(self) -> tuple[int, int]:
        """Leads not done or dropped, and how many of them are priority."""
        row = self._db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(priority), 0) FROM leads WHERE state IN "
            f"({', '.join('?' * len(OPEN_LEAD_STATES))})", OPEN_LEAD_STATES,
        ).fetchone()
        return int(row[0]), int(row[1])

    def since(self, when: float) -> dict[str, int]:
        """Messages recorded since ``when`` (epoch seconds), per label."""
        rows = self._db.execute(
            "SELECT label, COUNT(*) FROM messages WHERE created_at >= ? AND label IS NOT NULL GROUP BY label",
            (when,))
        return {label: int(n) for label, n in rows}

    def drafts_waiting(self) -> dict[str, int]:
        """Messages with a draft in Drafts that are not marked done yet, per label."""
        rows = self._db.execute(
            "SELECT label, COUNT(*) FROM messages WHERE status = 'drafted' GROUP BY label")
        return {label: int(n) for label, n in rows}

    def leads(self, states: Sequence[str] = OPEN_LEAD_STATES) -> list[sqlite3.Row]:
        """Leads in the given states, priority first, then oldest first."""
        return list(self._db.execute(
            f"SELECT * FROM leads WHERE state IN ({', '.join('?' * len(states))})"
            " ORDER BY priority DESC, created_at", tuple(states),
        ))

    def owner_replied(self, references: Sequence[str], to_address: str = "", subject: str = "") -> int:
        """The owner answered a lead (seen in Sent): open leads it refers to now wait for the other side.

        Matched by In-Reply-To/References against the lead's Message-ID, or else by the addressee and a
        "Re:" of the lead's subject. Returns how many leads moved.
        """
        now = self._clock()
        moved = 0
        with self.transaction() as db:
            ids = [r for r in references if r]
            if ids:
                moved = db.execute(
                    f"UPDATE leads SET state = 'waiting', updated_at = ? WHERE state IN ('new', 'notified', 'replied')"
                    f" AND message_row IN (SELECT id FROM messages WHERE message_id IN ({', '.join('?' * len(ids))}))",
                    (now, *ids),
                ).rowcount
            if not moved and to_address and subject:
                moved = db.execute(
                    "UPDATE leads SET state = 'waiting', updated_at = ? WHERE state IN ('new', 'notified', 'replied')"
                    " AND instr(lower(correspondent), lower(?)) > 0 AND lower(?) = lower(subject)",
                    (now, to_address, subject),
                ).rowcount
        return moved

    def other_side_answered(self, references: Sequence[str]) -> int:
        """An answer to a lead arrived: leads waiting on it are marked replied (the owner's turn again)."""
        ids = [r for r in references if r]
        if not ids:
            return 0
        # The referenced messages by their Message-ID (schema 5's index), then their leads (unique index):
        # a few index lookups per reply, however many messages and waiting leads the store holds (a scan of
        # every message took 2 ms a reply at 50,000 messages).
        with self.transaction() as db:
            return db.execute(
                f"UPDATE leads SET state = 'replied', updated_at = ? WHERE state = 'waiting'"
                f" AND message_row IN (SELECT id FROM messages WHERE message_id IN ({', '.join('?' * len(ids))}))",
                (self._clock(), *ids),
            ).rowcount

    def set_lead_state(self, lead_id: int, state: str) -> None:
        """Move a lead on (done, snoozed, waiting, ...)."""
        if state not in LEAD_STATES:
            raise ValueError(f"unknown lead state {state!r}")
        with self.transaction() as db:
            db.execute("UPDATE leads SET state = ?, updated_at = ? WHERE id = ?", (state, self._clock(), lead_id))

    def find(self, key: MessageKey) -> sqlite3.Row | None:
        """The row of a message by its server key."""
        return self._db.execute(
            "SELECT * FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?",
            (key.account, key.folder, key.uidvalidity, key.uid),
        ).fetchone()

    def known_messages(self, account: str, identities: Sequence[str]) -> dict[str, sqlite3.Row]:
        """The first row of each of these identities (:func:`bot.models.identity`) already recorded in the
        account (one query a batch)."""
        wanted = sorted({m for m in identities if m})
        found: dict[str, sqlite3.Row] = {}
        for start in range(0, len(wanted), 500):  # (SQLite's limit on parameters is far above; a sane query)
            chunk = wanted[start : start + 500]
            for row in self._db.execute(
                f"SELECT * FROM messages WHERE account = ? AND identity IN ({', '.join('?' * len(chunk))})"
                " ORDER BY id", (account, *chunk)):
                found.setdefault(row["identity"], row)
        return found

    def first_recorded(self, account: str, folder: str) -> float | None:
        """When the first message of a folder was recorded (epoch seconds), or None."""
        row = self._db.execute("SELECT MIN(created_at) FROM messages WHERE account = ? AND folder = ?",
                               (account, folder)).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def find_by_identity(self, account: str, identity: str) -> sqlite3.Row | None:
        """The first row of this identity (:func:`bot.models.identity`) in the account (to re-sync after a
        UIDVALIDITY change, and to know a message delivered twice)."""
        if not identity:
            return None
        return self._db.execute(
            "SELECT * FROM messages WHERE account = ? AND identity = ? ORDER BY id LIMIT 1", (account, identity)
        ).fetchone()

    def get(self, row_id: int) -> sqlite3.Row | None:
        """A message row by its id."""
        return self._db.execute("SELECT * FROM messages WHERE id = ?", (row_id,)).fetchone()

    def record_decision(
        self,
        key: MessageKey,
        *,
        message_id: str,
        sender: str,
        subject: str,
        date: str | None,
        decision: Decision,
        actions: Sequence[tuple[str, str, dict[str, Any]]] = (),
        address: str = "",
        summary: str = "",
        body: str = "",
        identity: str | None = None,
    ) -> int:
        """Record what was decided about a message and enqueue its actions, atomically.

        ``actions`` are ``(kind, dedup_key, payload)``; a dedup key already in the outbox is left alone, so
        recording the same message twice (after a crash) cannot enqueue an action twice. ``body`` (the new
        text, capped) is kept so that a correction made later from Telegram can be trained on. ``identity``
        (:func:`bot.models.identity`) defaults to the Message-ID.
        """
        now = self._clock()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO messages (account, folder, uidvalidity, uid, message_id, sender, subject, date, label,"
                " confidence, unsure, priority, reasons, faq, status, address, summary, body, identity, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'classified', ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (account, folder, uidvalidity, uid) DO UPDATE SET label = excluded.label,"
                " status = CASE WHEN messages.status = 'failed' THEN 'classified' ELSE messages.status END,"
                " confidence = excluded.confidence, unsure = excluded.unsure, priority = excluded.priority,"
                " reasons = excluded.reasons, faq = excluded.faq, error = NULL, updated_at = excluded.updated_at,"
                # (a row a failure left has none of these yet)
                " message_id = excluded.message_id, sender = excluded.sender, subject = excluded.subject,"
                " date = excluded.date, address = excluded.address, summary = excluded.summary,"
                " body = excluded.body, identity = excluded.identity"
                " RETURNING id",
                (
                    key.account, key.folder, key.uidvalidity, key.uid, message_id, sender, subject, date,
                    decision.label, decision.confidence, int(decision.unsure), int(decision.priority),
                    json.dumps(list(decision.reasons)), json.dumps(list(decision.faq)), address.lower(),
                    summary, body[:BODY_KEPT], message_id if identity is None else identity, now, now,
                ),
            )
            row_id = int(cur.fetchone()[0])
            if decision.label in LEAD_LABELS:
                # Every lead is tracked from the moment it is recorded, in the same transaction.
                db.execute(
                    "INSERT INTO leads (message_row, label, correspondent, subject, priority, promise_due,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_row) DO NOTHING",
                    (row_id, decision.label, sender, subject, int(decision.priority),
                     decision.promise_due.isoformat() if decision.promise_due else None, now, now),
                )
            for kind, dedup_key, payload in actions:
                self._insert_action(db, kind, dedup_key, payload, row_id, now)
        return row_id

    def record_alias(self, key: MessageKey, known: sqlite3.Row) -> int:
        """Record that ``key`` is a message already processed under another key (the same identity).

        Used after a UIDVALIDITY change: the message gets a row under its new UID with the old decision and
        status, and no actions, so it is neither processed nor drafted again.
        """
        now = self._clock()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO messages (account, folder, uidvalidity, uid, message_id, sender, subject, date, label,"
                " confidence, unsure, priority, reasons, faq, status, draft_ref, address, summary, body,"
                " identity, created_at, updated_at)"
                " SELECT ?, ?, ?, ?, message_id, sender, subject, date, label, confidence, unsure, priority,"
                " reasons, faq, status, draft_ref, address, summary, body, identity, ?, ? FROM messages WHERE id = ?"
                " ON CONFLICT (account, folder, uidvalidity, uid) DO NOTHING",
                (key.account, key.folder, key.uidvalidity, key.uid, now, now, known["id"]),
            )
        return int(cur.lastrowid or 0)

    def settled_uids(self, account: str, folder: str, uidvalidity: int, uids: Sequence[int],
                     max_attempts: int) -> set[int]:
        """Which of ``uids`` need no more work: processed, or failed ``max_attempts`` times (one query; the
        range keeps it to the UIDs asked about, not the whole folder's history)."""
        if not uids:
            return set()
        rows = self._db.execute(
            "SELECT uid FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid BETWEEN ? AND ?"
            " AND (status != 'failed' OR attempts >= ?)",
            (account, folder, uidvalidity, min(uids), max(uids), max_attempts),
        )
        wanted = set(uids)
        return {int(r["uid"]) for r in rows if int(r["uid"]) in wanted}

    def failed_uids(self, account: str, folder: str, uidvalidity: int, max_attempts: int) -> list[int]:
        """UIDs whose processing failed fewer than ``max_attempts`` times (to be tried again)."""
        rows = self._db.execute(
            "SELECT uid FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ? AND status = 'failed'"
            " AND attempts < ? ORDER BY uid", (account, folder, uidvalidity, max_attempts),
        )
        return [int(r["uid"]) for r in rows]

    def failed_messages(self, account: str, folder: str, limit: int = 10) -> list[sqlite3.Row]:
        """The failed messages of a folder, most recently failed first (uid, message_id, attempts, error)."""
        return list(self._db.execute(
            "SELECT uid, message_id, attempts, error FROM messages"
            " WHERE account = ? AND folder = ? AND status = 'failed' ORDER BY updated_at DESC, uid DESC LIMIT ?",
            (account, folder, limit)))

    def reset_failed(self, account: str | None = None, folder: str | None = None) -> int:
        """Give failed messages their attempts back (the owner fixed the cause); returns how many.

        The daemon's next sync of their folder tries them again, ``MAX_ATTEMPTS`` more times.
        """
        with self.transaction() as db:
            return int(db.execute(
                "UPDATE messages SET attempts = 0, updated_at = ? WHERE status = 'failed'"
                " AND (? IS NULL OR account = ?) AND (? IS NULL OR folder = ?)",
                (self._clock(), account, account, folder, folder)).rowcount)

    def record_failure(self, key: MessageKey, error: str, *, message_id: str = "") -> int:
        """Record that processing a message failed; returns how many attempts it has had."""
        now = self._clock()
        with self.transaction() as db:
            row = db.execute(
                "INSERT INTO messages (account, folder, uidvalidity, uid, message_id, status, error, attempts,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'failed', ?, 1, ?, ?)"
                " ON CONFLICT (account, folder, uidvalidity, uid) DO UPDATE SET status = 'failed',"
                " error = excluded.error, attempts = attempts + 1, updated_at = excluded.updated_at"
                " RETURNING attempts",
                (key.account, key.folder, key.uidvalidity, key.uid, message_id, error[:2000], now, now),
            ).fetchone()
        return int(row[0])

    def set_status(self, row_id: int, status: str) -> None:
        """Move a message to another status (e.g. done, snoozed)."""
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self.transaction() as db:
            db.execute("UPDATE messages SET status = ?, updated_at = ? WHERE id = ?", (status, self._clock(), row_id))

    def counts_by_label(self) -> dict[str, int]:
        """How many messages were recorded per label."""
        rows = self._db.execute("SELECT label, COUNT(*) AS n FROM messages WHERE label IS NOT NULL GROUP BY label")
        return {r["label"]: r["n"] for r in rows}

    # ------------------------------------------------------------------ owner actions (Telegram)

    def lead_by_message(self, message_row: int) -> sqlite3.Row | None:
        """The lead a message started, if it is one."""
        return self._db.execute("SELECT * FROM leads WHERE message_row = ?", (message_row,)).fetchone()

    def mark_done(self, message_row: int) -> bool:
        """The owner dealt with a message: it and its lead (if any) are done. False if there is no such row."""
        now = self._clock()
        with self.transaction() as db:
            found = db.execute("UPDATE messages SET status = 'done', updated_at = ? WHERE id = ?",
                               (now, message_row)).rowcount
            db.execute("UPDATE leads SET state = 'done', snoozed_until = NULL, updated_at = ? WHERE message_row = ?",
                       (now, message_row))
        return bool(found)

    def snooze(self, message_row: int, until: float) -> bool:
        """Put a lead aside until ``until`` (epoch seconds); it is pushed again then. False if not a lead."""
        now = self._clock()
        with self.transaction() as db:
            moved = db.execute(
                "UPDATE leads SET state = 'snoozed', snoozed_until = ?, updated_at = ? WHERE message_row = ?",
                (until, now, message_row)).rowcount
            if moved:
                db.execute("UPDATE messages SET status = 'snoozed', updated_at = ? WHERE id = ?", (now, message_row))
        return bool(moved)

    def wake_snoozed(self, chat_ids: Sequence[int]) -> int:
        """Leads whose snooze ended are open again and pushed again (enqueued in the same transaction)."""
        now = self._clock()
        with self.transaction() as db:
            rows = db.execute("SELECT id, message_row, snoozed_until FROM leads WHERE state = 'snoozed'"
                              " AND snoozed_until IS NOT NULL AND snoozed_until <= ?", (now,)).fetchall()
            for row in rows:
                db.execute("UPDATE leads SET state = 'notified', snoozed_until = NULL, updated_at = ? WHERE id = ?",
                           (now, row["id"]))
                db.execute("UPDATE messages SET status = 'notified', updated_at = ? WHERE id = ?",
                           (now, row["message_row"]))
                for chat in chat_ids:
                    self._insert_action(db, "telegram", f"tg:wake:{row['message_row']}:{row['snoozed_until']}:{chat}",
                                        {"chat_id": chat, "what": "wake"}, row["message_row"], now)
        return len(rows)

    def lead_notified(self, message_row: int) -> None:
        """The owner was told about a lead: ``new`` becomes ``notified`` (other states are left alone)."""
        with self.transaction() as db:
            db.execute("UPDATE leads SET state = 'notified', updated_at = ? WHERE message_row = ? AND state = 'new'",
                       (self._clock(), message_row))

    def correct(self, message_row: int, new_label: str) -> str | None:
        """The owner relabelled a message: record the correction (with its text, for retraining), keep the
        lead table in step (a new lead is tracked, a lead that was not one is dropped). Returns the old label.
        """
        if new_label not in LABELS:
            raise ValueError(f"unknown label {new_label!r}")
        row = self.get(message_row)
        if row is None:
            raise KeyError(message_row)
        self.add_feedback(new_label, message_row=message_row, old_label=row["label"], sender=row["sender"],
                          subject=row["subject"], body=row["body"])
        now = self._clock()
        with self.transaction() as db:
            if new_label in LEAD_LABELS:
                db.execute(
                    "INSERT INTO leads (message_row, label, correspondent, subject, priority, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_row) DO UPDATE SET label = excluded.label,"
                    " state = CASE WHEN leads.state = 'dropped' THEN 'new' ELSE leads.state END,"
                    " updated_at = excluded.updated_at",
                    (message_row, new_label, row["sender"], row["subject"], row["priority"], now, now))
            else:
                db.execute("UPDATE leads SET state = 'dropped', updated_at = ? WHERE message_row = ?",
                           (now, message_row))
        return str(row["label"]) if row["label"] else None

    def add_card(self, chat_id: int, tg_message_id: int, ref: str) -> None:
        """Remember which message (``m:<row>``) or report a Telegram message with buttons is about."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO tg_cards (chat_id, tg_message_id, ref, created_at) VALUES (?, ?, ?, ?)",
                       (chat_id, tg_message_id, ref, self._clock()))

    def card_ref(self, chat_id: int, tg_message_id: int) -> str | None:
        """What a Telegram message with buttons is about (None: not one mentorbox sent)."""
        row = self._db.execute("SELECT ref FROM tg_cards WHERE chat_id = ? AND tg_message_id = ?",
                               (chat_id, tg_message_id)).fetchone()
        return str(row[0]) if row else None

    def setting(self, key: str, default: str = "") -> str:
        """A persisted setting (e.g. ``paused``)."""
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def set_setting(self, key: str, value: str) -> None:
        """Persist a setting (survives restarts)."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    def forget_setting(self, key: str) -> None:
        """Remove a persisted setting."""
        with self.transaction() as db:
            db.execute("DELETE FROM settings WHERE key = ?", (key,))

    def recent(self, limit: int = 10, statuses: Sequence[str] = ("drafted",)) -> list[sqlite3.Row]:
        """The latest messages in some statuses, newest first (for /pending)."""
        return list(self._db.execute(
            f"SELECT * FROM messages WHERE status IN ({', '.join('?' * len(statuses))}) ORDER BY id DESC LIMIT ?",
            (*statuses, limit)))

    # ------------------------------------------------------------------ follow-ups

    def followup_leads(self) -> list[sqlite3.Row]:
        """Open leads that may need a nudge, with their message's address, date and Message-ID."""
        return list(self._db.execute(
            "SELECT leads.*, messages.address AS address, messages.date AS message_date,"
            " messages.message_id AS message_id, messages.body AS body, messages.sender AS sender"
            " FROM leads JOIN messages ON messages.id = leads.message_row"
            " WHERE leads.state IN ('new', 'notified', 'waiting', 'replied')"))

    def heard_from_since(self, address: str, message_row: int) -> bool:
        """Whether a later message from ``address`` arrived (in any watched folder) after ``message_row``."""
        if not address:
            return False
        return self._db.execute("SELECT 1 FROM messages WHERE address = ? AND id > ? LIMIT 1",
                                (address.lower(), message_row)).fetchone() is not None

    def has_action(self, dedup_key: str) -> bool:
        """Whether an action with this dedup key was ever enqueued."""
        return self._db.execute("SELECT 1 FROM outbox WHERE dedup_key = ?", (dedup_key,)).fetchone() is not None

    def enqueue_many(self, message_row: int | None, actions: Sequence[tuple[str, str, dict[str, Any]]]) -> int:
        """Enqueue several actions atomically (a nudge and its follow-up draft); returns how many were new.

        Actions of kind ``marker`` are stored as done: they only record that something happened, once.
        """
        now = self._clock()
        added = 0
        with self.transaction() as db:
            for kind, dedup_key, payload in actions:
                added += self._insert_action(db, kind, dedup_key, payload, message_row, now)
                if kind == "marker":  # a record that something happened, nothing to perform
                    db.execute("UPDATE outbox SET state = 'done' WHERE dedup_key = ?", (dedup_key,))
            if message_row is not None and added:
                db.execute("UPDATE leads SET nudges = nudges + 1, updated_at = ? WHERE message_row = ?",
                           (now, message_row))
        return added

    # ------------------------------------------------------------------ feedback

    def add_feedback(
        self, new_label: str, *, message_row: int | None = None, old_label: str | None = None,
        sender: str = "", subject: str = "", body: str = "",
    ) -> int:
        """Record a correction with the text needed to retrain on it."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO feedback (message_row, old_label, new_label, sender, subject, body, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (message_row, old_label, new_label, sender, subject, body, self._clock()),
            )
            if message_row is not None:
                db.execute(
                    "UPDATE messages SET label = ?, unsure = 0, updated_at = ? WHERE id = ?",
                    (new_label, self._clock(), message_row),
                )
        return int(cur.lastrowid or 0)

    def feedback(self) -> list[sqlite3.Row]:
        """All corrections, oldest first; the latest correction of a message wins when retraining."""
        return list(self._db.execute("SELECT * FROM feedback ORDER BY id"))

    # ------------------------------------------------------------------ FAQ gaps

    def add_faq_gaps(self, message_key: str, sender: str, date: str | None, questions: Sequence[str]) -> int:
        """Keep questions no FAQ entry answered; the same question of the same message is kept once."""
        now = self._clock()
        added = 0
        with self.transaction() as db:
            for question in questions:
                cur = db.execute(
                    "INSERT INTO faq_gaps (message_key, sender, date, question, created_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (message_key, question) DO NOTHING",
                    (message_key, sender, date, question, now),
                )
                added += cur.rowcount
        return added

    def faq_gaps(self) -> list[sqlite3.Row]:
        """All kept questions, oldest first."""
        return list(self._db.execute("SELECT * FROM faq_gaps ORDER BY id"))

    # ------------------------------------------------------------------ outbox

    @staticmethod
    def _item(row: sqlite3.Row) -> OutboxItem:
        payload = json.loads(row["payload"])
        if row["data"] is not None:
            payload[DATA_KEY] = bytes(row["data"])
        elif isinstance(payload.get(DATA_KEY), str):  # written before schema 6: base64 inside the JSON
            payload[DATA_KEY] = base64.b64decode(payload[DATA_KEY])
        return OutboxItem(
            row["id"], row["kind"], row["message_row"], row["dedup_key"], payload,
            row["state"], row["attempts"], row["result"], row["last_error"], bool(row["uncertain"]),
        )

    def enqueue(self, kind: str, dedup_key: str, payload: dict[str, Any], message_row: int | None = None) -> bool:
        """Add an action unless one with the same dedup key exists; True if it was added."""
        with self.transaction() as db:
            return self._insert_action(db, kind, dedup_key, payload, message_row, self._clock())

    @staticmethod
    def _insert_action(db: sqlite3.Connection, kind: str, dedup_key: str, payload: dict[str, Any],
                       message_row: int | None, now: float) -> bool:
        data = payload.get(DATA_KEY)
        if isinstance(data, bytes):
            payload = {k: v for k, v in payload.items() if k != DATA_KEY}
        cur = db.execute(
            "INSERT INTO outbox (kind, message_row, dedup_key, payload, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
            (kind, message_row, dedup_key, json.dumps(payload), now, now),
        )
        if cur.rowcount != 1:
            return False
        if isinstance(data, bytes):
            db.execute("INSERT INTO outbox_data (outbox_id, data) VALUES (?, ?)", (cur.lastrowid, data))
        return True

    def due(self, kinds: Sequence[str] | None = None, limit: int = 100, *,
            prefixes: Sequence[str] = (), pending_only: bool = False) -> list[OutboxItem]:
        """Actions to run now: pending ones whose time has come, and claimed ones a crash left behind
        (unless ``pending_only``: a backlog's drafts in flight are claimed, and need not be read again).

        ``prefixes`` keeps those whose dedup key starts with one of them (one folder's actions), in SQL, so
        another folder's backlog neither fills ``limit`` nor has its payloads decoded for nothing.
        """
        states = "('pending')" if pending_only else "('pending', 'claimed')"
        query = f"{_ITEMS} WHERE state IN {states} AND not_before <= ?"
        params: list[Any] = [self._clock()]
        if kinds:
            query += f" AND kind IN ({', '.join('?' * len(kinds))})"
            params.extend(kinds)
        if prefixes:
            query += " AND (" + " OR ".join("substr(dedup_key, 1, ?) = ?" for _ in prefixes) + ")"
            for prefix in prefixes:
                params += [len(prefix), prefix]
        query += " ORDER BY id LIMIT ?"
        params.append(limit)
        return [self._item(r) for r in self._db.execute(query, params)]

    def claim(self, item_id: int) -> OutboxItem:
        """Mark an action as being performed now. A claimed item found later means a crash mid-action."""
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'claimed', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (self._clock(), item_id),
            )
            row = db.execute(f"{_ITEMS} WHERE id = ?", (item_id,)).fetchone()
        return self._item(row)

    def claim_all(self, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        """:meth:`claim` for several actions just read with :meth:`due`, in one transaction and a statement
        per 500: a backlog's drafts are claimed in a few statements instead of four per draft."""
        ids = [item.id for item in items]
        with self.transaction() as db:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                db.execute(f"UPDATE outbox SET state = 'claimed', attempts = attempts + 1, updated_at = ?"
                           f" WHERE id IN ({', '.join('?' * len(chunk))})", (self._clock(), *chunk))
        return [replace(item, state="claimed", attempts=item.attempts + 1) for item in items]

    def complete(self, item_id: int, result: str = "", *, message_status: str | None = None,
                 draft_ref: str | None = None) -> None:
        """Mark an action done and apply the state change it causes, in one transaction."""
        now = self._clock()
        with self.transaction() as db:
            row = db.execute(
                "UPDATE outbox SET state = 'done', result = ?, last_error = NULL, updated_at = ? WHERE id = ?"
                " RETURNING message_row",
                (result, now, item_id),
            ).fetchone()
            if row is not None and row[0] is not None and (message_status or draft_ref):
                if message_status and message_status not in MESSAGE_STATUSES:
                    raise ValueError(f"unknown status {message_status!r}")
                db.execute(
                    "UPDATE messages SET status = COALESCE(?, status), draft_ref = COALESCE(?, draft_ref),"
                    " updated_at = ? WHERE id = ?",
                    (message_status, draft_ref, now, row[0]),
                )

    def complete_all(self, done: Sequence[tuple[OutboxItem, str, str | None]], *, message_status: str) -> None:
        """:meth:`complete` for several actions at once, each given as ``(item, result, draft_ref)``: one
        transaction of two statements (a draft's completion used to cost four of its own)."""
        if message_status not in MESSAGE_STATUSES:
            raise ValueError(f"unknown status {message_status!r}")
        now = self._clock()
        with self.transaction() as db:
            db.executemany("UPDATE outbox SET state = 'done', result = ?, last_error = NULL, updated_at = ?"
                           " WHERE id = ?", [(result, now, item.id) for item, result, _ in done])
            db.executemany("UPDATE messages SET status = ?, draft_ref = COALESCE(?, draft_ref), updated_at = ?"
                           " WHERE id = ?", [(message_status, ref, now, item.message_row)
                                             for item, _, ref in done if item.message_row is not None])

    def retry_later(self, item_id: int, error: str, delay: float, *, max_attempts: int = 0,
                    uncertain: bool = False) -> str:
        """Put an action back to pending after ``delay`` seconds (or fail it after ``max_attempts``).

        ``uncertain`` marks an attempt that may have taken effect (a send that timed out): the retry is then
        flagged as a possible repeat. The flag is never cleared by a later, certain failure.
        """
        with self.transaction() as db:
            row = db.execute("SELECT attempts FROM outbox WHERE id = ?", (item_id,)).fetchone()
            state = "failed" if max_attempts and row and row[0] >= max_attempts else "pending"
            db.execute(
                "UPDATE outbox SET state = ?, last_error = ?, not_before = ?, updated_at = ?,"
                " uncertain = MAX(uncertain, ?) WHERE id = ?",
                (state, error[:2000], self._clock() + delay, self._clock(), int(uncertain), item_id),
            )
        return state

    def redirect_refused_drafts(self, prefix: str, folder: str) -> int:
        """Drafts (of keys starting with ``prefix``) the server refused while they were meant for another
        Drafts folder than ``folder``: due now, and meant for ``folder``. The owner changed ``drafts_folder``
        because the old one was gone; his drafts need not wait out the retry delay of a refusal that no longer
        holds. Returns how many."""
        with self.transaction() as db:
            return db.execute(
                "UPDATE outbox SET not_before = 0, payload = json_set(payload, '$.folder', ?), updated_at = ?"
                " WHERE kind = 'draft' AND state = 'pending' AND last_error IS NOT NULL"
                " AND dedup_key >= ? AND dedup_key < ? AND COALESCE(json_extract(payload, '$.folder'), ?) != ?",
                (folder, self._clock(), prefix, prefix + "\uffff", folder, folder),
            ).rowcount

    def postpone(self, item_id: int, delay: float) -> None:
        """Put a claimed action back without counting an attempt (e.g. Telegram is not connected yet)."""
        with self.transaction() as db:
            db.execute("UPDATE outbox SET state = 'pending', attempts = MAX(0, attempts - 1), not_before = ?,"
                       " updated_at = ? WHERE id = ? AND state = 'claimed'",
                       (self._clock() + delay, self._clock(), item_id))

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        """One outbox item by id."""
        row = self._db.execute(f"{_ITEMS} WHERE id = ?", (item_id,)).fetchone()
        return self._item(row) if row else None

    def forget_draft_texts(self, before: float) -> int:
        """Drop the bytes of drafts stored in Drafts before ``before``; returns how many.

        The owner has those drafts in the mailbox, and what keeps a draft from being made twice (its outbox row
        and dedup key, its UID) stays. Without this the store of a daemon that runs for months would keep every
        reply twice, about 4.6 KB each. Drafts still waiting to go out are never touched.
        """
        done = "SELECT id FROM outbox WHERE kind = 'draft' AND state = 'done' AND updated_at < ?"
        with self.transaction() as db:
            gone = db.execute(f"DELETE FROM outbox_data WHERE outbox_id IN ({done})", (before,)).rowcount
            gone += db.execute(  # drafts queued before schema 6 carry their bytes inside the JSON payload
                f"UPDATE outbox SET payload = json_remove(payload, '$.{DATA_KEY}') WHERE id IN ({done})"
                f" AND json_type(payload, '$.{DATA_KEY}') IS NOT NULL", (before,)).rowcount
        return int(gone)

    def draft_of(self, message_row: int) -> OutboxItem | None:
        """The draft action of a message (its payload holds the draft as it was put in Drafts)."""
        row = self._db.execute(f"{_ITEMS} WHERE message_row = ? AND kind = 'draft' ORDER BY id LIMIT 1",
                               (message_row,)).fetchone()
        return self._item(row) if row else None

    def has_drafts(self, account: str) -> bool:
        """Whether any draft was ever enqueued for the account's mail (by the dedup key's index)."""
        prefix = f"draft:{account}/"
        return self._db.execute("SELECT 1 FROM outbox WHERE dedup_key >= ? AND dedup_key < ? LIMIT 1",
                                (prefix, prefix[:-1] + "0")).fetchone() is not None

    def refused_drafts(self, prefix: str) -> tuple[int, float, str]:
        """Drafts (dedup key starting with ``prefix``) that wait because the server refused them: how many,
        when the first is offered again (epoch seconds), and the server's latest reason."""
        where = ("kind = 'draft' AND state = 'pending' AND last_error IS NOT NULL"
                 " AND dedup_key >= ? AND dedup_key < ?")
        bounds = (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))
        count, first = self._db.execute(f"SELECT COUNT(*), MIN(not_before) FROM outbox WHERE {where}",
                                        bounds).fetchone()
        if not count:
            return 0, 0.0, ""
        reason = self._db.execute(f"SELECT last_error FROM outbox WHERE {where} ORDER BY updated_at DESC LIMIT 1",
                                  bounds).fetchone()[0]
        return int(count), float(first), str(reason)

    def has_draft(self, message_row: int) -> bool:
        """Whether a draft was made for a message (without loading the draft itself)."""
        return self._db.execute("SELECT 1 FROM outbox WHERE message_row = ? AND kind = 'draft' LIMIT 1",
                                (message_row,)).fetchone() is not None

    def sent_since(self, when: float, prefix: str) -> int:
        """How many actions whose dedup key starts with ``prefix`` were completed since ``when``."""
        return int(self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE state = 'done' AND updated_at >= ? AND substr(dedup_key, 1, ?) = ?",
            (when, len(prefix), prefix)).fetchone()[0])

    def outbox_counts(self) -> dict[str, int]:
        """How many actions are in each state."""
        rows = self._db.execute("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
        return {r["state"]: r["n"] for r in rows}
