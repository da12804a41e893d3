"""Promises with a time: a table of phrasings, each with the due date relative to Tuesday 3 February 2026."""

from __future__ import annotations

from datetime import date

import pytest

from bot.promises import extract_promises

REF = date(2026, 2, 3)  # a Tuesday

CASES = [
    ("HR will reach out within two weeks.", date(2026, 2, 17)),
    ("You'll hear from our recruiter within 10 days.", date(2026, 2, 13)),
    ("We will get back to you within 5 business days.", date(2026, 2, 10)),
    ("I'll send the contract within a week.", date(2026, 2, 10)),
    ("Expect an email from HR in a couple of weeks.", date(2026, 2, 17)),
    ("We'll be in touch in a few days.", date(2026, 2, 6)),
    ("I will confirm by Friday.", date(2026, 2, 6)),
    ("We'll get back to you on Monday.", date(2026, 2, 9)),
    ("I'll call you next Tuesday.", date(2026, 2, 10)),
    ("I'll call you next Thursday.", date(2026, 2, 12)),
    ("The committee will decide by 15 March.", date(2026, 3, 15)),
    ("Interviews will be held on March 3rd.", date(2026, 3, 3)),
    ("We will send offers by 2026-03-01.", date(2026, 3, 1)),
    ("Interviews are in early March.", date(2026, 3, 10)),
    ("A decision will come mid-March.", date(2026, 3, 20)),
    ("We'll let you know by the end of March.", date(2026, 3, 31)),
    ("You should hear back in April.", date(2026, 4, 30)),
    ("I will follow up by the end of the week.", date(2026, 2, 6)),
    ("We'll send details by the end of the month.", date(2026, 2, 28)),
    ("I'll email you next week.", date(2026, 2, 13)),
    ("We'll schedule the call this week.", date(2026, 2, 6)),
    ("HR will contact you next month.", date(2026, 3, 31)),
    ("I'll reply tomorrow.", date(2026, 2, 4)),
    ("We'll be in touch in the coming days.", date(2026, 2, 7)),
    ("We'll get back to you soon.", date(2026, 2, 17)),
    ("The recruiter will reach out shortly.", date(2026, 2, 17)),
    ("We will notify all candidates by Feb 20.", date(2026, 2, 20)),
    ("Decisions will be sent on the 20th of February.", date(2026, 2, 20)),
    ("I'll update you before Thursday.", date(2026, 2, 5)),
    ("You'll receive the offer letter within one month.", date(2026, 3, 3)),
    ("we will come back to you in 2 weeks", date(2026, 2, 17)),
    ("HR will call within a fortnight.", date(2026, 2, 17)),
    ("Our committee meets next Wednesday and I will let you know after that.", date(2026, 2, 11)),
    ("I'll reach out in 3 days.", date(2026, 2, 6)),
    ("We plan to send offers by end of this month.", date(2026, 2, 28)),
    ("I will be in touch by Monday 9 February.", date(2026, 2, 9)),
    ("You should receive an answer before April 1.", date(2026, 4, 1)),
    ("We'll confirm the start date by 1 May.", date(2026, 5, 1)),
    ("Expect to hear from us by mid-February.", date(2026, 2, 20)),
    ("I'll write by late February, promise.", date(2026, 2, 28)),
    ("The team will decide at the beginning of March.", date(2026, 3, 7)),
    ("Your interview is on 2026-02-12; we'll send the link.", date(2026, 2, 12)),
    ("You will hear from us within 24 hours.", date(2026, 2, 4)),
    ("Our recruiting team usually sets up the intro call within about two weeks, they will email you.",
     date(2026, 2, 17)),
    ("yo, they'd ping you in a week or two, they will reach out", date(2026, 2, 10)),
    # A request first (its date is the owner's deadline), then the sender's own promise: the promise counts.
    ("Please confirm by 6 February - I'll update you again before the end of March.", date(2026, 3, 31)),
    ("Please apply by 20 February; I will contact you to schedule the interview within a week.", date(2026, 2, 10)),
    ("Please send your CV by 20 February, then our HR will contact you within one week.", date(2026, 2, 10)),
    ("If you are interested, please send me a CV by 20 February, and I will then arrange an interview in "
     "early March.", date(2026, 3, 10)),
    ("HR will call you next week, please keep your phone on.", date(2026, 2, 13)),
    ("I will arrange the interviews in the first week of March.", date(2026, 3, 7)),
    ("The committee will decide in the last week of February.", date(2026, 2, 28)),
    ("If you are interested, please send me a CV by 20 February, and I will then arrange a formal interview in "
     "the first week of March.", date(2026, 3, 7)),
]

NOT_PROMISES = [
    "I read your paper last March.",
    "We met on Friday.",
    "Congratulations on the spotlight!",
    "The deadline was January 5.",
    "We will hire someone eventually.",
    "I will write again on 5 January.",  # already past: not a promise to track
    # Questions and requests to the owner, not the sender's promises (a follow-up to them would be backwards):
    "Shall we have a call before the end of February?",
    "Could you send me your CV by Friday?",
    "Will you be able to confirm by Monday?",
    "Please send me your transcripts within two weeks.",
    "Kindly confirm your availability by 20 February.",
    "Please let me know your availability for the week of 16 February and I will arrange the appointment.",
    "Please review and respond by 2 March.",
    "If you are interested, please send me your CV by 27 February.",
    "In the meantime, could you reply by 6 March to confirm that you are still interested.",
]


@pytest.mark.parametrize(("sentence", "due"), CASES, ids=[c[0][:40] for c in CASES])
def test_promise_due_dates(sentence: str, due: date) -> None:
    promises = extract_promises(sentence, REF)
    assert [p.due for p in promises] == [due], promises


@pytest.mark.parametrize("sentence", NOT_PROMISES)
def test_not_promises(sentence: str) -> None:
    assert extract_promises(sentence, REF) == []


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 40


def test_promises_in_a_real_message() -> None:
    text = ("Hi Kai,\n\nI forwarded your CV to our hiring manager today. HR will contact you within two weeks to "
            "set up a call. If nothing happens by mid-February, write to me directly.\n\nBest, Priya")
    promises = extract_promises(text, REF)
    assert [(p.due, p.phrase) for p in promises] == [(date(2026, 2, 17), "within two weeks")]
    assert promises[0].sentence.startswith("HR will contact you")
