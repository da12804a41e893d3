"""Hostile mail in the pure core: codecs that raise, recipients smuggled in encoded words, addresses that are
not ASCII, header lines too long for mail, and the parser's last resort when it meets a defect not yet known."""

from __future__ import annotations

import email
import encodings
import encodings.aliases
import pkgutil
from email import policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.parser as parser_module
from bot.drafting import MAX_LINE, Owner, ascii_domain, build_reply
from bot.models import ParsedMail, Prediction
from bot.parser import UNPARSED, decode_bytes, parse_mail, usable_address
from bot.triage import TriagePolicy, decide

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
OWNER = Owner("Kai Andersen", "kai@andersen.dk", "Kai")
INJECTED = "=?utf-8?q?jane=40uni.edu=2C_boss=40andersen.dk=2C_x?=@evil.example"

_CODECS = sorted({m.name for m in pkgutil.iter_modules(encodings.__path__)} | set(encodings.aliases.aliases)
                 | set(encodings.aliases.aliases.values()))
"""Every codec name Python knows: the charsets, the text transforms (rot13, base64, zlib ...) and the odd
ones (undefined, punycode, idna, the escape codecs)."""
_UNKNOWN = ["x-foobar", "", "utf-8*en", "utf\x00-8", "x" * 300, "../../etc/passwd", "utf-8'", "ünïcode"]


def _part(charset: str, cte: str, body: bytes) -> bytes:
    return (f"From: a@example.net\r\nSubject: =?{charset}?q?hello?=\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            f"Content-Type: text/plain; charset=\"{charset}\"\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode("utf-8", "surrogateescape") + body + b"\r\n--b--\r\n"


@pytest.mark.parametrize(("charset", "body"), [("undefined", b"hello"), ("punycode", b"hello-99999999999")])
def test_the_two_poison_charsets_are_read_with_a_fallback(charset: str, body: bytes) -> None:
    raw = f"From: a@example.net\r\nSubject: hi\r\nContent-Type: text/plain; charset={charset}\r\n\r\n".encode() + body
    mail = parse_mail(raw)
    assert mail.text.strip() == body.decode()
    assert any("unknown or did not fit" in d for d in mail.defects)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(charset=st.sampled_from(_CODECS + _UNKNOWN),
       cte=st.sampled_from(["8bit", "7bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus"]),
       body=st.one_of(st.binary(max_size=300), st.sampled_from([b"hello-99999999999", b"+AGE-+", b"\\U99999999",
                                                                 b"\xff\xfe\x00", b"xn--", b"=?=", b"=ZZ"])))
def test_no_codec_name_makes_the_parser_raise(charset: str, cte: str, body: bytes) -> None:
    """Structured MIME declaring each codec Python knows (and unknown ones) never makes parsing raise, and
    never reaches the last resort: each is handled where it is met."""
    mail = parser_module._parse(_part(charset, cte, body))
    assert isinstance(mail, ParsedMail)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_reach_the_last_resort(raw: bytes) -> None:
    assert isinstance(parser_module._parse(raw), ParsedMail)


@pytest.mark.parametrize("charset", _CODECS + _UNKNOWN)
def test_decode_bytes_never_raises_for_any_codec_name(charset: str) -> None:
    for data in (b"hello-99999999999", b"\xff\xfe\xfd", b"+AGE-", b"\\N{x}"):
        text, _ = decode_bytes(data, charset)
        assert isinstance(text, str)


def test_a_new_parser_bug_gives_an_unsure_message_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth inside the parser: should ``_parse`` raise, ``parse_mail`` still answers, with the
    failure named, and triage calls it unsure and drafts nothing (there is no address to reply to)."""
    def broken(raw: bytes) -> ParsedMail:
        raise RecursionError("a defect not yet known")

    monkeypatch.setattr(parser_module, "_parse", broken)
    mail = parse_mail(b"From: a@example.net\r\nSubject: congrats\r\n\r\nCongratulations on the paper!\r\n")
    assert mail.defects[0].startswith(UNPARSED) and "RecursionError" in mail.defects[0]
    assert "Congratulations on the paper!" in mail.text and mail.sender_address == ""
    decision = decide(mail, Prediction("congratulation", 0.97, {"congratulation": 0.97}, ()), TriagePolicy(), None)
    assert decision.unsure and decision.draft is None


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(("address", "ok"), [
    ("jane@uni.edu", True), ("josé@ejemplo.es", True), ("zoe@bücher.de", True), ("o'brien+x@mail.ie", True),
    (INJECTED, False), ("a@b@c", False), ("a b@c.d", False), ("a@b.c,d@e.f", False), ('"a,b"@c.d', False),
    ("a@[192.0.2.1]", False), ("a@b..c", False), ("a@b.c.", False), ("a@b\r\nBcc: x@y", False), ("", False),
])
def test_usable_address(address: str, ok: bool) -> None:
    assert usable_address(address) is ok


@pytest.mark.parametrize("field", ["From", "Reply-To"])
def test_encoded_words_never_make_recipients(field: str) -> None:
    """RFC 2047 forbids encoded words in an addr-spec: the address is taken as written, never decoded, so
    one that would decode to three addresses is no address at all."""
    headers = {"From": "Jane Doe <jane.doe@uni.example>", field: INJECTED}
    raw = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"Subject: Congrats\r\n\r\nWell done!\r\n"
    mail = parse_mail(raw)
    draft = email.message_from_bytes(build_reply(mail, "Thanks!", OWNER), policy=policy.default)
    if field == "From":
        assert mail.sender_address == "" and draft["To"] is None
    else:
        assert mail.reply_to == "" and mail.sender_address == "jane.doe@uni.example"
        assert [a.addr_spec for a in draft["To"].addresses] == ["jane.doe@uni.example"]
    assert "evil.example" not in str(draft["To"] or "") and "boss@" not in str(draft["To"] or "")


def test_a_draft_to_a_non_ascii_local_part_is_written_as_utf8() -> None:
    """SMTPUTF8 senders get a draft (RFC 6532): the To line in UTF-8, the rest of the header ASCII."""
    mail = parse_mail("From: José Núñez <josé@ejemplo.es>\r\nSubject: ¡Hola!\r\n\r\nEnhorabuena!\r\n".encode())
    raw = build_reply(mail, "¡Gracias!", OWNER, message_id="<d@andersen.dk>")
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    to = [line for line in head if line.startswith(b"To: ")]
    assert to == ['To: "José Núñez" <josé@ejemplo.es>'.encode()]
    assert all(line.isascii() for line in head if not line.startswith(b"To: "))
    parsed = email.message_from_string(raw.decode("utf-8"), policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == "josé@ejemplo.es"


def test_a_draft_to_an_internationalised_domain_stays_ascii() -> None:
    mail = parse_mail("From: Zoë <zoe@bücher.example>\r\nSubject: Glückwunsch\r\n\r\nToll!\r\n".encode())
    raw = build_reply(mail, "Danke!", OWNER)
    assert b"To: =?utf-8?q?Zo=C3=AB?= <zoe@xn--bcher-kva.example>\r\n" in raw
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()
    long_label = "a@" + "ü" * 70 + ".de"
    assert ascii_domain(long_label) == long_label  # no valid IDN (a label over 63): left as UTF-8


# --------------------------------------------------------------------------- header lines


@pytest.mark.parametrize("headers", [
    "References: <" + "r" * 50_000 + "@example.net>\r\n",
    "References: " + " ".join(f"<ref{i}@example.net>" for i in range(5000)) + "\r\n",
    "Message-ID: <" + "m" * 50_000 + "@x>\r\nIn-Reply-To: <" + "i" * 50_000 + "@x>\r\n",
    "Subject: Congrats" + "!" * 20_000 + "\r\n",
    "Subject: " + "Glückwunsch " * 3000 + "\r\n",
    "Subject: " + "word " * 5000 + "\r\n",
    'From: "' + 'Dr \\"Evil\\" ' * 800 + '" <evil@example.net>\r\n',
])
def test_no_draft_line_is_longer_than_mail_allows(headers: str) -> None:
    raw = ("From: r@example.net\r\n" if not headers.startswith("From") else "") + headers
    mail = parse_mail((raw + "\r\nCongratulations!\r\n").encode())
    draft = build_reply(mail, "Thanks!", OWNER)
    assert max(len(line) for line in draft.split(b"\r\n")) <= MAX_LINE
    parsed = email.message_from_bytes(draft, policy=policy.default)
    assert len(str(parsed["References"] or "").split()) <= 21
    if "Subject: Congrats!" in headers:
        assert str(parsed["Subject"]) == "Re: " + mail.subject  # folded as encoded words, not cut


def test_every_hostile_fixture_gives_a_draft_to_one_address_at_most() -> None:
    files = sorted(HOSTILE.glob("*.eml"))
    assert len(files) >= 60
    for path in files:
        mail = parse_mail(path.read_bytes())
        draft = build_reply(mail, "Thank you!", OWNER)
        assert max(len(line) for line in draft.split(b"\r\n")) <= MAX_LINE, path.name
        parsed = email.message_from_bytes(draft, policy=policy.default)
        assert parsed["Bcc"] is None and parsed["Cc"] is None, path.name
        to = parsed.get_all("To") or []
        assert len(to) <= 1 and (not to or len(to[0].addresses) == 1), (path.name, to)


@pytest.mark.parametrize("name", ['"Dr \\"x@evil.example\\" <y@evil.example>"', '"\u202eyllaM"', '"' + "a " * 60 + '"',
                                  '"a@b"', "=?utf-8?q?a=3Cb=40c=3E?="])
def test_a_display_name_that_could_pass_for_an_address_is_left_out(name: str) -> None:
    """Found by benchmarks/fuzz_mail.py: a quoted name holding quotes, '@' and '<...>' was written correctly,
    but a lax parser (the stdlib's compat32 getaddresses) read two addresses out of the draft's To."""
    mail = parse_mail(f"From: {name} <jane@uni.example>\r\nSubject: Hi\r\n\r\nCongrats!\r\n".encode())
    draft = build_reply(mail, "Thanks!", OWNER)
    assert b"\r\nTo: jane@uni.example\r\n" in draft
    assert email.utils.getaddresses([email.message_from_bytes(draft)["To"]]) == [("", "jane@uni.example")]


@pytest.mark.parametrize("piece", ["<a\n", "<a x='", "<!--", "<![CDATA[", "</", "<?", "<script>", "<p>x"])
def test_html_conversion_takes_linear_time_on_unclosed_markup(piece: str) -> None:
    """Found in a new-user trial: html.parser is quadratic on unclosed constructs, and one 400 KB HTML mail
    held triage for 129 s. 400,000 characters of each now convert in a fraction of that (the bound is
    generous: this is a guard against the quadratic case, not a benchmark)."""
    import time

    from bot.htmltext import html_to_text

    markup = piece * (400_000 // len(piece)) + "<p>Offer: a PhD position</p>"
    started = time.perf_counter()
    text = html_to_text(markup)
    assert time.perf_counter() - started < 3.0
    assert isinstance(text, str)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["<", ">", "<p>", "</p>", "<!--", "-->", "<script>", "</script>", "<br/>",
                                 "<img alt='x'>", "&amp;", "&#0;", "text", " ", "\n", "<li>", "<a href=\"", "\""]),
                max_size=60))
def test_html_to_text_never_raises_and_drops_what_a_browser_hides(pieces: list[str]) -> None:
    """Scripts and comments are dropped (an unclosed one runs to the end, as in a browser); text stays."""
    from bot.htmltext import html_to_text

    markup = "".join(pieces)
    text = html_to_text(markup + "<p>Offer &amp; more</p><script>secret()</script>")
    closed = "<!--" not in markup and "<script>" not in markup and markup.count("<") <= markup.count(">")
    assert "secret()" not in text or not closed
    assert text.endswith("Offer & more") or not closed


@pytest.mark.parametrize("reply_to", ["=?utf-8?q?=1B[2J=0Afake_line?=@evil.example", "prof@deep\u200bmind.com",
                                      "jane(note)@uni.example"])
def test_an_address_not_written_as_one_is_no_address(reply_to: str) -> None:
    """Found in a new-user trial: ``getaddresses`` made ``2j=0afake_line?=@evil.example`` out of an encoded
    word, and IDNA mapped a zero-width space away, so a draft went to ``prof@deepmind.com``."""
    mail = parse_mail(f"From: a@b.example\r\nReply-To: {reply_to}\r\nSubject: x\r\n\r\nhi\r\n".encode())
    assert mail.reply_to == ""
    assert b"\r\nTo: a@b.example\r\n" in build_reply(mail, "Thanks!", OWNER)


def test_a_draft_passes_on_no_control_character() -> None:
    raw = (b"From: a@b.example\r\nReferences: <r1\x1b]0;pwn\x07@evil.example> <ok@example.net>\r\nSubject: x\r\n\r\n"
           b"Dear Kai,\x1b[2J\x07 how do I apply?\x08\r\n")
    draft = build_reply(parse_mail(raw), "Thanks!", OWNER)
    assert not any(byte in draft for byte in (b"\x1b", b"\x07", b"\x08"))
    assert b"References: <ok@example.net>" in draft


def test_mail_that_is_mostly_not_text_is_other_and_unsure() -> None:
    mail = parse_mail((HOSTILE / "29_not_mail_at_all.eml").read_bytes())
    decision = decide(mail, Prediction("advice_request", 0.94, {"advice_request": 0.94, "other": 0.01}, ()),
                      TriagePolicy(), None)
    assert decision.label == "other" and decision.unsure and decision.unanswered == ()
