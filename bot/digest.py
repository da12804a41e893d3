"""The daily digest: what came in, what waits for the owner, which leads are open and which promises are due.

Pure: it formats numbers and rows the caller read from the store, for a given "now", so the same text can be
printed by ``mentorbox digest`` and (later) sent on Telegram, and tested with any clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from bot.models import LABELS
from bot.safe_text import one_line


def render_digest(now: datetime, new: Mapping[str, int], drafts: Mapping[str, int],
                  leads: Sequence[Mapping[str, Any]], nudges: int = 0) -> str:
    """The digest as plain text: new mail per label (last 24 h), drafts waiting, open leads, promises due,
    and how many nudges were sent in the last 24 hours. A lead's correspondent and subject are one visible
    line each, cut to a length: they come from mail, and the digest is printed and sent to Telegram."""
    today = now.date()
    lines = [f"mentorbox digest, {now:%A %d %B %Y %H:%M}", ""]
    total = sum(new.values())
    lines.append(f"New in the last 24 hours: {total}" + (": " + ", ".join(
        f"{label.replace('_', ' ')} {new[label]}" for label in LABELS if new.get(label)) if total else ""))
    waiting = sum(drafts.values())
    lines.append(f"Drafts waiting for you: {waiting}" + (": " + ", ".join(
        f"{label.replace('_', ' ')} {drafts[label]}" for label in LABELS if drafts.get(label)) if waiting else ""))
    lines.append("")
    due = [lead for lead in leads if lead.get("promise_due") and date.fromisoformat(lead["promise_due"]) <= today]
    lines.append(f"Open leads: {len(leads)}" + (f" ({sum(1 for lead in leads if lead.get('priority'))} priority)"
                                                 if leads else ""))
    for lead in leads[:15]:
        age = (today - datetime.fromtimestamp(lead["created_at"]).date()).days
        flag = "!" if lead.get("priority") else " "
        promise = f", promised by {lead['promise_due']}" if lead.get("promise_due") else ""
        lines.append(f" {flag} #{lead['id']} {lead['label'].replace('_', ' ')} from "
                     f"{one_line(lead['correspondent'], 80)}: \"{one_line(lead['subject'], 120)}\" "
                     f"({lead['state']}, {age} d old{promise})")
    if len(leads) > 15:
        lines.append(f"   ... and {len(leads) - 15} more")
    lines.append("")
    lines.append(f"Promises due or overdue: {len(due)}")
    for lead in due:
        overdue = (today - date.fromisoformat(lead["promise_due"])).days
        lines.append(f"   #{lead['id']} {one_line(lead['correspondent'], 80)}: due {lead['promise_due']}"
                     + (f", {overdue} d overdue" if overdue else ", due today"))
    lines.append(f"Nudges sent in the last 24 hours: {nudges}")
    return "\n".join(lines)
