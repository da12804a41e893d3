"""Where a reply goes, told to the owner before anything is sent.

A draft is addressed to the message's Reply-To when it has one, else to its From. A Reply-To that is not the
sender is how a phishing mail collects replies ("reply to collect-cvs@phish.example"), so every place the owner
reviews a draft names its recipient and says it loudly when it is not the sender. Pure: bytes and strings in,
strings out.
"""

from __future__ import annotations

from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses


def redirected(recipient: str, sender_address: str) -> bool:
    """Whether a reply to ``recipient`` does not go to ``sender_address`` (compared without case)."""
    wanted = {a.strip().lower() for a in recipient.split(",") if a.strip()}
    return bool(wanted) and wanted != {sender_address.strip().lower()}


def warning(recipient: str) -> str:
    """The one line that says a reply goes elsewhere than to the sender."""
    return f"⚠ replies go to {recipient}, not to the sender"


def draft_recipient(raw: bytes) -> str:
    """The addresses of a stored draft's ``To`` header, comma-separated ("" when it has none).

    Read from the draft itself rather than from the original, so the owner sees what the mail client will
    send. Every address is listed: a header that grew a second recipient shows both.
    """
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    try:
        message = BytesHeaderParser(policy=policy.default).parsebytes(head)
        header = message["To"]
        if header is None:
            return ""
        addresses = [a.addr_spec for a in getattr(header, "addresses", ())]
        if addresses:
            return ", ".join(a for a in addresses if a)
        return str(header).strip()
    except Exception:  # noqa: BLE001 - a header the modern parser refuses: fall back to the plain split
        plain = BytesHeaderParser(policy=policy.compat32).parsebytes(head)
        return ", ".join(addr for _name, addr in getaddresses(plain.get_all("To", [])) if addr)
