"""The IMAP side: the only module that imports imapclient.

This first part opens an authenticated connection the way the config says (implicit TLS, STARTTLS or
plain; LOGIN, AUTHENTICATE PLAIN or XOAUTH2; certificate verification on, with an optional private CA) and
probes a mailbox for ``check-config --connect``. Every lower-level error is translated into a
:class:`MentorboxError` subclass at this boundary, and the password never appears in what we raise or log.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

import imapclient
from imapclient.imapclient import DRAFTS
from imapclient.exceptions import IMAPClientError, LoginError

from bot.config import ImapAccount
from bot.errors import MentorboxError
from bot.logs import REDACTOR


class ImapAuthError(MentorboxError):
    """The server refused the credentials: retry slowly, tell the owner."""


class ImapConnectError(MentorboxError):
    """The server could not be reached or the connection broke: retry with back-off."""


def ssl_context(account: ImapAccount) -> ssl.SSLContext:
    """A verifying TLS context, trusting ``ca_file`` in addition to the system store when set."""
    context = ssl.create_default_context()
    if account.ca_file:
        context.load_verify_locations(cafile=account.ca_file)
    return context


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
        raise ImapConnectError(f"cannot connect to IMAP server {where} ({account.tls}): {exc}") from None
    try:
        if account.auth == "xoauth2":
            token = account.oauth2_token.resolve()
            REDACTOR.add(token.reveal())
            client.oauth2_login(account.username, token.reveal())
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


def _close(client: imapclient.IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def find_drafts_folder(client: imapclient.IMAPClient, configured: str = "") -> str | None:
    """The configured drafts folder, else the one flagged SPECIAL-USE \\Drafts, else a folder named Drafts."""
    if configured:
        return configured
    found = client.find_special_folder(DRAFTS)
    return str(found) if found else None


@dataclass(frozen=True)
class ProbeResult:
    """What ``check-config --connect`` reports about one account."""

    capabilities: tuple[str, ...]
    folders: dict[str, int]
    drafts_folder: str | None
    missing_folders: tuple[str, ...]


def probe(account: ImapAccount) -> ProbeResult:
    """Log in, look at the configured folders and the drafts folder, log out. Read-only."""
    client = connect(account)
    try:
        caps = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in client.capabilities())
        existing = {str(name) for _, _, name in client.list_folders()}
        folders: dict[str, int] = {}
        missing = []
        for folder in account.folders:
            if folder not in existing:
                missing.append(folder)
                continue
            status = client.folder_status(folder, [b"MESSAGES"])
            folders[folder] = int(status.get(b"MESSAGES", 0))
        drafts = find_drafts_folder(client, account.drafts_folder)
        if drafts and drafts not in existing:
            missing.append(drafts)
        return ProbeResult(caps, folders, drafts, tuple(missing))
    except (OSError, IMAPClientError) as exc:
        raise ImapConnectError(f"IMAP error on {account.host}: {REDACTOR.redact(str(exc))}") from None
    finally:
        _close(client)


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
