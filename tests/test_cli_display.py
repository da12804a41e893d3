"""What the terminal shows of mail: literal text only, and where each draft goes.

The real CLI in a subprocess, on real files. A mail's subject, sender, questions and ids are written by a
stranger; none of it may style, link, move the cursor or reorder the owner's terminal, and a reply that goes
to an address other than the sender's is said out loud.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from bot.models import Decision
from bot.store import MessageKey, Store
from tests.test_cli import run

BODY = "Congratulations on your paper, it is wonderful work!"
NASTY_SUBJECT = "a\x1b]0;pwned\x07 b\x1b[2J c\u202egnp.exe d\r e\x08f\x9bg \x1b]8;;https://evil.example\x1b\\x"
CONTROLS = ("\x1b", "\x07", "\u202e", "\r", "\x08", "\x9b")


def _word(text: str) -> str:
    """An RFC 2047 encoded word: how control characters get into a header."""
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def _mails(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.eml").write_bytes(f"From: Eve <eve@x.org>\r\nSubject: [/b] hello\r\n\r\n{BODY}\r\n".encode())
    (folder / "b.eml").write_bytes(
        f"From: Eve <eve@x.org>\r\nSubject: [link=https://evil.example]click me[/link]\r\n\r\n{BODY}\r\n".encode())
    name, subject = _word("Mal\x1b[31m \u202eOry"), _word(NASTY_SUBJECT)
    (folder / "c.eml").write_bytes(
        f"From: {name} <mal@x.org>\r\nSubject: {subject}\r\n\r\n{BODY}\r\n".encode())
    (folder / "d.eml").write_bytes(
        f"From: Prof Li <li@uni.example>\r\nReply-To: collect-cvs@phish.example\r\nSubject: Congrats\r\n\r\n"
        f"{BODY}\r\n".encode())
    return folder


def _no_controls(text: str) -> None:
    for char in CONTROLS:
        assert char not in text, f"{char!r} reached the terminal"


def test_table_shows_subjects_literally_and_no_control_reaches_the_terminal(config_file: Path,
                                                                             tmp_path: Path) -> None:
    """Given subjects with Rich markup, escapes, bidi overrides and a CR, when triaged as a table, then the
    table is printed (exit 0) with the markup as text and every control character made visible."""
    done = run("triage", str(_mails(tmp_path / "mails")), "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    assert "[/b] hello" in done.stdout
    assert "[link=https://evil.example]click me[/lin" in done.stdout  # (cut by the column, shown as text)
    _no_controls(done.stdout)
    assert "␛]0;pwned␇" in done.stdout and "\\u202e" in done.stdout


def test_jsonl_and_table_name_the_recipient_and_warn_when_it_is_not_the_sender(config_file: Path,
                                                                                 tmp_path: Path) -> None:
    """Given a message whose Reply-To is another address than its From, when triaged, then jsonl names the
    recipient and flags it, and the table marks the row and shows where the reply goes."""
    mails = _mails(tmp_path / "mails")
    done = run("triage", str(mails), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    rows = {r["source"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert rows["d.eml"]["recipient"] == "collect-cvs@phish.example"
    assert rows["d.eml"]["reply_to"] == "collect-cvs@phish.example"
    assert rows["d.eml"]["replies_elsewhere"] is True
    assert rows["a.eml"]["recipient"] == "eve@x.org"
    assert rows["a.eml"]["reply_to"] is None and rows["a.eml"]["replies_elsewhere"] is False
    _no_controls(done.stdout.replace("\\u001b", ""))  # JSON escapes are text; raw bidi/C1 are not

    table = run("triage", str(mails), "--config", str(config_file))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if "Prof Li" in ln)
    assert " R " in lines[at] and "→ collect-cvs@phish.example" in lines[at + 1]
    assert "R = replies go elsewhere than to the sender" in table.stdout
    assert "⚠ 1 reply goes to another address than its sender's" in table.stdout
    assert "⚠ replies go to collect-cvs@phish.example, not to the sender (Prof Li <li@uni.example>)" in table.stdout


def test_drafts_dir_is_private(config_file: Path, tmp_path: Path) -> None:
    """Given a drafts folder that does not exist, when triage writes drafts there, then the folder is 0700 and
    each draft (a quote of private mail) is 0600."""
    drafts = tmp_path / "drafts"
    done = run("triage", str(_mails(tmp_path / "mails")), "--config", str(config_file), "--format", "jsonl",
               "--drafts-dir", str(drafts))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(drafts.stat().st_mode) == 0o700
    files = list(drafts.glob("*.eml"))
    assert len(files) == 4
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}


def test_faq_gaps_digest_and_status_show_mail_text_literally(config_file: Path, tmp_path: Path) -> None:
    """Given a store holding a question, a lead and a failed message whose texts carry escapes, when faq-gaps,
    digest and status print them, then no control character reaches the terminal and none is a traceback."""
    store = Store(tmp_path / "state.sqlite3")
    try:
        store.set_folder_state("me", "INBOX", 1, 2)
        store.add_faq_gaps("<q@x>", "Mal <mal@x.org>", None, ["Do you \x1b[2Jtake \u202eSTUDENTS\r?"])
        decision = Decision(label="job_lead", confidence=0.9, unsure=False, priority=True, reasons=(), faq=(),
                            draft=None)
        store.record_decision(MessageKey("me", "INBOX", 1, 1), message_id="<l@x>",
                              sender="Mal\x1b[31m <mal@x.org>", subject="[/b] role " + NASTY_SUBJECT + "y" * 5000,
                              date=None, decision=decision, address="mal@x.org")
        store.record_failure(MessageKey("me", "INBOX", 1, 2), "could not parse 'x\x1b]0;t\x07'",
                             message_id="<\x1b[2J\u202e@x>")
    finally:
        store.close()
    for command in ("faq-gaps", "digest", "status"):
        done = run(command, "--config", str(config_file))
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr
        _no_controls(done.stdout)
        _no_controls(done.stderr)
    gaps = run("faq-gaps", "--config", str(config_file)).stdout
    assert "Do you ␛[2Jtake \\u202eSTUDENTS" in gaps
    digest = run("digest", "--config", str(config_file)).stdout
    assert "[/b] role" in digest and max(map(len, digest.splitlines())) < 400  # a 5 KB subject stays one line
    status = run("status", "--config", str(config_file)).stdout
    assert "<␛[2J\\u202e@x>" in status


def test_status_quotes_failed_message_ids_without_breaking_lines(config_file: Path, tmp_path: Path) -> None:
    """Given a failed message whose Message-ID carries a newline, when status lists it, then it stays on its
    line (no forged status line)."""
    db = Store(tmp_path / "state.sqlite3")
    db.set_folder_state("me", "INBOX", 1, 3)
    db.record_failure(MessageKey("me", "INBOX", 1, 3), "boom", message_id="<a\n  me/INBOX: all good@x>")
    db.close()
    done = run("status", "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    assert "failed: UID 3" in done.stdout
    assert not any(line.strip().startswith("me/INBOX: all good") for line in done.stdout.splitlines())


def test_a_message_bigger_than_max_message_bytes_is_cut_and_still_triaged(config_file: Path, tmp_path: Path) -> None:
    """Given max_message_bytes = 10,000 and a 60 KB message, when triaged, then it is a row, and -v says it was
    cut."""
    config_file.write_text(config_file.read_text() + '\n[imap]\nhost = "h"\nusername = "u"\npassword_env = "P"\n'
                                                      "max_message_bytes = 10000\n")
    big = tmp_path / "big.eml"
    big.write_bytes(f"From: Eve <eve@x.org>\r\nSubject: hi\r\n\r\n{BODY}\r\n".encode() + b"Z" * 60_000 + b"\r\n")
    done = run("triage", str(big), "--config", str(config_file), "--format", "jsonl", "-v")
    assert done.returncode == 0, done.stderr
    (row,) = map(json.loads, done.stdout.splitlines())
    assert row["label"] == "congratulation"
    assert f"message cut at 10000 of {big.stat().st_size} bytes" in done.stderr
