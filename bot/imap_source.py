"""The IMAP side: the only module that imports imapclient.

This first part opens an authenticated connection the way the config says (implicit TLS, STARTTLS or
plain; LOGIN, AUTHENTICATE PLAIN or XOAUTH2; certificate verification on, with an optional private CA) and
probes a mailbox for ``check-config --connect``. Every lower-level error is translated into a
:class:`MentorboxError` subclass at this boundary, and the password never appears in what we raise or log.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from imapclient.imapclient import DRAFTS, SENT

from bot.config import ImapAccount
from bot.errors import MentorboxError
from bot.logs import REDACTOR
from bot.oauth import token_expiry

log = logging.getLogger("mentorbox.imap")


class ImapAuthError(MentorboxError):
    """The server refused the credentials: retry slowly, tell the owner."""


class ImapConnectError(MentorboxError):
    """The server could not be reached or the connection broke: retry with back-off."""


class AppendRefused(MentorboxError):
    """The server answered NO to an APPEND: nothing after ``stored`` was stored, and the connection is fine.

    Over quota, a Drafts folder deleted under us, a message the server will not take: none of these is
    mended by reconnecting, so the drafts wait and are offered again later.
    """

    def __init__(self, folder: str, reason: str, stored: list[int | None]) -> None:
        super().__init__(f"the server refused to store drafts in {folder!r}: {reason}")
        self.folder, self.reason, self.stored = folder, reason, stored


class ActionRefused(MentorboxError):
    """The server answered NO (or BAD) to tagging or moving an original; the connection is fine.

    A folder name the server will not create, a keyword it will not store, a folder the owner may not write
    to: reconnecting mends none of these, so the action is retried later a bounded number of times and the
    rest of the folder's work goes on.
    """

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"the server refused to {what}: {reason}")
        self.what, self.reason = what, reason


class UidsUnreliable(MentorboxError):
    """The server cannot keep message UIDs: its UIDVALIDITY changes again and again, or UID SEARCH does not
    find the messages SELECT counts (GNU imap4d on Maildir does both).

    A UID is the only handle IMAP gives on a message, so on such a server no client can tell new mail from
    old: reconnecting mends nothing, and going on would triage nothing or everything again. The owner has to
    hear it in plain words, with what to do.
    """

    def __init__(self, host: str, folder: str, fault: str) -> None:
        super().__init__(
            f"IMAP server {host} {UIDS_UNRELIABLE} ({fault}), so mentorbox cannot tell new mail in {folder!r} from "
            f"old and has stopped reading it: have the server's admin repair its UID database, or use another "
            f"IMAP server (GNU imap4d with Maildir is known to do this; Dovecot and Cyrus are not)")


UIDS_UNRELIABLE = "cannot keep message UIDs"


def ssl_context(account: ImapAccount) -> ssl.SSLContext:
    """A verifying TLS context, trusting ``ca_file`` in addition to the system store when set.

    Connections share one while the CA files stay as they are: loading the system store costs 20 ms of CPU,
    which each connection paid before (and a backlog opens three at once). A changed file makes a new one.
    """
    system = ssl.get_default_verify_paths().cafile
    return _context(account.ca_file or "", _stamp(account.ca_file), _stamp(system))


def _stamp(path: str | None) -> tuple[int, int] | None:
    try:
        status = os.stat(path) if path else None
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size) if status else None


@functools.lru_cache(maxsize=4)
def _context(ca_file: str, *_stamps: tuple[int, int] | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _tls_hint(account: ImapAccount, exc: BaseException) -> str:
    """What to try when TLS met a port that speaks another way: implicit TLS against a plain IMAP port
    answers ``WRONG_VERSION_NUMBER`` (the server's greeting is not a TLS record), which says nothing to an
    owner who typed 143 for 993."""
    if account.tls == "implicit" and "WRONG_VERSION_NUMBER" in str(exc):
        return (f" (port {account.port} does not start with TLS: for a port that needs STARTTLS, usually 143, "
                f"set tls = \"starttls\"; for implicit TLS the port is usually 993)")
    return ""


def connect(account: ImapAccount) -> imapclient.IMAPClient:
    """Connect and log in; raise :class:`ImapConnectError` or :class:`ImapAuthError` on failure."""
    where = f"{account.host}:{account.port}"
    try:
        context = ssl_context(account)
        client = imapclient.IMAPClient(
            account.host, port=account.port, ssl=account.tls == "implicit", ssl_context=context,
            timeout=imapclient.SocketTimeout(connect=15, read=account.timeout_seconds),
        )
        if account.tls == "starttls":
            client.starttls(context)
    except (OSError, ssl.SSLError, IMAPClientError, socket.timeout) as exc:
        raise ImapConnectError(f"cannot connect to IMAP server {where} ({account.tls}): {exc}"
                               f"{_tls_hint(account, exc)}") from None
    quiet_imaplib(client)
    try:
        if account.auth == "xoauth2":
            token = _oauth2_login(client, account)
            client.mentorbox_token_expires = token_expiry(token)  # type: ignore[attr-defined]
        else:
            password = account.password.resolve()
            REDACTOR.add(password.reveal())
            if account.auth == "plain":
                client.plain_login(account.username, password.reveal())
            else:
                client.login(account.username, password.reveal())
    except LoginError:
        _close(client)
        raise ImapAuthError(f"IMAP server {where} refused the login of {account.username!r}") from None
    except (OSError, IMAPClientError) as exc:
        _close(client)
        raise ImapConnectError(f"IMAP login to {where} failed: {REDACTOR.redact(str(exc))}") from None
    except MentorboxError:
        _close(client)
        raise
    return client


def _oauth2_login(client: imapclient.IMAPClient, account: ImapAccount) -> str:
    """AUTHENTICATE XOAUTH2 with the token the owner's helper gives; returns the token that worked.

    A refused token is asked for once more, right away: a helper that refreshes on demand may have handed out
    one that expired a moment ago (or the file was being rewritten). Only when the second token is refused
    too, or is the same one, is it a login failure (and then retried slowly, like a wrong password).
    """
    token = account.oauth2_token.resolve().reveal()
    REDACTOR.add(token)
    try:
        client.oauth2_login(account.username, token)
        return token
    except LoginError:
        again = account.oauth2_token.resolve().reveal()
        REDACTOR.add(again)
        if again == token:
            raise
        log.info("IMAP server %s:%s refused the OAuth2 token; trying the helper's new one", account.host,
                 account.port)
        client.oauth2_login(account.username, again)
        return again


def quiet_imaplib(client: imapclient.IMAPClient) -> None:
    """Turn off imaplib's own trace, which imapclient switches on (``debug = 5``) to feed its logger.

    imaplib builds that trace *before* the logger decides to drop it, with ``%r`` of every literal: each
    fetched message is formatted into a string of about four times its size and thrown away. Measured on
    2,000 messages (50 MB) from a local Dovecot, one UID FETCH pass: 0.7 s of CPU (0.75 s wall) with the
    trace, 0.2 s of CPU (0.35 s wall) without; and that CPU is taken under the GIL, from the classifier.
    The trace would also write whole mails into a debug log. imapclient's own logger (commands, truncated
    literals) is unaffected.
    """
    imap = getattr(client, "_imap", None)
    if imap is not None and hasattr(imap, "debug"):
        imap.debug = 0


def _close(client: imapclient.IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


DRAFT_NAMES = ("drafts", "draft")
SENT_NAMES = ("sent", "sent items", "sent messages", "sent mail")


def find_special_folder(client: imapclient.IMAPClient, flag: bytes, names: Sequence[str] = ()) -> str | None:
    """The folder LIST flags with the SPECIAL-USE ``flag`` (RFC 6154), else one named like ``names``.

    Written here rather than with imapclient's ``find_special_folder``, which compares the flag bytes as they
    are: Cyrus sends ``\\drafts`` and ``\\sent`` in lower case (RFC 3501 makes flags case-insensitive), so a
    Drafts folder called anything but "Drafts" (a French "Brouillons", a renamed folder) was never found. The
    names are a fallback for servers without SPECIAL-USE, matched case-insensitively at the top level or
    under ``INBOX`` (Courier and Cyrus without altnamespace put every folder under ``INBOX.``).
    """
    folders = client.list_folders()
    wanted = flag.lower()
    for flags, _sep, name in folders:
        if any(isinstance(f, bytes) and f.lower() == wanted for f in flags):
            return str(name)
    for _flags, sep, name in folders:
        delimiter = sep.decode() if isinstance(sep, bytes) else (sep or "")
        parts = str(name).split(delimiter) if delimiter else [str(name)]
        if parts[-1].lower() in names and (len(parts) == 1 or (len(parts) == 2 and parts[0].upper() == "INBOX")):
            return str(name)
    return None


def find_drafts_folder(client: imapclient.IMAPClient, configured: str = "") -> str | None:
    """The configured drafts folder, else the one flagged SPECIAL-USE \\Drafts, else a folder named Drafts."""
    if configured:
        return configured
    return find_special_folder(client, DRAFTS, DRAFT_NAMES)


def find_sent_folder(client: imapclient.IMAPClient, configured: str = "") -> str | None:
    """The configured sent folder, else the one flagged SPECIAL-USE \\Sent, else a folder named Sent."""
    if configured:
        return configured
    return find_special_folder(client, SENT, SENT_NAMES)


@dataclass(frozen=True)
class ProbeResult:
    """What ``check-config --connect`` reports about one account."""

    capabilities: tuple[str, ...]
    folders: dict[str, int]
    drafts_folder: str | None
    missing_folders: tuple[str, ...]
    uid_faults: tuple[str, ...] = ()
    """One line per folder where the server cannot find its messages by UID (see :class:`UidsUnreliable`)."""


def probe(account: ImapAccount) -> ProbeResult:
    """Log in, look at the configured folders and the drafts folder, log out. Read-only."""
    client = connect(account)
    try:
        caps = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in client.capabilities())
        existing = {str(name) for _, _, name in client.list_folders()}
        folders: dict[str, int] = {}
        missing = []
        faults = []
        for folder in account.folders:
            if folder not in existing:
                missing.append(folder)
                continue
            status = client.folder_status(folder, [b"MESSAGES"])
            folders[folder] = int(status.get(b"MESSAGES", 0))
            fault = _uid_fault(client, folder)
            if fault:
                faults.append(str(UidsUnreliable(account.host, folder, fault)))
        drafts = find_drafts_folder(client, account.drafts_folder)
        if drafts and drafts not in existing:
            missing.append(drafts)
        return ProbeResult(caps, folders, drafts, tuple(missing), tuple(faults))
    except (OSError, IMAPClientError) as exc:
        raise ImapConnectError(f"IMAP error on {account.host}: {REDACTOR.redact(str(exc))}") from None
    finally:
        _close(client)


def _uid_fault(client: imapclient.IMAPClient, folder: str) -> str:
    """What is wrong with the server's UIDs in ``folder`` ("" if nothing): its messages must be found by
    ``UID SEARCH UID 1:*``, as the daemon finds them. Read-only (EXAMINE)."""
    count = int(client.select_folder(folder, readonly=True).get(b"EXISTS", 0))
    if count and not client.search(["UID", "1:*"]):
        return f"{folder!r} holds {count} messages but UID SEARCH UID 1:* found none of them"
    return ""


def fetch_folder(account: ImapAccount, folder: str, *, batch: int = 200, limit: int = 20_000) -> list[tuple[str, bytes]]:
    """Every message of ``folder`` as ``("uidvalidity/uid", raw)``, read-only (EXAMINE, BODY.PEEK[]).

    Used to read training folders; ``limit`` keeps a huge archive folder from being pulled in whole.
    """
    client = connect(account)
    try:
        info = client.select_folder(folder, readonly=True)
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        uids = sorted(client.search("ALL"))[-limit:]
        out: list[tuple[str, bytes]] = []
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            fetched = client.fetch(chunk, [b"BODY.PEEK[]"])
            for uid in chunk:
                data = fetched.get(uid, {})
                raw = data.get(b"BODY[]")
                if isinstance(raw, bytes):
                    out.append((f"{uidvalidity}/{uid}", raw))
        return out
    except (OSError, IMAPClientError) as exc:
        raise ImapConnectError(f"cannot read folder {folder!r} on {account.host}: {REDACTOR.redact(str(exc))}") from None
    finally:
        _close(client)


# --------------------------------------------------------------------------- the daemon's mailbox access

_APPENDUID = re.compile(rb"APPENDUID (\d+) ([0-9:,]+)")
_MESSAGE_ID = re.compile(rb"(?im)^message-id:\s*(<[^>\s]*>)")
DRAFT_MARK = ("X-Mentorbox", "draft")
"""The header every draft mentorbox makes carries (see :func:`bot.drafting.build_reply`)."""


def _uid_set(text: bytes) -> list[int]:
    """Expand an IMAP UID set (``5:7,9``) into ``[5, 6, 7, 9]``."""
    out: list[int] = []
    for part in text.decode().split(","):
        lo, _, hi = part.partition(":")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


class Mailbox:
    """One logged-in IMAP connection, with the few operations the daemon needs and nothing that writes to
    the owner's mail except APPEND to Drafts (and keywords or moves, only if configured).

    ``connector`` is the injection point for tests (the same code runs against Dovecot and a double).
    """

    def __init__(self, account: ImapAccount, connector: Callable[[ImapAccount], imapclient.IMAPClient] = connect):
        self.account = account
        self.client = connector(account)
        self.token_expires: float | None = getattr(self.client, "mentorbox_token_expires", None)
        """When the OAuth access token used to log in expires (JWT tokens only), for the watchdog."""
        self.capabilities = {c.decode().upper() if isinstance(c, bytes) else str(c).upper()
                             for c in self.client.capabilities()}
        self.selected: str | None = None
        self._exists = 0
        self._personal: tuple[str, str] | None = None
        """The personal namespace's prefix and separator, asked for once (see :meth:`server_name`)."""
        self._uidvalidity: dict[str, int] = {}
        """The UIDVALIDITY each folder had when this connection first selected it (see :meth:`select`)."""

    @property
    def has_idle(self) -> bool:
        """Whether the server supports IDLE (and the config allows it)."""
        return "IDLE" in self.capabilities and self.account.idle

    def _guard(self, what: str, *, refusal: str = "") -> Any:
        return _Translate(self.account, what, refusal)

    def select(self, folder: str, *, readonly: bool = True) -> tuple[int, int]:
        """Select a folder (EXAMINE when read-only); return ``(uidvalidity, uidnext)``.

        Raises :class:`UidsUnreliable` when the folder's UIDVALIDITY is not the one it had at this
        connection's first SELECT of it: a folder recreated under a live session is too rare to be it, a
        server that makes up UIDVALIDITY at every EXAMINE (GNU imap4d on Maildir) is not.
        """
        with self._guard(f"select {folder!r}"):
            info = self.client.select_folder(folder, readonly=readonly)
        self.selected = folder
        self._exists = int(info.get(b"EXISTS", 0))
        self._pending_exists()  # what SELECT itself reported is known now
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        first = self._uidvalidity.setdefault(folder, uidvalidity)
        if uidvalidity != first:
            raise UidsUnreliable(self.account.host, folder, f"the UIDVALIDITY of {folder!r} went from {first} to "
                                 f"{uidvalidity} within one connection")
        return uidvalidity, int(info.get(b"UIDNEXT", 0))

    def _pending_exists(self) -> int | None:
        """The latest message count the server announced *during other commands* since we last looked.

        A message that arrives while we SEARCH or FETCH is announced (``* n EXISTS``) in that command's
        response; imaplib keeps such unrequested responses aside and imapclient's IDLE never sees them, so
        without this check the message would wait for the next one to arrive.
        """
        pending = getattr(getattr(self.client, "_imap", None), "untagged_responses", None)
        if not isinstance(pending, dict):
            return None
        counts = pending.pop("EXISTS", None) or []
        latest = None
        for value in counts:
            try:
                latest = int(value)
            except (TypeError, ValueError):
                continue
        return latest

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid``. ``UID n:*`` always returns the highest UID, even below n: filtered.

        So in a folder that holds messages the answer is never empty: if it is, and no message was expunged
        meanwhile, the server cannot find its own messages by UID (:class:`UidsUnreliable`).
        """
        with self._guard("search"):
            found = self.client.search(["UID", f"{last_uid + 1}:*"])
            # (a server that answers n:* above its highest UID with nothing, against RFC 3501, is asked once
            # more for every UID before it is called unreliable)
            unfound = not found and self._exists > 0 and not self._expunged() and \
                (last_uid == 0 or not self.client.search(["UID", "1:*"]))
        if unfound:
            raise UidsUnreliable(self.account.host, str(self.selected), f"{self.selected!r} holds {self._exists} "
                                 f"messages but UID SEARCH UID 1:* found none of them")
        return sorted(uid for uid in found if uid > last_uid)

    def _expunged(self) -> bool:
        """Whether the server announced an expunge since the folder was selected (so EXISTS is out of date)."""
        pending = getattr(getattr(self.client, "_imap", None), "untagged_responses", None)
        return isinstance(pending, dict) and bool(pending.get("EXPUNGE") or pending.get("VANISHED"))

    def uids_since(self, day: date) -> list[int]:
        """UIDs of messages that arrived on or after ``day`` (for the first start and backfills)."""
        with self._guard("search"):
            return sorted(self.client.search(["SINCE", day]))

    def _fetch_each(self, uids: Sequence[int], item: bytes, what: str, chunk: int = 500,
                    ) -> Iterator[tuple[int, dict[bytes, Any]]]:
        """``(uid, data)`` for each message, fetching ``item`` ``chunk`` UIDs per command (a FETCH of many
        thousand UIDs would be one enormous command line and answer)."""
        for start in range(0, len(uids), chunk):
            with self._guard(what):
                data = self.client.fetch(list(uids[start : start + chunk]), [item])
            yield from data.items()

    def larger(self, uids: Sequence[int], than: int) -> list[int]:
        """Which of ``uids`` are bigger than ``than`` bytes (RFC822.SIZE), in one SEARCH over their UID range:
        the server answers from its index with the few UIDs it found, where asking every message's size gives
        an answer of a line per message."""
        if not uids:
            return []
        wanted = set(uids)
        with self._guard("search sizes"):
            found = self.client.search(["UID", f"{min(uids)}:{max(uids)}", "LARGER", than])
        return sorted(uid for uid in found if uid in wanted)

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """The size (RFC822.SIZE) of each message, from the server's index: what fetching it will cost, so
        that a backlog can be cut into batches of a bounded number of bytes. One FETCH per 5,000 UIDs."""
        found = self._fetch_each(uids, b"RFC822.SIZE", "fetch sizes", chunk=5000)
        return {uid: item[b"RFC822.SIZE"] for uid, item in found if isinstance(item.get(b"RFC822.SIZE"), int)}

    def headers(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The threading and identifying headers of messages (for the Sent folder: who the owner answered; for a
        re-sync: which messages are known, see :func:`bot.models.identity`)."""
        fields = b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES FROM TO SUBJECT DATE)]"
        return {uid: next((v for k, v in item.items() if k.startswith(b"BODY[HEADER") and isinstance(v, bytes)), b"")
                for uid, item in self._fetch_each(uids, fields, "fetch headers")}

    def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        """Raw messages by UID, never marking them read (BODY.PEEK); huge ones only partly.

        One UID FETCH of ``BODY.PEEK[]<0.max_message_bytes>`` for the batch: the server sends each message
        whole, or its first ``max_message_bytes`` when it is bigger (they hold the headers and the text). One
        command, where asking for the sizes first cost a second round trip per batch.
        """
        if not uids:
            return {}
        with self._guard("fetch"):
            data = self.client.fetch(list(uids), [f"BODY.PEEK[]<0.{self.account.max_message_bytes}>".encode()])
        out: dict[int, bytes] = {}
        for uid, item in data.items():
            raw = next((v for k, v in item.items() if k.startswith(b"BODY[]") and isinstance(v, bytes)), None)
            if raw is not None:
                out[uid] = raw
        return out

    def exists(self, folder: str) -> bool:
        """Whether ``folder`` exists (a folder the config once named may have been renamed since)."""
        with self._guard(f"list {folder!r}"):
            return bool(self.client.folder_exists(folder))

    def find_header(self, folder: str, name: str, value: str) -> int | None:
        """The UID of a message in ``folder`` whose header ``name`` contains ``value`` (e.g. our draft's id)."""
        self.select(folder, readonly=True)
        with self._guard("search header"):
            found = self.client.search(["HEADER", name, value])
        return max(found) if found else None

    def our_drafts(self, folder: str) -> dict[str, int]:
        """The UID of each draft mentorbox made in ``folder``, by its Message-ID: one SEARCH for the
        ``X-Mentorbox: draft`` header (flagged \\Draft or not: the owner may have edited or unflagged it), then
        one FETCH of the Message-IDs of what it found. Selects ``folder`` (read-only)."""
        try:
            with self._guard(f"select {folder!r}", refusal=f"open {folder!r}"):
                info = self.client.select_folder(folder, readonly=True)
        except ActionRefused:
            return {}  # (no such folder: nothing in it; an APPEND there is refused and says so)
        self.selected, self._exists = folder, int(info.get(b"EXISTS", 0))
        with self._guard("search drafts"):
            uids = self.client.search(["HEADER", *DRAFT_MARK])
        found: dict[str, int] = {}
        heads = self._fetch_each(sorted(uids), b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]", "fetch draft ids",
                                 chunk=5000)
        for uid, item in heads:
            raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER") and isinstance(v, bytes)), b"")
            match = _MESSAGE_ID.search(raw)
            if match:
                found.setdefault(match.group(1).decode("ascii", "replace"), uid)
        return found

    def append(self, folder: str, messages: Sequence[bytes], flags: Sequence[bytes] = (b"\\Draft", b"\\Seen"),
               ) -> list[int | None]:
        """APPEND messages (MULTIAPPEND in one command where the server has it); their UIDs if UIDPLUS.

        A NO from the server (over quota, folder gone, message refused) raises :class:`AppendRefused` with
        what was stored before it: the connection is fine, so it must not look like a dropped one, and it
        must not look like success either (imapclient's ``multiappend`` returns a NO instead of raising).
        """
        if not messages:
            return []
        groups = [list(messages)] if "MULTIAPPEND" in self.capabilities else [[m] for m in messages]
        stored: list[int | None] = []
        for group in groups:
            with self._guard("append"):
                status, text = self._append_command(folder, group, flags)
            if status != "OK":
                raise AppendRefused(folder, REDACTOR.redact(text.decode("utf-8", "replace")), stored)
            found = _APPENDUID.search(text)
            uids = _uid_set(found.group(2)) if found else []
            stored += uids if len(uids) == len(group) else [None] * len(group)
        return stored

    def _append_command(self, folder: str, messages: list[bytes], flags: Sequence[bytes]) -> tuple[str, bytes]:
        """Send one APPEND of ``messages`` and return the server's status and text.

        Written here rather than with imapclient's ``multiappend`` for two reasons. With LITERAL+ (RFC 7888)
        the whole command goes out in one write: imapclient writes each flag list and literal separately,
        and every write hands the GIL back and waits to get it again, so with another thread busy classifying
        1,550 drafts took 22 s instead of 0.8 s (benchmarks/append_contention.py). Without LITERAL+ the
        server may answer NO where it would have said "+ go ahead" (a folder that does not exist), which
        imapclient reports as a broken connection; here it is the refusal it is.
        """
        imap = self.client._imap  # noqa: SLF001 - imapclient sends multi-literal commands the same way
        literal_plus = "LITERAL+" in self.capabilities
        name = self.client._normalise_folder(folder)  # noqa: SLF001 - imapclient's quoting and modified UTF-7
        tag = imap._new_tag()  # noqa: SLF001
        flag_list = b"(" + b" ".join(flags) + b")"
        close = b"+}\r\n" if literal_plus else b"}\r\n"
        pending = [tag, b" APPEND ", name.encode("utf-8") if isinstance(name, str) else name]
        for message in messages:
            pending += [b" ", flag_list, b" {", str(len(message)).encode("ascii"), close]
            if not literal_plus:  # wait for the server's "+" before the literal, or for its refusal
                imap.send(b"".join(pending))
                pending = []
                while not imap.tagged_commands.get(tag) and imap._get_response() is not None:  # noqa: SLF001
                    pass  # untagged responses; None is the continuation
                if imap.tagged_commands.get(tag):
                    break
            pending.append(message)
        else:
            pending.append(b"\r\n")
            imap.send(b"".join(pending))
        typ, data = imap._command_complete("APPEND", tag)  # noqa: SLF001 - raises on BAD, returns NO
        return str(typ), b" ".join(d for d in data if isinstance(d, bytes))

    def add_keyword(self, uids: Sequence[int], keyword: str) -> None:
        """Tag originals with a keyword (only when ``tag_with_keywords`` is on; needs a read-write select).

        Raises :class:`ActionRefused` when the server answers NO, :class:`ImapConnectError` on a broken link.
        """
        with self._guard("store keyword", refusal=f"tag messages with {keyword!r}"):
            self.client.add_flags(list(uids), [keyword.encode()], silent=True)

    def server_name(self, folder: str) -> str:
        """A folder name from the config (``/`` between levels: ``Triage/Other``) as this server spells it.

        Courier, and Cyrus without altnamespace, keep every personal folder under ``INBOX.`` with ``.`` between
        levels, refuse ``Triage/Other`` as a name and any folder outside INBOX: there it is
        ``INBOX.Triage.Other``. A name already under the prefix, INBOX itself, and every name on a server
        without a prefix and with ``/`` as separator (Dovecot's usual layout) are left as they are.
        """
        if self._personal is None:
            self._personal = ("", "/")
            if "NAMESPACE" in self.capabilities:
                with self._guard("namespace"):
                    personal = self.client.namespace().personal
                if personal and personal[0]:
                    prefix, sep = personal[0][0], personal[0][1]
                    self._personal = (str(prefix or ""), str(sep or "/"))
        prefix, sep = self._personal
        if folder.upper() == "INBOX" or (prefix and folder.upper().startswith(prefix.upper())):
            return folder
        return prefix + (folder.replace("/", sep) if sep != "/" else folder)

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move originals to ``folder`` (created if missing): MOVE, or COPY + delete where MOVE is missing.

        Only ever called when the owner configured ``move_to_folders``. Raises :class:`ActionRefused` when
        the server answers NO (a folder name it refuses, no right to write there), :class:`ImapConnectError`
        on a broken link.
        """
        with self._guard("move", refusal=f"move messages to {folder!r}"):
            folder = self.server_name(folder)
            if not self.client.folder_exists(folder):
                self.client.create_folder(folder)
            if "MOVE" in self.capabilities:
                self.client.move(list(uids), folder)
            else:
                self.client.copy(list(uids), folder)
                self.client.delete_messages(list(uids))
                self.client.uid_expunge(list(uids))

    def wait(self, timeout: float, stop: Callable[[], bool]) -> str:
        """Wait for new mail: ``new``, ``timeout`` or ``stopped``; raise ImapConnectError on a dead link.

        With IDLE, ``idle_check`` is polled in one-second steps so that a stop request is seen at once.
        imapclient returns ``[]`` at once on a dead connection (it swallows EOF): an empty answer that came
        much earlier than the step means the link is gone.
        """
        deadline = time.monotonic() + timeout
        announced = self._pending_exists()
        if announced is not None and announced > self._exists:
            self._exists = announced
            return "new"  # arrived while we were busy with the last sync
        if not self.has_idle:
            while time.monotonic() < deadline:
                if stop():
                    return "stopped"
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            return "timeout"
        with self._guard("idle"):
            self.client.idle()
        result = "timeout"
        try:
            while time.monotonic() < deadline:
                if stop():
                    result = "stopped"
                    break
                asked = time.monotonic()
                with self._guard("idle check"):
                    responses = self.client.idle_check(timeout=1.0)
                if any(r[1] in (b"EXISTS", b"RECENT") for r in responses if len(r) > 1):
                    result = "new"
                    break
                if any(r[0] == b"BYE" for r in responses if r):
                    raise ImapConnectError(f"server {self.account.host} closed the connection (BYE)")
                if not responses and time.monotonic() - asked < 0.5:
                    raise ImapConnectError(f"connection to {self.account.host} dropped while idling")
        finally:
            try:
                with self._guard("idle done"):
                    self.client.idle_done()
            except ImapConnectError:
                if result != "stopped":
                    raise
        return result

    def noop(self) -> None:
        """Keep the connection alive (and learn about new mail on servers that push it with NOOP)."""
        with self._guard("noop"):
            self.client.noop()

    def close(self) -> None:
        """Log out (best effort)."""
        _close(self.client)


def _server_text(message: str) -> str:
    """The server's words from an imaplib error ("move failed: [CANNOT] ... (0.001 + 0.000 secs).")."""
    text = message.split(" failed: ", 1)[-1].strip()
    return REDACTOR.redact(re.sub(r"\s*\(\d+\.\d+ \+ [\d.+ ]*secs\)\.?$", "", text))[:300]


class _Translate:
    """Turns imapclient/socket errors into ImapConnectError, with the password redacted.

    With ``refusal`` (what the command does, in words), a tagged NO or BAD (imapclient's plain
    ``IMAPClientError``, not its ``abort``) is the server refusing that command on a good connection:
    :class:`ActionRefused`.
    """

    def __init__(self, account: ImapAccount, what: str, refusal: str = "") -> None:
        self.account, self.what, self.refusal = account, what, refusal

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self.refusal and isinstance(exc, IMAPClientError) and not isinstance(exc, IMAPClientAbortError):
            raise ActionRefused(self.refusal, _server_text(str(exc))) from None
        if isinstance(exc, (OSError, IMAPClientError, ssl.SSLError, EOFError)):
            raise ImapConnectError(
                f"IMAP {self.what} on {self.account.host} failed: {type(exc).__name__}: {REDACTOR.redact(str(exc))}"
            ) from None
