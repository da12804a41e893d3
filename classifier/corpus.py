"""The labelled training corpus: JSON Lines files a person can read and extend (see ``data/SCHEMA.md``).

Each record is turned into a real RFC 5322 message and read back with the same parser the daemon uses,
so training sees exactly what classification will see (quotes and signatures stripped the same way,
HTML converted the same way, bulk headers detected the same way).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from bot.errors import ModelError
from bot.models import LABELS, ParsedMail
from bot.parser import parse_mail

HELD_OUT_BUCKETS = 5
"""One message in five (by a hash of its id) is held out for reporting; the split never changes."""
OWNER = "Kai Andersen <kai@andersen.dk>"
_REQUIRED = ("id", "label", "from", "subject", "body")


@dataclass(frozen=True)
class Example:
    """One labelled message of the corpus (or a correction from the owner)."""

    id: str
    label: str
    mail: ParsedMail
    origin: str = "corpus"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def held_out(self) -> bool:
        """Whether this example belongs to the fixed held-out split."""
        return is_held_out(self.id)


def is_held_out(example_id: str) -> bool:
    """The fixed held-out split: stable for an id whatever else is added to the corpus."""
    digest = hashlib.sha256(example_id.encode("utf-8")).digest()
    return digest[0] % HELD_OUT_BUCKETS == 0


def data_dir() -> Path:
    """The shipped corpus folder (works from a checkout and from an installed wheel)."""
    return Path(__file__).resolve().parent / "data" / "messages"


def _clean_header(value: object) -> str:
    return " ".join(str(value).split())


def _header_line(name: str, value: object) -> bytes:
    text = _clean_header(value)
    if name == "From" and not text.isascii():
        text = formataddr(parseaddr(text), charset="utf-8")  # encode the name, never the address
    elif not text.isascii():
        text = Header(text, "utf-8", maxlinelen=998).encode()
    return f"{name}: {text}\r\n".encode("ascii", "replace")


def record_to_bytes(record: dict[str, Any]) -> bytes:
    """Build the RFC 5322 message a record describes (by hand: ``EmailMessage`` is 10x slower)."""
    recipients = max(1, int(record.get("to_count", 1) or 1))
    date = record.get("date")
    try:
        when = datetime.fromisoformat(str(date)) if date else datetime(2026, 2, 1, 12, tzinfo=timezone.utc)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        date_text = format_datetime(when)
    except ValueError:
        date_text = str(date)
    headers = [
        ("From", record["from"] or "unknown@example.invalid"),
        ("To", ", ".join([OWNER] + [f"reader{i}@example.org" for i in range(1, recipients)])),
        ("Subject", record.get("subject", "")),
        ("Date", date_text),
        ("Message-ID", f"<{record['id']}@corpus.mentorbox.invalid>"),
        *((str(k), v) for k, v in (record.get("headers") or {}).items()),
        ("MIME-Version", "1.0"),
        ("Content-Type", f"text/{'html' if record.get('content_type') == 'text/html' else 'plain'}; charset=utf-8"),
        ("Content-Transfer-Encoding", "8bit"),
    ]
    body = str(record["body"]).replace("\r\n", "\n").replace("\n", "\r\n")
    return b"".join(_header_line(k, v) for k, v in headers) + b"\r\n" + body.encode("utf-8", "surrogatepass")


def validate_record(record: object, where: str) -> dict[str, Any]:
    """Check one record's shape; raise :class:`ModelError` naming the file and line."""
    if not isinstance(record, dict):
        raise ModelError(f"{where}: expected a JSON object")
    for key in _REQUIRED:
        if key not in record or not isinstance(record[key], str):
            raise ModelError(f"{where}: key {key!r} is missing or not a string")
    if record["label"] not in LABELS:
        raise ModelError(f"{where}: label {record['label']!r} is not one of {', '.join(LABELS)}")
    return record


def read_records(paths: Iterable[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, record)`` for every line of the given JSONL files, validating each."""
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path.name}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ModelError(f"{where}: not valid JSON ({exc.msg})") from None
                yield where, validate_record(record, where)


def load_corpus(directory: Path | None = None, *, label: str | None = None) -> list[Example]:
    """All examples of the corpus (or those of one ``label``), in file order; ids must be unique."""
    directory = directory or data_dir()
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise ModelError(f"no training data: {directory} holds no *.jsonl files")
    examples: list[Example] = []
    seen: dict[str, str] = {}
    for where, record in read_records(files):
        if record["id"] in seen:
            raise ModelError(f"{where}: id {record['id']!r} already used at {seen[record['id']]}")
        seen[record["id"]] = where
        if label is not None and record["label"] != label:
            continue
        extra = {k: v for k, v in record.items() if k in ("faq", "priority", "note")}
        examples.append(Example(record["id"], record["label"], parse_mail(record_to_bytes(record)), "corpus", extra))
    return examples


def corpus_fingerprint(examples: Iterable[Example]) -> str:
    """A hash of the training set (ids, labels and text), recorded with a model to tell what it was fed."""
    digest = hashlib.sha256()
    for ex in examples:
        for part in (ex.id, ex.label, ex.mail.subject, ex.mail.clean_text):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
    return digest.hexdigest()


def example_from_fields(example_id: str, label: str, *, sender: str, subject: str, body: str,
                        origin: str) -> Example:
    """An example from stored fields (an owner's correction), built into a message like corpus records."""
    record = {"id": example_id, "label": label, "from": sender or "unknown@example.invalid", "subject": subject,
              "body": body}
    return Example(example_id, label, parse_mail(record_to_bytes(record)), origin)


def example_from_raw(example_id: str, label: str, raw: bytes, origin: str) -> Example:
    """An example from a real message (mail the owner filed in a training folder)."""
    return Example(example_id, label, parse_mail(raw), origin)
