"""Drafts: greeting names, subjects, wrapping, threading headers, and template errors with file and line."""

from __future__ import annotations

import dataclasses
import email
from email import policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.drafting import Drafter, Owner, build_reply, reply_subject, shipped_templates_dir
from bot.quoting import wrap_text
from bot.models import Prediction
from bot.names import first_name
from bot.parser import parse_mail
from bot.triage import TriagePolicy, decide

OWNER = Owner("Kai Andersen", "kai@andersen.dk", "Kai")
ORIGINAL = (
    b"From: \"Dr. Jane Q. Doe\" <jane.doe@uni.example>\r\nReply-To: jane@home.example\r\nTo: kai@andersen.dk\r\n"
    b"Subject: RE: AW: Re: Fwd: Your paper\r\nMessage-ID: <orig@uni.example>\r\nReferences: <root@x> <mid@x>\r\n"
    b"Date: Tue, 03 Mar 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Would you consider a PhD with us?\r\n"
)


@pytest.mark.parametrize(
    ("name", "address", "expected"),
    [
        ("Dr. Jane Q. Doe", "", "Jane"),
        ("Doe, Jane", "", "Jane"),
        ("", "jane.doe@x.org", "Jane"),
        ("PROF. MARIA GARCIA", "", "Maria"),
        ("Jane Doe, PhD", "", "Jane"),
        ("", "noreply@github.com", ""),
        ("LinkedIn Job Alerts", "jobs-noreply@linkedin.com", ""),
        ("J. Doe", "", ""),
        ("", "jdoe@x.org", ""),
        ("", "", ""),
    ],
)
def test_first_name(name: str, address: str, expected: str) -> None:
    assert first_name(name, address) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("RE: AW: Re: Fwd: Your paper", "Re: Your paper"), ("Hello", "Re: Hello"), ("", "Re: your message"),
     ("Re[2]: SV: x", "Re: x")],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_wrap_reflows_paragraphs_and_keeps_quotes() -> None:
    text = "word " * 40 + "\nshort tail\n\n> " + "quoted " * 20
    wrapped = wrap_text(text)
    lines = wrapped.split("\n")
    assert all(len(line) <= 72 for line in lines if not line.startswith(">"))
    assert "tail" in lines[-3] and lines[-1].startswith("> quoted")


def test_shipped_templates_render_for_each_answered_label() -> None:
    drafter = Drafter(shipped_templates_dir(), OWNER)
    assert drafter.check() == []
    mail = parse_mail(ORIGINAL)
    for label in ("congratulation", "advice_request", "phd_offer", "job_lead"):
        text = drafter.render(mail, label)
        assert text is not None and text.startswith("Hi Jane,") and text.rstrip().endswith("Kai")
    assert drafter.render(mail, "other") is None


def test_reply_is_threaded_and_addressed_to_reply_to() -> None:
    mail = parse_mail(ORIGINAL)
    raw = build_reply(mail, "Hi Jane,\n\nThank you.\n", OWNER, message_id="<draft@andersen.dk>")
    reply = email.message_from_bytes(raw, policy=policy.default)
    assert reply["To"] == "jane@home.example"
    assert reply["From"] == "Kai Andersen <kai@andersen.dk>"
    assert reply["Subject"] == "Re: Your paper"
    assert reply["In-Reply-To"] == "<orig@uni.example>"
    assert reply["References"] == "<root@x> <mid@x> <orig@uni.example>"
    assert reply.get_content_type() == "text/plain" and reply.get_content_charset() == "utf-8"
    body = reply.get_content()
    assert "Thank you." in body and "> Would you consider a PhD with us?" in body
    assert b"\r\nIn-Reply-To: <orig@uni.example>\r\n" in raw
    _, _, encoded_body = raw.partition(b"\r\n\r\n")
    assert all(len(line) <= 72 for line in encoded_body.decode("utf-8").splitlines())


def test_threading_follows_rfc_5322_when_the_original_lacks_fields() -> None:
    """No Message-ID: no In-Reply-To, but the draft keeps the thread the original was in (its References, or
    its one In-Reply-To when it has no References); nothing at all: neither header."""
    def threading(headers: bytes) -> tuple[str | None, str | None]:
        raw = build_reply(parse_mail(b"From: ana@uni.example\r\nSubject: Re: PhD\r\n" + headers + b"\r\nThanks!\r\n"),
                          "Hi Ana,\n", OWNER, message_id="<draft@andersen.dk>")
        reply = email.message_from_bytes(raw, policy=policy.default)
        return reply["In-Reply-To"], reply["References"]

    assert threading(b"References: <root@x> <mid@x>\r\nIn-Reply-To: <mid@x>\r\n") == (None, "<root@x> <mid@x>")
    assert threading(b"In-Reply-To: <mid@x>\r\n") == (None, "<mid@x>")
    assert threading(b"In-Reply-To: <mid@x>\r\nMessage-ID: <own@x>\r\n") == ("<own@x>", "<mid@x> <own@x>")
    assert threading(b"") == (None, None)


def test_no_draft_when_the_mail_gives_no_address_to_reply_to() -> None:
    """A message from "Kai's Biggest Fan" (no address) is triaged, but a draft to nobody would be noise."""
    drafter = Drafter(shipped_templates_dir(), OWNER)
    prediction = Prediction("congratulation", 0.95, {"congratulation": 0.95}, ())
    anonymous = parse_mail(b"From: Kai's Biggest Fan\r\nSubject: you rock\r\n\r\nCongratulations on the paper!\r\n")
    decision = decide(anonymous, prediction, TriagePolicy(), drafter)
    assert decision.label == "congratulation" and decision.draft is None
    assert "no address to reply to: no draft" in decision.reasons
    assert decide(parse_mail(ORIGINAL), prediction, TriagePolicy(), drafter).draft  # with an address: a draft


def test_a_subject_alone_gets_a_draft_only_when_the_model_is_sure() -> None:
    """ "(empty) sent by mistake from my phone" with a guessed label: a thank-you to it would be noise. A
    subject-only "Congratulations on the paper!" the model is sure of is still answered."""
    drafter = Drafter(shipped_templates_dir(), OWNER)
    empty = parse_mail(b"From: Nikolai Berg <n@x.no>\r\nSubject: (empty) sent by mistake from my phone\r\n\r\n")
    guess = Prediction("congratulation", 0.59, {"congratulation": 0.59, "other": 0.41}, ())
    decision = decide(empty, guess, TriagePolicy(), drafter)
    assert decision.unsure and decision.draft is None and "no text and unsure: no draft" in decision.reasons
    cheers = parse_mail(b"From: Jo <jo@x.org>\r\nSubject: Congratulations on the paper!\r\n\r\n")
    sure = Prediction("congratulation", 0.93, {"congratulation": 0.93}, ())
    assert decide(cheers, sure, TriagePolicy(), drafter).draft
    # On a subject alone the bar is higher than unsure_below: "nothing" at 0.64 is a guess, not a thank-you.
    nothing = parse_mail(b"From: Ops <ops@firm.example>\r\nSubject: nothing\r\n\r\n")
    leaning = Prediction("congratulation", 0.64, {"congratulation": 0.64, "other": 0.36}, ())
    decision = decide(nothing, leaning, TriagePolicy(), drafter)
    assert decision.unsure and decision.draft is None
    assert "unsure: confidence 0.64 < 0.75 (a subject and no text)" in decision.reasons
    assert not decide(parse_mail(ORIGINAL), leaning, TriagePolicy(), drafter).unsure  # with text: 0.6 as set


def test_broken_template_is_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "congratulation.txt.j2").write_text("{{ greeting }}\n\n{% if %}\n")
    (tmp_path / "job_lead.txt.j2").write_text("{{ greeting }}\n{{ no_such_variable }}\n")
    problems = Drafter(tmp_path, OWNER).check()
    assert any("congratulation.txt.j2:3:" in p for p in problems)
    assert any("job_lead.txt.j2:2:" in p and "no_such_variable" in p for p in problems)


def test_a_template_edited_or_removed_while_running_is_used_after_the_recheck(tmp_path: Path) -> None:
    """The daemon renders thousands of drafts without asking the filesystem each time, yet an owner who edits
    or removes a template while it runs gets the new text (or no draft) within TEMPLATE_RECHECK seconds."""
    import os

    from bot.drafting import TEMPLATE_RECHECK

    now = [100.0]
    drafter = Drafter(tmp_path, OWNER, clock=lambda: now[0])
    template = tmp_path / "congratulation.txt.j2"
    mail = parse_mail(ORIGINAL)
    assert drafter.render(mail, "congratulation") is None
    template.write_text("{{ greeting }}\n\nThank you!\n")
    assert drafter.render(mail, "congratulation") is None, "a missing template is remembered for a moment"
    now[0] += TEMPLATE_RECHECK
    assert drafter.render(mail, "congratulation") == "Hi Jane,\n\nThank you!\n"
    template.write_text("{{ greeting }}\n\nMany thanks!\n")
    os.utime(template, (1, 1))  # a different mtime, however fast the test runs
    now[0] += TEMPLATE_RECHECK / 2
    assert drafter.render(mail, "congratulation") == "Hi Jane,\n\nThank you!\n"
    now[0] += TEMPLATE_RECHECK
    assert drafter.render(mail, "congratulation") == "Hi Jane,\n\nMany thanks!\n"
    template.unlink()
    now[0] += TEMPLATE_RECHECK
    assert drafter.render(mail, "congratulation") is None


def test_replies_wrap_the_same_with_the_paragraph_cache() -> None:
    """Reply paragraphs are wrapped through a cache; the text is what wrap_text gives without it."""
    from bot.drafting import _fill_repeated

    text = ("Hi Jane,\n\n" + "Thank you for writing about the paper, it means a lot to hear it helped. " * 4
            + "\n\n> quoted line stays\n- a list item that is long enough to be kept exactly as it was written\n")
    assert wrap_text(text, fill=_fill_repeated) == wrap_text(text) == wrap_text(text, fill=_fill_repeated)


def test_sandbox_blocks_attribute_escapes(tmp_path: Path) -> None:
    (tmp_path / "congratulation.txt.j2").write_text("{{ greeting.__class__.__mro__[1].__subclasses__() }}")
    assert Drafter(tmp_path, OWNER).check() != []


def test_reply_headers_encode_non_ascii_and_long_lines_fall_back_to_qp() -> None:
    raw = ("From: =?utf-8?B?5byg5LiJ?= <zhang@x.cn>\r\nSubject: =?utf-8?q?Gl=C3=BCckwunsch?=\r\n"
           "Message-ID: <z@x.cn>\r\n\r\n" + "word" * 400 + "\r\n").encode()
    reply = email.message_from_bytes(build_reply(parse_mail(raw), "Hi,\n\nDanke!\n", OWNER), policy=policy.default)
    assert reply["To"] == "张三 <zhang@x.cn>"
    assert reply["Subject"] == "Re: Glückwunsch"
    assert reply["Content-Transfer-Encoding"] == "quoted-printable"
    assert "word" * 400 in reply.get_content().replace("\n", "")
    assert reply["Date"] and reply["Message-ID"].endswith("@andersen.dk>")


def test_a_broken_follow_up_template_is_reported_by_check(tmp_path: Path) -> None:
    import shutil

    from bot.drafting import Drafter, Owner, shipped_templates_dir

    for item in shipped_templates_dir().iterdir():
        shutil.copy(item, tmp_path / item.name)
    owner = Owner("Kai", "kai@example.org", "Kai")
    assert Drafter(tmp_path, owner).check() == []
    (tmp_path / "follow_up.txt.j2").write_text("{{ greeting }}\n{{ promised }}\n")
    problems = Drafter(tmp_path, owner).check()
    assert len(problems) == 1 and "follow_up.txt.j2:2" in problems[0] and "promised" in problems[0]


def test_fill_spaces_wraps_as_textwrap_does() -> None:
    """The fast wrapper gives textwrap's lines (break_long_words=False, break_on_hyphens=False) on random text
    with runs of spaces, long words, accents and a no-break space (which goes to textwrap itself)."""
    import random
    import textwrap

    from bot.quoting import fill_spaces

    rng = random.Random(20261123)
    for _ in range(20_000):
        words = ["".join(rng.choice("abcé-ü.,x") for _ in range(rng.choice([1, 3, 8, 20, 90]))) for _ in range(rng.randint(0, 25))]
        text = "".join(w + " " * rng.choice([1, 1, 2, 5, 80]) for w in words)
        text = text.rstrip(" ") if rng.random() < 0.5 else text
        text = " " + text if rng.random() < 0.05 else text
        text = text.replace("x", "\u00a0") if rng.random() < 0.05 else text
        width = rng.choice([1, 10, 70, 72])
        assert fill_spaces(text, width) == textwrap.wrap(text, width=width, break_long_words=False,
                                                         break_on_hyphens=False), (text, width)


@given(st.text(alphabet=st.sampled_from(["a", "b", " ", "\n", "\t", "\u00a0", "\u2003", "-", "é"]), max_size=60),
       st.integers(0, 40))
def test_the_quoted_head_is_the_stripped_text_cut(text: str, limit: int) -> None:
    from bot.quoting import _stripped_head

    body = text.strip()
    expected = body[:limit].rstrip() + "\n[...]" if len(body) > limit else body
    assert _stripped_head(text, limit) == expected


@given(st.lists(st.sampled_from(["a", "bb", " ", "-", "é", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "<a-b@c.org>"]),
                max_size=30).map("".join))
def test_attribution_lines_are_textwraps(who: str) -> None:
    """Quotes wrap their attribution line with fill_spaces when it has no hyphen: textwrap's lines."""
    import textwrap

    from bot.quoting import WRAP, _quote

    name = " ".join(who.split()) or "x"  # (a parsed sender name has no runs of spaces)
    mail = dataclasses.replace(parse_mail(ORIGINAL), sender_name=name, sender_address="", derived={})
    attribution = f"On Tue, 03 Mar 2026 10:00:00 +0100, {name} wrote:"
    expected = "\n".join(textwrap.wrap(attribution, width=WRAP, break_long_words=False))
    assert _quote(mail, 100).startswith(expected + "\n")


@given(st.text(min_size=1, max_size=400).map(lambda v: " ".join(v.split())).filter(lambda v: not v.isascii()))
def test_header_values_are_encoded_as_the_standard_library_encodes_them(value: str) -> None:
    """The direct encoding of one-line values, and the fallback for longer ones, write what Header writes
    (for values as reply headers have them: words with one space between)."""
    from email.header import Header

    from bot.drafting import encode_header_value

    value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    assert encode_header_value(value) == Header(value, "utf-8", maxlinelen=998).encode(linesep="\r\n")


def test_a_long_non_ascii_subject_is_folded_into_several_encoded_words() -> None:
    from bot.drafting import encode_header_value

    subject = " ".join(["Glückwunsch"] * 120)
    folded = encode_header_value(subject)
    assert folded.count("=?utf-8?") > 1 and all(len(line) <= 998 for line in folded.split("\r\n"))
    assert str(email.header.make_header(email.header.decode_header(folded))) == subject
