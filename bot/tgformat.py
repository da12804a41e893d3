"""What the owner reads on Telegram, and what the buttons carry. Pure: no PTB, no store, no clock.

Everything dynamic (a sender's name, a subject, a summary) is HTML-escaped here, because the messages are
sent with ``parse_mode=HTML`` and one stray ``<`` from a subject line makes Telegram refuse the whole push.
Texts are split below Telegram's 4,096-character limit (counted, as Telegram counts it, in UTF-16 units) on
line boundaries.

Buttons carry at most 64 bytes of callback data. mentorbox's are short (``d:1234``) and are *parsed*, not
trusted: :func:`parse_callback` accepts only the exact shapes produced by :func:`callback`, and the caller
also checks that the button's message is the card mentorbox sent about that very message.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.durations import ago
from bot.models import LABELS
from bot.recipient import redirected, warning
from bot.safe_text import visible

LIMIT = 4000
"""Below Telegram's 4,096 so that a prefix such as "possible repeat" still fits."""
MAX_CALLBACK_BYTES = 64

Buttons = list[list[tuple[str, str]]]
"""Rows of (button text, callback data)."""

FREEMAIL = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com", "me.com",
    "proton.me", "protonmail.com", "gmx.de", "gmx.net", "web.de", "mail.ru", "yandex.ru", "qq.com", "163.com",
    "aol.com", "fastmail.com", "zoho.com",
})

HELP = """<b>mentorbox</b> — your inbox, triaged. Commands:
/status — health, last sync per folder, counts, model
/leads — open PhD offers and job leads, priority first
/pending — drafts waiting for you, per label
/show ID — one message, with buttons
/draft ID — the reply draft mentorbox put in Drafts
/label ID LABEL — correct a label (teaches the next retrain)
/done ID — mark a message or lead as dealt with
/snooze ID DURATION — put a lead aside (e.g. 3h, 2d, 1w)
/pause, /resume — stop and restart processing mail
/retrain — train a new model on your corrections, then install or discard it
/digest — today's digest now
Labels: congratulation, advice_request, phd_offer, job_lead, other."""

COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", "Health, last sync, counts, model"),
    ("leads", "Open leads, priority first"),
    ("pending", "Drafts waiting, per label"),
    ("show", "Show a message: /show ID"),
    ("draft", "Show a draft: /draft ID"),
    ("label", "Correct a label: /label ID LABEL"),
    ("done", "Mark done: /done ID"),
    ("snooze", "Snooze a lead: /snooze ID 2d"),
    ("pause", "Pause processing"),
    ("resume", "Resume processing"),
    ("retrain", "Retrain the model"),
    ("digest", "The digest now"),
    ("help", "What mentorbox can do"),
)
"""Registered with setMyCommands so the Telegram client offers them."""


def esc(text: object) -> str:
    """Escape any text for parse_mode=HTML, with control and bidi characters shown, not obeyed (a
    right-to-left override in a subject would show ``exe.pdf`` for ``fdp.exe``)."""
    return html.escape(visible(text, keep_newlines=True), quote=False)


def short(text: str, limit: int) -> str:
    """Collapse whitespace and cut at ``limit`` characters with an ellipsis (a 1 MB subject stays a line)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def summarize(text: str, limit: int = 300) -> str:
    """A short summary of a message's new text (the first sentences, whitespace collapsed)."""
    return short(text, limit)


def organisation(address: str) -> str:
    """The organisation a sender's address suggests: its domain, unless it is a free mail provider."""
    user, at, domain = address.rpartition("@")
    domain = domain.lower()
    return "" if not (user and at and domain) or domain in FREEMAIL else domain


def units(text: str) -> int:
    """The length Telegram counts: UTF-16 code units, two for a character outside the BMP (an emoji, the
    "𝐛𝐨𝐥𝐝" letters of styled mail), so 4,000 such characters are 8,000 and over the limit."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Split HTML text into pieces of at most ``limit`` UTF-16 units (:func:`units`), on line boundaries where
    possible.

    Lines are expected to be balanced HTML (mentorbox never opens a tag on one line and closes it on the
    next); a single line longer than ``limit`` is cut where no tag or entity would be broken.
    """
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while units(line) > limit:
            cut = _safe_cut(line, _fitting(line, limit))
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if units(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        pieces.append(current)
    return [p for p in pieces if p.strip()] or ["(empty)"]


def _fitting(line: str, limit: int) -> int:
    """The most characters of ``line`` that are at most ``limit`` UTF-16 units."""
    cut = min(len(line), limit)
    while cut > 1 and units(line[:cut]) > limit:
        cut -= max(1, (units(line[:cut]) - limit) // 2)
    return cut


def _safe_cut(line: str, limit: int) -> int:
    """A cut position <= limit not inside ``<...>`` or ``&...;``."""
    cut = limit
    window = line[max(0, cut - 12) : cut]
    for opener, closer in (("<", ">"), ("&", ";")):
        at = window.rfind(opener)
        if at != -1 and closer not in window[at:]:
            cut = max(0, cut - 12) + at
    return cut or limit


# --------------------------------------------------------------------------- callback data


@dataclass(frozen=True)
class Callback:
    """A parsed button press: ``verb`` on message row ``ref`` (or model version), with ``arg``."""

    verb: str
    ref: str
    arg: str = ""

    @property
    def card(self) -> str:
        """The card ref this button must belong to (``m:<row>`` or ``r:<version>``)."""
        return f"r:{self.ref}" if self.verb in ("ri", "rx") else f"m:{self.ref}"


VERBS = {"d": "done", "z": "snooze", "r": "relabel", "l": "label", "v": "draft", "b": "back",
         "ri": "install", "rx": "discard"}
SNOOZES = {"1d": 86_400, "1w": 7 * 86_400}
_MESSAGE_CB = re.compile(r"(d|r|v|b):([1-9]\d{0,11})|z:([1-9]\d{0,11}):(1d|1w)|l:([1-9]\d{0,11}):([0-4])", re.ASCII)
_MODEL_CB = re.compile(r"(ri|rx):([A-Za-z0-9_-][A-Za-z0-9_.-]{0,39})", re.ASCII)


def callback(verb: str, ref: int | str, arg: str = "") -> str:
    """Encode a button's data; raises ValueError rather than produce something Telegram would refuse."""
    data = f"{verb}:{ref}" + (f":{arg}" if arg else "")
    if parse_callback(data) is None or len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"bad callback data {data!r}")
    return data


def parse_callback(data: str | None) -> Callback | None:
    """The callback if ``data`` has exactly one of mentorbox's shapes, else None (ignored)."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        return None
    m = _MESSAGE_CB.fullmatch(data)
    if m:
        if m.group(1):
            return Callback(m.group(1), m.group(2))
        if m.group(3):
            return Callback("z", m.group(3), m.group(4))
        return Callback("l", m.group(5), LABELS[int(m.group(6))])
    m = _MODEL_CB.fullmatch(data)
    if m:
        return Callback(m.group(1), m.group(2))
    return None


def card_buttons(row_id: int, *, lead: bool, has_draft: bool) -> Buttons:
    """Buttons under a message card: Done, Snooze (leads), Relabel, Show draft."""
    first = [("✅ Done", callback("d", row_id))]
    if lead:
        first += [("💤 1 day", callback("z", row_id, "1d")), ("💤 1 week", callback("z", row_id, "1w"))]
    second = [("🏷 Relabel", callback("r", row_id))]
    if has_draft:
        second.append(("📝 Show draft", callback("v", row_id)))
    return [first, second]


def label_buttons(row_id: int, *, back: bool = True) -> Buttons:
    """The five labels as buttons (an unsure question, or the Relabel menu)."""
    rows: Buttons = [[(label.replace("_", " "), callback("l", row_id, str(i))) for i, label in enumerate(LABELS[:3])],
                     [(label.replace("_", " "), callback("l", row_id, str(i + 3)))
                      for i, label in enumerate(LABELS[3:])]]
    if back:
        rows.append([("« back", callback("b", row_id))])
    return rows


def retrain_buttons(version: str) -> Buttons:
    """Install or discard a retrained model."""
    return [[("Install", callback("ri", version)), ("Discard", callback("rx", version))]]


# --------------------------------------------------------------------------- cards


def _reasons(row: Mapping[str, Any]) -> list[str]:
    try:
        return [str(r) for r in json.loads(row["reasons"] or "[]")]
    except (TypeError, ValueError):
        return []


def _when(value: Any) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)).strftime("%d %b %Y %H:%M")
    except ValueError:
        return str(value)


def card(row: Mapping[str, Any], lead: Mapping[str, Any] | None, *, what: str, has_draft: bool,
         promise: str = "", recipient: str = "") -> tuple[str, Buttons]:
    """The text and buttons for one message.

    ``what``: ``lead`` (a priority push), ``question`` (unsure: which label?), ``wake`` (a snooze ended),
    ``nudge-promise`` / ``nudge-respond`` (a follow-up is due), ``show`` (asked for with /show).
    ``recipient``: the draft's To (empty when its text is no longer kept); named on the card, with a warning
    when it is not the sender's address.
    """
    label = str(row["label"] or "other")
    org = organisation(str(row["address"] or ""))
    title = {
        "lead": f"🔔 <b>Priority {esc(label.replace('_', ' '))}</b>",
        "question": "❓ <b>Not sure about this one: which label?</b>",
        "wake": f"⏰ <b>Snooze over: {esc(label.replace('_', ' '))}</b>",
        "nudge-promise": "📅 <b>A promised date has passed without news</b>",
        "nudge-respond": f"⌛ <b>Still unanswered: {esc(label.replace('_', ' '))}</b>",
    }.get(what, f"<b>{esc(label.replace('_', ' '))}</b>")
    lines = [f"{title}  #{row['id']}",
             f"<b>From:</b> {esc(short(str(row['sender'] or '(unknown sender)'), 120))}"
             + (f" ({esc(org)})" if org else ""),
             f"<b>Subject:</b> {esc(short(str(row['subject'] or '(no subject)'), 200))}"]
    when = _when(row["date"])
    if when:
        lines.append(f"<b>Date:</b> {esc(when)}")
    if row["summary"]:
        lines.append(f"<i>{esc(short(str(row['summary']), 400))}</i>")
    reasons = _reasons(row)
    why = [r for r in reasons if r.startswith(("priority", "promise"))]
    if why and what != "question":
        lines.append("<b>Why:</b> " + esc(short("; ".join(why), 500)))
    if promise:
        lines.append(f"<b>Promised:</b> {esc(promise)}")
    model = [r for r in reasons if not r.startswith(("priority", "promise", "faq ", "no FAQ", "unsure"))]
    confidence = row["confidence"]
    sure = f"{label.replace('_', ' ')}, confidence {confidence:.2f}" if confidence is not None else label
    lines.append(f"<b>Model:</b> {esc(sure)}" + (f" ({esc(short(', '.join(model[:3]), 200))})" if model else ""))
    if lead is not None:
        lines.append(f"<b>Lead:</b> {esc(lead['state'])}")
    if has_draft:
        to = short(recipient, 200)
        lines.append(f"📝 A reply draft{f' to {esc(to)}' if to else ''} is in your Drafts folder.")
        if to and redirected(recipient, str(row.get("address") or "")):
            lines.append(f"<b>{esc(warning(to))}</b>")
    if what.startswith("nudge") and has_draft:
        lines.append("A polite follow-up draft is in your Drafts folder.")
    buttons = label_buttons(int(row["id"]), back=False) if what == "question" else \
        card_buttons(int(row["id"]), lead=lead is not None, has_draft=has_draft)
    return "\n".join(lines), buttons


def possible_repeat(text: str) -> str:
    """Mark a resend whose first attempt may have arrived (a timeout: Telegram cannot be asked)."""
    return "♻️ <i>possible repeat (an earlier send timed out)</i>\n" + text


def leads_text(leads: Sequence[Mapping[str, Any]], now: float) -> str:
    """Open leads, priority first, one line each."""
    if not leads:
        return "No open leads. 🎉"
    lines = [f"<b>Open leads: {len(leads)}</b> ({sum(1 for x in leads if x['priority'])} priority)"]
    for lead in leads[:40]:
        age = max(0, int((now - float(lead["created_at"])) // 86_400))
        flag = "🔴" if lead["priority"] else "⚪"
        due = f", promised by {lead['promise_due']}" if lead["promise_due"] else ""
        lines.append(f"{flag} /show_{lead['message_row']} {esc(lead['label'].replace('_', ' '))} — "
                     f"{esc(short(str(lead['correspondent']), 60))}: {esc(short(str(lead['subject']), 80))} "
                     f"({esc(lead['state'])}, {age} d{esc(due)})")
    if len(leads) > 40:
        lines.append(f"… and {len(leads) - 40} more")
    return "\n".join(lines)


def pending_text(per_label: Mapping[str, int], recent: Sequence[Mapping[str, Any]]) -> str:
    """Drafts waiting for the owner, per label, then the latest ones."""
    total = sum(per_label.values())
    if not total:
        return "No drafts waiting."
    lines = [f"<b>Drafts waiting: {total}</b>"]
    lines += [f"  {esc(label.replace('_', ' '))}: {per_label[label]}" for label in LABELS if per_label.get(label)]
    if recent:
        lines.append("Latest:")
        lines += [f"  /draft_{r['id']} {esc(short(str(r['sender']), 50))}: {esc(short(str(r['subject']), 70))}"
                  for r in recent]
    return "\n".join(lines)


def status_text(*, now: float, paused: bool, folders: Sequence[Mapping[str, Any]], counts: Mapping[str, int],
                leads: tuple[int, int], outbox: Mapping[str, int], model: str, metrics: Mapping[str, Any],
                problems: Sequence[str]) -> str:
    """The /status answer: health first, then per folder, counts and the model."""
    head = "⏸ <b>Paused</b> (/resume to go on)" if paused else (
        "⚠️ <b>Problems</b>" if problems else "✅ <b>All good</b>")
    lines = [head]
    lines += [f"• {esc(p)}" for p in problems]
    for f in folders:
        last = f"last sync {ago(now - f['last_ok'])} ago" if f.get("last_ok") else "not synced yet"
        err = f", error: {esc(short(str(f['error']), 120))}" if f.get("error") else ""
        lines.append(f"<b>{esc(f['where'])}</b>: {last}{err}; {f.get('failed', 0)} failed")
    total = sum(counts.values())
    lines.append(f"Messages: {total}" + (" (" + ", ".join(
        f"{label.replace('_', ' ')} {counts[label]}" for label in LABELS if counts.get(label)) + ")" if total else ""))
    lines.append(f"Open leads: {leads[0]} ({leads[1]} priority)")
    waiting = outbox.get("pending", 0) + outbox.get("claimed", 0)
    lines.append(f"Actions waiting: {waiting}; given up: {outbox.get('failed', 0)}")
    f1 = metrics.get("macro_f1")
    lines.append(f"Model: {esc(model)}" + (f", held-out macro-F1 {f1:.3f}" if isinstance(f1, (int, float)) else ""))
    return "\n".join(lines)

