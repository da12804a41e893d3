"""Quoting the original under a reply, and reflowing text to mail's line width (pure text, nothing else).

Kept apart from :mod:`bot.drafting` (which needs Jinja) so that the reader process can quote a backlog's
messages ahead of time without loading it: quoting is a good part of what a draft costs.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from email.utils import format_datetime

from bot.models import ParsedMail, memo

WRAP = 72
"""Columns of a draft's lines."""
QUOTE_LIMIT = 2000
"""Characters of the original quoted under a reply."""


def _keep_as_is(line: str) -> bool:
    return not line.strip() or line.startswith((">", " ", "\t", "-", "*", "•")) or "://" in line


_NOT_A_SPACE = re.compile(r"[^\S ]")
"""Whitespace other than the plain space: textwrap treats those specially, so such text goes to textwrap."""


def fill_spaces(text: str, width: int) -> list[str]:
    """``textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)`` for text whose only
    whitespace is the plain space and that starts with a word: the same lines, found with ``rfind`` on the
    string instead of textwrap's chunk-by-chunk loop (drafts quote up to 2,000 characters of every message).
    """
    if not text or text[0] == " " or _NOT_A_SPACE.search(text):
        return textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False)
    lines: list[str] = []
    size, i = len(text), 0
    while i < size:
        while i < size and text[i] == " ":  # spaces at the start of a following line are dropped
            i += 1
        if i >= size:
            break
        end = i + width
        if end >= size:
            j = size
        elif (text[end - 1] == " ") != (text[end] == " "):  # a word or a run of spaces ends exactly at width
            j = end
        elif text[end] == " ":  # a run of spaces crosses the width: the line ends before it
            j = i + len(text[i:end].rstrip(" "))
        else:  # a word crosses the width: it starts the next line, or is alone on this one if it is too long
            space = text.rfind(" ", i, end)
            if space == -1:
                found = text.find(" ", i)
                j = size if found == -1 else found
            else:
                j = space + 1
        line = text[i:j].rstrip(" ")
        if line:
            lines.append(line)
        i = j
    return lines


def wrap_text(text: str, width: int = WRAP, *, fill: Callable[[str, int], Sequence[str]] = fill_spaces) -> str:
    """Reflow each paragraph to ``width`` columns; quotes, lists, indented lines and URLs are kept as they are.

    Templates are written with their own line breaks; joining a paragraph's lines before wrapping avoids
    the ragged "one long line, one short line" look when a template line is a few characters too long.
    A short line is never joined to the next one, so "Best wishes," stays above the signature. ``fill``
    wraps one paragraph (:func:`fill_spaces`, or a cached copy of it for text that repeats).
    """
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            joined = " ".join(part.strip() for part in paragraph)
            out.extend(fill(joined, width))
            paragraph.clear()

    for line in text.split("\n"):
        if _keep_as_is(line):
            flush()
            out.append(line)
        else:
            paragraph.append(line)
            if len(line) < width * 0.6:  # a short line ends its paragraph: closings, signatures, lists
                flush()
    flush()
    return "\n".join(out)


def quote(mail: ParsedMail, limit: int = QUOTE_LIMIT) -> str:
    """The original, quoted under an attribution line (its first ``limit`` characters: a reply needs the
    context, not the whole thread the sender kept below their message). Computed once per message."""
    return memo(mail, ("quote", limit), lambda: _quote(mail, limit))


def _quote(mail: ParsedMail, limit: int) -> str:
    when = format_datetime(mail.date) if mail.date else "an earlier date"
    who = mail.sender or "the sender"
    body = _stripped_head(mail.text, limit)
    quoted = "\n".join(("> " + line).rstrip() for line in wrap_text(body, WRAP - 2).split("\n"))
    attribution = f"On {when}, {who} wrote:"
    # Without a hyphen, textwrap's breaking at hyphens has nothing to do: fill_spaces gives its lines, 3x faster.
    lines = (fill_spaces(attribution, WRAP) if "-" not in attribution
             else textwrap.wrap(attribution, width=WRAP, break_long_words=False))
    return "\n".join(lines) + f"\n{quoted}"


_LEADING_SPACE = re.compile(r"\s*")


def _stripped_head(text: str, limit: int) -> str:
    """``text.strip()``, cut to its first ``limit`` characters (then marked ``[...]``), without copying the
    whole text first: most of a long message is the thread quoted below it."""
    start = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]  # (\s* always matches)
    end = len(text)
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start > limit:
        return text[start : start + limit].rstrip() + "\n[...]"
    return text[start:end]
