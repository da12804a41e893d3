"""Time-driven work the daemon does once a minute: snoozes that end, nudges that fall due, the daily digest.

Everything it decides is written to the outbox in one transaction per lead, with dedup keys that make it
happen once across restarts (``nudge:promise:<row>``, ``digest:<day>:<chat>``). The Telegram side and the
folder workers perform it; this module only decides and enqueues, with an injectable clock so the tests
can let a promised date pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from bot.config import Config
from bot.drafting import Drafter, Owner, build_reply, render_follow_up, reply_address
from bot.errors import TemplateError
from bot.followups import dedup_key, due_nudges
from bot.models import ParsedMail
from bot.promises import extract_promises
from bot.store import MessageKey, Store

log = logging.getLogger("mentorbox.housekeeping")

DRAFT_TEXT_DAYS = 30
"""Days the store keeps the text of a draft once it is in Drafts (for /draft); after that it is in the mailbox
only (see :meth:`bot.store.Store.forget_draft_texts`)."""


def digest_text(store: Store, now: float) -> str:
    """The digest as plain text, from the store (shared by ``mentorbox digest``, /digest and the daily push)."""
    from bot.digest import render_digest

    return render_digest(datetime.fromtimestamp(now), store.since(now - 86_400), store.drafts_waiting(),
                         [dict(r) for r in store.leads()], nudges=store.sent_since(now - 86_400, "nudge:"))


def _mail_from_row(row: Any) -> ParsedMail:
    """Enough of the original message to thread a follow-up to it (the mail itself stays on the server)."""
    name, address = parseaddr(row["sender"] or "")
    try:
        when = datetime.fromisoformat(row["date"]) if row["date"] else None
    except ValueError:
        when = None
    body = row["body"] or ""
    return ParsedMail(
        sender_name=name, sender_address=address, reply_to="", to_count=1, subject=row["subject"] or "",
        date=when, message_id=row["message_id"] or "", in_reply_to="", references=(), list_id="", precedence="",
        list_unsubscribe="", auto_submitted="", text=body, clean_text=body, html_only=False, attachments=(),
        size=len(body),
    )


def follow_up_message_id(key: MessageKey, owner_address: str) -> str:
    """The follow-up draft's Message-ID: the same on every attempt, so a retried APPEND can find it."""
    from bot.daemon import draft_message_id

    return draft_message_id(key, owner_address).replace("<mentorbox.", "<mentorbox.followup.", 1)


class Housekeeping:
    """Called from the daemon's main thread; owns its own store connection."""

    def __init__(self, config: Config, drafter: Drafter, owner: Owner, *, clock: Callable[[], float] = time.time,
                 kick: Callable[[str, str], None] = lambda account, folder: None,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.config = config
        self.drafter = drafter
        self.owner = owner
        self.clock = clock
        self.kick = kick
        self.wake = wake
        self.store = Store(config.store.path, clock=clock)
        self.chats: Sequence[int] = config.telegram.allowed_chat_ids if config.telegram.enabled else ()
        self._forgotten = float("-inf")
        """When draft texts were last dropped (see :meth:`tick`)."""

    def close(self) -> None:
        """Close the store connection."""
        self.store.close()

    def tick(self) -> int:
        """Do what is due now; returns how many outbox actions were added."""
        now = self.clock()
        if now - self._forgotten >= 86_400:  # once a day (and at start-up)
            self._forgotten = now
            gone = self.store.forget_draft_texts(now - DRAFT_TEXT_DAYS * 86_400)
            if gone:
                log.info("dropped the stored text of %d draft(s) older than %d days (they are in Drafts)", gone,
                         DRAFT_TEXT_DAYS)
        added = self.store.wake_snoozed(self.chats)
        if self.config.followups.enabled:
            added += self.nudge()
        added += self.digest()
        if added:
            self.wake()
        return added

    def nudge(self) -> int:
        """Enqueue the nudges that are due (each once), with a follow-up draft for passed promises."""
        now = self.clock()
        leads = [dict(row) for row in self.store.followup_leads()]
        heard = {int(lead["message_row"]) for lead in leads
                 if self.store.heard_from_since(lead["address"], int(lead["message_row"]))}
        added = 0
        for nudge in due_nudges(leads, today=datetime.fromtimestamp(now).date(), now=now,
                                respond_within=self.config.followups.respond_within, heard_from=heard):
            key = dedup_key(nudge.kind, nudge.message_row)
            if self.store.has_action(key):
                continue
            actions: list[tuple[str, str, dict[str, Any]]] = [("marker", key, {"why": nudge.why})]
            actions += [("telegram", f"tg:{key}:{chat}", {"chat_id": chat, "what": f"nudge-{nudge.kind}"})
                        for chat in self.chats]
            row = self.store.get(nudge.message_row)
            if row is None:
                continue
            if nudge.kind == "promise" and self.config.followups.follow_up_drafts and self.config.drafts.enabled:
                try:
                    draft = self._follow_up_draft(row)
                    if draft is not None:
                        actions.append(draft)
                except TemplateError as exc:  # the nudge still goes out; the owner writes the follow-up
                    log.error("no follow-up draft for message %d: %s", nudge.message_row, exc)
            new = self.store.enqueue_many(nudge.message_row, actions)
            if new:
                log.info("nudge: %s", nudge.why, extra={"row": nudge.message_row, "kind": nudge.kind})
                self.kick(row["account"], row["folder"])
            added += new
        return added

    def _follow_up_draft(self, row: Any) -> tuple[str, str, dict[str, Any]] | None:
        """The follow-up draft's outbox action; None when the message gave no address to write to."""
        mail = _mail_from_row(row)
        if not reply_address(mail):
            return None
        key = MessageKey(row["account"], row["folder"], row["uidvalidity"], row["uid"])
        promises = extract_promises(mail.clean_text, mail.date.date()) if mail.date else []
        text = render_follow_up(self.drafter, mail, promise=promises[0].sentence if promises else "",
                                original_date=mail.date.strftime("%d %B %Y") if mail.date else "earlier")
        message_id = follow_up_message_id(key, self.owner.address)
        raw = build_reply(mail, text, self.owner, message_id=message_id,
                          now=datetime.fromtimestamp(self.clock()).astimezone())
        where = f"{key.account}/{key.folder}/{key.uidvalidity}/{key.uid}"
        return ("draft", f"draft:{where}:followup", {
            "folder": None, "message_id": message_id, "message": raw,
            "follow_up": True,
        })

    def digest(self) -> int:
        """At ``telegram.digest_time`` (local time), enqueue today's digest once per chat."""
        if not self.chats:
            return 0
        now = self.clock()
        local = datetime.fromtimestamp(now)
        hour, minute = (int(x) for x in self.config.telegram.digest_time.split(":"))
        if (local.hour, local.minute) < (hour, minute):
            return 0
        day = local.date().isoformat()
        if all(self.store.has_action(f"tg:digest:{day}:{chat}") for chat in self.chats):
            return 0
        from bot.tgformat import esc

        text = esc(digest_text(self.store, now))
        return sum(self.store.enqueue("telegram", f"tg:digest:{day}:{chat}",
                                      {"chat_id": chat, "what": "text", "text": text}) for chat in self.chats)
