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
