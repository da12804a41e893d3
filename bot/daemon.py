"""The daemon: watch IMAP folders, triage every new message exactly once, put the drafts in Drafts.

One worker thread per (account, folder), each with its own IMAP connection and its own store connection.
A worker's cycle: select the folder, fetch what is new since the highest UID recorded (BODY.PEEK, in
batches), parse, classify the batch, decide, and record each decision *together with* the actions it calls
for (the outbox) and the folder's new high-water mark, one transaction per batch. The drafts of a batch are
APPENDed (a MULTIAPPEND per connection) by helper threads while the next batch is classified; then the worker
waits with IDLE (or polls). A backlog of several batches borrows a second connection for the drafts and a
reader process (:mod:`bot.reader`) that fetches and parses the batches, for as long as it lasts.

Crash safety follows from that order. A crash before a decision is recorded: the message is above the
high-water mark and is fetched again. A crash after: the row exists and the message is skipped. A crash in
the middle of an APPEND: the action is left *claimed*; on restart the worker looks for the draft's
Message-ID in Drafts before appending again, so no draft is ever appended twice.
"""

from __future__ import annotations

import ctypes
import hashlib
import html
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.backoff import Backoff
from bot.config import Config, ImapAccount
from bot.drafting import (
    Drafter,
    Owner,
    build_reply,
    reply_subject,
    shipped_templates_dir,
)
from bot.errors import MentorboxError, StoreError, TemplateError
from bot.faq import FaqMatcher, load_faq
from bot.fault_alert import FAULT_MARKER, FaultMarker, alert_owner
from bot.faults import describe_fault
from bot.health import Health
from bot.imap_source import (
    ActionRefused,
    AppendRefused,
    ImapAuthError,
    ImapConnectError,
    Mailbox,
    UidsUnreliable,
    connect,
    find_drafts_folder,
    find_sent_folder,
)
from bot.models import Decision, ParsedMail, identity
from bot.parser import parse_mail
from bot.prepare import Ahead
from bot.reader import Batch, Reader, ReaderFailed
from bot.store import MessageKey, Store
from bot.tgformat import summarize
from bot.triage import TriagePolicy, decide, needs_faq

log = logging.getLogger("mentorbox.daemon")

MAX_ATTEMPTS = 3
"""A message whose processing fails this many times is left as failed (and shown by ``status``)."""
IDLE_RENEW = 25 * 60
"""IDLE is re-issued well before the 29 minutes after which servers may drop an idle client."""
AUTH_RETRY = (300.0, 3600.0)
"""Back-off bounds after an authentication failure: slow, so a wrong password does not lock the account."""
NET_RETRY = (1.0, 300.0)
"""Back-off bounds after a network failure (exponential, with jitter)."""
DRAFT_RETRY = 600.0
"""Seconds before drafts the server refused (over quota, folder gone) are offered again. They never expire:
a draft waits as long as the mailbox stays full."""

UIDVALIDITY_FLAP = 1800.0
"""A folder whose UIDVALIDITY changes again within this many seconds of its last change is on a server that
cannot keep UIDs (see :class:`bot.imap_source.UidsUnreliable`), not one whose mailbox was restored."""

FILING_RETRY = 600.0
"""Seconds before a tag or move the server refused is tried again."""
FILING_ATTEMPTS = 3
"""Tries of a refused tag or move before it is left as failed: the original simply stays where it is."""


def _locked(lock: threading.Lock, step: Callable[..., LaneResult], *args: Any) -> LaneResult:
    """``step(*args)`` holding ``lock`` (the connection it works on)."""
    with lock:
        return step(*args)


@dataclass(frozen=True)
class Window:
    """A pass over a whole folder that must not take its old mail: the first start (only mail since
    ``imap.backfill_days`` ago), or a re-sync after a UIDVALIDITY change (every UID is new; messages already
    processed are known by Message-ID). Kept in the store until the pass has finished, so that a pass cut
    short by a crash goes on with the same rule instead of treating the folder's old mail as new.
    """

    uidvalidity: int
    limit: int
    """The highest UID when the pass began: above it everything is new mail; at or below it, only mail on or
    after ``since`` (and, in a re-sync, not known by its Message-ID)."""
    since: date | None
    """None: no date rule (a re-sync of a store older than this rule)."""
    resync: bool

    def dumps(self) -> str:
        return json.dumps([self.uidvalidity, self.limit, self.since.isoformat() if self.since else None,
                           self.resync])

    @classmethod
    def loads(cls, text: str) -> Window | None:
        """The window a store setting holds (None when there is none, or it is unreadable)."""
        try:
            uidvalidity, limit, since, resync = json.loads(text)
            return cls(int(uidvalidity), int(limit), date.fromisoformat(since) if since else None, bool(resync))
        except (ValueError, TypeError):
            return None


@dataclass
class LaneResult:
    """What one lane step did: drafts stored (with their UID when the server says it), drafts the server
    refused (with its reason), and the messages fetched (raw, or parsed by the reader process)."""

    appended: list[tuple[Any, str, int | None]] = field(default_factory=list)
    refused: list[tuple[Any, str]] = field(default_factory=list)
    fetched: dict[int, bytes] = field(default_factory=dict)
    read: Batch | None = None
    """What the reader process fetched and parsed (instead of ``fetched``)."""


class FetchFailed(ImapConnectError):
    """Fetching ``uids`` failed. A message the server cannot deliver (a damaged file on its disk; Dovecot
    then ends the session, Gmail answers NO) would fail its whole batch at every attempt and hold up every
    later message, so the worker fetches such a batch again one message at a time and gives the culprit
    its bounded attempts like any message that fails."""

    def __init__(self, message: str, uids: Sequence[int]) -> None:
        super().__init__(message)
        self.uids = list(uids)
        self.uidvalidity: int | None = None
        """Set by the sync that was fetching (the lane's fetch does not know it)."""


@dataclass
class Services:
    """What workers share: the model (hot-swapped on retrain), triage policy, drafter and FAQ matcher, and
    the few thread-safe things the Telegram side and the workers both touch."""

    config: Config
    model: Any
    """A ``classifier.manager.ModelHolder`` (anything with ``get()`` returning a model with ``predict``)."""
    policy: TriagePolicy
    drafter: Drafter
    matcher: FaqMatcher
    owner: Owner
    health: Health = field(default_factory=Health)
    paused: threading.Event = field(default_factory=threading.Event)
    """Set by /pause: workers keep their connection but process nothing until /resume."""
    clock: Callable[[], float] = time.time
    wake: Callable[[], None] = lambda: None
    """Tell the Telegram side that the outbox has something for it (set when Telegram runs)."""
    alert: Callable[[str], None] = lambda text: None
    """Tell the owner on Telegram at once, not through the outbox (which lives in the store): for a store that
    cannot be written. Set when Telegram runs; says nothing twice within hours (:mod:`bot.fault_alert`)."""
    kicks: dict[str, threading.Event] = field(default_factory=dict)
    """Per ``account/folder``: set to make that worker sync (and perform its outbox) now."""
    backlog_slot: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    """Held by the one folder whose backlog uses the helper connections: at most two more connections than
    folders, however many folders start with a backlog (servers limit connections per user: Dovecot to 10,
    Gmail to 15, and the owner's mail clients count too)."""
    said: set[str] = field(default_factory=set)
    """Warnings given once for all workers (e.g. one per account, however many folders it watches)."""
    _saying: threading.Lock = field(default_factory=threading.Lock)

    def first_to_say(self, what: str) -> bool:
        """Whether this is the first worker to give the warning ``what`` (then the others keep quiet)."""
        with self._saying:
            if what in self.said:
                return False
            self.said.add(what)
            return True

    def kick(self, account: str, folder: str) -> None:
        """Make one folder's worker sync now (e.g. a follow-up draft is waiting to be appended)."""
        event = self.kicks.get(f"{account}/{folder}")
        if event is not None:
            event.set()

    def kick_all(self) -> None:
        """Make every worker sync now (after /resume)."""
        for event in self.kicks.values():
            event.set()


def build_services(config: Config, say: Callable[[str], None], *, clock: Callable[[], float] = time.time,
                   ) -> Services:
    """Load the model (training it if needed), templates and FAQ once for all workers."""
    from classifier.faq_topics import topic_model
    from classifier.manager import ModelHolder

    templates = config.drafts.templates_dir or shipped_templates_dir()
    owner = Owner(config.owner.name, config.owner.address, config.owner.signature)
    entries = load_faq(templates)
    topics = topic_model(entries, templates, config.classifier.model_dir, say) if entries else None
    matcher = FaqMatcher(entries, topics)
    policy = TriagePolicy(
        unsure_below=config.classifier.unsure_below, priority_threshold=config.priority.threshold,
        vips=config.priority.vip, draft_labels=config.drafts.labels if config.drafts.enabled else (),
        max_faq=config.drafts.max_faq,
    )
    services = Services(config, ModelHolder(config.classifier.model_dir, say), policy, Drafter(templates, owner),
                        matcher, owner, health=Health(clock=clock), clock=clock)
    if config.store.path.exists():
        store = Store(config.store.path)
        try:
            if store.setting("paused") == "1":  # /pause survives a restart
                services.paused.set()
        finally:
            store.close()
    return services


def start_services(config: Config, say: Callable[[str], None], *, clock: Callable[[], float] = time.time,
                   ) -> Services:
    """:func:`build_services`, then what a daemon does before its first sync: give back the memory start-up
    used, and compile and test-render every reply template (a broken one is found now, at start-up, rather
    than on the first message at 3 a.m.; :class:`TemplateError` names each problem)."""
    services = build_services(config, say, clock=clock)
    release_freed_memory()
    problems = services.drafter.check()
    if problems:
        raise TemplateError("; ".join(problems) + " (mentorbox check-config shows every problem)")
    return services


def sent_folder_key(account: str) -> str:
    """The store setting that names the Sent folder an account's :class:`SentWorker` reads (found by
    SPECIAL-USE or name, so the config may not say it)."""
    return f"sent_folder:{account}"


def release_freed_memory() -> None:
    """Give the memory freed after start-up (training the FAQ model, reading the corpus) back to the system.

    glibc keeps freed heap pages for reuse, so a daemon that peaked while starting would show that peak
    for months; ``malloc_trim`` returns them (measured: about 6 MB). A no-op where there is no glibc.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def draft_message_id(key: MessageKey, owner_address: str) -> str:
    """A Message-ID for the draft of ``key`` that is the same on every attempt (so a retry can find it)."""
    digest = hashlib.sha256(f"{key.account}/{key.folder}/{key.uidvalidity}/{key.uid}".encode()).hexdigest()[:24]
    domain = owner_address.partition("@")[2] or "mentorbox.invalid"
    return f"<mentorbox.{digest}@{domain}>"


class FolderWorker:
    """Watches one folder of one account."""

    def __init__(self, account: ImapAccount, folder: str, services: Services, stop: threading.Event, *,
                 connector: Callable[[ImapAccount], Any] = connect) -> None:
        self.account = account
        self.folder = folder
        self.services = services
        self.stop = stop
        self.connector = connector
        self.store = Store(services.config.store.path, clock=services.clock)
        self.drafts_folder: str | None = None
        self.healthy = False
        self.last_error = ""
        self.where = f"{account.name}/{folder}"
        self.kicked = services.kicks.setdefault(self.where, threading.Event())
        self.suspects: set[int] = set()
        """UIDs of a batch whose fetch failed: fetched one at a time until a sync gets through."""
        self._told: list[tuple[int, str, tuple[Any, ...], dict[str, Any]]] | None = None
        """Log lines about the batch being recorded, said once it is committed (see :meth:`_tell`)."""
        self._drafts_there: dict[str, int] | None = None
        """Our drafts found in Drafts (Message-ID -> UID) by a sync the store had not looked before (see
        :meth:`_look_for_drafts`); None once it has."""

    # ------------------------------------------------------------------ one pass

    def sync(self, mailbox: Mailbox, *, backfill_since: date | None = None,
             progress: Callable[[int, int], None] | None = None) -> int:
        """Process everything new in the folder (or, with ``backfill_since``, older unprocessed mail)."""
        if self.drafts_folder is None:
            self.drafts_folder = find_drafts_folder(mailbox.client, self.account.drafts_folder)
            if self.drafts_folder is None:
                raise MentorboxError(f"account {self.account.name!r}: no Drafts folder found; set imap.drafts_folder")
            moved = self.store.redirect_refused_drafts(f"draft:{self.account.name}/{self.folder}/",
                                                       self.drafts_folder)
            if moved:
                log.info("%d draft(s) the server refused for another Drafts folder go to %s now", moved,
                         self.drafts_folder, extra={"account": self.account.name, "folder": self.folder})
        if not self.store.setting(self._looked_key):
            self._look_for_drafts(mailbox, self.drafts_folder)
        uidvalidity, uidnext = mailbox.select(self.folder, readonly=self._readonly)
        state = self.store.folder_state(self.account.name, self.folder)
        if backfill_since is not None:
            last = state[1] if state and state[0] == uidvalidity else uidnext - 1
            uids = [u for u in mailbox.uids_since(backfill_since) if u <= last]
            done = self._process(mailbox, uidvalidity, uids, advance=False, progress=progress)
            self._perform_outbox(mailbox, uidvalidity)
            self._done_looking()
            return done
        window = self._window(mailbox, state, uidvalidity, uidnext)
        if window is not None:
            uids = self._window_uids(mailbox, window)
        else:
            uids = mailbox.uids_after(state[1] if state else 0)
        uids += self._retries(uidvalidity, exclude=set(uids))
        done = self._process(mailbox, uidvalidity, sorted(set(uids)), advance=True, progress=progress)
        self._perform_outbox(mailbox, uidvalidity)
        self._done_looking()
        if window is not None and not self.stop.is_set():
            self._close_window(window)
        elif not uids:
            self.store.set_folder_state(self.account.name, self.folder, uidvalidity,
                                        (state[1] if state and state[0] == uidvalidity else max(0, uidnext - 1)))
        self.healthy, self.last_error = True, ""
        self.services.health.sync_ok(self.where)
        return done

    # ------------------------------------------------------------------ a store that lost its records

    @property
    def _looked_key(self) -> str:
        return f"drafts_looked:{self.account.name}/{self.folder}"

    def _look_for_drafts(self, mailbox: Mailbox, drafts_folder: str) -> None:
        """Find the drafts this mailbox already holds from mentorbox, before the store's first sync of the folder.

        A store that is new while they are there was deleted, emptied or restored from an older backup: its
        first sync would triage the last ``backfill_days`` again and APPEND a second draft of each. Our drafts
        have a Message-ID made from the message they answer (:func:`draft_message_id`), so one SEARCH and one
        FETCH here tell which of them are there: such a draft is recorded as stored, with its UID, instead
        of being appended (:meth:`_already_there`), and its message pushes nothing to Telegram again (it was
        triaged, and pushed, before). Two commands per folder, once per store, not one per draft.
        """
        found = mailbox.our_drafts(drafts_folder)
        self._drafts_there = found
        # The store is asked after the server: a draft another folder's worker appended meanwhile is recorded
        # before it is appended, so it is never taken for one the store lost.
        if found and not self.store.has_drafts(self.account.name) and self.services.first_to_say(
                f"store-is-new:{self.account.name}"):
            log.warning("%s holds %d draft(s) mentorbox made, but the state store %s has no record of any: the "
                        "store is new (deleted, emptied, or restored from an older backup?). The messages they "
                        "answer will not be drafted again, nor pushed to Telegram again; mail without a draft there is "
                        "triaged as new", drafts_folder, len(found), self.services.config.store.path,
                        extra={"account": self.account.name})

    def _done_looking(self) -> None:
        """The sync that looked has recorded everything it took: later ones need not look (a sync cut short
        looks again, since the rest of its pass may answer drafts that are there)."""
        if self._drafts_there is not None and not self.stop.is_set():
            self.store.set_setting(self._looked_key, "1")
            self._drafts_there = None

    def _draft_is_there(self, key: MessageKey) -> bool:
        """Whether the draft for ``key`` was found in Drafts by :meth:`_look_for_drafts`."""
        there = self._drafts_there
        return there is not None and draft_message_id(key, self.services.owner.address) in there

    def _already_there(self, items: list[Any]) -> list[Any]:
        """Of these pending drafts, the ones to APPEND; those found in Drafts are recorded as stored, with
        their UID (a dictionary lookup each: nothing on the wire)."""
        if not self._drafts_there:
            return items
        there = self._drafts_there
        found: list[tuple[Any, str, int | None]] = [
            (item, str(item.payload.get("folder") or self.drafts_folder), there[item.payload["message_id"]])
            for item in items if item.payload.get("message_id") in there]
        if not found:
            return items
        self._drafts_stored(LaneResult(appended=found))
        log.info("%d draft(s) already in Drafts: recorded, not appended again", len(found),
                 extra={"account": self.account.name, "folder": self.folder})
        stored = {item.id for item, _, _ in found}
        return [item for item in items if item.id not in stored]

    # ------------------------------------------------------------------ first start and UIDVALIDITY changes

    @property
    def _window_key(self) -> str:
        return f"window:{self.account.name}/{self.folder}"

    @property
    def _since_key(self) -> str:
        return f"since:{self.account.name}/{self.folder}"

    def _window(self, mailbox: Mailbox, state: tuple[int, int] | None, uidvalidity: int, uidnext: int,
                ) -> Window | None:
        """The whole-folder pass this sync is part of, opened now if the folder is new or its UIDVALIDITY
        changed; None for an ordinary sync (what is above the high-water mark)."""
        where = {"account": self.account.name, "folder": self.folder}
        stored = Window.loads(self.store.setting(self._window_key))
        if stored is not None and stored.uidvalidity == uidvalidity:
            return stored
        if stored is None and state is not None and state[0] == uidvalidity:
            return None
        # (SELECT gives UIDNEXT, RFC 3501 says; a server that leaves it out is asked for its highest UID)
        limit = uidnext - 1 if uidnext > 0 else max(mailbox.uids_after(0), default=0)
        if stored is None and state is None:
            since = (datetime.now(timezone.utc) - timedelta(days=self.account.backfill_days)).date()
            self.store.set_setting(self._since_key, since.isoformat())
            log.info("first sync: mail since %s", since, extra=where)
            return self._open(Window(uidvalidity, limit, since, resync=False))
        old = stored.uidvalidity if stored is not None else state[0] if state is not None else 0
        window = self._open(Window(uidvalidity, limit, self._first_since(), resync=True))
        self._uidvalidity_changed(old, uidvalidity)
        log.warning("UIDVALIDITY of %s changed from %d to %d: re-syncing by Message-ID", self.folder, old,
                    uidvalidity, extra=where)
        return window

    def _uidvalidity_changed(self, old: int, new: int) -> None:
        """Note the time of a UIDVALIDITY change; raise :class:`UidsUnreliable` if the last one was less than
        :data:`UIDVALIDITY_FLAP` seconds ago. A mailbox restored from a backup or rebuilt changes once; a
        server that changes it again and again cannot keep UIDs, and every re-sync would read the folder
        anew. The re-sync window is stored first, so a server that has become steady just goes on."""
        key = f"uidvalidity-changed:{self.account.name}/{self.folder}"
        now = self.services.clock()
        last = self.store.setting(key)
        self.store.set_setting(key, repr(now))
        if last and now - float(last) < UIDVALIDITY_FLAP:
            raise UidsUnreliable(self.account.host, self.folder, f"the UIDVALIDITY of {self.folder!r} changed again "
                                 f"after {now - float(last):.0f} s, now from {old} to {new}")

    def _first_since(self) -> date | None:
        """The date the folder's first start took mail from; for a store from before that was kept, the day
        its first message was recorded less ``backfill_days`` (None: nothing recorded, no date rule)."""
        kept = self.store.setting(self._since_key)
        if kept:
            return date.fromisoformat(kept)
        first = self.store.first_recorded(self.account.name, self.folder)
        if first is None:
            return None
        return datetime.fromtimestamp(first, timezone.utc).date() - timedelta(days=self.account.backfill_days)

    def _open(self, window: Window) -> Window:
        self.store.set_setting(self._window_key, window.dumps())
        return window

    def _window_uids(self, mailbox: Mailbox, window: Window) -> list[int]:
        """What a whole-folder pass still has to process: at or below its limit, mail since its date (in a
        re-sync, less what is known by its identity, see :func:`bot.models.identity`: recorded as the same
        message under its new UID, nothing processed twice); above it, everything."""
        everything = mailbox.uids_after(0)
        older = mailbox.uids_since(window.since) if window.since else everything
        recent = [u for u in older if u <= window.limit]
        uids = recent + [u for u in everything if u > window.limit]
        skipped = sum(1 for u in everything if u <= window.limit) - len(recent)
        settled = self.store.settled_uids(self.account.name, self.folder, window.uidvalidity, uids, MAX_ATTEMPTS)
        uids = [u for u in uids if u not in settled]
        if window.resync and uids:
            # By their headers alone (Message-ID, or From, Date and Subject), so that known mail is not fetched
            # whole and classified again only to be found a twin.
            heads = mailbox.headers(uids)
            who = {uid: identity(parse_mail(heads[uid])) if heads.get(uid) else "" for uid in uids}
            known = self.store.known_messages(self.account.name, list(who.values()))
            for uid in uids:
                if who[uid] in known:
                    self.store.record_alias(MessageKey(self.account.name, self.folder, window.uidvalidity, uid),
                                            known[who[uid]])
            uids = [uid for uid in uids if who[uid] not in known]
        log.info("whole-folder pass: %d message(s) to process", len(uids),
                 extra={"account": self.account.name, "folder": self.folder})
        if skipped and window.since:
            log.info("%d message(s) from before %s left alone (mentorbox backfill --since DATE takes them)",
                     skipped, window.since, extra={"account": self.account.name, "folder": self.folder})
        return uids

    def _close_window(self, window: Window) -> None:
        """The pass has finished: from now on, what is above the limit (or above what the pass processed) is
        new. One transaction, so that a crash leaves either the pass open or the mark set."""
        with self.store.transaction():
            state = self.store.folder_state(self.account.name, self.folder)
            high = state[1] if state is not None and state[0] == window.uidvalidity else 0
            self.store.set_folder_state(self.account.name, self.folder, window.uidvalidity, max(high, window.limit))
            self.store.forget_setting(self._window_key)

    def _retries(self, uidvalidity: int, exclude: set[int]) -> list[int]:
        """Messages that failed before and may be tried again."""
        failed = self.store.failed_uids(self.account.name, self.folder, uidvalidity, MAX_ATTEMPTS)
        return [uid for uid in failed if uid not in exclude]

    def _process(self, mailbox: Mailbox, uidvalidity: int, uids: Sequence[int], *, advance: bool,
                 progress: Callable[[int, int], None] | None) -> int:
        """Triage ``uids`` batch by batch, with the IMAP round trips overlapped with the classifying.

        A connection is only ever used by one thread at a time: while this thread parses, classifies and
        records batch *n*, helper threads APPEND the drafts of the batches before it and fetch batch *n+1*
        (see :meth:`_pipeline`). Every draft handed to a helper is claimed first, and marked done only once the
        server has it: a crash in between leaves it claimed, and the next start looks for it in Drafts before
        appending.
        """
        settled = self.store.settled_uids(self.account.name, self.folder, uidvalidity, uids, MAX_ATTEMPTS)
        uids = [u for u in uids if u not in settled]
        batches = self._batches(uids, self._sizes(mailbox, uids))
        try:
            done = self._process_batches(mailbox, uidvalidity, batches, advance=advance, progress=progress)
        except FetchFailed as exc:
            exc.uidvalidity = uidvalidity
            raise
        if not self.stop.is_set():
            self.suspects.clear()  # every batch got through
        return done

    def _process_batches(self, mailbox: Mailbox, uidvalidity: int, batches: list[list[int]], *, advance: bool,
                         progress: Callable[[int, int], None] | None) -> int:
        if not batches:
            return 0
        slot = self.services.backlog_slot
        helped = len(batches) > 1 and self.account.backlog_helpers and slot.acquire(blocking=False)
        reader = None
        # The drafts' own connection is opened while the reader starts and the first batch is fetched and
        # triaged (its TLS handshake and login took 35 ms of the start, and no draft is ready before ~0.1 s).
        opener = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-connect") if helped else None
        opening = opener.submit(self._drafts_connection) if opener is not None else None
        try:
            first = max(1, self.account.batch_size // 4)
            if helped and len(batches) > 2 and len(batches[0]) > first:
                # A short first batch (50 of 200): its drafts are on their way to the server a fraction of a
                # second into the sync, and the daemon reads the rest of that batch itself while the reader
                # starts up. (Measured: the server storing the drafts was the last to finish.)
                batches = [batches[0][:first], batches[0][first:], *batches[1:]]
            reader = self._reader(batches[2:]) if helped and len(batches) > 3 else None
            return self._pipeline(mailbox, opening, reader, uidvalidity, batches, advance=advance,
                                  progress=progress)
        finally:
            if reader is not None:
                reader.close()
            if opener is not None and opening is not None:
                try:
                    drafts_box = opening.result()
                except Exception:  # noqa: BLE001 - (logged by the pipeline, or nothing to close)
                    drafts_box = None
                if drafts_box is not None:
                    drafts_box.close()
                opener.shutdown()
            if helped:
                slot.release()

    def _pipeline(self, mailbox: Mailbox, opening: Future[Mailbox | None] | None, reader: Reader | None,
                  uidvalidity: int, batches: list[list[int]], *, advance: bool,
                  progress: Callable[[int, int], None] | None) -> int:
        """The batches through triage, with the IMAP work on helper threads.

        While this thread triages batch *n*, batch *n+1* is fetched (on ``mailbox``, or fetched and parsed by
        ``reader``, see :mod:`bot.reader`, on the other core) and the drafts of the batches before it are
        APPENDed. The drafts have a connection of their own when ``opening`` gives one, with a thread which
        this one waits for only at the end. Once the reader fetches, ``mailbox`` has nothing to do, so each
        batch's drafts are shared with it: the server stores a draft with an fsync, and each connection waits
        for those one at a time (measured: one connection was the last to finish, by half a second, with
        1,547 drafts). On one connection without a reader, one thread fetches and APPENDs, in turn.
        """
        done, fed, total = 0, 0, sum(len(b) for b in batches)
        appending: list[Future[LaneResult]] = []
        main = threading.Lock()  # ``mailbox`` is used by one thread at a time: imaplib is not thread-safe
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-read") as reads, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-drafts") as own_lane, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-drafts-main") as main_lane:
            drafts_box: Mailbox | None = None
            own = threading.Lock()

            def lanes(n: int) -> list[tuple[ThreadPoolExecutor, Mailbox, threading.Lock]]:
                """Where batch ``n``'s drafts go: the drafts' connection, and the daemon's own once the reader
                fetches (from the third batch on); without either, the reading thread, in turn."""
                out = [(own_lane, drafts_box, own)] if drafts_box is not None else []
                if reader is not None and n >= 1:
                    out.append((main_lane, mailbox, main))
                return out or [(reads, mailbox, main)]

            try:
                got = LaneResult(fetched=self._fetch(mailbox, batches[0]))
                following = batches[1] if len(batches) > 1 else []  # (the reader reads from the third batch on)
                reading = reads.submit(self._read, mailbox, main, None, uidvalidity, following)
                for n, batch in enumerate(batches):
                    if self.stop.is_set():
                        break
                    done += self._triage_batch(uidvalidity, batch, got, advance=advance)
                    if opening is not None:  # the first drafts are ready: the drafts' connection is needed now
                        drafts_box, opening = opening.result(), None
                    drafts = self._claim_drafts()
                    targets = lanes(n)
                    share = -(-len(drafts) // len(targets))
                    for k, (lane, box, lock) in enumerate(targets):
                        if drafts[k * share : (k + 1) * share]:
                            appending.append(lane.submit(_locked, lock, self._lane_step, box,
                                                         drafts[k * share : (k + 1) * share], []))
                    while appending and appending[0].done():  # record what is stored, in order
                        self._drafts_stored(appending.pop(0).result())
                    got = reading.result()
                    later = batches[n + 2] if n + 2 < len(batches) and not self.stop.is_set() else []
                    reading = reads.submit(self._read, mailbox, main, reader, uidvalidity, later)
                    fed += len(batch)
                    if progress:
                        progress(fed, total)
                reading.result()
            except BaseException:
                self._settle(appending, quiet=True)
                raise
            self._settle(appending)
        return done

    def _settle(self, appending: list[Future[LaneResult]], *, quiet: bool = False) -> None:
        """Wait for the drafts handed to the drafts lane and record the ones stored. Drafts are claimed when
        handed over, so even when the sync failed, every one that reached the server is recorded as such.
        The first APPEND that failed is raised (unless ``quiet``: another error is on its way up)."""
        failed: BaseException | None = None
        for job in appending:
            try:
                self._drafts_stored(job.result())
            except Exception as exc:  # noqa: BLE001 - the connection died mid-APPEND: the rest wait claimed
                failed = failed or exc
        appending.clear()
        if failed is not None and not quiet:
            raise failed

    def _read(self, mailbox: Mailbox, lock: threading.Lock, reader: Reader | None, uidvalidity: int,
              uids: list[int]) -> LaneResult:
        """Fetch ``uids`` (on the lane): parsed by the reader process while it works, else raw on ``mailbox``
        (holding ``lock``: drafts may be going out on it)."""
        if uids and reader is not None and not reader.broken:
            try:
                read = reader.next(uids)
            except ReaderFailed as exc:
                # Stopped together with the daemon (systemctl stop signals the whole group)? This thread may see
                # the reader gone before the daemon's signal handler has run: give the stop a moment to show.
                if self.stop.wait(0.5):
                    return LaneResult()
                log.warning("%s; mentorbox reads the mail itself for the rest of this pass", exc,
                            extra={"account": self.account.name, "folder": self.folder})
            except ImapConnectError as exc:
                raise FetchFailed(str(exc), uids) from None
            else:
                if read.uidvalidity != uidvalidity:
                    raise ImapConnectError(f"the UIDVALIDITY of {self.folder} changed during the sync")
                return LaneResult(read=read)
        return _locked(lock, self._lane_step, mailbox, [], uids) if uids else LaneResult()

    def _reader(self, batches: list[list[int]]) -> Reader | None:
        """A reader process for these batches, or None (then the mail is fetched and parsed here). Only with
        the real connection (a test's stand-in connector cannot cross into another process)."""
        if self.connector is not connect:
            return None
        try:
            return Reader(self.account, self.folder, batches, self._ahead())
        except ReaderFailed as exc:
            log.info("%s: mentorbox reads the mail itself", exc,
                     extra={"account": self.account.name, "folder": self.folder})
            return None

    def _ahead(self) -> Ahead:
        """What the reader does ahead for each message (see :mod:`bot.prepare`): for the model in use now."""
        served = self.services.model.get().served
        return Ahead(models=[(served.key, served.spec)])

    def _drafts_connection(self) -> Mailbox | None:
        """A second connection for the drafts of a backlog, or None (then the daemon's own takes them all).

        Storing a draft costs the server an fsync: on one connection the 1,547 drafts of a 2,000-message
        backlog made the fetches wait about a second. A server that refuses one more connection (a
        per-user limit) is no error: the sync simply runs on the one it has.
        """
        try:
            return Mailbox(self.account, self.connector)
        except MentorboxError as exc:
            log.info("no second connection for drafts (%s): they go out on the daemon's own", exc,
                     extra={"account": self.account.name, "folder": self.folder})
            return None

    def _sizes(self, mailbox: Mailbox, uids: Sequence[int]) -> dict[int, int]:
        """The sizes to cut the batches by; none when asking failed (then batches are cut by count alone: a
        message the server cannot read may fail this too, and the fetch that follows narrows it down as usual,
        see :class:`FetchFailed`).

        A message no bigger than ``batch_bytes / batch_size`` cannot make a batch too big, so it counts as
        that much, and only the bigger ones are asked for their size (a SEARCH LARGER, then their
        RFC822.SIZE). Measured on 2,000 messages of 1-50 KB: under 1 ms, where the size of every message took
        27 ms of imapclient parsing a 2,000-line answer, at the start of the sync when nothing else can run.
        """
        if len(uids) < 2:
            return {}  # (one message is one batch anyway)
        share = self.account.batch_bytes // self.account.batch_size
        try:
            bigger = mailbox.larger(uids, share)
            exact = mailbox.sizes(bigger) if bigger else {}
        except ImapConnectError as exc:
            log.warning("could not ask the server for the sizes of %d message(s) (%s); batches are cut by count",
                        len(uids), exc, extra={"account": self.account.name, "folder": self.folder})
            return {}
        return {uid: exact.get(uid, share) for uid in uids}

    def _batches(self, uids: Sequence[int], sizes: Mapping[int, int]) -> list[list[int]]:
        """``uids`` in order, in batches of at most ``batch_size`` messages and ``batch_bytes`` bytes (by
        ``sizes``, each counted up to ``max_message_bytes``, what is fetched of it; a message bigger than that
        is a batch alone); a suspect (see :class:`FetchFailed`) is a batch of its own. Order matters: the
        folder's high-water mark follows the batches.

        The bytes bound memory: a batch is fetched whole, and a few are in flight at once (the fetch of the
        next, the reader's): 150 messages of 3 MB took the daemon to 422 MB without it, 105 MB (and its reader
        67 MB) in batches of 10 MB (``benchmarks/big_mail.py``).
        """
        batches: list[list[int]] = []
        current: list[int] = []
        weight = 0
        for uid in uids:
            if uid in self.suspects:
                batches += [current, [uid]] if current else [[uid]]
                current, weight = [], 0
                continue
            size = min(sizes.get(uid, 0), self.account.max_message_bytes)
            if current and weight + size > self.account.batch_bytes:
                batches.append(current)
                current, weight = [], 0
            current.append(uid)
            weight += size
            if len(current) == self.account.batch_size:
                batches.append(current)
                current, weight = [], 0
        return batches + [current] if current else batches

    def _fetch(self, mailbox: Mailbox, uids: list[int]) -> dict[int, bytes]:
        try:
            return mailbox.fetch(uids)
        except ImapConnectError as exc:
            raise FetchFailed(str(exc), uids) from None

    def _fetch_failed(self, exc: FetchFailed) -> bool:
        """Narrow down a failed fetch: a batch becomes suspects, fetched alone next time; a message that
        failed alone is recorded as failed (after :data:`MAX_ATTEMPTS` it is left alone). Returns whether
        this was progress, so the caller may reconnect at once instead of backing off."""
        if len(exc.uids) > 1:
            fresh = set(exc.uids) - self.suspects
            if fresh:
                self.suspects |= fresh
                log.warning("%s; reconnecting to fetch those %d message(s) one at a time, in case one of them is"
                            " the cause", exc, len(exc.uids),
                            extra={"account": self.account.name, "folder": self.folder})
            return bool(fresh)
        if exc.uidvalidity is None:
            return False
        uid = exc.uids[0]
        key = MessageKey(self.account.name, self.folder, exc.uidvalidity, uid)
        attempts = self.store.record_failure(key, f"the server could not deliver it: {exc}")
        self.services.health.message_failed(self.where)
        log.error("message could not be fetched (attempt %d of %d): %s", attempts, MAX_ATTEMPTS, exc,
                  extra={"account": key.account, "folder": key.folder, "uid": uid})
        if attempts >= MAX_ATTEMPTS:
            self.suspects.discard(uid)
        return True

    def _triage_batch(self, uidvalidity: int, batch: list[int], got: LaneResult, *, advance: bool) -> int:
        """Parse (unless the reader process did), classify and record one fetched batch, in one store
        transaction with the high-water mark."""
        keys = {uid: MessageKey(self.account.name, self.folder, uidvalidity, uid) for uid in batch}
        raws = {**got.fetched, **got.read.unparsed} if got.read else got.fetched
        mails, broken = self._parse(raws, got.read.mails if got.read else {})
        got.fetched.clear()  # the raw bytes are not needed any more: free them before the batch's drafts are built
        todo = [uid for uid in batch if uid in mails]  # (settled ones were left out)
        predictions = self._predict([mails[uid] for uid in todo])
        predicted = dict(zip(todo, predictions))  # empty when the batch call failed: one at a time below
        topics = self._topics(todo, mails, predictions)
        known: dict[str, Any] = dict(self.store.known_messages(self.account.name,
                                                                [identity(mails[uid]) for uid in todo]))
        done, high, notify = 0, 0, False
        told: list[tuple[int, str, tuple[Any, ...], dict[str, Any]]] = []
        self._told = told
        try:
            with self.store.transaction():
                for uid in batch:
                    if self.stop.is_set():
                        break
                    if uid in mails:
                        notify = self._triage_one(keys[uid], mails[uid], predicted.get(uid), topics.get(uid),
                                                  known) or notify
                        done += 1
                    elif uid in broken:
                        self._message_failed(keys[uid], broken[uid])
                    high = uid
                if advance and high:
                    state = self.store.folder_state(self.account.name, self.folder)
                    if state is None or state[0] != uidvalidity or state[1] < high:
                        self.store.set_folder_state(self.account.name, self.folder, uidvalidity, high)
        finally:
            self._told = None
        for level, text, args, extra in told:  # after the commit: a batch a crash undid says nothing
            log.log(level, text, *args, extra=extra)
        if notify:
            self.services.wake()  # after the commit, so the Telegram side finds the rows
        return done

    @staticmethod
    def _parse(raws: Mapping[int, bytes], parsed: Mapping[int, ParsedMail],
               ) -> tuple[dict[int, ParsedMail], dict[int, Exception]]:
        """The batch's messages parsed (those the reader parsed as they are), and the exception of each one
        that failed. :func:`parse_mail` never raises; should it all the same (a bug), that message is
        recorded as failed and the others of its batch go on."""
        mails: dict[int, ParsedMail] = dict(parsed)
        broken: dict[int, Exception] = {}
        for uid, raw in raws.items():
            try:
                mail = parse_mail(raw)
                identity(mail)  # (computed for every message of the batch next: it must not fail there)
            except Exception as exc:  # noqa: BLE001 - recorded against this message by _message_failed
                broken[uid] = exc
            else:
                mails[uid] = mail
        return mails, broken

    def _message_failed(self, key: MessageKey, exc: BaseException, message_id: str = "") -> None:
        """Record that processing one message failed (its error, one more attempt): it is tried again at the
        next pass, up to :data:`MAX_ATTEMPTS` times, and shown by ``status``; the batch goes on."""
        attempts = self.store.record_failure(key, f"{type(exc).__name__}: {exc}", message_id=message_id)
        self.services.health.message_failed(self.where)
        self._tell(logging.ERROR, "message failed (attempt %d of %d): %s: %s", attempts, MAX_ATTEMPTS,
                   type(exc).__name__, exc, extra={"account": key.account, "folder": key.folder, "uid": key.uid})

    def _tell(self, level: int, text: str, *args: Any, extra: dict[str, Any]) -> None:
        """Log a line about a message of the batch being recorded, once the batch is committed (at once
        outside a batch)."""
        if self._told is None:
            log.log(level, text, *args, extra=extra)
        else:
            self._told.append((level, text, args, extra))

    def _triage_one(self, key: MessageKey, mail: ParsedMail, prediction: Any | None,
                    topics: dict[str, float] | None, known: dict[str, Any]) -> bool:
        """Record one message of the batch: as a copy of one recorded before (see :meth:`_twin`), or decided
        and recorded with its actions (:meth:`_handle`). Returns whether a Telegram message was enqueued."""
        who = identity(mail)
        twin = self._twin(mail, who, known)
        if twin is not None:
            self.store.record_alias(key, twin)
            self._tell(logging.INFO, "the same message as %s/%s UID %s (%s): recorded, not triaged again",
                       twin["account"], twin["folder"], twin["uid"], twin["message_id"] or "no Message-ID",
                       extra={"account": key.account, "folder": key.folder, "uid": key.uid})
            return False
        notify = self._handle(key, mail, prediction, topics, who)
        if who:
            known.setdefault(who, None)  # (looked up if a copy comes later in this batch)
        return notify

    def _twin(self, mail: ParsedMail, who: str, known: dict[str, Any]) -> Any | None:
        """The row of this very message, recorded before (the same identity, see :func:`bot.models.identity`,
        from the same sender: delivered twice, by CC and by a list, or in two watched folders), or None. A copy
        gets no draft and no notification of its own; a message whose processing failed is no twin, it is
        tried again instead."""
        if not who or who not in known:
            return None
        row = known[who]
        if row is None:  # recorded earlier in this batch (the transaction sees it)
            row = known[who] = self.store.find_by_identity(self.account.name, who)
        if row is None or row["status"] == "failed" or (row["address"] or "") != mail.sender_address.lower():
            return None
        return row

    def _claim_drafts(self) -> list[Any]:
        """Claim this folder's pending drafts for the lane (claimed ones a crash left are not taken here:
        they are looked up in Drafts first, by :meth:`_append_drafts` at the end of the sync)."""
        due = [item for item in self._due_drafts(pending_only=True) if not item.payload.get("follow_up")]
        return self.store.claim_all(self._already_there(due))

    def _due_drafts(self, *, pending_only: bool = False) -> list[Any]:
        return self.store.due(["draft"], limit=1000, prefixes=[f"draft:{self.account.name}/{self.folder}/"],
                              pending_only=pending_only)

    def _lane_step(self, mailbox: Mailbox, drafts: list[Any], uids: list[int]) -> LaneResult:
        """APPEND claimed drafts (one MULTIAPPEND per folder), then fetch ``uids``. Runs on the lane during
        a sync (and directly for what is left at its end), so no store access here: the store connection
        belongs to the worker's thread, which records the result."""
        result = LaneResult()
        # Every draft goes to the Drafts folder as found or configured now, not to the one it was first meant
        # for: a draft the server refused because its folder was renamed would be offered to the old name for
        # ever after the owner corrected drafts_folder.
        by_folder: dict[str, list[Any]] = {str(self.drafts_folder): drafts} if drafts else {}
        for folder, group in by_folder.items():
            try:
                got = mailbox.append(folder, [i.payload["message"] for i in group])
            except AppendRefused as exc:  # the connection is fine: keep fetching, the drafts wait
                got = exc.stored
                result.refused += [(item, exc.reason) for item in group[len(got):]]
            result.appended += [(item, folder, uid) for item, uid in zip(group, got)]
        if uids:
            result.fetched = self._fetch(mailbox, uids)
        return result

    def _drafts_stored(self, step: LaneResult) -> None:
        """Record what the lane stored (done, with its UID) and what the server refused (pending again in
        :data:`DRAFT_RETRY` seconds; the owner hears of it through the health report)."""
        with self.store.transaction():
            self.store.complete_all([(item, str(uid or ""), f"{folder}/{uid}" if uid else folder)
                                     for item, folder, uid in step.appended], message_status="drafted")
            for item, reason in step.refused:
                self.store.retry_later(item.id, reason, DRAFT_RETRY)
        if step.refused:
            reason = step.refused[-1][1]
            log.warning("the server refused %d draft(s), kept to try again in %d minutes: %s", len(step.refused),
                        DRAFT_RETRY // 60, reason, extra={"account": self.account.name, "folder": self.folder})
            self.services.health.drafts_refused(self.where, reason)
        elif step.appended:
            self.services.health.drafts_refused(self.where, "")
        again = sum(1 for item, _, _ in step.appended if item.last_error)
        if again:
            log.info("%d draft(s) the server refused before are in Drafts now", again,
                     extra={"account": self.account.name, "folder": self.folder})

    def _predict(self, mails: list[ParsedMail]) -> list[Any]:
        if not mails:
            return []
        try:
            return list(self.services.model.get().predict(mails))
        except Exception:  # noqa: BLE001 - one bad message must not block the batch: retry one by one
            log.exception("batch classification failed; classifying one message at a time")
            return []

    def _topics(self, uids: list[int], mails: dict[int, ParsedMail], predictions: list[Any],
                ) -> dict[int, dict[str, float]]:
        """FAQ topic probabilities for the batch's advice requests, in one call."""
        if not predictions:
            return {}
        asking = [uid for uid, p in zip(uids, predictions) if needs_faq(p)]
        try:
            found = self.services.matcher.topics([mails[uid].clean_text for uid in asking])
        except Exception:  # noqa: BLE001 - fall back to one message at a time in decide()
            log.exception("batch FAQ matching failed")
            return {}
        return dict(zip(asking, found))

    def _handle(self, key: MessageKey, mail: ParsedMail, prediction: Any | None,
                topics: dict[str, float] | None = None, who: str | None = None) -> bool:
        """Decide about one message and record the decision with its actions (one transaction, or one
        savepoint of the batch's). Returns whether a Telegram message was enqueued."""
        try:
            if prediction is None:
                prediction = self.services.model.get().predict([mail])[0]
            decision = decide(mail, prediction, self.services.policy, self.services.drafter, self.services.matcher,
                              topics=topics)
            actions = self._actions(key, mail, decision)
            row = self.store.record_decision(
                key, message_id=mail.message_id, sender=mail.sender, subject=mail.subject,
                date=mail.date.isoformat() if mail.date else None, decision=decision, actions=actions,
                address=mail.sender_address, summary=summarize(mail.clean_text), body=mail.clean_text,
                identity=identity(mail) if who is None else who,
            )
            if self._draft_is_there(key):  # triaged by a store that was lost: its lead was pushed then
                self.store.lead_notified(row)
            if mail.in_reply_to or mail.references:
                self.store.other_side_answered([mail.in_reply_to, *mail.references])
            if decision.unanswered:
                self.store.add_faq_gaps(mail.message_id or f"{key.account}/{key.folder}/{key.uidvalidity}/{key.uid}",
                                        mail.sender, mail.date.isoformat() if mail.date else None,
                                        decision.unanswered)
        except Exception as exc:  # noqa: BLE001 - recorded as failed with its error, retried a bounded number of times
            self._message_failed(key, exc, mail.message_id)
            return False
        self.services.health.message_ok(self.where)
        if mail.defects:
            self._tell(logging.INFO, "parsed with problems: %s", "; ".join(mail.defects[:5]),
                       extra={"folder": key.folder, "uid": key.uid})
        self._tell(logging.INFO, "triaged", extra={
            "account": key.account, "folder": key.folder, "uid": key.uid, "label": decision.label,
            "confidence": decision.confidence, "unsure": decision.unsure, "priority": decision.priority,
            "action": "+".join(kind for kind, _, _ in actions) or "none",
        })
        return any(kind == "telegram" for kind, _, _ in actions)

    def _actions(self, key: MessageKey, mail: ParsedMail, decision: Decision) -> list[tuple[str, str, dict[str, Any]]]:
        actions: list[tuple[str, str, dict[str, Any]]] = []
        if decision.draft:
            message_id = draft_message_id(key, self.services.owner.address)
            raw = build_reply(mail, decision.draft, self.services.owner, message_id=message_id)
            actions.append(("draft", f"draft:{key.account}/{key.folder}/{key.uidvalidity}/{key.uid}", {
                "folder": self.drafts_folder, "message_id": message_id,
                "message": raw,
            }))
        where = f"{key.account}/{key.folder}/{key.uidvalidity}/{key.uid}"
        if self.account.tag_with_keywords:
            actions.append(("tag", f"tag:{where}", {"uid": key.uid, "uidvalidity": key.uidvalidity,
                                                    "keyword": f"mentorbox-{decision.label}"}))
        telegram = self.services.config.telegram
        what = "lead" if decision.priority else "question" if decision.unsure else ""
        if telegram.enabled and what and not self._draft_is_there(key):  # (pushed when its draft was made)
            actions += [("telegram", f"tg:{what}:{where}:{chat}", {"chat_id": chat, "what": what})
                        for chat in telegram.allowed_chat_ids]
        target = self.account.move_to_folders.get(decision.label)
        if target:
            actions.append(("move", f"move:{where}", {"uid": key.uid, "uidvalidity": key.uidvalidity,
                                                      "folder": target}))
        return actions

    @property
    def _readonly(self) -> bool:
        """EXAMINE the watched folder unless the owner asked for keywords or moves."""
        return not (self.account.tag_with_keywords or self.account.move_to_folders)

    def _file_originals(self, mailbox: Mailbox, uidvalidity: int) -> None:
        """Tag or move originals (only when configured). Both are safe to repeat after a crash: a keyword
        added twice is one keyword, and a message already moved is no longer at its UID."""
        where = f"{self.account.name}/{self.folder}/"
        items = self.store.due(["tag", "move"], limit=1000, prefixes=[f"tag:{where}", f"move:{where}"])
        if not items:
            return
        mailbox.select(self.folder, readonly=False)
        refused: dict[str, list[Any]] = {}  # target -> [the server's reason, refused, given up]
        done = 0
        for item in items:
            self.store.claim(item.id)
            uid = int(item.payload["uid"])
            if int(item.payload["uidvalidity"]) != uidvalidity:
                self.store.complete(item.id, "skipped: UIDVALIDITY changed")
                continue
            target = item.payload["keyword"] if item.kind == "tag" else item.payload["folder"]
            # A refused target is asked about once a pass: the connection is fine and the answer will not change.
            reason = refused[target][0] if target in refused else self._file(mailbox, item.kind, uid, target)
            if not reason:
                self.store.complete(item.id, target)
                done += 1
                continue
            state = self.store.retry_later(item.id, reason, FILING_RETRY, max_attempts=FILING_ATTEMPTS)
            tally = refused.setdefault(target, [reason, 0, 0])
            tally[1] += 1
            tally[2] += state == "failed"
        for target, (reason, total, given_up) in refused.items():
            log.warning("the server refused to file %d message(s) under %r (%d given up after %d tries, the rest "
                        "tried again in %d minutes): %s", total, target, given_up, FILING_ATTEMPTS,
                        FILING_RETRY // 60, reason, extra={"account": self.account.name, "folder": self.folder})
        if refused:
            self.services.health.filing_refused(self.where, next(iter(refused.values()))[0])
        elif done:
            self.services.health.filing_refused(self.where, "")

    @staticmethod
    def _file(mailbox: Mailbox, kind: str, uid: int, target: str) -> str:
        """Tag (``kind`` "tag") or move one original; the server's reason if it refused, else ``""``."""
        try:
            if kind == "tag":
                mailbox.add_keyword([uid], target)
            else:
                mailbox.move([uid], target)
        except ActionRefused as exc:
            return exc.reason
        return ""

    def _perform_outbox(self, mailbox: Mailbox, uidvalidity: int) -> None:
        """Perform this folder's pending actions: drafts first, then keywords and moves of originals."""
        self._append_drafts(mailbox)
        if not self._readonly:
            self._file_originals(mailbox, uidvalidity)

    def _append_drafts(self, mailbox: Mailbox) -> None:
        """APPEND pending drafts of this folder; a draft claimed before a crash is looked up first, and so is a
        follow-up draft (a few a day: one SEARCH each), which a store lost and started anew would otherwise
        make a second time for a promise it made one for before."""
        items = self._already_there(self._due_drafts())
        if not items:
            return
        fresh = []
        for item in items:
            # (claimed: we crashed between claiming and completing it; is it there already?)
            if item.state == "claimed" or item.payload.get("follow_up"):
                found = self._stored_before(mailbox, item)
                if found is not None:
                    folder, uid = found
                    self.store.complete(item.id, str(uid), message_status="drafted", draft_ref=f"{folder}/{uid}")
                    continue
            fresh.append(item)
        # Back to the watched folder first: find_header selected Drafts, and the worker IDLEs on whatever
        # is selected when the sync ends (it used to stay on Drafts when every claimed draft was found).
        if mailbox.selected != self.folder:
            mailbox.select(self.folder, readonly=self._readonly)
        if fresh:
            self._drafts_stored(self._lane_step(mailbox, self.store.claim_all(fresh), []))  # nothing to overlap here

    def _stored_before(self, mailbox: Mailbox, item: Any) -> tuple[str, int] | None:
        """Where a draft claimed before a crash already is: in the Drafts folder of now, or in the one it was
        first meant for if that still exists (drafts_folder changed in between). None: not stored yet."""
        folders = [str(self.drafts_folder)]
        first = str(item.payload.get("folder") or "")
        if first and first not in folders and mailbox.exists(first):
            folders.append(first)
        for folder in folders:
            uid = mailbox.find_header(folder, "Message-ID", item.payload["message_id"])
            if uid is not None:
                return folder, uid
        return None

    # ------------------------------------------------------------------ the loop

    def run(self, *, once: bool = False) -> bool:
        """Watch until stopped (or one pass with ``once``). Returns whether the last pass succeeded."""
        net, auth = Backoff(*NET_RETRY), Backoff(*AUTH_RETRY)
        where = self._log_where()
        while not self.stop.is_set():
            mailbox = None
            try:
                mailbox = Mailbox(self.account, self.connector)
                self.services.health.token_expiry(self.where, mailbox.token_expires)
                if not self.services.paused.is_set():
                    self.sync(mailbox)
                net.reset()
                auth.reset()
                if once:
                    return not self.tell_refused_drafts()
                renew_at = time.monotonic() + IDLE_RENEW
                while not self.stop.is_set():
                    if self.services.paused.is_set():
                        self._wait_paused(mailbox)
                        continue
                    timeout = max(1.0, renew_at - time.monotonic()) if mailbox.has_idle else self.account.poll_seconds
                    try:
                        outcome = mailbox.wait(timeout, lambda: self.stop.is_set() or self.kicked.is_set())
                        if outcome == "timeout" and mailbox.has_idle:
                            mailbox.noop()  # a silently dead IDLE connection shows up here
                            renew_at = time.monotonic() + IDLE_RENEW
                    except ImapConnectError as exc:
                        exc.during_idle = True  # type: ignore[attr-defined]
                        raise
                    if outcome == "stopped" and self.stop.is_set():
                        break
                    self.kicked.clear()
                    if self.services.paused.is_set():
                        continue  # paused while we waited: what arrived is processed after /resume
                    self.sync(mailbox)
            except ImapAuthError as exc:
                self._failed(str(exc), where, kind="auth")
                if once:
                    return False
                self._sleep(auth.next())
            except ImapConnectError as exc:
                if isinstance(exc, FetchFailed) and self._fetch_failed(exc):
                    continue  # narrowed down (a bounded number of times): reconnect at once, even with --once
                self._failed(str(exc), where, level=logging.WARNING,
                             kind="idle" if getattr(exc, "during_idle", False) else "network")
                if once:
                    return False
                self._sleep(net.next())
            except MentorboxError as exc:
                self._failed(str(exc), where)
                if once:
                    return False
                if isinstance(exc, StoreError):  # (a full disk: nothing is lost, the pass is tried again)
                    self.services.alert(f"⚠️ <b>mentorbox is waiting</b>\n{html.escape(str(exc), quote=False)}\n"
                                        f"It tries again every few minutes and goes on by itself once it can.")
                self._sleep(net.next())
            finally:
                if mailbox is not None:
                    mailbox.close()
        return self.healthy

    def tell_refused_drafts(self) -> bool:
        """Log an ERROR line if drafts of this folder wait because the server refused them, and say whether
        they do. For the one-pass commands (``run --once``, ``backfill``): their exit code must not say all is
        well while drafts are missing from Drafts (a daemon goes on offering them, and the watchdog tells)."""
        count, first, reason = self.store.refused_drafts(f"draft:{self.account.name}/{self.folder}/")
        if count:
            when = datetime.fromtimestamp(first).strftime("%H:%M")
            log.error("%d draft(s) refused by the server are not in Drafts; kept, and offered again by a run from "
                      "%s on: %s", count, when, reason, extra=self._log_where())
        return bool(count)

    def _wait_paused(self, mailbox: Mailbox) -> None:
        """Paused: keep the connection alive with a NOOP a minute, process nothing."""
        deadline = time.monotonic() + 60
        while self.services.paused.is_set() and not self.stop.is_set() and time.monotonic() < deadline:
            self.stop.wait(0.5)
        if self.services.paused.is_set() and not self.stop.is_set():
            mailbox.noop()

    def _failed(self, error: str, where: dict[str, str], level: int = logging.ERROR, kind: str = "other") -> None:
        self.healthy, self.last_error = False, error
        self.services.health.failed(self.where, kind, error)
        log.log(level, "%s", error, extra=where)

    def _sleep(self, seconds: float) -> None:
        log.info("retrying in %.0f s", seconds, extra=self._log_where())
        self.stop.wait(seconds)

    def _log_where(self) -> dict[str, str]:
        """Account and folder for a log line; the Sent folder is named "Sent" until the server has said which
        folder it is (the line said ``folder=`` before)."""
        return {"account": self.account.name, "folder": self.folder or self.where.partition("/")[2]}

    def close(self) -> None:
        """Close the worker's store connection."""
        self.store.close()


class SentWorker(FolderWorker):
    """Watches the Sent folder: an answer from the owner moves the lead it answers to "waiting".

    Only headers are fetched (BODY.PEEK of the threading fields); nothing is triaged or drafted here.
    """

    def __init__(self, account: ImapAccount, services: Services, stop: threading.Event, *,
                 connector: Callable[[ImapAccount], Any] = connect) -> None:
        super().__init__(account, account.sent_folder or "", services, stop, connector=connector)
        self.where = f"{account.name}/{account.sent_folder or 'Sent'}"

    def run(self, *, once: bool = False) -> bool:
        """Find the Sent folder first; without one, replies are simply not tracked (not an error)."""
        if not self.folder:
            try:
                mailbox = Mailbox(self.account, self.connector)
                try:
                    self.folder = find_sent_folder(mailbox.client, self.account.sent_folder) or ""
                finally:
                    mailbox.close()
            except MentorboxError:
                pass  # unreachable now: the normal loop below retries and reports it
            else:
                if not self.folder:
                    log.warning("no Sent folder found (set imap.sent_folder): your replies to leads are not "
                                "tracked", extra={"account": self.account.name})
                    self.services.health.forget(self.where)
                    return True
        return super().run(once=once)

    def sync(self, mailbox: Mailbox, *, backfill_since: date | None = None,
             progress: Callable[[int, int], None] | None = None) -> int:
        """Read the owner's new sent mail and move the leads it answers."""
        if not self.folder:
            self.folder = find_sent_folder(mailbox.client, self.account.sent_folder) or ""
            if not self.folder:
                raise MentorboxError(f"account {self.account.name!r}: no Sent folder found; set imap.sent_folder")
        uidvalidity, uidnext = mailbox.select(self.folder, readonly=True)
        state = self.store.folder_state(self.account.name, self.folder)
        if state is None:
            since = (datetime.now(timezone.utc) - timedelta(days=self.account.backfill_days)).date()
            uids = mailbox.uids_since(since)
        else:
            # After a UIDVALIDITY change everything is read again: moving a lead to waiting twice is harmless.
            uids = mailbox.uids_after(state[1] if state[0] == uidvalidity else 0)
        moved = 0
        for uid, raw in sorted(mailbox.headers(uids).items()):
            sent = parse_mail(raw)
            to = sent.reply_to or _first_recipient(raw)
            moved += self.store.owner_replied([sent.in_reply_to, *sent.references], to,
                                              _original_subject(sent.subject))
        high = max(uids, default=max(0, uidnext - 1))
        self.store.set_folder_state(self.account.name, self.folder, uidvalidity, high)
        if self.store.setting(sent_folder_key(self.account.name)) != self.folder:  # (for `mentorbox status`)
            self.store.set_setting(sent_folder_key(self.account.name), self.folder)
        self.services.health.sync_ok(self.where)
        if moved:
            log.info("your replies moved %d lead(s) to waiting", moved,
                     extra={"account": self.account.name, "folder": self.folder})
        self.healthy, self.last_error = True, ""
        return moved


def _first_recipient(raw: bytes) -> str:
    found = re.search(rb"(?im)^to:.*?([\w.+-]+@[\w.-]+)", raw)
    return found.group(1).decode("ascii", "replace").lower() if found else ""


def _original_subject(subject: str) -> str:
    """The subject a reply answers ("Re: Re: Offer" -> "Offer")."""
    return reply_subject(subject)[4:] if subject else ""


def run_daemon(config: Config, *, once: bool = False, say: Callable[[str], None] = print,
               connector: Callable[[ImapAccount], Any] = connect, stop: threading.Event | None = None,
               clock: Callable[[], float] = time.time, telegram_options: Any = None,
               housekeeping_every: float = 30.0) -> int:
    """Start one worker per (account, folder) and the Telegram side, do the time-driven work (nudges,
    snoozes, digest) in this thread, stop cleanly on SIGTERM/SIGINT (or ``stop``). Returns the exit code."""
    if not config.accounts:
        raise MentorboxError("no IMAP account configured: add an [imap] section (see config.example.toml)")
    services = start_services(config, say, clock=clock)
    token = config.telegram.token.resolve() if config.telegram.enabled else None
    if token is not None:
        from bot.logs import REDACTOR
        from bot.telegram_bot import TelegramService

        REDACTOR.add(token.reveal())  # httpx and some PTB errors would print it
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    workers: list[FolderWorker] = [FolderWorker(a, f, services, stop, connector=connector)
                                   for a in config.accounts for f in a.folders]
    workers += [SentWorker(a, services, stop, connector=connector) for a in config.accounts if a.watch_sent]
    for worker in workers:
        services.health.register(worker.where)
    results: dict[int, bool] = {}
    faults: list[str] = []
    marker = FaultMarker(Path(config.store.path).parent / FAULT_MARKER)

    def target(index: int, worker: FolderWorker) -> None:
        try:
            results[index] = worker.run(once=once)
        except Exception as exc:  # noqa: BLE001 - stops the daemon, loudly (see bot.faults)
            reason = describe_fault(exc, config.store.path)
            log.error("mentorbox stops: %s", reason, exc_info=reason.startswith("unexpected error"),
                      extra={"account": worker.account.name, "folder": worker.folder or "Sent"})
            faults.append(reason)
            results[index] = False
            if not once:
                stop.set()

    telegram = None
    telegram_stop = threading.Event()  # (set after the last alert: a fault's alert goes out before it stops)
    if token is not None and not once:
        telegram = TelegramService(config, services.health, services.paused, telegram_stop, token=token.reveal(),
                                   clock=clock, options=telegram_options,
                                   on_pause=lambda paused: None if paused else services.kick_all())
        services.wake = telegram.wake
        services.alert = lambda text: alert_owner(telegram, marker, text, clock())
        telegram.start()
    housekeeping = None
    if not once:
        from bot.housekeeping import Housekeeping

        housekeeping = Housekeeping(config, services.drafter, services.owner, clock=clock, kick=services.kick,
                                    wake=services.wake)
    threads = [threading.Thread(target=target, args=(i, w), name=f"{w.account.name}:{w.folder or 'Sent'}", daemon=True)
               for i, w in enumerate(workers)]
    watched = ", ".join(f"{w.where} (your replies, headers only)" if isinstance(w, SentWorker) else w.where
                        for w in workers)
    log.info("mentorbox started: watching %s; model %s%s%s", watched, services.model.get().version,
             ", Telegram on" if telegram else "", ", paused (/resume to go on)" if services.paused.is_set() else "")
    for thread in threads:
        thread.start()
    next_tick = time.monotonic() + 2.0
    while any(t.is_alive() for t in threads) and not stop.is_set():
        stop.wait(0.5)
        if housekeeping is not None and time.monotonic() >= next_tick:
            next_tick = time.monotonic() + housekeeping_every
            try:
                housekeeping.tick()
            except Exception:  # noqa: BLE001 - nudges failing must not stop triage; logged with the cause
                log.exception("housekeeping (nudges, snoozes, digest) failed; retrying at the next tick")
    stop.set()
    deadline = time.monotonic() + 8.0  # SIGTERM: finish the current message, exit within 10 s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if faults and telegram is not None:
        alert_owner(telegram, marker, f"🛑 <b>mentorbox stopped</b>\n{html.escape(faults[0], quote=False)}", clock())
    telegram_stop.set()
    if telegram is not None and telegram.thread is not None:
        telegram.thread.join(max(0.5, deadline - time.monotonic()))
    for worker in workers:
        worker.close()
    if housekeeping is not None:
        housekeeping.close()
    if once and token is not None:  # cron-style runs deliver their pushes before they exit
        import asyncio

        flusher = TelegramService(config, services.health, services.paused, threading.Event(),
                                  token=token.reveal(), clock=clock, options=telegram_options)
        asyncio.run(flusher.main(flush_only=True))
    if faults:
        log.error("mentorbox stopped: %s", faults[0])
        return 1
    log.info("mentorbox stopped")
    if once:
        return 0 if all(results.get(i, False) for i in range(len(workers))) else 1
    return 0
