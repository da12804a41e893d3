"""Does the daemon slow down as its store fills up over months? Sync time against store size, and query plans.

Run:  python benchmarks/store_scaling.py [--messages 400] [--stored 0,50000]

For each store size it starts a throw-away Dovecot (as ``imap_backlog.py`` does) with ``--messages`` new
messages in INBOX (one in four a reply to an old message), fills the state store with that many old messages
(in another folder, with a waiting lead for one in fifty and 5,000 distinct senders), and times the daemon's
first sync of INBOX. Every SQL statement
the sync ran is recorded (SQLite's trace callback) and explained; any whose plan scans a whole table is
printed, because such a statement grows with the store.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import imap_backlog  # noqa: E402

import bot.daemon as daemon  # noqa: E402
import bot.store as store_module  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.imap_source import Mailbox  # noqa: E402
from tests.dovecot import PASSWORD, start_dovecot  # noqa: E402


def fill(path: Path, n: int) -> None:
    """``n`` old triaged messages in folder Old, a waiting lead for one in fifty."""
    store = store_module.Store(path)
    now = time.time()
    with store.transaction() as db:
        for i in range(n):
            db.execute("INSERT INTO messages (account, folder, uidvalidity, uid, message_id, status, label, address,"
                       " attempts, created_at, updated_at) VALUES ('default', 'Old', 1, ?, ?, 'classified', 'other',"
                       " ?, 0, ?, ?)", (i + 1, f"<old{i}@x.org>", f"p{i % 5000}@x.org", now - i, now - i))
            if i % 50 == 0:
                db.execute("INSERT INTO leads (message_row, label, state, created_at, updated_at)"
                           " VALUES (last_insert_rowid(), 'job_lead', 'waiting', ?, ?)", (now, now))
    store.close()


def one(messages: list[bytes], stored: int, model_dir: Path) -> tuple[float, list[str], int]:
    """Sync time, the statements whose plan scans a table, and how many statement shapes ran."""
    work = Path(tempfile.mkdtemp(prefix="mbx-scaling-"))
    server = start_dovecot()
    try:
        client = server.client()
        for start in range(0, len(messages), 100):
            client.multiappend("INBOX", messages[start : start + 100])
        client.logout()
        config = work / "config.toml"
        config.write_text(
            f'[owner]\nname = "Kai Andersen"\naddress = "kai@andersen.dk"\n'
            f'[imap]\nhost = "localhost"\nport = {server.tls_port}\nusername = "test"\n'
            f'password_env = "MBX_BENCH_PW"\nca_file = "{server.ca_file}"\nbatch_size = 200\n'
            f'[store]\npath = "{work / "state.sqlite3"}"\n[classifier]\nmodel_dir = "{model_dir}"\n'
            f'[logging]\nlevel = "WARNING"\n')
        os.environ["MBX_BENCH_PW"] = PASSWORD
        fill(work / "state.sqlite3", stored)
        cfg = load_config(config)
        services = daemon.build_services(cfg, lambda _: None)
        statements: list[str] = []
        worker = daemon.FolderWorker(cfg.accounts[0], "INBOX", services, threading.Event())
        worker.store._db.set_trace_callback(statements.append)  # noqa: SLF001 - a measurement
        mailbox = Mailbox(cfg.accounts[0])
        started = time.perf_counter()
        worker.sync(mailbox)
        elapsed = time.perf_counter() - started
        mailbox.close()
        worker.close()
        db = sqlite3.connect(work / "state.sqlite3")
        shapes: dict[str, str] = {}
        for statement in statements:
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT", "DELETE")):
                shapes.setdefault(re.sub(r"'[^']*'|\b\d+(\.\d+)?\b", "?", statement)[:300], statement)
        scans = []
        for shape, statement in shapes.items():
            plan = " | ".join(str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {statement}"))
            if re.search(r"\bSCAN (messages|leads|outbox|faq_gaps|feedback)\b", plan):
                scans.append(f"{shape[:160]} => {plan}")
        db.close()
        return elapsed, scans, len(shapes)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--stored", default="0,50000", help="store sizes to compare, comma-separated")
    args = parser.parse_args()
    # One message in four answers an old one (the reply-to-a-lead check runs for it), one in twenty a lead.
    messages = [raw if i % 4 else
                f"In-Reply-To: <old{i * 10}@x.org>\r\nReferences: <old{i * 10}@x.org>\r\n".encode() + raw
                for i, raw in enumerate(imap_backlog.build_messages(args.messages, random.Random(7)))]
    models = Path(tempfile.mkdtemp(prefix="mbx-scaling-model-"))  # trained once, by the first run
    try:
        for stored in [int(s) for s in args.stored.split(",")]:
            elapsed, scans, shapes = one(messages, stored, models / "model")
            print(f"store with {stored:,} old messages: first sync of {args.messages} new ones {elapsed:.2f} s "
                  f"({elapsed / args.messages * 1000:.2f} ms a message); {shapes} statement shapes, "
                  f"{len(scans)} scanning a table")
            for scan in scans:
                print(f"  {scan}")
    finally:
        shutil.rmtree(models, ignore_errors=True)


if __name__ == "__main__":
    main()
