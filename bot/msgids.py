"""Message identifiers (Message-ID, In-Reply-To, References) as a reply may copy them.

A reply threads by copying the original's identifiers into its own header, so an identifier from mail must
be one a header line can hold: no control characters, at most :data:`MAX_MSGID` characters, at most
:data:`MAX_REFERENCES` of them. Pure: no IO.
"""

from __future__ import annotations

import re

MAX_MSGID = 250
"""Characters a message identifier may have: a longer one (real ones are under 130) is not one, and copied
into a reply's ``In-Reply-To`` or ``References`` it would make a header line longer than mail allows."""
MAX_REFERENCES = 100
"""Identifiers kept of a ``References`` field (the newest): a reply copies at most the last 20."""
_MSGID = re.compile(r"<[^<>\s\x00-\x1f\x7f-\x9f]{1,%d}>" % MAX_MSGID)


def message_ids(value: str, defects: list[str]) -> tuple[str, ...]:
    """The identifiers of a References field, the newest :data:`MAX_REFERENCES` (a cut is noted)."""
    found = _MSGID.findall(value)
    if len(found) > MAX_REFERENCES:
        defects.append(f"References of {len(found)} identifiers: the last {MAX_REFERENCES} kept")
        found = found[-MAX_REFERENCES:]
    return tuple(found)


_BARE_MSGID = re.compile(r"[^<>\s@\x00-\x1f\x7f-\x9f]+@[^<>\s@\x00-\x1f\x7f-\x9f]+")


def one_message_id(value: str, defects: list[str], name: str) -> str:
    """The message identifier of a Message-ID or In-Reply-To field; one written without its angle brackets
    (``abc@host``: some mailers do) is taken as ``<abc@host>``, so that a reply to it still threads."""
    found = _MSGID.search(value)
    if found:
        return found.group(0)
    bare = value.strip()
    if len(bare) > MAX_MSGID:
        defects.append(f"{name} longer than {MAX_MSGID} characters: ignored")
        return ""
    if _BARE_MSGID.fullmatch(bare):
        defects.append(f"{name} without angle brackets")
        return f"<{bare}>"
    return ""
