"""Lead priority: should the owner see this PhD offer or job lead on their phone right now?

A first, transparent version: a weighted sum of a few signals, each named in ``reasons``. The owner can
read why a lead was (or was not) pushed; the weights are deliberately simple until the labelled priority
set exists to tune them against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.models import ParsedMail, Prediction

LEAD_LABELS = ("phd_offer", "job_lead")
_REFERRAL = re.compile(r"\b(refer(ral|red)?|recommend(ation)?|put (in )?a (good )?word|pass (on )?your (cv|resume))\b", re.I)
_MEETING = re.compile(r"\b(interview|call|chat|meet(ing)?|zoom|teams|google meet)\b", re.I)


@dataclass(frozen=True)
class PriorityResult:
    """The score, whether it crosses the threshold, and why."""

    score: float
    priority: bool
    reasons: tuple[str, ...]


def _vip_match(mail: ParsedMail, vips: tuple[str, ...]) -> str:
    haystack = f"{mail.sender_name} {mail.sender_address} {mail.clean_text[-600:]}".lower()
    for vip in vips:
        if vip.lower() in haystack:
            return vip
    return ""


def score(mail: ParsedMail, prediction: Prediction, *, threshold: float, vips: tuple[str, ...] = ()) -> PriorityResult:
    """Score a classified message; only leads and VIP mail can be a priority."""
    vip = _vip_match(mail, vips) if vips else ""
    if prediction.label not in LEAD_LABELS and not vip:
        return PriorityResult(0.0, False, ())
    points = 0.5 * prediction.confidence if prediction.label in LEAD_LABELS else 0.0
    reasons: list[str] = []
    if vip:
        points += 0.4
        reasons.append(f"priority: VIP {vip!r}")
    if _REFERRAL.search(mail.clean_text):
        points += 0.25
        reasons.append("priority: referral or recommendation")
    if _MEETING.search(mail.clean_text):
        points += 0.1
        reasons.append("priority: invitation to talk")
    if mail.is_bulk:
        points -= 0.4
        reasons.append("priority: mass mailing (list headers)")
    if mail.to_count >= 5:
        points -= 0.2
        reasons.append(f"priority: {mail.to_count} recipients")
    points = max(0.0, min(1.0, points))
    return PriorityResult(round(points, 3), points >= threshold, tuple(reasons))
