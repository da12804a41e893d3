"""Text from mail made safe to show: every control, bidi and lone-surrogate character becomes visible.

A sender writes the subject, the sender name, the questions and the body; a terminal or a log viewer acts on
some of what it is given: ESC starts colour, cursor and title sequences (and OSC 8 hyperlinks), a carriage
return or a backspace overwrites what was printed, a right-to-left override (U+202E) shows ``exe.pdf`` for
``fdp.exe``, a newline forges a log line or a table row. Such characters are never shown as themselves: each is
replaced by a visible stand-in (``␛`` for ESC, ``\\u202e`` for the override), so the owner reads exactly what
arrived and nothing acts on it. A lone surrogate (from bytes no charset could decode) would make printing
raise ``UnicodeEncodeError``; it is shown as ``\\udcXX`` instead.

Pure: no terminal, no Rich; Rich markup in the same text (``[/b]``, ``[link=...]``) is a separate concern
handled where the text is handed to Rich (:func:`bot.cli` uses ``rich.text.Text``).
"""

from __future__ import annotations

import re

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069" \
       "\u200b\u200c\u200d\u2060\ufeff\u00ad"
"""Directional marks, embeddings, overrides and isolates, which reorder what is displayed around them, and
the characters that show as nothing (zero-width space, joiners, word joiner, BOM, soft hyphen): with one,
``prof@deep\u200bmind.com`` looks exactly like ``prof@deepmind.com``."""

_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI}\ud800-\udfff]")
_UNSAFE_KEEP_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{BIDI}\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ ... ␛ ... ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    if code <= 0x9F:
        return f"\\x{code:02x}"  # C1 controls have no pictures
    return f"\\u{code:04x}"


def visible(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with every control, bidi and lone-surrogate character replaced by a visible stand-in.

    One line by default (a newline from mail would forge a row or a log line); ``keep_newlines`` keeps ``\\n``
    and tab for multi-line text such as a draft's body (a ``\\r`` is still shown, never obeyed).
    """
    return (_UNSAFE_KEEP_LINES if keep_newlines else _UNSAFE).sub(_visible, str(text))


def one_line(text: object, limit: int | None = None) -> str:
    """A one-line, visible form of ``text``: whitespace runs (newlines, tabs) collapsed to one space, other
    controls made visible, and cut at ``limit`` characters with an ellipsis (a 1 MB subject stays a line)."""
    flat = visible(" ".join(str(text).split()))
    if limit is not None and len(flat) > limit:
        flat = flat[: max(0, limit - 1)].rstrip() + "…"
    return flat


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f\u2028\u2029{BIDI}\ud800-\udfff]")


def json_line(value: object) -> str:
    """``value`` as one line of JSON, readable (non-ASCII kept) and still safe on a terminal: JSON escapes C0
    controls itself; DEL, C1, bidi, line separators and lone surrogates are written as ``\\uXXXX`` escapes
    too, so the data is exact for a program and inert for a screen."""
    import json

    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))
