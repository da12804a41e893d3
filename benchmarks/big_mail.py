"""Memory of a backlog of mail with attachments: ``mentorbox run --once`` against a local Dovecot.

Run:  python benchmarks/big_mail.py [--messages 150] [--mb 3] [--batch-bytes N] [--batch-size N]
Needs Debian's dovecot-imapd (scripts/test.sh installs it). The script starts its own throw-away Dovecot on
127.0.0.1, fills INBOX with ``--messages`` PhD applications of about ``--mb`` MB each (a short text and a PDF
"CV" of random bytes, base64), runs one ``mentorbox run --once`` on them (the classifier is trained first, in
the work directory, and not counted) and prints the wall time, the drafts made and the peak resident memory
(VmHWM) of the daemon and of its reader process, sampled every 20 ms.

A batch is fetched whole and a few are in flight at once, so what bounds the memory is the batch's bytes
(``imap.batch_bytes``), not its count (``imap.batch_size``): ``--batch-bytes 1000000000`` shows the daemon
without that bound.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.drafting import shipped_templates_dir  # noqa: E402
from bot.faq import load_faq  # noqa: E402
from classifier.faq_topics import topic_model  # noqa: E402
from imap_backlog import hwm_kb  # noqa: E402  (this folder is on the path of a script run from it)
from tests.dovecot import PASSWORD, start_dovecot  # noqa: E402
from tests.procs import children  # noqa: E402


def application(i: int, attachment: bytes) -> bytes:
    """A PhD application with a CV attached: what a viral paper brings by the hundred."""
    return (f"From: Applicant {i} <applicant{i}@uni.example>\r\nTo: kai@andersen.dk\r\n"
            f"Subject: Application for a PhD position in your group ({i})\r\nMessage-ID: <cv{i}@uni.example>\r\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=cv\r\n\r\n--cv\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Dear Dr Andersen,\r\n\r\nI read your paper and would love to do a PhD with you. My CV is attached.\r\n"
            f"Could you tell me whether you have funding for next year?\r\n\r\nBest regards,\r\nApplicant {i}\r\n"
            "--cv\r\nContent-Type: application/pdf; name=cv.pdf\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=cv.pdf\r\n\r\n").encode() + attachment + b"\r\n--cv--\r\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=150)
    parser.add_argument("--mb", type=float, default=3.0, help="size of each message")
    parser.add_argument("--batch-bytes", type=int, default=None, help="imap.batch_bytes (default: the default)")
    parser.add_argument("--batch-size", type=int, default=None, help="imap.batch_size (default: the default)")
    args = parser.parse_args()
    server = start_dovecot()
    work = Path(tempfile.mkdtemp(prefix="mbxbig"))
    try:
        attachment = subprocess.run(["base64", "-w", "76"], input=os.urandom(int(args.mb * 1e6 * 3 / 4)),
                                    capture_output=True, check=True).stdout.replace(b"\n", b"\r\n")
        client = server.client()
        for i in range(args.messages):
            client.append("INBOX", application(i, attachment))
        extra = "".join(f"{key} = {value}\n" for key, value in (("batch_bytes", args.batch_bytes),
                                                                 ("batch_size", args.batch_size)) if value)
        config = work / "config.toml"
        config.write_text(
            f'[owner]\nname = "Kai Andersen"\naddress = "kai@andersen.dk"\n'
            f'[imap]\nhost = "localhost"\nport = {server.tls_port}\nusername = "test"\n'
            f'password_env = "MBX_BENCH_PW"\nca_file = "{server.ca_file}"\n{extra}'
            f'[store]\npath = "{work / "state.sqlite3"}"\n[classifier]\nmodel_dir = "{work / "model"}"\n'
        )
        env = {**os.environ, "MBX_BENCH_PW": PASSWORD, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "bot.cli"]
        # The classifier and the FAQ topic model, built before the clock starts (a first start builds them once).
        subprocess.run([*command, "retrain", "--config", str(config)], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        templates = shipped_templates_dir()
        topic_model(load_faq(templates), templates, work / "model")
        started = time.perf_counter()
        with (work / "daemon.log").open("w") as log:
            proc = subprocess.Popen([*command, "run", "--once", "--config", str(config)], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=log)
            daemon = reader = 0
            while proc.poll() is None:
                daemon = max(daemon, hwm_kb(proc.pid) // 1024)
                for child in children(proc.pid):
                    reader = max(reader, hwm_kb(child) // 1024)
                time.sleep(0.02)
        seconds = time.perf_counter() - started
        client.select_folder("Drafts", readonly=True)
        drafts = len(client.search("ALL"))
        batches = extra.strip() or "default batches"
        print(f"{args.messages} messages of {args.mb:g} MB ({batches}): exit {proc.returncode}, "
              f"{seconds:.1f} s with start-up, {drafts} drafts; peak RSS daemon {daemon} MB, reader {reader} MB, "
              f"together {daemon + reader} MB")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
