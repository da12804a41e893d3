"""The command line, run as a user runs it: a subprocess, real files, exact messages and exit codes."""

from __future__ import annotations

import email
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.drafting import shipped_templates_dir
from tests.conftest import NASTY, SAMPLE_MBOX

KEYS = {"source", "message_id", "from", "recipient", "reply_to", "replies_elsewhere", "subject", "label", "confidence",
        "unsure", "priority", "reasons", "faq", "draft", "error"}
LABELS = {"congratulation", "advice_request", "phd_offer", "job_lead", "other"}


def _mentorbox() -> list[str]:
    script = Path(sys.executable).parent / "mentorbox"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_mentorbox(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_help_lists_every_command() -> None:
    done = run("--help")
    assert done.returncode == 0
    for command in ("triage", "run", "retrain", "check-config", "status", "retry-failed"):
        assert command in done.stdout


def test_every_command_and_option_has_help() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name, sub in subparsers.choices.items():
        assert sub.description, name
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.dest}"


def test_triage_sample_jsonl(config_file: Path) -> None:
    """Given the shipped sample, when triaged as jsonl, then each message is one complete JSON object."""
    done = run("triage", str(SAMPLE_MBOX), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 48
    expected = json.loads((SAMPLE_MBOX.parent / "sample-labels.json").read_text())
    for row in rows:
        assert set(row) == KEYS
        assert row["label"] in LABELS and 0.0 <= row["confidence"] <= 1.0
        assert isinstance(row["unsure"], bool) and isinstance(row["priority"], bool)
        assert isinstance(row["reasons"], list) and row["reasons"]
        assert (row["draft"] is None) == (row["label"] == "other")
    assert {r["label"] for r in rows} == LABELS
    correct = sum(expected[r["message_id"]] == r["label"] for r in rows)
    assert correct / len(rows) >= 0.9  # the sample was written apart from the training corpus
    assert rows[0]["source"] == "0"


def test_first_run_trains_a_model_and_says_so(isolated_env: dict[str, str], tmp_path: Path) -> None:
    one = tmp_path / "one.eml"
    one.write_bytes(b"From: a@x.org\r\nSubject: congrats\r\n\r\nCongratulations on the spotlight, well deserved!\r\n")
    done = run("triage", str(one), "--format", "jsonl", env=isolated_env)
    assert done.returncode == 0, done.stderr
    assert "no model yet" in done.stderr and "training one from the shipped corpus" in done.stderr
    assert json.loads(done.stdout)["label"] == "congratulation"
    again = run("triage", str(one), "--format", "jsonl", env=isolated_env)
    assert "no model yet" not in again.stderr


def test_table_output(config_file: Path) -> None:
    done = run("triage", str(SAMPLE_MBOX), "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    assert "48 messages" in done.stdout and "job_lead" in done.stdout and "{" not in done.stdout.splitlines()[0]


def test_triage_never_changes_the_source(config_file: Path, tmp_path: Path) -> None:
    before = SAMPLE_MBOX.read_bytes(), SAMPLE_MBOX.stat().st_mtime_ns
    run("triage", str(SAMPLE_MBOX), "--config", str(config_file), "--format", "jsonl")
    assert (SAMPLE_MBOX.read_bytes(), SAMPLE_MBOX.stat().st_mtime_ns) == before


def test_nasty_folder_is_triaged_without_a_traceback(config_file: Path) -> None:
    done = run("triage", str(NASTY), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == len(list(NASTY.glob("*.eml")))
    unreadable = [r for r in rows if r["source"] == "06_nested_multipart_60_levels.eml"]
    assert unreadable and unreadable[0]["label"] in LABELS
    calendar = next(r for r in rows if r["source"] == "31_text_calendar_only.eml")
    assert calendar["unsure"] or calendar["label"] == "other"


def test_drafts_dir_writes_threaded_replies(config_file: Path, tmp_path: Path) -> None:
    drafts = tmp_path / "drafts"
    done = run("triage", str(SAMPLE_MBOX), "--config", str(config_file), "--format", "jsonl",
               "--drafts-dir", str(drafts))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    files = sorted(drafts.glob("*.eml"))
    assert len(files) == sum(1 for r in rows if r["draft"])
    by_id = {r["message_id"]: r for r in rows}
    for path in files:
        reply = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        original = by_id[reply["In-Reply-To"]]
        assert reply["Subject"].startswith("Re: ")
        assert reply["References"].split()[-1] == original["message_id"]
        assert reply["From"] == "Kai Andersen <kai@andersen.dk>"
        assert original["draft"].splitlines()[0] in reply.get_content()


@pytest.mark.parametrize(
    ("args", "config_text", "message"),
    [
        pytest.param(["triage", "{missing}"], None, "mentorbox: error: SOURCE '{missing}' does not exist\n",
                     id="missing-source"),
        pytest.param(["triage", "{sample}", "--config", "{config}"], '[imap]\nhost = "h"\nusername = "u"\npassword_env = "P"\nport = "993x"\n',
                     "mentorbox: error: imap.port: expected an integer, got string '993x'\n", id="wrong-type"),
        pytest.param(["check-config", "--config", "{config}"], '[classifier]\nunsure_bellow = 0.5\n',
                     "mentorbox: error: classifier.unsure_bellow: unknown setting; did you mean "
                     "'classifier.unsure_below'?\n", id="typo"),
        pytest.param(["check-config", "--config", "{config}"], None,
                     "mentorbox: error: config file '{config}' not found (copy config.example.toml there to start)\n",
                     id="no-config"),
        pytest.param(["status", "--config", "{config}"], b'[owner]\nname = "J\xf6rg"\n',
                     "mentorbox: error: config file '{config}' is not a UTF-8 text file (line 2 has the byte 0xf6): "
                     "save it as UTF-8\n", id="latin-1"),
        pytest.param(["status", "--config", "{config}"], b"\x7fELF\x02\x01\x01\x00\x00\x00",
                     "mentorbox: error: config file '{config}' is not a UTF-8 text file (it holds NUL bytes: a binary "
                     "file, or text saved as UTF-16?)\n", id="binary"),
        pytest.param(["triage", "{sample}", "--config", "{config}"],
                     '\ufeff[imap]\nhost = "h"\nusername = "u"\npassword_env = "P"\nport = "993x"\n'.encode(),
                     "mentorbox: error: imap.port: expected an integer, got string '993x'\n", id="bom-is-read-past"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, isolated_env: dict[str, str], args: list[str],
                                          config_text: str | bytes | None, message: str) -> None:
    config = tmp_path / "config.toml"
    if isinstance(config_text, bytes):
        config.write_bytes(config_text)
    elif config_text is not None:
        config.write_text(config_text)
    values = {"missing": str(tmp_path / "nope.mbox"), "sample": str(SAMPLE_MBOX), "config": str(config)}
    done = run(*[a.format(**values) for a in args], env=isolated_env)
    assert done.returncode == 2
    assert done.stderr == message.format(**values)
    assert done.stdout == ""


def test_check_config_reports_each_check(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    secret = tmp_path / "pw"
    secret.write_text("pw")
    secret.chmod(0o600)
    config = tmp_path / "c.toml"
    config.write_text(f'[imap]\nhost = "h"\nusername = "u"\npassword_file = "{secret}"\n')
    done = run("check-config", "--config", str(config), env=isolated_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imap.password readable from file" in done.stdout and "all checks passed" in done.stdout
    secret.chmod(0o644)
    done = run("check-config", "--config", str(config), env=isolated_env)
    assert done.returncode == 1
    assert "readable by other users" in done.stdout and "1 problem(s) found" in done.stdout


def test_status_before_anything_was_processed(isolated_env: dict[str, str]) -> None:
    done = run("status", env=isolated_env)
    assert done.returncode == 0, done.stderr
    assert "model: none yet" in done.stdout and "does not exist yet (nothing processed)" in done.stdout


def test_retry_failed_gives_attempts_back_per_account_and_folder(config_file: Path) -> None:
    from bot.store import MessageKey, Store

    assert run("retry-failed", "--config", str(config_file)).stdout.startswith("no failed messages: the store")
    store = Store(config_file.parent / "state.sqlite3")
    for account, folder, uid in (("main", "INBOX", 1), ("main", "Lists", 2), ("side", "INBOX", 3)):
        for _ in range(3):
            store.record_failure(MessageKey(account, folder, 7, uid), "boom")
    store.close()
    config_file.write_text(config_file.read_text() + '\n[[accounts]]\nname = "main"\nhost = "localhost"\n'
                           'username = "u"\npassword_env = "NOPE"\nfolders = ["INBOX", "Lists"]\n')

    def attempts() -> dict[int, int]:
        db = sqlite3.connect(config_file.parent / "state.sqlite3")
        try:
            return dict(db.execute("SELECT uid, attempts FROM messages"))
        finally:
            db.close()

    bad = run("retry-failed", "--account", "nobody", "--config", str(config_file))
    assert bad.returncode == 2 and "no account 'nobody' in the config (accounts: main)" in bad.stderr
    assert attempts() == {1: 3, 2: 3, 3: 3}
    done = run("retry-failed", "--account", "main", "--folder", "Lists", "--config", str(config_file))
    assert done.returncode == 0 and done.stdout.startswith("1 failed message(s) will be tried again"), done.stdout
    assert attempts() == {1: 3, 2: 0, 3: 3}
    status = run("status", "--config", str(config_file))
    assert "failed: UID 1 (no Message-ID) (given up): boom" in status.stdout
    assert "failed: UID 2 (no Message-ID) (to be tried again): boom" in status.stdout
    assert run("retry-failed", "--config", str(config_file)).stdout.startswith("3 failed message(s)")
    assert attempts() == {1: 0, 2: 0, 3: 0}


def test_run_without_an_account_is_a_clear_error(config_file: Path) -> None:
    done = run("run", "--once", "--config", str(config_file))
    assert done.returncode == 1
    assert done.stderr.strip().endswith("no IMAP account configured: add an [imap] section (see config.example.toml)")


def test_output_into_closed_pipe_is_quiet(config_file: Path) -> None:
    command = " ".join(_mentorbox()) + f" triage {SAMPLE_MBOX} --config {config_file} --format jsonl | head -n 1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert len(done.stdout.splitlines()) == 1


def test_faq_matches_in_output_and_gaps_can_be_closed(config_file: Path, tmp_path: Path) -> None:
    """Given advice requests with a question the FAQ lacks, faq-gaps lists it; a new entry closes the gap."""
    mails = tmp_path / "mails"
    mails.mkdir()
    body = ("Hi Kai, I read your blog post twice. How many hours per week did you put into the paper? "
            "Also, which laptop would you recommend for deep learning work?")
    for i, asker in enumerate(["Ana Silva <ana@x.org>", "Bo Chen <bo@y.org>"]):
        (mails / f"{i}.eml").write_bytes(
            f"From: {asker}\r\nSubject: two questions\r\nMessage-ID: <q{i}@x>\r\n\r\n{body}\r\n".encode())
    done = run("triage", str(mails), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(r["label"] == "advice_request" and "time_spent" in r["faq"] for r in rows)
    assert any(reason.startswith("faq time_spent") for reason in rows[0]["reasons"])
    assert "48 hours a week" in rows[0]["draft"]

    gaps = run("faq-gaps", "--config", str(config_file))
    assert gaps.returncode == 0, gaps.stderr
    assert "1. 2 question(s) from 2 sender(s)" in gaps.stdout
    assert "which laptop would you recommend" in gaps.stdout

    templates = tmp_path / "templates"
    shutil.copytree(shipped_templates_dir(), templates)
    with open(templates / "faq.toml", "a") as fh:
        fh.write('\n[[faq]]\nid = "hardware"\ntitle = "laptops"\nquestions = ["Which laptop would you recommend '
                 'for deep learning?", "what computer should I buy for machine learning"]\n'
                 'answer = "Any laptop will do: the heavy lifting happens on remote machines."\n')
    config_file.write_text(config_file.read_text() + f'\n[drafts]\ntemplates_dir = "{templates}"\n')
    closed = run("faq-gaps", "--config", str(config_file))
    assert closed.returncode == 0, closed.stderr
    assert "no unanswered questions" in closed.stdout
    again = run("triage", str(mails / "0.eml"), "--config", str(config_file), "--format", "jsonl")
    assert "hardware" in json.loads(again.stdout)["faq"]


def test_advice_request_without_faq_match_says_the_personal_part_is_missing(config_file: Path,
                                                                           tmp_path: Path) -> None:
    one = tmp_path / "q.eml"
    one.write_bytes(b"From: Lee Park <lee@x.org>\r\nSubject: advice\r\n\r\nHi Kai, could you recommend a good "
                    b"textbook on Bayesian statistics for my reading group? What would you pick?\r\n")
    done = run("triage", str(one), "--config", str(config_file), "--format", "jsonl")
    row = json.loads(done.stdout)
    assert (row["label"], row["faq"]) == ("advice_request", [])
    assert "no FAQ entry matches: the draft needs your personal answer" in row["reasons"]
    assert "[Personal answer" in row["draft"] and row["draft"].startswith("Hi Lee,")


def test_check_config_names_a_broken_template_file_and_line(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(shipped_templates_dir(), templates)
    (templates / "job_lead.txt.j2").write_text("{{ greeting }}\n\nThanks {{ frist_name }}!\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[drafts]\ntemplates_dir = "{templates}"\n')
    done = run("check-config", "--config", str(config), env=isolated_env)
    assert done.returncode == 1
    assert f"{templates / 'job_lead.txt.j2'}:3: 'frist_name' is undefined" in done.stdout


@pytest.mark.parametrize(("prefix", "expected"), [
    pytest.param(b"\xff\xfe", "  FAIL  template {faq} is not a UTF-8 text file (line 1 has the byte 0xff): save it as "
                 "UTF-8\n", id="not-utf-8"),
    pytest.param(b"\xef\xbb\xbf", "  ok    FAQ {faq}: {entries} entries\n", id="bom-is-read-past"),
])
def test_check_config_reads_faq_toml_as_editors_save_it(tmp_path: Path, isolated_env: dict[str, str], prefix: bytes,
                                                         expected: str) -> None:
    """A faq.toml saved with a byte-order mark is read; one in another encoding is named, never a traceback."""
    templates = tmp_path / "templates"
    shutil.copytree(shipped_templates_dir(), templates)
    faq = templates / "faq.toml"
    faq.write_bytes(prefix + faq.read_bytes())
    config = tmp_path / "c.toml"
    config.write_text(f'[drafts]\ntemplates_dir = "{templates}"\n')
    done = run("check-config", "--config", str(config), env=isolated_env)
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr, done.stderr
    from bot.faq import load_faq

    entries = len(load_faq(shipped_templates_dir()))
    assert expected.format(faq=faq, entries=entries) in done.stdout, done.stdout


def test_progress_bar_on_a_terminal_keeps_jsonl_on_stdout(config_file: Path, tmp_path: Path) -> None:
    """Given stderr is a terminal and 60 messages, a progress bar is drawn there and stdout stays pure JSONL."""
    import pty

    for i in range(60):
        (tmp_path / f"{i}.eml").write_bytes(f"From: a{i}@x.org\r\nSubject: hi {i}\r\n\r\nCongrats!\r\n".encode())
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*_mentorbox(), "triage", str(tmp_path), "--config", str(config_file), "--format",
                             "jsonl"], stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:  # read while it runs: a full pty would block the bar's writes (and the command)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    import threading

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=300)
    reader.join(10)
    os.close(leader)
    seen = b"".join(chunks)
    assert proc.returncode == 0
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert len(rows) == 60
    assert b"triaging" in seen and b"100%" in seen


@pytest.mark.parametrize("command", [["run", "--once"], ["run"], ["backfill", "--since", "2026-01-05"]])
def test_an_unset_password_variable_stops_before_starting(tmp_path: Path, isolated_env: dict[str, str],
                                                         command: list[str]) -> None:
    """The variable cannot appear in a running process: one line naming the key, exit 2, nothing started."""
    config = tmp_path / "c.toml"
    config.write_text('[imap]\nhost = "localhost"\nusername = "u"\npassword_env = "MBX_UNSET_FOR_TEST"\n')
    env = {k: v for k, v in isolated_env.items() if k != "MBX_UNSET_FOR_TEST"}
    done = run(*command, "--config", str(config), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "mentorbox: error: imap.password_env: environment variable MBX_UNSET_FOR_TEST is not set or empty"]
    assert "started" not in done.stdout + done.stderr
