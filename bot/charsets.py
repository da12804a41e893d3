"""Declared charsets -> text, never raising, whatever name a mail declares.

Mail names its charset itself, and a stranger can name any codec Python has: ``undefined`` (which always
raises), ``punycode`` and ``idna`` (which raise on ordinary text and take quadratic time on long input), the
escape codecs, or bytes-to-bytes transforms such as ``base64`` and ``zlib``. Only text encodings mail is
written in are used; for any other name the text is read with a fallback. Pure: no IO.
"""

from __future__ import annotations

import codecs
import encodings
import encodings.aliases
import pkgutil
from functools import lru_cache


def _mail_charsets() -> frozenset[str]:
    """Every name :func:`codecs.lookup` could resolve, normalised as :mod:`encodings` does: a name outside
    this set is unknown without asking ``codecs``, whose search function remembers every name it is asked
    for (mail can declare millions of different made-up charsets)."""
    names = {m.name for m in pkgutil.iter_modules(encodings.__path__)}
    return frozenset(names | set(encodings.aliases.aliases))


_KNOWN_CHARSETS = _mail_charsets()
_NOT_MAIL_CHARSETS = frozenset({"undefined", "punycode", "idna", "unicode_escape", "raw_unicode_escape",
                                "mbcs", "oem", "aliases"})
"""Codecs Python knows that no mail is written in: ``undefined`` always raises, ``punycode`` and ``idna``
raise on ordinary text and take quadratic time on long input, the escape codecs read backslashes as
escapes (``mbcs`` and ``oem`` exist on Windows only). A part that declares one is read as if its charset
were unknown."""


@lru_cache(maxsize=512)
def _charset_ok(name: str) -> str | None:
    """The codec name for a declared charset, or None when it is unknown, not a text encoding (``base64``,
    ``rot13``, ``zlib``: bytes-to-bytes transforms) or one of :data:`_NOT_MAIL_CHARSETS`."""
    if len(name) > 64:
        return None
    normal = encodings.normalize_encoding(name)
    if normal not in _KNOWN_CHARSETS and normal.replace(".", "_") not in _KNOWN_CHARSETS:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name.replace("-", "_") in _NOT_MAIL_CHARSETS:
        return None
    return info.name


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, bool]:
    """Decode ``data`` with its declared charset, falling back to UTF-8 then Windows-1252. Never raises.

    Returns the text and whether the declared charset was not used (unknown, not a charset mail is written
    in, or one that did not fit the bytes). Windows-1252 is the last resort because it maps every byte but
    five, and UTF-8 with replacement characters catches those.
    """
    candidates: list[str] = []
    unknown = False
    if declared:
        found = _charset_ok(declared.strip().strip('"').lower())
        if found:
            # us-ascii is a common lie for 8-bit text; utf-8 and cp1252 are supersets, try them in its place.
            candidates.append("utf-8" if found == "ascii" else found)
        else:
            unknown = True
    for fallback in ("utf-8", "cp1252"):
        if fallback not in candidates:
            candidates.append(fallback)
    for i, charset in enumerate(candidates):
        try:
            return data.decode(charset), unknown or (i > 0 and bool(declared))
        except Exception:  # noqa: BLE001 - UnicodeError, and whatever else a codec's decoder may raise
            continue
    return data.decode("utf-8", errors="replace"), True
