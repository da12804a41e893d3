"""The reader process against the suite's Dovecot: a backlog is fetched and parsed in a child that ends with
the sync; a child that dies, or cannot log in, leaves the daemon to read the mail itself; and it dies with
the daemon (kill -9)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import bot.daemon
from bot.config import ImapAccount, load_config
from bot.prepare import Ahead
from bot.quoting import QUOTE_LIMIT
from bot.reader import NICE, Batch, Reader
from bot.secrets import SecretRef
from tests.integration.test_daemon import (
    _append_backlog,
    _assert_once_each_with_one_draft,
    _drafts,
    _rows,
    _sample_messages,
)
from tests.procs import children
from tests.test_cli import _mentorbox


class SpyReader(Reader):
    """A real reader that remembers itself and counts its answers."""

    made: list[SpyReader] = []

    def __init__(self, account: ImapAccount, folder: str, batches: Sequence[Sequence[int]],
                 ahead: Ahead | None = None) -> None:
        super().__init__(account, folder, batches, ahead)
        self.batches = [list(b) for b in batches]
        self.ahead = ahead
        self.answers = 0
        self.mails = self.prepared = 0
        SpyReader.made.append(self)

    def next(self, uids: Sequence[int]) -> Batch:
        batch = super().next(uids)
        if not self.answers:  # the child is alive at least until its last answer
            self.nice = os.getpriority(os.PRIO_PROCESS, self._proc.pid)
        self.answers += 1
        keys = [key for key, _ in self.ahead.models] if self.ahead else []
        self.mails += len(batch.mails)
        self.prepared += sum(1 for m in batch.mails.values()
                             if keys and all(k in m.derived for k in keys) and ("quote", QUOTE_LIMIT) in m.derived)
        return batch


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> type[SpyReader]:
    monkeypatch.setenv("MBX_TEST_PW", env["MBX_TEST_PW"])
    SpyReader.made = []
    monkeypatch.setattr(bot.daemon, "Reader", SpyReader)
    return SpyReader


class Lanes:
    """Watches the daemon's lane steps: drafts stored per connection, and whether a connection was ever used
    by two threads at once (imaplib is not thread-safe)."""

    def __init__(self) -> None:
        self.drafts: dict[int, int] = {}
        self.handed: list[int] = []
        """Drafts per lane step, in the order they were handed over."""
        self.busy: set[int] = set()
        self.overlaps = 0
        self.lock = threading.Lock()


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> Lanes:
    seen = Lanes()
    step = bot.daemon.FolderWorker._lane_step

    def watched(self, mailbox, drafts, uids):  # type: ignore[no-untyped-def]
        with seen.lock:
            seen.overlaps += id(mailbox) in seen.busy
            seen.busy.add(id(mailbox))
            if drafts:
                seen.drafts[id(mailbox)] = seen.drafts.get(id(mailbox), 0) + len(drafts)
                seen.handed.append(len(drafts))
        try:
            time.sleep(0.01)  # (a window for another thread to come in, if nothing kept it out)
            return step(self, mailbox, drafts, uids)
        finally:
            with seen.lock:
                seen.busy.discard(id(mailbox))

    monkeypatch.setattr(bot.daemon.FolderWorker, "_lane_step", watched)
    return seen


def _run_once(config: Path) -> int:
    return bot.daemon.run_daemon(load_config(config), once=True, say=lambda text: None)


def test_a_backlog_is_read_in_a_child_that_ends_with_the_sync(imap, daemon_config: Path, spy) -> None:  # type: ignore[no-untyped-def]
    total = _append_backlog(imap, "r")
    assert _run_once(daemon_config) == 0
    (reader,) = spy.made
    batches = -(-total // 20)
    # The daemon fetches the first batch itself while the child starts, as two: 5 messages, then 15.
    assert len(reader.batches) == batches - 1 and len(reader.batches[0]) == 20
    assert reader.answers == batches - 1 and not reader.broken
    assert reader._proc.poll() == 0, "the child ends with the sync"
    assert reader.mails == total - 20 and reader.prepared == reader.mails, "the child did the work of bot.prepare"
    assert reader.nice == min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICE), "it yields the CPU to the daemon"
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def test_the_first_drafts_of_a_backlog_go_out_after_a_quarter_batch(imap, daemon_config: Path, spy,  # type: ignore[no-untyped-def]
                                                                    lanes: Lanes) -> None:
    """The server storing the drafts was the last to finish a backlog: the first batch is split so that
    drafts start going out after a quarter of it (5 of 20 messages here), then go out a batch at a time."""
    total = _append_backlog(imap, "f")
    assert _run_once(daemon_config) == 0
    handed = lanes.handed
    assert 1 <= handed[0] <= 5 and max(handed) <= 20 and len(handed) > total // 20, handed
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def test_once_the_reader_fetches_the_drafts_are_shared_by_two_connections(imap, daemon_config: Path, spy,  # type: ignore[no-untyped-def]
                                                                          lanes: Lanes) -> None:
    """The server stores each draft with an fsync, one at a time per connection: once the reader fetches, the
    daemon's own connection is idle, so it takes a share of each batch's drafts (with the drafts connection;
    no third one is opened), and never while another thread uses it."""
    total = _append_backlog(imap, "s")
    assert _run_once(daemon_config) == 0
    (reader,) = spy.made
    assert not reader.broken
    assert len(lanes.drafts) == 2 and min(lanes.drafts.values()) > 0, lanes.drafts
    assert lanes.overlaps == 0
    drafted = sum(1 for r in _rows(daemon_config) if r["status"] == "drafted")
    assert sum(lanes.drafts.values()) == drafted == len(_drafts(imap))
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def test_without_a_drafts_connection_the_drafts_go_out_on_the_daemons_own(imap, daemon_config: Path, spy,  # type: ignore[no-untyped-def]
                                                                           lanes: Lanes,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that refuses the drafts' connection (a per-user limit) still gets every draft once: on the
    daemon's connection, between its fetches and then while the reader fetches."""
    monkeypatch.setattr(bot.daemon.FolderWorker, "_drafts_connection", lambda self: None)
    total = _append_backlog(imap, "n")
    assert _run_once(daemon_config) == 0
    assert len(lanes.drafts) == 1 and lanes.overlaps == 0
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def test_a_reader_that_dies_leaves_the_daemon_to_read_the_rest(imap, daemon_config: Path, spy,  # type: ignore[no-untyped-def]
                                                               monkeypatch: pytest.MonkeyPatch, lanes: Lanes) -> None:
    """The daemon then fetches on its own connection again, which is also storing drafts: one at a time."""
    class Dying(spy):  # type: ignore[misc, valid-type]
        def next(self, uids: Sequence[int]) -> Batch:
            if self.answers == 2:
                self._proc.kill()
                self._proc.wait()
            return super().next(uids)

    monkeypatch.setattr(bot.daemon, "Reader", Dying)
    total = _append_backlog(imap, "d")
    assert _run_once(daemon_config) == 0
    (reader,) = spy.made
    assert reader.broken and 2 <= reader.answers < len(reader.batches)
    assert lanes.overlaps == 0
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def test_a_reader_that_cannot_log_in_leaves_the_daemon_to_read_everything(imap, daemon_config: Path, spy,  # type: ignore[no-untyped-def]
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    class Refused(spy):  # type: ignore[misc, valid-type]
        def __init__(self, account: ImapAccount, folder: str, batches: Sequence[Sequence[int]],
                     ahead: Ahead | None = None) -> None:
            wrong = dataclasses.replace(account, password=SecretRef("imap.password", env="MBX_NOT_SET"))
            super().__init__(wrong, folder, batches, ahead)

    monkeypatch.setattr(bot.daemon, "Reader", Refused)
    total = _append_backlog(imap, "l")
    assert _run_once(daemon_config) == 0
    (reader,) = spy.made
    assert reader.broken and reader.answers == 0
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def test_folders_with_a_backlog_take_the_helpers_one_at_a_time(imap, daemon_config: Path, spy,  # type: ignore[no-untyped-def]
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Three folders start with a backlog at once: one reader at a time (two more connections than folders,
    not six), and every message of every folder is triaged once, with one draft each."""
    live, most = [0], [0]
    lock = threading.Lock()

    class Counted(spy):  # type: ignore[misc, valid-type]
        def __init__(self, account: ImapAccount, folder: str, batches: Sequence[Sequence[int]],
                     ahead: Ahead | None = None) -> None:
            with lock:
                live[0] += 1
                most[0] = max(most[0], live[0])
            super().__init__(account, folder, batches, ahead)

        def close(self) -> None:
            super().close()
            with lock:
                live[0] -= 1

    monkeypatch.setattr(bot.daemon, "Reader", Counted)
    folders = ["INBOX", "Lists", "Jobs"]
    for folder in folders[1:]:
        imap.create_folder(folder)
    messages = _sample_messages()
    for folder in folders:
        for copy in range(2):
            imap.multiappend(folder, [raw.replace(b"Message-ID: <", f"Message-ID: <{folder}{copy}-".encode(), 1)
                                      for raw in messages])
    daemon_config.write_text(daemon_config.read_text() + f"folders = {folders!r}\n".replace("'", '"'))
    assert _run_once(daemon_config) == 0
    assert len(spy.made) >= 1 and most[0] == 1
    rows = _rows(daemon_config)
    assert len(rows) == 3 * 2 * len(messages)
    assert len({(r["folder"], r["uid"]) for r in rows}) == len(rows)
    replied_to = [d["In-Reply-To"] for d in _drafts(imap)]
    assert len(replied_to) == len(set(replied_to)) == sum(1 for r in rows if r["status"] == "drafted")


def test_without_backlog_helpers_one_connection_does_it_all(imap, daemon_config: Path, spy) -> None:  # type: ignore[no-untyped-def]
    daemon_config.write_text(daemon_config.read_text() + "backlog_helpers = false\n")
    total = _append_backlog(imap, "n")
    assert _run_once(daemon_config) == 0
    assert spy.made == []
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def _reader_pids(daemon: int) -> list[int]:
    """The daemon's children that run ``bot.reader``."""
    found = []
    for pid in children(daemon):
        try:
            if b"bot.reader" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def _readers_at_work(daemon: int, config: Path) -> list[int]:
    """The daemon's reader processes, once it has recorded its first messages (fails after a minute)."""
    deadline = time.monotonic() + 60
    readers: list[int] = []
    while time.monotonic() < deadline and not readers:
        readers = _reader_pids(daemon) if _rows(config) else []
        time.sleep(0.02)
    assert readers, "no reader process while the backlog was read"
    return readers


def test_the_reader_is_mentorbox_own_whatever_the_directory(imap, daemon_config: Path, env,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    """``python -m`` puts the current directory first on the path: started from a directory with a ``bot/`` of
    its own (another checkout, another version), the reader would have been that one."""
    elsewhere = tmp_path / "elsewhere"
    marker = tmp_path / "foreign-code-ran"
    for package, module in (("bot", "reader"), ("classifier", "manager"), ("classifier", "faq_topics")):
        (elsewhere / package).mkdir(parents=True, exist_ok=True)
        (elsewhere / package / "__init__.py").write_text("")
        (elsewhere / package / f"{module}.py").write_text(f"open({str(marker)!r}, 'a').write('{module}')\n")
    total = _append_backlog(imap, "cwd")
    done = subprocess.run([*_mentorbox(), "run", "--once", "--config", str(daemon_config)], env=env, cwd=elsewhere,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()
    assert "reader process" not in done.stderr, done.stderr
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def test_the_reader_dies_with_the_daemon(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """kill -9 of the daemon mid-backlog leaves no reader process behind (it would hold a connection)."""
    _append_backlog(imap, "k", copies=12)
    proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(daemon_config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        readers = _readers_at_work(proc.pid, daemon_config)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in readers):
        time.sleep(0.05)
    left = [pid for pid in readers if os.path.exists(f"/proc/{pid}")
            and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[:1]]
    assert not left, "a reader process outlived the daemon"


def test_sigterm_to_the_whole_group_stops_daemon_and_reader_quietly(imap, daemon_config: Path, env) -> None:  # type: ignore[no-untyped-def]
    """``systemctl stop`` signals every process of the service: the reader ends at once, and the daemon
    neither complains about it nor goes on reading; exit 0 within 10 s, and the next run finishes the job."""
    total = _append_backlog(imap, "g", copies=12)
    proc = subprocess.Popen([*_mentorbox(), "run", "--config", str(daemon_config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    _readers_at_work(proc.pid, daemon_config)
    stopped = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    code = proc.wait(15)
    took = time.monotonic() - stopped
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0 and took < 10, (code, took, stderr)
    assert "mentorbox stopped" in stderr and "Traceback" not in stderr
    assert "reader process" not in stderr, stderr
    assert 0 < len(_rows(daemon_config)) < total
    done = subprocess.run([*_mentorbox(), "run", "--once", "--config", str(daemon_config)], env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    _assert_once_each_with_one_draft(daemon_config, imap, total)


def test_a_backlog_with_attachments_is_fetched_in_batches_of_bounded_bytes(imap, daemon_config: Path, spy,  # type: ignore[no-untyped-def]
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch is fetched whole and a few are in flight at once, so besides ``batch_size`` messages a batch is
    cut at ``batch_bytes`` (150 messages of 3 MB took the daemon to 422 MB in batches of 100 without it)."""
    daemon_config.write_text(daemon_config.read_text().replace("batch_size = 20\n",
                                                               "batch_size = 20\nbatch_bytes = 1000000\n"))
    attachment = b"QUJD" * 45_000 + b"\r\n"  # 180 KB of base64: five such messages fill a batch
    messages = _sample_messages()
    for i, raw in enumerate(messages):
        raw = raw.replace(b"Message-ID: <", f"Message-ID: <big{i}-".encode(), 1)
        if i % 2 == 0:  # every other one with a "CV" attached; the rest are small
            head, _, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
            head = b"\r\n".join(line for line in head.replace(b"\r\n", b"\n").split(b"\n")
                                if not line.lower().startswith((b"content-type:", b"content-transfer-encoding:",
                                                                b"mime-version:")))
            text = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            raw = (head + b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=cv\r\n\r\n--cv\r\n"
                   b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + b"\r\n--cv\r\n"
                   b"Content-Type: application/pdf; name=cv.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                   + attachment + b"--cv--\r\n")
        imap.append("INBOX", raw)
    imap.select_folder("INBOX", readonly=True)
    sizes = {uid: item[b"RFC822.SIZE"] for uid, item in imap.fetch(imap.search("ALL"), [b"RFC822.SIZE"]).items()}
    made: list[list[list[int]]] = []
    counted: list[dict[int, int]] = []
    cut = bot.daemon.FolderWorker._batches

    def watched(self, uids, found):  # type: ignore[no-untyped-def]
        counted.append(dict(found))
        made.append(cut(self, uids, found))
        return made[-1]

    monkeypatch.setattr(bot.daemon.FolderWorker, "_batches", watched)
    assert _run_once(daemon_config) == 0
    (batches,) = made
    assert sorted(uid for batch in batches for uid in batch) == sorted(sizes)
    # Only the messages bigger than batch_bytes / batch_size were asked for their size; the rest count as that.
    share = 1_000_000 // 20
    assert counted[0] == {uid: size if size > share else share for uid, size in sizes.items()}
    assert sum(size > share for size in sizes.values()) == (len(sizes) + 1) // 2
    assert all(len(b) == 1 or sum(sizes[u] for u in b) <= 1_000_000 for b in batches)
    assert max(len(b) for b in batches) < 20 and len(batches) > len(sizes) // 20 + 1, [len(b) for b in batches]
    (reader,) = spy.made
    assert reader.answers == len(reader.batches) and reader.mails == sum(len(b) for b in reader.batches)
    _assert_once_each_with_one_draft(daemon_config, imap, len(sizes))
