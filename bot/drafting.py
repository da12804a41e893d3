"""Reply drafts: the owner's templates rendered for one message, and the reply as a threaded MIME message.

Templates are Jinja2 in a sandbox with StrictUndefined: a template can only read the variables we hand it,
and a misspelt variable is an error found when the config is checked, not an empty greeting at 3 a.m.
The reply is text/plain UTF-8 wrapped at 72 columns, with ``In-Reply-To``/``References`` so mail clients
thread it under the original, and the original quoted below.
"""

from __future__ import annotations

import quopri
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from email import base64mime, quoprimime
from email.header import Header
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.errors import TemplateError
from bot.models import ANSWERED_LABELS, ParsedMail, memo
from bot.names import first_name
from bot.quoting import fill_spaces, quote, wrap_text

TEMPLATE_SUFFIX = ".txt.j2"
TEMPLATE_RECHECK = 2.0
"""Seconds a template found (or found missing) is used before the file is looked at again."""
_BLANK_LINES = re.compile(r"\n{3,}")
_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|ref|rif|antw|fw|fwd|wg|tr|rv)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@lru_cache(maxsize=512)
def _fill_repeated(paragraph: str, width: int) -> tuple[str, ...]:
    """:func:`bot.quoting.fill_spaces`, remembered: a reply is mostly the owner's own paragraphs (template
    lines, FAQ answers), the same in every draft, so each is wrapped once rather than once per draft."""
    return tuple(fill_spaces(paragraph, width))


def shipped_templates_dir() -> Path:
    """The templates that come with mentorbox: ``bot/templates`` in a wheel, ``templates/`` in a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "templates"
    return installed if installed.is_dir() else here.parent / "templates"


@dataclass(frozen=True)
class Owner:
    """Who replies: used for the From header, the signature and the templates."""

    name: str
    address: str
    signature: str


def sender_first_name(mail: ParsedMail) -> str:
    """How a reply greets the sender ("" when no name can be told), worked out once per message."""
    return memo(mail, "first_name", lambda: first_name(mail.sender_name, mail.sender_address))


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` with piled-up prefixes (Re: RE: AW: Fwd:) removed first."""
    core = _PREFIX.sub("", subject or "").strip()
    return f"Re: {core}" if core else "Re: your message"


class Drafter:
    """Renders reply texts from a templates directory; compile errors name the file and line."""

    def __init__(self, templates_dir: Path, owner: Owner, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.dir = templates_dir
        self.owner = owner
        self._clock = clock
        self._owner_first_name = first_name(owner.name)
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates: dict[str, tuple[float, jinja2.Template | None]] = {}

    def template_names(self) -> list[str]:
        """The label templates present in the directory."""
        names = [f"{label}{TEMPLATE_SUFFIX}" for label in ANSWERED_LABELS]
        return [name for name in names if (self.dir / name).exists()]

    def check(self) -> list[str]:
        """Compile and test-render every template; return the problems (empty: all good)."""
        problems = []
        if not self.template_names():
            problems.append(f"{self.dir}: no reply templates (<label>{TEMPLATE_SUFFIX}) found")
        follow_up = [FOLLOW_UP] if (self.dir / FOLLOW_UP).exists() else []
        for name in self.template_names() + follow_up:
            try:
                self.env.get_template(name).render(**self._variables(_SAMPLE, name.split(".")[0], []),
                                                   promise="we will call you next week", original_date="1 May")
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{self.dir / name}:{exc.lineno}: {exc.message}")
            except jinja2.UndefinedError as exc:
                line = _template_line(exc)
                problems.append(f"{self.dir / name}{':' + str(line) if line else ''}: {exc.message}")
            except Exception as exc:  # noqa: BLE001 - report any template failure, with its place if known
                line = _template_line(exc)
                problems.append(f"{self.dir / name}{':' + str(line) if line else ''}: {type(exc).__name__}: {exc}")
        return problems

    def _variables(self, mail: ParsedMail, label: str, faq: list[dict[str, str]]) -> dict[str, Any]:
        name = sender_first_name(mail)
        return {
            "first_name": name,
            "greeting": f"Hi {name}," if name else "Hello,",
            "sender_name": mail.sender_name,
            "subject": mail.subject,
            "label": label,
            "faq": faq,
            "owner_name": self.owner.name,
            "owner_first_name": self._owner_first_name,
            "signature": self.owner.signature or self.owner.name or "[your name]",
        }

    def render(self, mail: ParsedMail, label: str, faq: list[dict[str, str]] | None = None) -> str | None:
        """The reply text for ``mail`` (None when the label has no template)."""
        name = f"{label}{TEMPLATE_SUFFIX}"
        try:
            template = self._template(name)
            if template is None:
                return None
            text = template.render(**self._variables(mail, label, faq or []))
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{self.dir / name}: {exc}") from None
        text = _BLANK_LINES.sub("\n\n", text.strip()) + "\n"
        return wrap_text(text, fill=_fill_repeated)

    def _template(self, name: str) -> jinja2.Template | None:
        """The compiled template ``name``, or None when the directory has none by that name.

        Whether the file exists and changed is asked of the filesystem at most every
        :data:`TEMPLATE_RECHECK` seconds, not at every draft (two ``stat`` calls each, a tenth of a draft's
        cost in a backlog): an edit made while the daemon runs is used from the next draft after that.
        """
        now = self._clock()
        known = self._templates.get(name)
        if known is not None and now - known[0] < TEMPLATE_RECHECK:
            return known[1]
        template = self.env.get_template(name) if (self.dir / name).exists() else None  # (reloads if edited)
        self._templates[name] = (now, template)
        return template


FOLLOW_UP = f"follow_up{TEMPLATE_SUFFIX}"
"""The template of the follow-up sent when a promised date passes; the shipped one is used if the owner's
templates directory has none."""


def render_follow_up(drafter: Drafter, mail: ParsedMail, *, promise: str, original_date: str) -> str:
    """The follow-up text for a lead whose promised date passed (``promise`` as the sender wrote it)."""
    directory = drafter.dir if (drafter.dir / FOLLOW_UP).exists() else shipped_templates_dir()
    env = drafter.env if directory == drafter.dir else Drafter(directory, drafter.owner).env
    variables = {**drafter._variables(mail, "follow_up", []), "promise": promise, "original_date": original_date}
    try:
        text = env.get_template(FOLLOW_UP).render(**variables)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{directory / FOLLOW_UP}: {exc}") from None
    return wrap_text(re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n")


def _template_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(TEMPLATE_SUFFIX) or "<template>" in tb.tb_frame.f_code.co_filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters a quoted mail may hold (escape sequences, bells, backspaces): a reply does not pass
them on, to its recipient or to the terminal the owner reads the draft file in."""
MAX_LINE = 998
"""Octets a header line may hold before its CRLF (RFC 5322 2.1.1); longer lines are folded."""
_FOLD_AT = 78
"""Where a folded header line is broken (RFC 5322 2.1.1: lines SHOULD be no longer)."""


def _header_line(name: str, value: str, *, utf8: bool = False) -> bytes:
    """One header field, whitespace collapsed (so no CR or LF of the mail's can start a field of its own), its
    non-ASCII text encoded (RFC 2047) unless ``utf8`` asks for raw UTF-8 (RFC 6532: an address that is not
    ASCII cannot be encoded), and folded when it is longer than :data:`MAX_LINE`."""
    value = " ".join(value.split())
    if not utf8 and not value.isascii():
        value = encode_header_value(value)
    line = f"{name}: {value}"
    if len(line.encode("utf-8")) > MAX_LINE:
        if not utf8 and max(map(len, value.split(" "))) > MAX_LINE - len(name) - 2:
            # A word no fold can fit (a subject of one long word): encoded words may be cut anywhere.
            line = f"{name}: " + Header(value, "utf-8", maxlinelen=_FOLD_AT, header_name=name).encode(linesep="\r\n")
        else:
            line = _fold(line)
    return f"{line}\r\n".encode("utf-8" if utf8 else "ascii")


def _fold(line: str) -> str:
    """``line`` folded at its spaces into lines of about :data:`_FOLD_AT` (RFC 5322 folding: CRLF before a
    space). Callers keep single words short (message identifiers are capped by the parser, long subjects
    are encoded words of at most 76), so no piece stays over :data:`MAX_LINE`; one that still would is cut."""
    out: list[str] = []
    current = ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > _FOLD_AT:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return "\r\n ".join(piece.encode("utf-8")[: MAX_LINE - 1].decode("utf-8", "ignore") for piece in out)


_Q_ESCAPED = re.compile(rb"[^-!*+/A-Za-z0-9 ]")
"""The bytes RFC 2047's Q encoding writes as ``=XX`` (as :mod:`email.quoprimime` does for headers)."""
_WORD_ROOM = 998 - len("=?utf-8?q??=")
"""The encoded text that fits in one encoded word on a line of 998 (then no folding is needed)."""


def encode_header_value(value: str) -> str:
    """``value`` (not ASCII; words with one space between, as :func:`_header_line` makes it) encoded for a
    header exactly as ``Header(value, "utf-8", maxlinelen=998)`` encodes it.

    ``Header`` fits a value into lines by encoding every prefix of it in turn, quadratic in its length (90 us
    per subject, most of it measuring quoted-printable lengths byte by byte). A value that fits one line is one
    encoded word, the shorter of Q and B as ``Header`` picks, and that is computed here directly; a longer one
    (rare) still goes through ``Header``.
    """
    data = value.encode("utf-8")
    length_b = base64mime.header_length(data)
    length_q = len(data) + 2 * len(_Q_ESCAPED.findall(data))
    encoder, length = (base64mime, length_b) if length_b < length_q else (quoprimime, length_q)
    if length > _WORD_ROOM:
        return Header(value, "utf-8", maxlinelen=998).encode(linesep="\r\n")
    return encoder.header_encode(data, "utf-8")


def reply_address(mail: ParsedMail) -> str:
    """Where a reply goes: the Reply-To address, else the From address; "" when the mail gives neither (then
    there is nobody to draft a reply to)."""
    return mail.reply_to or mail.sender_address


def build_reply(mail: ParsedMail, text: str, owner: Owner, *, message_id: str | None = None,
                now: datetime | None = None) -> bytes:
    """The draft as RFC 5322 bytes: threaded to ``mail``, addressed to its Reply-To or From, original quoted.

    Built by hand rather than with ``EmailMessage``, which spends most of a draft's cost re-parsing the
    headers it was just given (measured: 2.5 ms of 3 ms per draft in the daemon's first sync).
    """
    headers: list[tuple[str, str]] = [("Date", format_datetime(now or datetime.now(timezone.utc)))]
    if owner.address:
        headers.append(("From", formataddr((owner.name, owner.address), charset="utf-8") if owner.name
                        else owner.address))
    to = reply_address(mail)
    utf8_to = ""
    if to:
        name = recipient_name(mail.sender_name) if not mail.reply_to else ""
        to = ascii_domain(to)
        if to.isascii():
            headers.append(("To", formataddr((name, to), charset="utf-8") if name else to))
        else:  # RFC 6532: a local part that is not ASCII is written as UTF-8 (the name may then be too)
            utf8_to = f'"{quote_name(name)}" <{to}>' if name else to
            headers.append(("To", utf8_to))
    headers.append(("Subject", reply_subject(mail.subject)))
    domain = owner.address.partition("@")[2] or "mentorbox.invalid"
    headers.append(("Message-ID", message_id or make_msgid(domain=domain)))
    # RFC 5322 3.6.4: References is the parent's References (or its one In-Reply-To) and then its Message-ID;
    # a parent without a Message-ID gives no In-Reply-To, but its thread still places the draft.
    refs = [r for r in (mail.references or ((mail.in_reply_to,) if mail.in_reply_to else ()))
            if r != mail.message_id][-20:]
    if mail.message_id:
        headers.append(("In-Reply-To", mail.message_id))
        refs.append(mail.message_id)
    if refs:
        headers.append(("References", " ".join(refs)))
    body = _CONTROL.sub("", f"{text.rstrip()}\n\n{quote(mail)}\n".replace("\r\n", "\n"))
    body = body.replace("\n", "\r\n").encode("utf-8")
    if len(body) > 998 and max(map(len, body.split(b"\r\n"))) > 998:  # a line too long for 8bit transport
        cte, body = "quoted-printable", quopri.encodestring(body).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    else:
        cte = "8bit"
    headers += [("X-Mentorbox", "draft"), ("MIME-Version", "1.0"),
                ("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", cte)]
    head = b"".join(_header_line(k, v, utf8=k == "To" and bool(utf8_to)) for k, v in headers)
    return head + b"\r\n" + body


_ODD_NAME = re.compile(r"[<>@\"\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
"""What no real display name holds: angle brackets, '@', quotes and backslashes (which make a lax parser see
an address inside the name), control and bidi characters (which make it show as something else)."""


def recipient_name(name: str) -> str:
    """The sender's display name as a draft's To shows it, or "" (the address alone) when it is one of the
    names :data:`_ODD_NAME` describes, or longer than 100 characters: a name is shown to the owner beside
    the address he sends to, and must not be able to look like another address."""
    name = " ".join(name.split())
    return "" if len(name) > 100 or _ODD_NAME.search(name) else name


def ascii_domain(address: str) -> str:
    """``address`` with an internationalised domain written in its ASCII form (IDNA, ``bücher.de`` ->
    ``xn--bcher-kva.de``), so that the draft stays plain ASCII where only the domain is not; the local
    part is left as it is (only the receiving server may interpret it)."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except (UnicodeError, ValueError):
        return address  # not a valid IDN: written as UTF-8 (RFC 6532) like a non-ASCII local part


def quote_name(name: str) -> str:
    """A display name's text inside a quoted string (RFC 5322 3.2.4)."""
    return " ".join(name.split()).replace("\\", "\\\\").replace('"', '\\"')


_SAMPLE = ParsedMail(
    sender_name="Dr. Jane Q. Doe", sender_address="jane.doe@example.org", reply_to="", to_count=1,
    subject="Your paper", date=None, message_id="<sample@example.org>", in_reply_to="", references=(), list_id="",
    precedence="", list_unsubscribe="", auto_submitted="", text="Hello!", clean_text="Hello!", html_only=False,
    attachments=(), size=6,
)
