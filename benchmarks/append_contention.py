"""APPEND of drafts while another thread of the process is busy: imapclient's MULTIAPPEND vs the daemon's.

Run:  python benchmarks/append_contention.py [--drafts 1550] [--batch 155]
Needs Debian's dovecot-imapd. Starts a throw-away Dovecot on 127.0.0.1 and APPENDs ``--drafts`` messages of
3 KB (the size of a draft) in MULTIAPPENDs of ``--batch``, four ways: imapclient's ``multiappend`` and the
daemon's ``Mailbox.append`` (one write per command with LITERAL+), each alone and with a second thread running
pure-Python code, as the daemon's worker thread does while its IMAP lane appends.

Why it matters: every socket write releases the GIL, and getting it back from a busy thread takes up to the
interpreter's switch interval (5 ms). imapclient writes each flag list and each literal separately, so a
MULTIAPPEND of n drafts waits for the GIL about 3n times.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.imap_source import Mailbox  # noqa: E402
from tests.dovecot import PASSWORD, start_dovecot  # noqa: E402

FLAGS = [b"\\Draft", b"\\Seen"]


def busy(stop: threading.Event) -> None:
    """Pure-Python work that holds the GIL whenever it can, like parsing and classifying do."""
    total = 0
    while not stop.is_set():
        for i in range(1000):
            total += i


def timed(append, drafts: list[bytes], batch: int, contention: bool) -> float:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    worker = threading.Thread(target=busy, args=(stop,)) if contention else None
    if worker:
        worker.start()
    started = time.perf_counter()
    for i in range(0, len(drafts), batch):
        append(drafts[i : i + batch])
    seconds = time.perf_counter() - started
    stop.set()
    if worker:
        worker.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=1550)
    parser.add_argument("--batch", type=int, default=155)
    args = parser.parse_args()
    rng = random.Random(7)
    drafts = [(f"From: Kai <kai@andersen.dk>\r\nTo: someone{i}@example.org\r\nSubject: Re: your mail {i}\r\n"
               f"Message-ID: <bench{i}@andersen.dk>\r\n\r\n").encode()
              + bytes(rng.choice(b"abcdefgh ") for _ in range(3000)) + b"\r\n" for i in range(args.drafts)]
    server = start_dovecot()
    try:
        config = Path(tempfile.mkdtemp(prefix="mbxappend")) / "config.toml"
        config.write_text(
            f'[owner]\nname = "Kai Andersen"\naddress = "kai@andersen.dk"\n'
            f'[imap]\nhost = "localhost"\nport = {server.tls_port}\nusername = "test"\n'
            f'password_env = "MBX_BENCH_PW"\nca_file = "{server.ca_file}"\n[store]\npath = "{config.parent / "s.db"}"\n'
        )
        os.environ["MBX_BENCH_PW"] = PASSWORD
        mailbox = Mailbox(load_config(config).accounts[0])
        client = server.client()
        for name in ("A", "B", "C", "D"):
            client.create_folder(name)
        print(f"{args.drafts} drafts of {len(drafts[0]) / 1000:.1f} KB in MULTIAPPENDs of {args.batch} "
              f"(server LITERAL+: {'LITERAL+' in mailbox.capabilities})")
        for contention, folders in ((False, "AB"), (True, "CD")):
            for way, folder in zip(("imapclient multiappend", "mentorbox Mailbox.append"), folders):
                def into(group: list[bytes], way: str = way, folder: str = folder) -> object:
                    if way.startswith("imapclient"):
                        return client.multiappend(folder, [{"msg": m, "flags": FLAGS} for m in group])
                    return mailbox.append(folder, group)
                seconds = timed(into, drafts, args.batch, contention)
                print(f"  {way:26} {'with a busy thread' if contention else 'alone':18} {seconds:6.2f} s")
        for folder in "ABCD":
            client.select_folder(folder, readonly=True)
            assert len(client.search("ALL")) == args.drafts, folder
        mailbox.close()
        client.logout()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
