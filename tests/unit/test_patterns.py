"""Screened word patterns (bot.patterns) find exactly what the patterns as written find."""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import pytest

import bot.priority as priority
import bot.promises as promises
from bot.patterns import screened
from classifier.corpus import data_dir, read_records

SCREENED = {
    **{name: getattr(priority, name) for name in ("_REFERRAL", "_MEETING", "_DATES", "_SENIOR", "_PERSONAL", "_MASS")},
    "promises._CUE": promises._CUE,
}


def unscreened(compiled: re.Pattern[str]) -> str:
    """The pattern as written, without the look-ahead :func:`screened` put in front of it."""
    head, _, rest = compiled.pattern.partition("]")
    assert head.startswith("(?=[") and rest.startswith(")"), "not a screened pattern"
    return rest[1:]


def _first(items: Any) -> tuple[set[Any], bool]:
    """The characters (or categories, like CATEGORY_DIGIT) a match of a parsed pattern can start with, and
    whether it can match the empty string. Raises on what this small analysis does not know."""
    found: set[Any] = set()
    for op, av in items:
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):  # zero-width
            continue
        if op is sre.LITERAL:
            return found | {chr(av)}, False
        if op is sre.IN:
            for kind, value in av:
                if kind is sre.LITERAL:
                    found.add(chr(value))
                elif kind is sre.RANGE:
                    found |= {chr(c) for c in range(value[0], value[1] + 1)}
                elif kind is sre.CATEGORY:
                    found.add(value)
                else:
                    raise AssertionError(f"unknown set item {kind}")
            return found, False
        if op is sre.SUBPATTERN:
            inner, empty = _first(av[3])
        elif op is sre.BRANCH:
            parts = [_first(branch) for branch in av[1]]
            inner, empty = set().union(*(p[0] for p in parts)), any(p[1] for p in parts)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            inner, empty = _first(av[2])
            empty = empty or av[0] == 0
        else:
            raise AssertionError(f"unknown pattern element {op}")
        found |= inner
        if not empty:
            return found, False
    return found, True


@pytest.mark.parametrize("name", sorted(SCREENED))
def test_the_screen_lets_through_every_first_character_of_the_pattern(name: str) -> None:
    """Derived from the pattern itself: a new alternative starting with another letter fails here."""
    compiled = SCREENED[name]
    starts, empty = _first(sre_parse.parse(unscreened(compiled)))
    assert not empty, "a pattern that can match nothing cannot be screened by its first character"
    screen = re.compile(compiled.pattern[: compiled.pattern.index("]") + 1].removeprefix("(?="))
    for start in starts:
        if start == sre.CATEGORY_DIGIT:
            assert screen.match("7") and screen.match("\u0663"), f"{name}: digits must pass the screen (\\d)"
        else:
            assert screen.match(start), f"{name}: a match can start with {start!r}, which the screen stops"


def test_the_analysis_catches_a_missing_first_character() -> None:
    """The check above is not vacuous: a screen without one of the pattern's first letters is caught."""
    starts, _ = _first(sre_parse.parse(unscreened(screened("ab", r"\b(apple|berry|cherry)\b"))))
    assert starts == {"a", "b", "c"}


def test_screened_patterns_find_what_the_patterns_as_written_find() -> None:
    records = read_records(sorted(data_dir().glob("*.jsonl")))
    texts = [f"{r.get('subject', '')}\n{r.get('body', '')}" for _, r in records]
    texts += ["Interview on ٣ March? My manager referred you; we'll reply by 2026-03-01, dear all. Prof. X"]
    assert len(texts) > 1000
    for name, compiled in SCREENED.items():
        plain = re.compile(unscreened(compiled), compiled.flags)
        for text in texts:
            lowered = text.lower()
            assert [m.span() for m in compiled.finditer(lowered)] == [m.span() for m in plain.finditer(lowered)], name
