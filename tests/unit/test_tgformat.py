"""Telegram texts and button data: escaping, splitting, strict callback parsing, durations."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import tgformat as fmt
from bot.durations import ago, parse_duration
from tests.fake_bot_api import html_error


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": 12, "label": "job_lead", "address": "dana@deepmind.com", "sender": "Dana <dana@deepmind.com>",
        "subject": "Offer <urgent> & more", "date": "2026-11-20T09:30:00+00:00", "summary": "Call me </b> soon",
        "reasons": json.dumps(['"referral" +1.20', "priority 0.81: referral +1.4", 'promise due 2026-12-01: "x"']),
        "confidence": 0.91,
    }
    row.update(overrides)
    return row


def test_card_escapes_everything_dynamic_and_is_valid_telegram_html() -> None:
    text, buttons = fmt.card(_row(), {"state": "new"}, what="lead", has_draft=True)
    assert html_error(text) is None
    assert "Offer &lt;urgent&gt; &amp; more" in text and "Call me &lt;/b&gt; soon" in text
    assert "(deepmind.com)" in text and "Why:" in text and "promise due 2026-12-01" in text
    assert [b[0] for row in buttons for b in row] == ["✅ Done", "💤 1 day", "💤 1 week", "🏷 Relabel",
                                                      "📝 Show draft"]
    assert all(len(b[1].encode()) <= 64 for row in buttons for b in row)


def test_question_card_offers_the_five_labels() -> None:
    text, buttons = fmt.card(_row(label="other"), None, what="question", has_draft=False)
    assert "which label?" in text and "Why:" not in text
    assert [fmt.parse_callback(b[1]).arg for row in buttons for b in row] == list(fmt.LABELS)


def test_free_mail_is_not_an_organisation() -> None:
    assert fmt.organisation("someone@gmail.com") == "" and fmt.organisation("x@EPFL.ch") == "epfl.ch"
    assert fmt.organisation("no-at-sign") == ""


@pytest.mark.parametrize("data, expected", [
    ("d:12", ("d", "12", "")), ("z:12:1w", ("z", "12", "1w")), ("l:3:4", ("l", "3", "other")),
    ("v:99", ("v", "99", "")), ("ri:20261123-101010-ab12", ("ri", "20261123-101010-ab12", "")),
])
def test_callbacks_round_trip(data: str, expected: tuple[str, str, str]) -> None:
    cb = fmt.parse_callback(data)
    assert cb is not None and (cb.verb, cb.ref, cb.arg) == expected


@pytest.mark.parametrize("data", [
    None, "", "d:", "d:0", "d:012", "d:1:2", "z:1:2d", "l:1:5", "l:1:-1", "x:1", "d:1 ", " d:1", "d:1\n",
    "ri:../../x", "ri:" + "a" * 41, "d:" + "9" * 13, "é" * 33, "d:١٢", "d:1١", "ri:..",
])
def test_anything_else_is_rejected(data: str | None) -> None:
    assert fmt.parse_callback(data) is None


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_parse_callback_never_raises(data: str) -> None:
    cb = fmt.parse_callback(data)
    if cb is not None:
        assert len(data.encode()) <= 64 and cb.card.startswith(("m:", "r:"))


def test_callback_refuses_to_build_invalid_data() -> None:
    with pytest.raises(ValueError):
        fmt.callback("d", "not-a-number")


@settings(max_examples=200)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300), max_size=60),
       st.integers(min_value=50, max_value=4000))
def test_split_keeps_every_piece_under_the_limit_and_loses_nothing(lines: list[str], limit: int) -> None:
    text = "\n".join(fmt.esc(line) for line in lines)
    pieces = fmt.split_message(text, limit)
    assert all(0 < fmt.units(p) <= limit for p in pieces)
    assert all(html_error(p) is None for p in pieces), "no entity is cut in half"
    if text.strip():
        assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_leads_and_pending_texts() -> None:
    leads = [{"message_row": 5, "label": "phd_offer", "correspondent": "Prof <x@y.edu>", "subject": "A & B",
              "state": "waiting", "priority": 1, "promise_due": "2026-12-01", "created_at": 0.0}]
    text = fmt.leads_text(leads, now=3 * 86_400)
    assert "/show_5" in text and "A &amp; B" in text and "3 d" in text and html_error(text) is None
    assert fmt.leads_text([], 0) == "No open leads. 🎉"
    pending = fmt.pending_text({"advice_request": 2}, [{"id": 9, "sender": "a <b@c>", "subject": "q"}])
    assert "Drafts waiting: 2" in pending and "/draft_9" in pending and html_error(pending) is None


@pytest.mark.parametrize("text, seconds", [
    ("30m", 1800), ("3h", 10_800), ("2d", 172_800), ("1w", 604_800), ("1d12h", 129_600), (" 2 d ", 172_800),
    ("soon", None), ("0d", None), ("-1d", None), ("400d", None), ("1y", None), ("", None), ("d", None),
])
def test_durations(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


def test_ago() -> None:
    assert ago(5) == "5 s" and ago(600) == "10 min" and ago(7200) == "2.0 h" and ago(3 * 86_400) == "3.0 d"


def test_card_names_the_draft_recipient_and_warns_when_it_is_not_the_sender() -> None:
    """Given a draft addressed to a Reply-To that is not the sender, when the card is built, then it names that
    address and says the reply does not go to the sender; a draft to the sender is named without a warning."""
    text, _ = fmt.card(_row(), {"state": "new"}, what="lead", has_draft=True, recipient="collect-cvs@phish.example")
    assert html_error(text) is None
    assert "📝 A reply draft to collect-cvs@phish.example is in your Drafts folder." in text
    assert "⚠ replies go to collect-cvs@phish.example, not to the sender" in text
    plain, _ = fmt.card(_row(), {"state": "new"}, what="lead", has_draft=True, recipient="Dana@DeepMind.com")
    assert "A reply draft to Dana@DeepMind.com" in plain and "⚠" not in plain


def test_card_shows_control_and_bidi_characters_as_text() -> None:
    """Given a subject and a sender with escapes and a right-to-left override, when the card is built, then none
    of those characters is in it, each is shown visibly, and markup-like text stays text."""
    text, _ = fmt.card(_row(subject="*bold* <b>x</b> \x1b[2J c\u202egnp.exe", sender="Mal\x1b]0;t\x07 <m@x.org>",
                            summary="line\u2028two\x9b"), None, what="show", has_draft=False)
    assert html_error(text) is None
    for char in ("\x1b", "\x07", "\u202e", "\u2028", "\x9b"):
        assert char not in text
    assert "*bold* &lt;b&gt;x&lt;/b&gt; ␛[2J c\\u202egnp.exe" in text


def test_text_outside_the_bmp_is_split_by_what_telegram_counts() -> None:
    """Given 5,000 "𝐁" (each two UTF-16 units, as Telegram counts) on one line and on short lines, when split,
    then every piece is at most the limit in UTF-16 units and nothing is lost."""
    for text in ("𝐁" * 5_000, "\n".join(["𝐁𝐨𝐥𝐝 😀 text"] * 700)):
        pieces = fmt.split_message(text)
        assert all(len(p.encode("utf-16-le")) // 2 <= fmt.LIMIT for p in pieces)
        assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
