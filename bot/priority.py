"""Lead priority: should the owner see this PhD offer or job lead on their phone right now?

The score is a weighted sum of readable signals passed through a logistic function, so every point of it
can be shown in ``reasons``: a VIP sender (fuzzy, so "Google DeepMind", "deepmind.com" and "DeepMind
Technologies" all match), a personal referral, an invitation to a call or interview, concrete dates and
deadlines, a senior sender, mail written to the owner personally rather than to a list, and the
classifier's confidence. The weights are set by hand and the threshold was chosen on the labelled leads of
the corpus for recall first (``benchmarks/priority.py``); they live here as constants so scoring stays pure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.models import LEAD_LABELS, ParsedMail, Prediction
from bot.patterns import screened

THRESHOLD = 0.47
"""Default ``priority.threshold``: the highest whose recall on the training leads is >= 0.95 (README)."""

# The patterns are lower case and run on lower-cased text: Python's re is about three times slower with re.I,
# and these run on every lead. Each is screened by the characters its matches can start with (bot.patterns).
_REFERRAL = screened(
    "fhimnprv",
    r"\b(refer(ral|red|ring)?|recommend(ed|ation|ing)?|put (in )?a (good )?word|pass (on )?your (cv|resume|résumé)|"
    r"hand (over )?your (cv|resume)|forward(ed)? your (cv|profile|resume)|introduc(e|tion) you|vouch|nominat(e|ed|ion)|"
    r"my (team|group|lab|manager|boss|director) (is|are|would|wants|asked)|hiring manager)\b")
_MEETING = screened(
    "achimopqstvyz",
    r"\b(interview|(a|quick|short|intro|introductory|phone|video|zoom|teams) (call|chat)|call (next|this|on|at)|"
    r"hop on a call|schedule|meet(ing)? (next|this|on)|calendly|your availability|available (on|next|this)|"
    r"onsite|on-site|time slots?)\b")
_WEEKDAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri)"
_MONTH = (r"(january|february|march|april|may|june|july|august|september|october|november|december|"
          r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)")
_DATES = screened(
    r"abcdefjlmnostw\d",
    rf"\b({_WEEKDAY}\b|{_MONTH}\s+\d{{1,2}}\b|\d{{1,2}}(st|nd|rd|th)?\s+{_MONTH}\b|(early|mid|late|end of)[- ]{_MONTH}|"
    r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(/\d{2,4})?|deadline|within (a|one|two|three|\d+) (days?|weeks?)|"
    r"next week|this week|tomorrow|by (the )?end of|start date|(closes?|due) on)\b")
_SENIOR = screened(
    "cdfghlmpsv",
    r"\b(prof\.?|professor|director|head of|chair|dean|principal|vp|vice president|cto|ceo|founder|co-founder|"
    r"lead|senior|staff|distinguished|group leader|pi\b|hiring manager|manager)\b")
_PERSONAL = screened(
    "swy",
    r"\b(your (paper|work|blog|post|iclr|spotlight|visuali[sz]ation|results?|profile|background|code|experience)|"
    r"you specifically|someone like you|with you)\b")
_MASS = screened(
    "acdejmnoprtuw",
    r"\b(dear (candidate|colleague|colleagues|all|applicant|sir or madam|researcher)|to whom it may concern|"
    r"unsubscribe|please (share|forward|circulate)|multiple (roles|positions|openings)|our client|"
    r"exciting opportunit(y|ies)|came across your profile|rockstar|ninja|apply (here|now|online|via)|"
    r"open positions|we are (currently )?hiring|job alert|newsletter|mailing list)\b")

# Set by hand as priors (a logistic regression fitted on the corpus's training leads leaned on "dates" and
# generalised worse: see benchmarks/priority.py). "vip" outweighs everything: the corpus has no VIPs, the
# owner's list is personal. "confidence" enters as (confidence - 0.9).
WEIGHTS: dict[str, float] = {
    "vip": 3.0,
    "referral": 1.2,
    "meeting": 0.9,
    "dates": 0.5,
    "senior": 0.5,
    "personal": 0.9,
    "bulk": -2.5,
    "many_recipients": -1.5,
    "mass_wording": -1.4,
    "confidence": 1.0,
}
BIAS = -0.6
_READABLE = {
    "vip": "VIP", "referral": "referral or recommendation", "meeting": "invitation to a call or interview",
    "dates": "concrete dates or deadline", "senior": "senior sender", "personal": "written to you personally",
    "bulk": "mass mailing (list headers)", "many_recipients": "many recipients", "mass_wording": "mass-mail wording",
    "confidence": "classifier confidence",
}


@dataclass(frozen=True)
class PriorityResult:
    """The score (0..1), whether it reaches the threshold, and the signals behind it."""

    score: float
    priority: bool
    reasons: tuple[str, ...]


def vip_match(mail: ParsedMail, vips: tuple[str, ...]) -> str:
    """The first VIP (organisation, domain or person) that the sender or their signature matches."""
    domain = mail.sender_address.rpartition("@")[2]
    tail = mail.text[-800:].lower()
    name = mail.sender_name.lower()
    for vip in vips:
        wanted = vip.lower().strip()
        if not wanted:
            continue
        if "." in wanted and " " not in wanted:  # a domain: the sender's domain or a subdomain of it
            if domain == wanted or domain.endswith("." + wanted):
                return vip
            continue
        core = " ".join(re.sub(r"\b(technologies|inc|ltd|llc|gmbh|research|labs?|the)\b", " ", wanted).split())
        core = core or wanted
        # The most distinctive word names the organisation's domain: "Google DeepMind" -> deepmind.com.
        longest = max(core.split(), key=len)
        labels = domain.split(".")[:-1]
        if len(longest) >= 5 and any(fuzz.ratio(longest, label) >= 90 for label in labels):
            return vip
        for text in (name, tail):
            if len(core) < 6:  # "Meta", "FAIR": whole words only, or "metadata" would match
                if re.search(rf"\b{re.escape(core)}\b", text):
                    return vip
            elif fuzz.partial_ratio(core, text) >= 90:
                return vip
    return ""


def signals(mail: ParsedMail, prediction: Prediction, vips: tuple[str, ...] = ()) -> dict[str, float]:
    """The readable facts the score is built from (each 0..1)."""
    text = mail.clean_text.lower()
    head = f"{mail.sender_name}\n{mail.text[-600:]}".lower()
    return {
        "vip": 1.0 if vips and vip_match(mail, vips) else 0.0,
        "referral": 1.0 if _REFERRAL.search(text) else 0.0,
        "meeting": 1.0 if _MEETING.search(text) else 0.0,
        "dates": min(1.0, len(_DATES.findall(text)) / 2),
        "senior": 1.0 if _SENIOR.search(head) else 0.0,
        "personal": 1.0 if _PERSONAL.search(text) else 0.0,
        "bulk": 1.0 if mail.is_bulk else 0.0,
        "many_recipients": 1.0 if mail.to_count >= 5 else 0.0,
        "mass_wording": 1.0 if _MASS.search(text) else 0.0,
        "confidence": prediction.confidence - 0.9,
    }


def combine(values: dict[str, float], weights: dict[str, float] = WEIGHTS, bias: float = BIAS) -> float:
    """The logistic score of weighted signals."""
    total = bias + sum(weights[k] * v for k, v in values.items())
    return 1.0 / (1.0 + math.exp(-total))


def score(mail: ParsedMail, prediction: Prediction, *, threshold: float = THRESHOLD,
          vips: tuple[str, ...] = ()) -> PriorityResult:
    """Score a classified message; leads are scored, and any message from a VIP is a priority."""
    if prediction.label not in LEAD_LABELS:
        vip = vip_match(mail, vips) if vips else ""
        return PriorityResult(1.0, True, (f"priority: VIP {vip!r}",)) if vip else PriorityResult(0.0, False, ())
    values = signals(mail, prediction, vips)
    value = combine(values)
    pushes = sorted(((WEIGHTS[k] * v, k) for k, v in values.items() if v and k != "confidence"),
                    key=lambda p: -abs(p[0]))
    reasons = [f"priority {value:.2f}: " + ", ".join(f"{_READABLE[k]} {w:+.1f}" for w, k in pushes[:4])]
    if values["vip"]:
        reasons.append(f"priority: VIP {vip_match(mail, vips)!r}")
    return PriorityResult(round(value, 3), value >= threshold, tuple(reasons))
