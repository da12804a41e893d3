"""How to greet a sender: a first name from a display name or an address, or nothing (a neutral greeting).

"Dr. Jane Q. Doe" -> Jane, "Doe, Jane" -> Jane, "jane.doe@x" -> Jane, "PROF. MARIA GARCIA" -> Maria,
"noreply@github.com" -> "" (nobody to greet). A wrong name is worse than none, so anything doubtful
returns "".
"""

from __future__ import annotations

import re

_TITLES = frozenset(
    "dr dr. prof prof. professor mr mr. mrs mrs. ms ms. miss mx mx. sir madam dame herr frau mme mme. mlle m. "
    "sr sr. sra sra. dott dott. ing ing. assoc asst associate assistant phd ph.d. md".split()
)
_ROLE_WORDS = frozenset(
    "team admin support info noreply no-reply notifications notification newsletter office hr careers jobs "
    "recruiting talent hello contact mail marketing news digest service bot github linkedin twitter google "
    "the at via on behalf of".split()
)
_NAME_CHARS = re.compile(r"^[^\W\d_][^\W\d_'’.-]*$", re.UNICODE)


def _cap(word: str) -> str:
    if word.isupper() or word.islower():
        return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))
    return word


def first_name(display_name: str, address: str = "") -> str:
    """The sender's first name, or "" when it cannot be told with confidence."""
    name = re.sub(r"\(.*?\)|\[.*?\]|\".*?\"|<.*?>", " ", display_name or "").strip().strip("'\"")
    if "@" in name:
        name = ""
    if "," in name:  # "Doe, Jane" or "Jane Doe, PhD"
        before, _, after = name.partition(",")
        after_words = [w for w in after.split() if w.lower().strip(".") not in _TITLES]
        name = after if after_words and len(before.split()) == 1 else before
    words = [w.strip(".,;:") for w in name.split()]
    words = [w for w in words if w and w.lower() not in _TITLES and w.lower().rstrip(".") not in _TITLES]
    if words:
        if any(w.lower() in _ROLE_WORDS for w in words):
            return ""
        first = words[0]
        if len(first.rstrip(".")) <= 1 and len(words) > 1:  # "J. Doe": an initial is not a name
            return ""
        return _cap(first) if _NAME_CHARS.match(first) else ""
    local = (address or "").partition("@")[0].lower()
    parts = [p for p in re.split(r"[._+-]", local) if p]
    if len(parts) >= 2 and parts[0].isalpha() and len(parts[0]) >= 2 and parts[0] not in _ROLE_WORDS:
        return _cap(parts[0])
    return ""
