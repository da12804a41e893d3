"""Which open leads need a nudge now. Pure: rows and a clock in, nudges out.

Two things go silent in the seeds' stories: a promise ("HR will call within two weeks") that nobody keeps,
and a lead the owner meant to answer and did not. Both get one nudge each:

* ``promise``: the promised date has passed (the day after it), the lead is still open and nothing more
  came from that correspondent since; the owner gets a polite follow-up draft with it;
* ``respond``: the owner has not answered within the label's target (``[followups] respond_within``),
  counted from when the lead arrived (or from the other side's latest answer).

"Once" is enforced by the caller through the outbox's dedup keys (:func:`dedup_key`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

PROMISE_STATES = ("new", "notified", "waiting")
RESPOND_STATES = ("new", "notified", "replied")


@dataclass(frozen=True)
class Nudge:
    """A nudge to send about the lead started by message ``message_row``."""

    kind: str
    """``promise`` or ``respond``."""
    message_row: int
    why: str


def dedup_key(kind: str, message_row: int) -> str:
    """The outbox key that makes a nudge happen once per lead and kind, across restarts."""
    return f"nudge:{kind}:{message_row}"


def due_nudges(leads: Sequence[Mapping[str, Any]], *, today: date, now: float,
               respond_within: Mapping[str, int], heard_from: Collection[int]) -> list[Nudge]:
    """Nudges due at ``now`` for ``leads`` (rows with message_row, label, state, promise_due, created_at,
    updated_at); ``heard_from`` holds the message rows whose correspondent wrote again since."""
    nudges: list[Nudge] = []
    for lead in leads:
        row = int(lead["message_row"])
        due = lead["promise_due"]
        if due and lead["state"] in PROMISE_STATES and row not in heard_from:
            promised = date.fromisoformat(str(due))
            if today > promised:
                nudges.append(Nudge("promise", row, f"promised by {promised.isoformat()}, "
                                                    f"{(today - promised).days} d without news"))
        target = respond_within.get(str(lead["label"]))
        if target and lead["state"] in RESPOND_STATES:
            since = float(lead["updated_at"] if lead["state"] == "replied" else lead["created_at"])
            if now - since > target:
                nudges.append(Nudge("respond", row, f"unanswered for {(now - since) / 86_400:.1f} d "
                                                    f"(target {target / 86_400:g} d)"))
    return nudges
