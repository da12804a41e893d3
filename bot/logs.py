"""Logging set-up: one line per event, text or JSON, and secrets redacted before anything is written.

httpx logs full request URLs at INFO, and the Telegram Bot API puts the token in the URL; some PTB errors
quote the token too. Rather than trust every library, a filter on the root handler replaces every known
secret value (and anything shaped like a bot token) with ``***`` in the final message.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from bot.safe_text import visible

_BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Replaces secret values and bot-token-shaped strings in every record's final text, and makes it one line.

    A message quotes mail (a sender, a subject, a parser's complaint about a header): a newline in it would
    forge a log line, an escape sequence would act on the terminal that tails the log. The message is made
    one visible line; a traceback keeps its lines, with control characters shown.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = {s for s in secrets if s and len(s) >= 4}

    def add(self, secret: str) -> None:
        """Redact this value from now on (called when a secret is resolved)."""
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and token-shaped string replaced by ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return _BOT_TOKEN.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = visible(record.getMessage())
        if record.exc_info:
            message += "\n" + visible(logging.Formatter().formatException(record.exc_info), keep_newlines=True)
            record.exc_info = None
            record.exc_text = None
        record.msg = self.redact(message)
        record.args = ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the record's extra fields (folder, uid, label, ...) as keys."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` with the extra fields appended."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={visible(v)}" for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        )
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        return f"{line} {extras}" if extras else line


REDACTOR = RedactingFilter()


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Configure the root logger once: our formatter, the redaction filter, quiet chatty libraries."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "imapclient"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
