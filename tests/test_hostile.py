"""The hostile fixtures (tests/fixtures/hostile) through what the owner reads: ``mentorbox triage`` as a table
and as jsonl (the real CLI), and the Telegram cards. Every message gets a row, the table prints (no Rich
markup error), no control character of a mail reaches the terminal, and every card is escaped HTML within
Telegram's limits. The daemon's side is in tests/integration/test_hostile_daemon.py."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from bot import tgformat
from bot.parser import parse_mail
from tests.test_cli import run

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What no mail may put on the owner's terminal (newline and tab excepted: the table's own)."""


def test_there_are_sixty_hostile_messages() -> None:
    assert len(list(HOSTILE.glob("*.eml"))) >= 60


def test_triage_gives_every_hostile_message_a_row_as_jsonl(config_file: Path) -> None:
    done = run("triage", str(HOSTILE), "--format", "jsonl", "--config", str(config_file))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == len(list(HOSTILE.glob("*.eml")))
    assert [r["source"] for r in rows if r["error"]] == []
    assert CONTROL.search(done.stdout) is None, "jsonl escapes control characters"
    by_source = {r["source"]: r for r in rows}
    assert by_source["30_reply_to_encoded_word_recipients.eml"]["recipient"] == "jane.doe@uni.example"
    assert by_source["31_from_encoded_word_recipients.eml"]["recipient"] is None
    assert by_source["31_from_encoded_word_recipients.eml"]["draft"] is None
    assert by_source["36_phishing_reply_to.eml"]["replies_elsewhere"] is True


def test_triage_table_of_hostile_mail_prints_literal_text_only(config_file: Path) -> None:
    done = run("triage", str(HOSTILE), "--config", str(config_file))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert f"{len(list(HOSTILE.glob('*.eml')))} messages" in done.stdout
    assert "[/b] hello" in done.stdout and "[blink bold red on white]URGENT[/]" in done.stdout
    found = CONTROL.search(done.stdout + done.stderr)
    assert found is None, f"{found.group()!r} reached the terminal" if found else ""
    assert "⚠ replies go to collect-cvs@phish.example" in done.stdout


def test_every_hostile_message_makes_a_deliverable_telegram_card() -> None:
    for path in sorted(HOSTILE.glob("*.eml")):
        mail = parse_mail(path.read_bytes())
        row = {"id": 7, "label": "job_lead", "address": mail.sender_address, "sender": mail.sender,
               "subject": mail.subject, "date": mail.date.isoformat() if mail.date else None,
               "summary": tgformat.summarize(mail.clean_text), "confidence": 0.51,
               "reasons": json.dumps(["priority: a hostile test", *mail.defects[:3]])}
        for what in ("lead", "question"):
            text, _ = tgformat.card(row, None, what=what, has_draft=True)
            assert CONTROL.search(text) is None, path.name
            plain = re.sub(r"</?(b|i|code|a)( [^>]*)?>", "", text)
            assert "<" not in plain and ">" not in plain, (path.name, "only our own tags are HTML")
            assert html.unescape(plain)  # well-formed entities
            pieces = tgformat.split_message(text)
            assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in pieces), path.name
