"""Plain values that flow through the pipeline: source -> parse -> classify -> score -> draft -> record -> act.

They are frozen so that a stage cannot quietly change what an earlier stage decided; a later stage builds a
new value instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypeVar

T = TypeVar("T")

Label = Literal["congratulation", "advice_request", "phd_offer", "job_lead", "other"]
LABELS: tuple[Label, ...] = ("congratulation", "advice_request", "phd_offer", "job_lead", "other")
ANSWERED_LABELS: tuple[Label, ...] = ("congratulation", "advice_request", "phd_offer", "job_lead")
LEAD_LABELS: tuple[Label, ...] = ("phd_offer", "job_lead")
"""Labels tracked as leads until done."""


@dataclass(frozen=True)
class Attachment:
    """An attached file as listed in the message (its bytes are not kept)."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ParsedMail:
    """A message normalised for triage; every field has a value even when the mail is broken."""

    sender_name: str
    sender_address: str
    reply_to: str
    to_count: int
    subject: str
    date: datetime | None
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    list_id: str
    precedence: str
    list_unsubscribe: str
    auto_submitted: str
    text: str
    """The full text body (text/plain preferred, HTML converted), capped at ``parser.MAX_TEXT``."""
    clean_text: str
    """The new text only: quotes, attribution lines and signatures removed; what the classifier reads."""
    html_only: bool
    attachments: tuple[Attachment, ...]
    size: int
    defects: tuple[str, ...] = field(default=())
    """What was wrong with the message and how it was worked around (for the log, never fatal)."""
    derived: dict[Hashable, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)
    """What later stages compute from this message alone, kept with it by :func:`memo` so that each is
    computed once, and may be computed ahead, in the reader process (see :mod:`bot.prepare`)."""

    @property
    def is_bulk(self) -> bool:
        """True for mailing-list, newsletter and machine-sent mail: nobody wrote it to the owner personally."""
        return bool(
            self.list_id
            or self.list_unsubscribe
            or self.precedence.lower() in ("bulk", "list", "junk")
            or (self.auto_submitted and self.auto_submitted.lower() != "no")
        )

    @property
    def sender(self) -> str:
        """The sender as people read it: ``Name <address>``, or whichever part exists."""
        if self.sender_name and self.sender_address:
            return f"{self.sender_name} <{self.sender_address}>"
        return self.sender_name or self.sender_address


def identity(mail: ParsedMail) -> str:
    """What tells this message from every other: its Message-ID, or for a message without one, a hash of its
    sender, date and subject (``fp:...``), the same whether it is computed from the whole message or from
    those header fields alone (a re-sync after a UIDVALIDITY change fetches only those). Empty when there
    is nothing to tell it by."""
    if mail.message_id:
        return mail.message_id
    if not (mail.sender_address or mail.date or mail.subject):
        return ""
    basis = "\x00".join((mail.sender_address, mail.date.isoformat() if mail.date else "", mail.subject))
    return "fp:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def memo(mail: ParsedMail, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, a value that depends on ``mail`` alone (and on what ``key`` names), computed once per
    message. Values must not be changed by their users: they may be shared, and crossed processes."""
    try:
        return mail.derived[key]  # type: ignore[no-any-return]
    except KeyError:
        value = mail.derived[key] = compute()
        return value


@dataclass(frozen=True)
class Prediction:
    """The classifier's answer for one message."""

    label: Label
    confidence: float
    probabilities: dict[str, float]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    """Everything mentorbox decided about one message; what triage prints and the store records."""

    label: Label
    confidence: float
    unsure: bool
    priority: bool
    reasons: tuple[str, ...]
    faq: tuple[str, ...]
    draft: str | None
    unanswered: tuple[str, ...] = ()
    """Questions found in the message that no FAQ entry answers (kept for ``mentorbox faq-gaps``)."""
    promise_due: date | None = None
    """For a lead: the earliest date by which the sender promised a next step ("within two weeks")."""
