"""Raw RFC 5322 bytes -> :class:`ParsedMail`. Pure, and it never raises on bad mail.

A triage bot sees everything: mail from broken mailers, spam built to confuse filters, truncated downloads.
One bad message must never stop the others, so :func:`parse_mail` works around every defect it meets,
notes it in ``defects`` and returns whatever it could read. The stdlib ``compat32`` policy is used on
purpose: it parses lazily and tolerates more than ``policy.default``, and we decode headers ourselves so
that 8-bit bytes and malformed encoded words degrade into text instead of exceptions.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.message
import email.parser
import email.utils
import quopri
import re
from datetime import datetime
from email import policy

from bot.addresses import MAX_ADDRESSES, NOT_WRITTEN, as_written, simple_address, usable_address
from bot.charsets import decode_bytes
from bot.htmltext import html_to_text
from bot.models import Attachment, ParsedMail
from bot.msgids import message_ids, one_message_id

MAX_TEXT = 1_000_000
"""Characters of body text kept for the record."""
MAX_CLEAN = 64 * 1024
"""Characters of new (unquoted) text the classifier reads: enough for any human-written mail."""
MAX_PARTS = 500
MAX_DEPTH = 100
MAX_HEADER = 4096
"""Characters kept of one decoded header value; longer ones are cut (and noted)."""
UNPARSED = "unreadable:"
"""The start of the defect of a message read only as plain text (see :func:`_unreadable`)."""
_LONE_CR = re.compile("\r(?!\n)")

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_EW_GAP = re.compile(r"(\?=)\s+(=\?)")
_FOLD = re.compile(r"\r?\n[ \t]")
_SURROGATE = re.compile("[\udc80-\udcff]")
"""Undecodable 8-bit bytes, kept by the bytes parser as lone surrogates."""


# --------------------------------------------------------------------------- text decoding helpers


def _decode_encoded_word(charset: str, encoding: str, payload: str) -> str:
    charset = charset.split("*", 1)[0]  # RFC 2231 language tag: =?utf-8*en?Q?...?=
    if encoding in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            data = base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            return payload
    else:
        data = quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)
    return decode_bytes(data, charset)[0]


def _unfold(text: str) -> str:
    """Unfold a raw header value and read raw 8-bit bytes (kept by the parser as surrogates) as text."""
    if not text.isascii() and _SURROGATE.search(text):
        text = decode_bytes(text.encode("ascii", "surrogateescape"))[0]
    if "\n" not in text and "\r" not in text:  # (most values: one line)
        return text
    return _FOLD.sub(" ", text).replace("\r", " ").replace("\n", " ")


def decode_header_value(raw: object) -> str:
    """Decode one header value: unfold it, read raw 8-bit bytes, and decode RFC 2047 encoded words."""
    if raw is None:
        return ""
    text = _unfold(str(raw))
    if "=?" in text:  # (encoded words start so)
        text = _EW_GAP.sub(r"\1\2", text)  # whitespace between two encoded words is not part of the text
        try:
            text = _ENCODED_WORD.sub(lambda m: _decode_encoded_word(m.group(1), m.group(2), m.group(3)), text)
        except Exception:  # noqa: BLE001 - a header is never worth a crash
            pass
    return text.replace("\x00", "").strip()


# --------------------------------------------------------------------------- quote and signature stripping

_ATTRIBUTION = re.compile(
    r"^(on|am|le|el|em|op|il giorno|den|dne|w dniu)\b.{0,250}\b(wrote|writes|schrieb|a écrit|escribió|escreveu"
    r"|schreef|scritto|skrev|napsal|napisał)\b.{0,120}:\s*$",
    re.IGNORECASE,
)
_FORWARD_OR_ORIGINAL = re.compile(
    r"^\s*(-{2,}\s*(original message|forwarded message|ursprüngliche nachricht|message d'origine)\s*-{2,}"
    r"|_{10,}|begin forwarded message:)\s*$",
    re.IGNORECASE,
)
_OUTLOOK_HEADER = re.compile(r"^\s*\*?(from|von|de)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|gesendet|envoyé|to|subject)\s*:", re.IGNORECASE)
_MOBILE_FOOTER = re.compile(
    r"^\s*(sent from my \w+|get outlook for \w+|sent from (yahoo mail|mail for windows|outlook)|"
    r"envoyé de mon \w+|von meinem \w+ gesendet)\b.*$",
    re.IGNORECASE,
)


def strip_quotes_and_signature(text: str) -> str:
    """Keep only the text the sender wrote now.

    Quoted replies repeat older messages (often someone else's intent) and signatures repeat the same
    titles in every mail; both would teach a classifier the wrong thing. We cut at the first attribution
    line ("On ... wrote:"), forwarded/original-message marker, Outlook header block or signature delimiter,
    and drop ``>`` lines anywhere (inline replies keep the new lines between quotes).
    """
    # Most mail is cut within its first lines: split only those, and the rest only if the loop gets there.
    lines = text.split("\n", _FIRST_LINES)
    # (stopping four lines early: the loop looks up to four lines ahead)
    kept = _kept_lines(lines, _FIRST_LINES - 4 if len(lines) > _FIRST_LINES else None)
    if kept is None:
        kept = _kept_lines(text.split("\n"), None) or []
    result = "\n".join(kept).strip()
    # Never return nothing for a message that had text: a mail that is only a quote still says something.
    return result if result else text.strip()


_FIRST_LINES = 64


def _kept_lines(lines: list[str], stop: int | None) -> list[str] | None:
    """The lines of :func:`strip_quotes_and_signature` that are kept; ``None`` when line ``stop`` is reached
    without a cut (then the caller needs every line)."""
    kept: list[str] = []
    for i, line in enumerate(lines):
        if i == stop:
            return None
        stripped = line.strip()
        if line.rstrip("\r") in ("-- ", "--") or stripped == "-- ":
            break
        if _FORWARD_OR_ORIGINAL.match(line):
            break
        if _ATTRIBUTION.match(stripped) and i > 0:
            break
        # Two-line Gmail attribution: "On Tue, 3 Mar 2026 at 10:02, Jane Doe <jane@x>" / "wrote:"
        if (
            i + 1 < len(lines)
            and stripped.lower().startswith(("on ", "am ", "le "))
            and lines[i + 1].strip().lower() in ("wrote:", "schrieb:", "a écrit :", "a écrit:")
        ):
            break
        if _OUTLOOK_HEADER.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1 : i + 4]):
            break
        if stripped.startswith(">"):
            continue
        if _MOBILE_FOOTER.match(line):
            continue
        kept.append(line)
    return kept


# --------------------------------------------------------------------------- MIME walking


def _header_map(msg: email.message.Message) -> dict[str, list[str]]:
    """Header values by lower-cased name, exactly as parsed (8-bit bytes kept as surrogates), so that we
    decode them ourselves; built once per message instead of scanning every header for every name."""
    out: dict[str, list[str]] = {}
    try:
        for key, value in msg.raw_items():
            out.setdefault(key.lower(), []).append(str(value))
    except Exception:  # noqa: BLE001 - keep what was read
        pass
    return out


def _header(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name.lower())
    return decode_header_value(values[0]) if values else ""


_PLAIN_TYPE = re.compile(r"[ \t]*([!#-'*+.0-9A-Z^-~-]+/[!#-'*+.0-9A-Z^-~-]+)[ \t]*"
                         r"(?:;[ \t]*charset[ \t]*=[ \t]*(\"?)([A-Za-z0-9_.:+-]+)\2[ \t]*)?;?[ \t]*", re.IGNORECASE)
"""A Content-Type of the everyday kind: a type and at most a plain charset (``text/plain; charset="utf-8"``)."""


def _params(msg: email.message.Message) -> tuple[str, str | None, bool, str]:
    """Content type, charset, whether it is an attachment, and its filename, never raising.

    An everyday part (no Content-Disposition, a Content-Type of at most a plain charset) is read with one
    regex: the stdlib's parameter parsing took a sixth of the parser's time. Anything else goes to the
    stdlib, and ``tests/unit/test_parser.py`` checks that both agree.
    """
    if "content-disposition" not in msg:
        value = msg.get("content-type")
        plain = _PLAIN_TYPE.fullmatch(value) if isinstance(value, str) else None
        if plain is not None:
            return plain.group(1).lower(), (plain.group(3) or "").lower() or None, False, ""
    return _stdlib_params(msg)


def _stdlib_params(msg: email.message.Message) -> tuple[str, str | None, bool, str]:
    try:
        ctype = msg.get_content_type()
    except Exception:  # noqa: BLE001
        ctype = "text/plain"
    try:
        charset = msg.get_content_charset()
    except Exception:  # noqa: BLE001
        charset = None
    try:
        filename = msg.get_filename() or ""
    except Exception:  # noqa: BLE001
        filename = ""
    filename = decode_header_value(filename) if filename else ""
    try:
        disposition = (msg.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        disposition = ""
    return ctype, charset, disposition == "attachment" or bool(filename), filename


def _payload_bytes(part: email.message.Message, defects: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # noqa: BLE001
        defects.append(f"undecodable payload: {type(exc).__name__}")
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _unfold_body(text: str) -> str:
    if _SURROGATE.search(text):
        return decode_bytes(text.encode("ascii", "surrogateescape"))[0]
    return text


def _part_size(part: email.message.Message, defects: list[str]) -> int:
    if part.is_multipart():  # an attached message/rfc822: count its text form
        try:
            return len(part.as_bytes())
        except Exception:  # noqa: BLE001
            return 0
    return len(_payload_bytes(part, defects))


def _walk(msg: email.message.Message, defects: list[str]) -> list[tuple[email.message.Message, int]]:
    """Depth-first list of leaf parts with their depth, bounded in depth and count."""
    out: list[tuple[email.message.Message, int]] = []
    stack: list[tuple[email.message.Message, int]] = [(msg, 0)]
    while stack and len(out) < MAX_PARTS:
        part, depth = stack.pop()
        try:
            is_message = part.get_content_type() == "message/rfc822"
        except Exception:  # noqa: BLE001
            is_message = False
        payload = part.get_payload() if part.is_multipart() and not is_message else None
        if isinstance(payload, list):
            if depth >= MAX_DEPTH:
                defects.append(f"multipart nesting deeper than {MAX_DEPTH}: inner parts ignored")
                continue
            children = [p for p in payload if isinstance(p, email.message.Message)]
            stack.extend((child, depth + 1) for child in reversed(children))
        else:
            out.append((part, depth))
    if stack:
        defects.append(f"more than {MAX_PARTS} MIME parts: the rest ignored")
    return out


# --------------------------------------------------------------------------- public API

_FIELDS = re.compile(r"(?:[\041-\071\073-\176]+:[^\n]*\n(?:[ \t][^\n]*\n)*)*")
"""A header block of well-formed fields only: ``name:`` lines (no ``From `` envelope line, no empty name)
and their continuation lines, each ended by LF or CRLF."""
_FIELD = re.compile(r"([\041-\071\073-\176]+):[ \t]*([^\n]*\n(?:[ \t][^\n]*\n)*)")
_EOL = re.compile(r"(\r\n|\n)\Z")
_MAX_FAST_DEPTH = 20


def _fast_message(raw: bytes) -> email.message.Message | None:
    """The message the stdlib compat32 parser would build, for well-formed mail, without its line-by-line
    walk; ``None`` when the mail is not simple enough (then the stdlib parser runs).

    Well-formed means: header blocks of well-formed fields with LF or CRLF line endings, closed by an empty
    line (a lone CR elsewhere in a single part's body changes nothing: its lines are joined again), and
    multiparts whose boundaries all appear, with parts between them (nested multiparts too), and no
    ``message/*`` part. For such mail the stdlib parser's result is fully determined by where
    the header blocks and boundary lines are, and this finds them with ``str.find`` and one regex per
    header block. ``tests/unit/test_parser.py`` checks that both give the same result, on awkward and
    mangled mail too.
    """
    return _fast_part(raw.decode("ascii", "surrogateescape"), 0)  # decoding is what BytesParser does first


def _lone_cr(text: str) -> bool:
    """Whether ``text`` has a CR that does not start a CRLF: the stdlib parser ends a line there."""
    return "\r" in text and _LONE_CR.search(text) is not None


def _blank_line(text: str) -> int:
    """Where the first empty line (LF or CRLF) starts, less one; -1 if there is none.

    The blank line of the mail's own line ending is looked for first and the other kind only in front of
    it: searched the other way round, a CRLF mail's 50 KB body was scanned to its end for an LF blank line.
    """
    first = text.find("\n")
    if first > 0 and text[first - 1] == "\r":
        crlf = text.find("\n\r\n")
        lf = text.find("\n\n", 0, crlf if crlf >= 0 else len(text))
    else:
        lf = text.find("\n\n")
        crlf = text.find("\n\r\n", 0, lf if lf >= 0 else len(text))
    return min((i for i in (lf, crlf) if i >= 0), default=-1)


def _fast_part(text: str, depth: int) -> email.message.Message | None:
    """One message or MIME part (header block, empty line, body), as the stdlib builds it, or ``None``."""
    headers: list[tuple[str, str]] = []
    if text.startswith("\n"):
        body = text[1:]
    elif text.startswith("\r\n"):
        body = text[2:]
    else:
        end = _blank_line(text)
        if end < 0:
            return None
        head = text[: end + 1]
        if _lone_cr(head) or _FIELDS.fullmatch(head) is None:
            return None  # a lone CR in a header block ends a line for the stdlib parser: let it decide
        headers = [(m.group(1), m.group(2).rstrip("\r\n")) for m in _FIELD.finditer(head)]
        body = text[end + (2 if text[end + 1] == "\n" else 3) :]
    msg = email.message.Message()
    msg._headers = headers  # type: ignore[attr-defined]  # what the feed parser's set_raw builds
    maintype = msg.get_content_maintype()
    if maintype == "message":
        return None
    if maintype != "multipart":
        msg.set_payload(body)
        return msg
    return _fast_multipart(msg, body, depth)


def _fast_multipart(msg: email.message.Message, body: str, depth: int) -> email.message.Message | None:
    """Split a multipart body at its boundary lines (RFC 2046), as the stdlib feed parser does."""
    boundary = msg.get_boundary()
    if (boundary is None or depth >= _MAX_FAST_DEPTH or msg.get_content_subtype() == "digest"
            or (depth == 0 and _lone_cr(body))  # (a nested body is a slice of this one: checked here)
            or str(msg.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary")):
        return None  # the stdlib reports a defect, or gives a digest's parts another default type
    separator = "--" + boundary
    line_re = re.compile(re.escape(separator) + r"(--)?[ \t]*(\r\n|\n)?\Z")
    cuts: list[tuple[int, int, bool]] = []  # (start, end) of each boundary line, and whether it closes
    i = body.find(separator)
    while i >= 0:
        if i == 0 or body[i - 1] == "\n":
            eol = body.find("\n", i)
            stop = len(body) if eol < 0 else eol + 1
            found = line_re.match(body, i, stop)
            if found:
                cuts.append((i, stop, bool(found.group(1))))
                if found.group(1):
                    break
            i = body.find(separator, stop)
        else:
            i = body.find(separator, i + 1)
    if len(cuts) < 2 or not cuts[-1][2] or cuts[0][2]:
        return None  # no part, or a boundary never closed: defects the stdlib parser should report
    if cuts[0][0] > 0:
        msg.preamble = _EOL.sub("", body[: cuts[0][0]], count=1)
    for (_, start, _), (stop, _, _) in zip(cuts, cuts[1:]):
        if start == stop or not body[start - 1] == "\n":
            return None  # two boundary lines in a row, or a boundary line cut off by the end of the mail
        part = _fast_part(body[start:stop], depth + 1)
        if part is None:
            return None
        # The line ending before a boundary line belongs to the boundary (RFC 2046).
        if part.is_multipart():
            part.epilogue = _EOL.sub("", part.epilogue, count=1) if part.epilogue else None
        elif isinstance(part._payload, str):  # type: ignore[attr-defined]  # (get_payload would decode it)
            part._payload = _EOL.sub("", part._payload, count=1)  # type: ignore[attr-defined]
        msg.attach(part)
    msg.epilogue = body[cuts[-1][1] :]
    return msg


def _addresses(headers: dict[str, list[str]], *names: str) -> list[tuple[str, str]]:
    """``(name, address)`` pairs of the named address headers: the display names decoded, the addresses
    exactly as written (see :func:`usable_address`)."""
    # Split the raw value first: a decoded name may hold a comma ("Doe, Jane") that is not a separator.
    values = [_unfold(v) for name in names for v in headers.get(name.lower(), ())]
    simple = simple_address(values[0]) if len(values) == 1 else None
    try:
        pairs = [simple] if simple else email.utils.getaddresses(values)
    except Exception:  # noqa: BLE001
        return []
    return [(decode_header_value(n), a.strip() if simple or as_written(a.strip(), values) else NOT_WRITTEN)
            for n, a in pairs[:MAX_ADDRESSES] if a or n]


def _parse_date(value: str, defects: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("unparseable Date header")
        return None
    if parsed is None or not 1970 <= parsed.year <= 2200:
        defects.append("implausible Date header")
        return None
    return parsed


def lf_line_ends(text: str) -> str:
    """``text`` with CRLF and lone CR line ends made LF.

    Mail's lines end in CRLF. When every CR is one's, dropping the CRs gives the same text in a fifth of the
    time ``str.replace("\\r\\n", "\\n")`` takes (a one-character pattern has a fast path): 25 us of a 25 KB
    message's parse. (The checks are cheap; the copies of a 1 MB body are not.)
    """
    if "\r" not in text:
        return text
    if _lone_cr(text):
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\r", "")


def parse_mail(raw: bytes) -> ParsedMail:
    """Normalise one raw message. Never raises: problems are worked around and listed in ``defects``.

    Every defect known is worked around where it is met (and the fuzzing in ``benchmarks/fuzz_mail.py``
    looks for new ones); should a new one still raise, the message is read as plain text under its
    failure's name rather than stopping whoever asked (:func:`_unreadable`).
    """
    if not isinstance(raw, (bytes, bytearray)):
        raw = str(raw).encode("utf-8", "surrogateescape")
    raw = bytes(raw)
    try:
        return _parse(raw)
    except Exception as exc:  # noqa: BLE001 - the promise of this function; the defect names the failure
        return _unreadable(raw, exc)


def _unreadable(raw: bytes, exc: BaseException) -> ParsedMail:
    """What is left of a message the parser failed on: its bytes as text, nothing read from its headers.
    Its triage then has only words to go on (it will be ``other`` or unsure), and the failure is in
    ``defects`` for the log."""
    text = lf_line_ends(raw[: MAX_TEXT].decode("utf-8", "replace").replace("\x00", ""))
    return ParsedMail(
        sender_name="", sender_address="", reply_to="", to_count=0, subject="", date=None, message_id="",
        in_reply_to="", references=(), list_id="", precedence="", list_unsubscribe="", auto_submitted="",
        text=text, clean_text=text[:MAX_CLEAN], html_only=False, attachments=(), size=len(raw),
        defects=(f"{UNPARSED} the parser failed ({type(exc).__name__}: {str(exc)[:200]}); read as plain text",),
    )


def _headers_only(raw: bytes) -> email.message.Message:
    """The message's headers, and its body as one plain part: what is left to read when its MIME structure
    cannot be parsed (the sender and subject still count for triage)."""
    try:
        msg = email.parser.BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        del msg["Content-Type"], msg["Content-Transfer-Encoding"]
        return msg
    except Exception:  # noqa: BLE001 - nothing left but the bytes
        msg = email.message.Message()
        msg.set_payload(raw.decode("utf-8", "replace"))
        return msg


def _parse(raw: bytes) -> ParsedMail:
    """:func:`parse_mail`'s work, which may raise only on a defect not yet known."""
    defects: list[str] = []
    if b"\r" in raw and b"\r\n" not in raw:
        raw = raw.replace(b"\r", b"\n")  # old Mac line endings: the parser only knows LF and CRLF
        defects.append("CR-only line endings")
    try:
        msg = _fast_message(raw) or email.message_from_bytes(raw, policy=policy.compat32)
    except Exception as exc:  # noqa: BLE001 - compat32 hardly ever raises (a RecursionError on deep nesting)
        defects.append(f"{UNPARSED} its MIME structure could not be read ({type(exc).__name__}): its headers "
                       f"and its body as plain text are used")
        msg = _headers_only(raw)
    defects.extend(type(d).__name__ for d in getattr(msg, "defects", [])[:20])
    headers = _header_map(msg)

    senders = _addresses(headers, "From")
    if len(senders) > 1:
        defects.append("several From addresses: the first is used")
    sender_name, sender_address = senders[0] if senders else ("", "")
    if sender_address and "@" not in sender_address:
        # "From: Kai's Biggest Fan" is a name without an address; the stdlib takes its first word for one
        sender_name, sender_address = sender_name or " ".join(_header(headers, "From").split()), ""
    if sender_address and not usable_address(sender_address):
        defects.append(f"From address is not one plain address, no reply goes to it: {sender_address[:200]!r}")
        sender_address = ""
    if not sender_address:
        defects.append("no usable From address")
    reply_tos = [a for _, a in _addresses(headers, "Reply-To") if "@" in a]
    reply_to = next((a for a in reply_tos if usable_address(a)), "")
    if reply_tos and not reply_to:
        defects.append(f"Reply-To address is not one plain address, ignored: {reply_tos[0][:200]!r}")
    # Only the number of recipients matters; a full address parse of a 500-name Cc list is slow.
    to_count = sum(_unfold(v).count("@") for name in ("to", "cc") for v in headers.get(name, ()))

    subject = _header(headers, "Subject")
    if len(subject) > MAX_HEADER:
        subject = subject[:MAX_HEADER]
        defects.append("Subject cut to 4096 characters")

    plain: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    for part, _depth in _walk(msg, defects):
        ctype, charset, is_attachment, filename = _params(part)
        if ctype.startswith("multipart/"):
            # A multipart whose boundary never appears is parsed as one leaf: its text is the body.
            defects.append("multipart without its boundary: read as plain text")
            ctype = "text/plain"
        if is_attachment or ctype not in ("text/plain", "text/html"):
            attachments.append(Attachment(filename or "(unnamed)", ctype, _part_size(part, defects)))
            continue
        text, overridden = decode_bytes(_payload_bytes(part, defects), charset)
        if overridden:
            defects.append(f"charset {str(charset)[:40]!r} unknown or did not fit the bytes: decoded as a fallback")
        (plain if ctype == "text/plain" else html_parts).append(text)

    if not any(p.strip() for p in plain + html_parts) and msg.is_multipart():
        # A boundary that is declared but never used (or never matches) leaves the text in the preamble.
        stray = "\n".join(t for t in (msg.preamble, msg.epilogue) if isinstance(t, str) and t.strip())
        if stray:
            plain.append(_unfold_body(stray))
            defects.append("multipart without usable parts: text taken from the preamble")
    html_only = not any(p.strip() for p in plain) and bool(html_parts)
    if html_only:
        body = "\n\n".join(html_to_text(h[:MAX_TEXT * 2]) for h in html_parts)
    else:
        body = "\n\n".join(plain)
    body = lf_line_ends(body)
    if "\x00" in body:
        body = body.replace("\x00", "")
    if len(body) > MAX_TEXT:
        body = body[:MAX_TEXT]
        defects.append(f"body cut to {MAX_TEXT} characters")
    clean = strip_quotes_and_signature(body[: MAX_CLEAN * 4])[:MAX_CLEAN]

    return ParsedMail(
        sender_name=sender_name.strip().strip('"').strip(),
        sender_address=sender_address.strip().lower(),
        reply_to=reply_to.strip().lower(),
        to_count=to_count,
        subject=subject,
        date=_parse_date(_header(headers, "Date"), defects),
        message_id=one_message_id(_header(headers, "Message-ID"), defects, "Message-ID"),
        in_reply_to=one_message_id(_header(headers, "In-Reply-To"), defects, "In-Reply-To"),
        references=message_ids(_header(headers, "References"), defects),
        list_id=_header(headers, "List-Id"),
        precedence=_header(headers, "Precedence"),
        list_unsubscribe=_header(headers, "List-Unsubscribe"),
        auto_submitted=_header(headers, "Auto-Submitted"),
        text=body,
        clean_text=clean,
        html_only=html_only,
        attachments=tuple(attachments),
        size=len(raw),
        defects=tuple(dict.fromkeys(defects)),
    )
