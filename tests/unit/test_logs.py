"""Logs never carry secrets: known values and anything shaped like a bot token are redacted."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import REDACTOR, setup_logging


def test_secrets_and_bot_tokens_are_redacted() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "text", stream)
    REDACTOR.add("imap-pass-123")
    log = logging.getLogger("t")
    log.info("login with %s", "imap-pass-123")
    log.warning("POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe")
    try:
        raise ValueError("token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw rejected")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert "imap-pass-123" not in text and "AAHdqTcv" not in text
    assert text.count("***") >= 3


def test_json_format_carries_extra_fields() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "json", stream)
    logging.getLogger("mentorbox").info("triaged", extra={"folder": "INBOX", "uid": 7, "label": "job_lead"})
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["msg"] == "triaged" and record["uid"] == 7 and record["label"] == "job_lead"


def test_mail_text_cannot_forge_a_log_line_or_reach_the_terminal() -> None:
    """Given a sender name with a newline, a forged log line and an escape sequence, when it is logged, then the
    record stays one line with the characters shown visibly; a traceback keeps its lines."""
    stream = io.StringIO()
    setup_logging("INFO", "text", stream)
    log = logging.getLogger("mentorbox")
    log.info("parsed with problems: %s", "From: Eve\n2026-01-01 00:00:00 ERROR   mentorbox: forged\x1b[2J\u202e")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "Eve␊2026-01-01" in lines[0] and "forged␛[2J\\u202e" in lines[0]
    try:
        raise ValueError("bad header\x1b]0;x\x07")
    except ValueError:
        log.exception("failed")
    tail = stream.getvalue().splitlines()[1:]
    assert tail[0].endswith("failed") and tail[1].startswith("Traceback") and len(tail) > 3
    assert "\x1b" not in stream.getvalue() and "ValueError: bad header␛]0;x␇" in tail[-1]
