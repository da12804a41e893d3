"""Files the owner edits by hand (the config, ``faq.toml``), read as text the way editors write them.

TOML must be UTF-8 without a byte-order mark, but Windows editors add one and other editors save in the
system's encoding; the parser's own answers to that ("invalid statement at line 1, column 1", or a
``UnicodeDecodeError``) point at nothing the owner can see.
"""

from __future__ import annotations

BOM = b"\xef\xbb\xbf"


def utf8_text(raw: bytes, what: str) -> str:
    """``raw`` as text, a UTF-8 byte-order mark dropped; ``ValueError`` naming ``what`` (e.g. "config file
    'x.toml'") and the line of the first bad byte when it is not UTF-8 text (another encoding, a binary
    file)."""
    raw = raw.removeprefix(BOM)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"{what} is not a UTF-8 text file (line {line} has the byte 0x{raw[exc.start]:02x}): "
                         "save it as UTF-8") from None
    if "\x00" in text:
        raise ValueError(f"{what} is not a UTF-8 text file (it holds NUL bytes: a binary file, or text saved as "
                         "UTF-16?)")
    return text
