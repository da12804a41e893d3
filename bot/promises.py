"""Promises with a time in them: "HR will call within two weeks", "we'll get back to you by Friday".

A lead goes silent when nobody notices that a promised next step did not happen. This module finds the
sentences that promise something from the sender's side together with when, and turns the time phrase into
a due date relative to the message's date. Pure: text and a reference date in, promises out. Vague phrases
("soon", "shortly") get a generous date rather than none, because a late nudge beats a lead that is
forgotten.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.patterns import screened

_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "a couple of": 2, "few": 3, "a few": 3}
_WEEKDAYS = {name: i for i, names in enumerate(
    [("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thurs"),
     ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")]) for name in names}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9

_NUM = r"(\d+|a couple of|couple of|a few|few|an?|one|two|three|four|five|six|seven|eight|nine|ten)"
_UNIT = r"(business days?|working days?|hours?|days?|weeks?|fortnight|months?)"
_WD = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thurs?|fri)"
_MON = (r"(january|february|march|april|may|june|july|august|september|october|november|december|"
        r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)")

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("within", re.compile(rf"\b(within|in|over) (?:the next |the coming )?(?:about |around |roughly |approximately "
                          rf"|another |the next )?{_NUM} {_UNIT}\b", re.I)),
    ("fortnight", re.compile(r"\b(within|in) a fortnight\b", re.I)),
    ("next_weekday", re.compile(rf"\bnext {_WD}\b", re.I)),
    ("weekday", re.compile(rf"\b(by|on|this|before|until|till|latest) (the )?{_WD}\b", re.I)),
    ("day_month", re.compile(rf"\b(\d{{1,2}})(st|nd|rd|th)?( of)? {_MON}\b", re.I)),
    ("month_day", re.compile(rf"\b{_MON} (\d{{1,2}})(st|nd|rd|th)?\b", re.I)),
    ("iso", re.compile(r"\b(20\d\d)-(\d\d)-(\d\d)\b")),
    ("week_of_month", re.compile(rf"\b(first|second|third|fourth|last) week of {_MON}\b", re.I)),
    ("part_of_month", re.compile(rf"\b(early|mid|late|the end of|end of|beginning of|the beginning of)[- ]{_MON}\b",
                                 re.I)),
    ("in_month", re.compile(rf"\b(in|during|by) {_MON}\b", re.I)),
    ("end_of_week", re.compile(r"\b(by |before )?(the )?end of (the|this) week\b", re.I)),
    ("end_of_month", re.compile(r"\b(by |before )?(the )?end of (the|this) month\b", re.I)),
    ("next_week", re.compile(r"\b(next|the coming|the following) week\b", re.I)),
    ("this_week", re.compile(r"\b(this|later this) week\b", re.I)),
    ("next_month", re.compile(r"\bnext month\b", re.I)),
    ("tomorrow", re.compile(r"\btomorrow\b", re.I)),
    ("coming_days", re.compile(r"\b(in the (next|coming) (few )?days|in a few days|over the next (few )?days)\b",
                               re.I)),
    ("soon", re.compile(r"\b(soon|shortly|in due course|before long)\b", re.I)),
]
# Lower case, run on lower-cased sentences (re.I makes it three times slower), screened (bot.patterns).
_CUE = screened(
    "'bcdefghilnprsuw",
    r"\b(will|'ll|shall|going to|expect|should (hear|get|receive)|hear (back )?from|get back|reach out|be in touch|"
    r"contact you|send|schedule|follow up|confirm|let you know|decision|interviews? (are|will)|"
    r"call you|email you|reply|respond|notify|update you|come back|get in touch|circle back|be in contact|"
    r"reach you|plan to|receive)\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=[-•*])")


@dataclass(frozen=True)
class Promise:
    """A promised next step and when it is due."""

    due: date
    phrase: str
    """The time phrase as written ("within two weeks")."""
    sentence: str


def _number(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() else _NUMBERS.get(text, 1)


def _add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _next_weekday(ref: date, weekday: int, *, following_week: bool = False) -> date:
    ahead = (weekday - ref.weekday()) % 7 or 7
    due = ref + timedelta(days=ahead)
    if following_week and due.isocalendar()[1] == ref.isocalendar()[1]:
        due += timedelta(days=7)
    return due


def _upcoming(ref: date, month: int, day: int) -> date | None:
    """``day month`` in the reference year, or the next year when that is already past by more than a month."""
    for year in (ref.year, ref.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= ref - timedelta(days=31):
            return candidate
    return None


def _resolve(kind: str, m: re.Match[str], ref: date) -> date | None:
    g = [x.lower() if isinstance(x, str) else x for x in m.groups()]
    if kind == "within":
        n, unit = _number(g[1]), g[2]
        if unit.startswith(("business", "working")):
            return _add_business_days(ref, n)
        if unit.startswith("hour"):
            return ref + timedelta(days=-(-n // 24))
        if unit.startswith("day"):
            return ref + timedelta(days=n)
        if unit.startswith("week"):
            return ref + timedelta(weeks=n)
        if unit == "fortnight":
            return ref + timedelta(days=14)
        return _add_months(ref, n)
    if kind == "fortnight":
        return ref + timedelta(days=14)
    if kind == "next_weekday":
        return _next_weekday(ref, _WEEKDAYS[g[0]], following_week=True)
    if kind == "weekday":
        return _next_weekday(ref, _WEEKDAYS[g[2]])
    if kind == "day_month":
        return _upcoming(ref, _MONTHS[g[3]], int(g[0]))
    if kind == "month_day":
        return _upcoming(ref, _MONTHS[g[0]], int(g[1]))
    if kind == "iso":
        try:
            return date(int(g[0]), int(g[1]), int(g[2]))
        except ValueError:
            return None
    if kind == "week_of_month":  # due at the end of that week: the 7th, 14th, ... or the month's last day
        month = _MONTHS[g[1]]
        first = _upcoming(ref, month, 1) or date(ref.year, month, 1)
        last_day = calendar.monthrange(first.year, month)[1]
        day = {"first": 7, "second": 14, "third": 21, "fourth": 28}.get(g[0], last_day)
        return date(first.year, month, day)
    if kind == "part_of_month":
        month = _MONTHS[g[1]]
        first = _upcoming(ref, month, 1) or date(ref.year, month, 1)
        last_day = calendar.monthrange(first.year, month)[1]
        day = {"early": 10, "beginning of": 7, "the beginning of": 7, "mid": 20}.get(g[0], last_day)
        return date(first.year, month, min(day, last_day))
    if kind == "in_month":
        month = _MONTHS[g[1]]
        first = _upcoming(ref, month, 1) or date(ref.year, month, 1)
        return date(first.year, month, calendar.monthrange(first.year, month)[1])
    if kind == "end_of_week":
        return ref + timedelta(days=max(0, 4 - ref.weekday())) if ref.weekday() < 5 else ref
    if kind == "end_of_month":
        return date(ref.year, ref.month, calendar.monthrange(ref.year, ref.month)[1])
    if kind == "next_week":
        return ref + timedelta(days=7 - ref.weekday() + 4)  # Friday of next week
    if kind == "this_week":
        return ref + timedelta(days=max(0, 4 - ref.weekday()))
    if kind == "next_month":
        nxt = _add_months(ref.replace(day=1), 1)
        return date(nxt.year, nxt.month, calendar.monthrange(nxt.year, nxt.month)[1])
    if kind == "tomorrow":
        return ref + timedelta(days=1)
    if kind == "coming_days":
        return ref + timedelta(days=4)
    if kind == "soon":
        return ref + timedelta(days=14)
    return None


def find_time(sentence: str, ref: date) -> tuple[date, str] | None:
    """The first time phrase of a sentence and its date (the most specific pattern wins)."""
    for kind, pattern in _PATTERNS:
        m = pattern.search(sentence)
        if m:
            due = _resolve(kind, m, ref)
            if due is not None:
                return due, m.group(0)
    return None


_ASKING = re.compile(r"(?:(?:if|to|when|once|in the meantime|meanwhile)\b[^,;]{0,60},\s*)?"
                     r"(?:please|kindly|(?:could|can|would|will) you)\b")
"""How a request to the owner starts ("could you send me your CV by Friday", "if you are interested, please
send me your CV by 20 February"): the sender asks, not promises."""
_CLAUSE_END = re.compile(r";|\s[-\u2013\u2014]\s|,?\s+(?:then|and)\s+(?=(?:i|we|they|he|she|our|my|the|hr)\b)")
"""Where a request's clause may end and the sender's own words begin ("please apply by 20 March; I will
contact you within a week")."""


def extract_promises(text: str, ref: date) -> list[Promise]:
    """Sentences that promise a next step with a time, and when each is due (relative to ``ref``).

    Questions and requests are not the sender's promises, dated or not: "shall we have a call before the end
    of January?", "please send me your transcripts by Friday" (a follow-up "is there any news?" to them would
    be the wrong way round). A request's date is left out too, while what the sender adds after it counts:
    "please confirm by 6 March - I'll update you again before the end of March" is due at the end of March.
    """
    out: list[Promise] = []
    for raw in _SENTENCE.split(text):
        sentence = " ".join(raw.split())
        if len(sentence) < 8 or sentence.endswith("?"):
            continue
        lowered = sentence.lower()
        said = sentence
        if _ASKING.match(lowered):
            rest = _CLAUSE_END.search(lowered)
            if rest is None:
                continue
            said, lowered = sentence[rest.end():], lowered[rest.end():]
        if not _CUE.search(lowered):
            continue
        found = find_time(said, ref)
        if found is not None and found[0] >= ref:
            out.append(Promise(found[0], found[1], sentence[:300]))
    return out
