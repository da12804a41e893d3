"""Health of the daemon as the owner should see it, and the watchdog's judgement of it.

Silent failure is what users of mail bots complain about most: a wrong password after a change, a server
that stops answering, an IDLE that never wakes up. Workers report into a :class:`Health` (thread-safe, in
memory); :func:`evaluate` turns a snapshot of it into the problems that are true *now*. The Telegram side
tells the owner once when a problem appears and once when it goes away, and ``/status`` shows the snapshot.
Pure apart from the lock: no IO, so the rules are tested with any clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.durations import ago


@dataclass(frozen=True)
class FolderHealth:
    """What one worker last reported."""

    started: float
    last_ok: float | None = None
    """When the last sync completed (epoch seconds)."""
    error: str = ""
    error_kind: str = ""
    """``auth``, ``network``, ``idle`` or ``other`` while the last attempt failed; empty when healthy."""
    failing_messages: int = 0
    """Messages that failed in a row (reset by any message that succeeds)."""
    token_expires: float | None = None
    """Expiry of the OAuth access token used for the last login, when it could be read."""
    drafts_refused: str = ""
    """The server's reason while it refuses to store drafts (over quota, say); empty once it takes them."""
    filing_refused: str = ""
    """The server's reason while it refuses to tag or move originals (a folder name it will not create, say);
    empty once a tag or move goes through."""


@dataclass
class Health:
    """Thread-safe registry the workers report into; keys are ``account/folder``."""

    clock: object = time.time
    folders: dict[str, FolderHealth] = field(default_factory=dict)
    telegram_last_poll: float | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def _now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def _update(self, where: str, **changes: object) -> None:
        with self._lock:
            current = self.folders.get(where) or FolderHealth(started=self._now())
            self.folders[where] = replace(current, **changes)  # type: ignore[arg-type]

    def register(self, where: str) -> None:
        """A worker started watching ``where``."""
        self._update(where)

    def forget(self, where: str) -> None:
        """``where`` is not watched after all (e.g. the account has no Sent folder)."""
        with self._lock:
            self.folders.pop(where, None)

    def sync_ok(self, where: str) -> None:
        """A sync of ``where`` completed."""
        self._update(where, last_ok=self._now(), error="", error_kind="")

    def failed(self, where: str, kind: str, error: str) -> None:
        """A sync or connection attempt failed (``auth``, ``network``, ``idle``, ``other``)."""
        self._update(where, error=error, error_kind=kind)

    def message_failed(self, where: str) -> None:
        """One message could not be processed."""
        with self._lock:
            current = self.folders.get(where) or FolderHealth(started=self._now())
            self.folders[where] = replace(current, failing_messages=current.failing_messages + 1)

    def message_ok(self, where: str) -> None:
        """A message was processed: the run of failures is over."""
        if self.folders.get(where, FolderHealth(0)).failing_messages:
            self._update(where, failing_messages=0)

    def drafts_refused(self, where: str, reason: str) -> None:
        """The server refused drafts for ``where`` (``reason`` in its words), or took them again (``""``)."""
        self._update_if_changed(where, "drafts_refused", reason)

    def filing_refused(self, where: str, reason: str) -> None:
        """The server refused to tag or move an original of ``where``, or did one again (``""``)."""
        self._update_if_changed(where, "filing_refused", reason)

    def _update_if_changed(self, where: str, name: str, value: object) -> None:
        """Set one field, leaving the record alone when it already holds ``value`` (the common case)."""
        if getattr(self.folders.get(where, FolderHealth(0)), name) != value:
            self._update(where, **{name: value})

    def token_expiry(self, where: str, expires: float | None) -> None:
        """The OAuth token used for the last login expires at ``expires``."""
        self._update(where, token_expires=expires)

    def snapshot(self) -> dict[str, FolderHealth]:
        """A consistent copy for evaluation or display."""
        with self._lock:
            return dict(self.folders)


@dataclass(frozen=True)
class Problem:
    """A condition the owner must hear about; ``key`` identifies it so it is announced once."""

    key: str
    text: str


def evaluate(snapshot: Mapping[str, FolderHealth], now: float, *, stale_minutes: float,
             failing_messages: int = 3, token_warning_minutes: float = 15, paused: bool = False,
             ) -> list[Problem]:
    """The problems true at ``now``. While paused, no sync is expected, so staleness is not a problem."""
    problems: list[Problem] = []
    for where, h in sorted(snapshot.items()):
        if h.error_kind == "auth":
            problems.append(Problem(f"auth:{where}", f"{where}: the IMAP server refuses the login ({h.error})"))
        if h.error_kind == "idle":
            problems.append(Problem(f"idle:{where}", f"{where}: IDLE stalled and the connection is being "
                                                     f"re-opened ({h.error})"))
        since = h.last_ok if h.last_ok is not None else h.started
        if not paused and now - since > stale_minutes * 60:
            what = f"last good sync {ago(now - since)} ago" if h.last_ok is not None else \
                f"no good sync since start {ago(now - since)} ago"
            problems.append(Problem(f"stale:{where}", f"{where}: {what}" + (f" ({h.error})" if h.error else "")))
        if h.failing_messages >= failing_messages:
            problems.append(Problem(f"failing:{where}", f"{where}: {h.failing_messages} messages in a row could "
                                                        f"not be processed (mentorbox status lists them)"))
        if h.drafts_refused:
            problems.append(Problem(f"drafts:{where}", f"{where}: the server refuses new drafts ({h.drafts_refused});"
                                                       f" they are kept and offered again every few minutes"))
        if h.filing_refused:
            problems.append(Problem(f"filing:{where}", f"{where}: the server refuses to tag or move messages "
                                                       f"({h.filing_refused}); they stay where they are and are "
                                                       f"tried again a few times: check imap.move_to_folders"))
        if h.token_expires is not None and h.token_expires - now < token_warning_minutes * 60:
            left = h.token_expires - now
            problems.append(Problem(f"token:{where}", f"{where}: the OAuth access token "
                                    + (f"expires in {ago(left)}" if left > 0 else "has expired")
                                    + ": check the token command"))
    return problems


def transitions(active: set[str], problems: list[Problem]) -> tuple[list[Problem], list[str]]:
    """Which problems are new (to announce) and which active keys recovered (to announce as fixed)."""
    now_keys = {p.key for p in problems}
    return [p for p in problems if p.key not in active], sorted(active - now_keys)
