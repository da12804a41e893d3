"""Addresses as a reply may use them: read as written, one at a time, never made up.

A reply goes to the Reply-To or From address, and mentorbox must never address it to anyone the sender did
not write there: not to addresses decoded out of encoded words (RFC 2047 forbids them in an addr-spec), not
to one the standard library's lax parser assembles out of other text, not to one that shows as another (an
invisible character, which IDNA would then map away). Pure: no IO.
"""

from __future__ import annotations

import re
import unicodedata

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_WORD = r"[^()<>@,:;\"\[\]\\\s]+"
_SIMPLE_ADDRESS = re.compile(
    rf"[ \t]*(?:(?:\"(?P<quoted>[^\"\\\r\n]*)\"|(?P<plain>{_WORD}(?:[ \t]+{_WORD})*))?"
    rf"[ \t]*<(?P<routed>{_ADDR_SPEC})>|(?P<bare>{_ADDR_SPEC}))[ \t]*"
)
"""One address in its common forms (``a@b``, ``Name <a@b>``, ``"Doe, Jane" <a@b>``): what
``email.utils.getaddresses`` returns for those is read off the match; any other form goes to it."""


def simple_address(value: str) -> tuple[str, str] | None:
    """``(name, address)`` as ``getaddresses`` gives it for one address in a common form, else None."""
    found = _SIMPLE_ADDRESS.fullmatch(value)
    if found is None:
        return None
    if found["bare"]:
        return "", found["bare"]
    name = found["quoted"] if found["quoted"] is not None else " ".join((found["plain"] or "").split())
    return name, found["routed"]


_ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f,;:<>()\[\]\\\"@]{1,64}@[^\s\x00-\x1f\x7f,;:<>()\[\]\\\"@=?]{1,253}")
"""An address a reply can go to: one local part and one domain, as written (ASCII or UTF-8, RFC 6532), no
room for a second address. Quoted local parts and address literals are left out: nobody writes from them."""


def usable_address(address: str) -> bool:
    """Whether ``address`` is one plain address a reply may be sent to.

    The address is taken from the header as written and never decoded: RFC 2047 forbids encoded words in an
    addr-spec, and one that is decoded can become several addresses
    (``=?utf-8?q?jane=40uni.edu=2C_boss=40x.dk?=@evil.example``). Such an address is unusable: no reply is
    drafted to it. So is one holding an invisible or control character (``prof@deep\u200bmind.com``, which
    looks like another address and which IDNA would map to it).
    """
    return (len(address) <= 254 and "=?" not in address and _ADDRESS.fullmatch(address) is not None
            and not address.endswith(".") and ".." not in address.partition("@")[2]
            and (address.isascii() or not any(unicodedata.category(c)[0] in "CZ" for c in address)))


MAX_ADDRESSES = 20
"""Addresses read of one From or Reply-To field: a reply uses the first usable one, and checking each against
the field (:func:`as_written`) takes time by the field's length (a From of 2,000 addresses took seconds)."""

NOT_WRITTEN = "=?not-as-written?="
"""Stands for an address the stdlib made up out of a header (no usable address, see :func:`as_written`)."""
_BEFORE = frozenset(("", "<", ",", ":", ";", " ", "\t"))
_AFTER = frozenset(("", ">", ",", ";", " ", "\t"))


def as_written(address: str, values: list[str]) -> bool:
    """Whether ``address`` stands in one of the header ``values`` as a whole (after ``<``, a comma, a colon or
    a space; before ``>``, a comma or a space). ``getaddresses`` reads addresses out of text that holds none:
    out of ``=?utf-8?q?=1B[2J=0Afake?=@evil.example`` it makes ``2J=0Afake?=@evil.example``."""
    if not address:
        return True
    for value in values:
        at = value.find(address)
        while at >= 0:
            end = at + len(address)
            if value[at - 1 : at] in _BEFORE and value[end : end + 1] in _AFTER:
                return True
            at = value.find(address, at + 1)
    return False
