"""IMAP backlog benchmark against a local Dovecot: first sync, IDLE latency, memory.

Run:  python benchmarks/imap_backlog.py [--messages 2000] [--latency-samples 30] [--rounds 3]
Needs Debian's dovecot-imapd (scripts/test.sh installs it). The script starts its own throw-away Dovecot on
127.0.0.1, fills INBOX with messages of 1-50 KB (every tenth with a PDF attachment) built from the corpus,
and measures, in one run:

1. the floor: a bare imapclient UID FETCH of BODY.PEEK[] of the same messages (batches of the daemon's
   size) plus stdlib parsing (email.message_from_bytes, policy.default); and the same with imaplib's trace
   off, which the daemon turns off (imapclient turns it on, and it formats every fetched message);
2. the daemon's first sync of the same INBOX with drafts (fetch, parse, classify, FAQ, draft, record,
   MULTIAPPEND), from a started daemon (model and FAQ loaded, as after start-up), logging as by default (a
   line per message, to a file), and their ratio. Both are measured ``--rounds`` times, in turn (each sync
   into an empty store and an empty Drafts), and the median of the rounds' ratios is the figure: one
   round's ratio moves by about 10 % with the machine;
3. latency from APPEND of a new message to its draft in Drafts, with the daemon idling (Dovecot itself waits
   0.5 s before it tells an IDLE client);
4. the peak RSS (VmHWM) of a daemon process (``mentorbox run``) doing the same first sync of 2,000
   messages on a second account, and of the reader process it starts for the backlog (``bot/reader.py``):
   the goal is for the two together.
"""

from __future__ import annotations

import argparse
import base64
import email
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.corpus import data_dir, read_records, record_to_bytes  # noqa: E402
from tests.dovecot import PASSWORD, start_dovecot  # noqa: E402
from tests.procs import children  # noqa: E402

FILLER = ("Earlier in this thread we discussed the schedule, the reading list and the datasets in some detail. "
          "I am keeping the whole conversation below so that nothing gets lost along the way. ")


def build_messages(n: int, rng: random.Random) -> list[bytes]:
    """n messages of 1-50 KB from the corpus: quoted history pads them, every tenth has a PDF."""
    records = [r for _, r in read_records(sorted(data_dir().glob("*.jsonl")))]
    out = []
    for i in range(n):
        record = dict(records[i % len(records)])
        record["id"] = f"bench-{i}"
        record["to_count"] = min(int(record.get("to_count", 1) or 1), 20)  # a 2,000-name To would be 100 KB
        attachment = rng.randint(2_000, 15_000) if i % 10 == 0 else 0
        target = max(1_000, rng.randint(1_000, 50_000) - attachment * 4 // 3)
        raw = record_to_bytes(record)
        if len(raw) < target:
            quoted = "\n".join("> " + FILLER for _ in range((target - len(raw)) // (len(FILLER) + 3) + 1))
            record["body"] = record["body"] + "\n\nOn Mon, 5 Jan 2026 at 09:00, someone wrote:\n" + quoted
            raw = record_to_bytes(record)
        if i % 10 == 0:
            head, _, body = raw.partition(b"\r\n\r\n")
            head = b"\r\n".join(l for l in head.split(b"\r\n") if not l.lower().startswith((b"content-type",
                                                                                          b"content-transfer")))
            pdf = base64.encodebytes(b"%PDF-1.4\n" + os.urandom(attachment)).replace(b"\n", b"\r\n")
            raw = (head + b'\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
                   b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
                   + b'\r\n--b\r\nContent-Type: application/pdf; name="cv.pdf"\r\nContent-Disposition: attachment; '
                   b'filename="cv.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + pdf + b"\r\n--b--\r\n")
        out.append(raw)
    return out


def floor(server, batch: int, *, trace: bool = True) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """The issue's floor. ``trace=False``: the same with imaplib's trace off, as the daemon runs it
    (imapclient turns that trace on; see bot.imap_source.quiet_imaplib)."""
    client = server.client()
    if not trace:
        client._imap.debug = 0
    started = time.perf_counter()
    client.select_folder("INBOX", readonly=True)
    uids = client.search("ALL")
    count = 0
    for i in range(0, len(uids), batch):
        for item in client.fetch(uids[i : i + batch], [b"BODY.PEEK[]"]).values():
            email.message_from_bytes(item[b"BODY[]"], policy=policy.default)
            count += 1
    seconds = time.perf_counter() - started
    client.logout()
    return seconds, count


def first_sync(config: Path, work: Path, number: int, client) -> tuple[float, int, int, int, float]:  # type: ignore[no-untyped-def]
    """The daemon's first sync of INBOX with drafts, from a started daemon, into a store of its own (round
    ``number``) and an empty Drafts: seconds, messages, drafts made, log lines, and the start-up before it."""
    from bot.config import load_config
    from bot.daemon import FolderWorker, start_services
    from bot.imap_source import Mailbox
    from bot.logs import setup_logging

    client.select_folder("Drafts")
    client.delete_messages(client.search("ALL"))  # (the benchmark's own throw-away Dovecot)
    client.expunge()
    text = config.read_text().replace(str(work / "state.sqlite3"), str(work / f"state-{number}.sqlite3"))
    round_config = work / f"config-{number}.toml"
    round_config.write_text(text)
    cfg = load_config(round_config)
    # The daemon's log, as `mentorbox run` sets it up (INFO: one line per message), written to a file as
    # journald would take it from the daemon's stderr.
    log_path = work / f"daemon-{number}.log"
    log_file = log_path.open("w")
    setup_logging(cfg.logging.level, cfg.logging.format, log_file)
    started = time.perf_counter()
    services = start_services(cfg, lambda _: None)  # (what `mentorbox run` does before its first sync)
    startup = time.perf_counter() - started
    worker = FolderWorker(cfg.accounts[0], "INBOX", services, threading.Event())
    mailbox = Mailbox(cfg.accounts[0])
    log_file.flush()
    logged = log_path.stat().st_size
    started = time.perf_counter()
    done = worker.sync(mailbox)
    seconds = time.perf_counter() - started
    mailbox.close()
    worker.close()
    client.select_folder("Drafts", readonly=True)
    drafts = len(client.search("ALL"))
    log_file.flush()
    with log_path.open("rb") as fh:
        fh.seek(logged)
        lines = fh.read().count(b"\n")
    log_file.close()
    return seconds, done, drafts, lines, startup


def hwm_kb(pid: int) -> int:
    """Peak resident memory of a running process (kB), from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def synced(store: Path, expected: int) -> bool:
    """Whether the daemon has recorded every message and performed every action."""
    if not store.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            waiting = db.execute("SELECT COUNT(*) FROM outbox WHERE state != 'done'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return rows >= expected and waiting == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--latency-samples", type=int, default=30)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3,
                        help="floor + first sync pairs (the median ratio counts)")
    args = parser.parse_args()
    rng = random.Random(7)
    server = start_dovecot()
    work = Path(tempfile.mkdtemp(prefix="mbxbench"))
    try:
        messages = build_messages(args.messages, rng)
        sizes = [len(m) for m in messages]
        client = server.client()
        for start in range(0, len(messages), 100):
            client.multiappend("INBOX", messages[start : start + 100])
        print(f"INBOX: {len(messages)} messages, {sum(sizes) / 1e6:.1f} MB "
              f"(median {statistics.median(sizes) / 1000:.1f} KB, max {max(sizes) / 1000:.1f} KB)")

        config = work / "config.toml"
        config.write_text(
            f'[owner]\nname = "Kai Andersen"\naddress = "kai@andersen.dk"\n'
            f'[imap]\nhost = "localhost"\nport = {server.tls_port}\nusername = "test"\n'
            f'password_env = "MBX_BENCH_PW"\nca_file = "{server.ca_file}"\nbatch_size = {args.batch}\n'
            f'[store]\npath = "{work / "state.sqlite3"}"\n[classifier]\nmodel_dir = "{work / "model"}"\n'
        )  # (logging as by default: INFO, a line per message)
        os.environ["MBX_BENCH_PW"] = PASSWORD

        # Rounds: the floor, then a first sync of the same INBOX into an empty store and an empty Drafts. One
        # round's ratio moves with the machine by +-10 % (its two halves are seconds apart, on a shared
        # machine); the median of the rounds is the figure, and every round is printed.
        rounds = []
        for number in range(1, args.rounds + 1):
            floor_s, floor_n = floor(server, args.batch)
            quiet_s, _ = floor(server, args.batch, trace=False)
            sync_s, done, drafts, lines, startup = first_sync(config, work, number, client)
            rounds.append((floor_s, quiet_s, sync_s))
            print(f"round {number}: floor {floor_s:.2f} s ({floor_n / floor_s:,.0f} messages/s), quiet floor "
                  f"{quiet_s:.2f} s; first sync {sync_s:.2f} s ({done / sync_s:,.0f} messages/s, {drafts} drafts, "
                  f"{lines} log lines; start-up before it, not counted: {startup:.1f} s); ratio "
                  f"{sync_s / floor_s:.2f}, against the quiet floor {sync_s / quiet_s:.2f}")
        ratios = sorted(sync / f for f, _, sync in rounds)
        quiet = sorted(sync / q for _, q, sync in rounds)
        print(f"floor (imapclient UID FETCH BODY.PEEK[] + email.message_from_bytes): median "
              f"{statistics.median(f for f, _, _ in rounds):.2f} s; with imaplib's trace off (as the daemon runs): "
              f"{statistics.median(q for _, q, _ in rounds):.2f} s")
        print(f"daemon first sync with drafts: median {statistics.median(s for _, _, s in rounds):.2f} s")
        print(f"ratio daemon / floor: median {statistics.median(ratios):.2f} of {len(ratios)} rounds "
              f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}; goal <= 1.5); against the quiet floor: median "
              f"{statistics.median(quiet):.2f}")

        # A separate daemon process for latency, started on the last round's synced store.
        env = dict(os.environ)
        synced_config = work / f"config-{args.rounds}.toml"
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--config", str(synced_config)], env=env,
                                stdout=subprocess.DEVNULL, stderr=(work / "latency.log").open("w"), cwd=ROOT)
        time.sleep(8)
        latencies = []
        for i in range(args.latency_samples):
            before = len(client.search("ALL"))
            msg = (f"From: Recruiter {i} <r{i}@lab.example>\r\nSubject: Interview {i}\r\nMessage-ID: <lat{i}@x>\r\n\r\n"
                   f"Hi Kai, we would like to invite you to interview for a research engineer role ({i}).\r\n")
            t0 = time.perf_counter()
            client.append("INBOX", msg.encode())
            while time.perf_counter() - t0 < 10:
                client.noop()
                if len(client.search("ALL")) > before:
                    break
                time.sleep(0.01)
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        latencies.sort()
        p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
        print(f"APPEND -> draft in Drafts with IDLE ({len(latencies)} samples): median "
              f"{statistics.median(latencies):.3f} s, p95 {p95:.3f} s (goal < 0.65 / < 0.8)")
        client.logout()

        # Memory: a real daemon process doing the whole first sync, on the second account.
        other = server.client(user="bot")
        for start in range(0, len(messages), 100):
            other.multiappend("INBOX", messages[start : start + 100])
        other.logout()
        config2 = work / "config2.toml"
        config2.write_text(config.read_text().replace('username = "test"', 'username = "bot"')
                           .replace(str(work / "state.sqlite3"), str(work / "state2.sqlite3")))
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--config", str(config2)],
                                env=env, stdout=subprocess.DEVNULL, stderr=(work / "memory.log").open("w"), cwd=ROOT)
        # ru_maxrss of a child counts the parent's memory at fork; /proc/PID/status VmHWM starts at exec.
        peak, helpers = 0, dict[int, int]()  # helpers: the reader process (and any other child), by pid
        while time.perf_counter() - started < 300:
            peak = max(peak, hwm_kb(proc.pid))
            for child in children(proc.pid):
                helpers[child] = max(helpers.get(child, 0), hwm_kb(child))
            if synced(work / "state2.sqlite3", len(messages)):
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        peak = max(peak, hwm_kb(proc.pid))
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        helper = max(helpers.values(), default=0)
        print(f"daemon process over {len(messages)} messages: synced in {elapsed:.1f} s including start-up; "
              f"peak RSS {peak / 1024:.0f} MB, its reader process {helper / 1024:.0f} MB "
              f"({len(helpers)} child process(es) seen), together {(peak + helper) / 1024:.0f} MB (goal < 200 MB)")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
