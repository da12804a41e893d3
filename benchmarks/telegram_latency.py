"""Latency from APPEND of a priority lead to its Telegram push, with the daemon idling (IMAP IDLE).

Run:  python benchmarks/telegram_latency.py [--samples 30]
Needs Debian's dovecot-imapd (scripts/test.sh installs it) and aiohttp (the test extra). The script starts
a throw-away Dovecot on 127.0.0.1 and the suite's fake Bot API (tests/fake_bot_api.py: real HTTP + JSON,
PTB's own HTTP client and rate limiter), runs the daemon in-process exactly as ``mentorbox run`` does, then
APPENDs referral emails one at a time and measures the time until the fake Bot API receives the
sendMessage for each. Dovecot itself waits 0.5 s before it tells an IDLE client about new mail, which is
part of every figure. Goal: median < 0.8 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import parse_config  # noqa: E402
from bot.daemon import run_daemon  # noqa: E402
from bot.telegram_bot import TelegramOptions  # noqa: E402
from tests.dovecot import PASSWORD, start_dovecot  # noqa: E402
from tests.fake_bot_api import TOKEN, FakeBotApi  # noqa: E402

OWNER = 42


def referral(n: int) -> bytes:
    """A personal referral (priority) with a unique subject, so each push can be matched to its APPEND."""
    return (
        f"From: Dana Ortiz <dana{n}@deepmind.com>\r\nTo: kai@andersen.dk\r\nSubject: Referral number {n}\r\n"
        f"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <bench{n}.{time.time_ns()}@deepmind.com>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hi Kai, I have referred you for the research engineer role on my team and passed your CV to the\r\n"
        f"hiring manager. HR will contact you within two weeks to set up an interview.\r\n\r\nDana Ortiz, "
        f"Director of Research\r\n"
    ).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    server = start_dovecot()
    fake = FakeBotApi()
    fake.start()
    work = Path(tempfile.mkdtemp(prefix="mbxtg"))
    os.environ["MBX_BENCH_PW"], os.environ["MBX_BENCH_TG"] = PASSWORD, TOKEN
    stop = threading.Event()
    try:
        from classifier.manager import ensure_model

        ensure_model(work / "model", lambda text: None)
        config = parse_config({
            "imap": {"host": "localhost", "port": server.tls_port, "username": "test",
                     "password_env": "MBX_BENCH_PW", "ca_file": server.ca_file},
            "owner": {"name": "Kai Andersen", "address": "kai@andersen.dk"},
            "store": {"path": str(work / "state.sqlite3")},
            "classifier": {"model_dir": str(work / "model")},
            "telegram": {"enabled": True, "token_env": "MBX_BENCH_TG", "allowed_chat_ids": [OWNER],
                         "api_base_url": fake.base_url},
            "priority": {"vip": ["DeepMind"]},
        })
        thread = threading.Thread(target=run_daemon, kwargs={
            "config": config, "stop": stop, "say": lambda text: None,
            "telegram_options": TelegramOptions(poll_timeout=10)}, daemon=True)
        thread.start()
        client = server.client()
        client.append("INBOX", referral(0))  # warm-up: first sync done, Telegram connected
        fake.wait_until(lambda: fake.sent_to(OWNER), timeout=120, what="the warm-up push")
        time.sleep(1.0)
        latencies = []
        for n in range(1, args.samples + 1):
            before = len(fake.sent_to(OWNER))
            started = time.perf_counter()
            client.append("INBOX", referral(n))
            fake.wait_until(lambda: len(fake.sent_to(OWNER)) > before, timeout=30, what=f"push {n}")
            latencies.append(time.perf_counter() - started)
            assert f"Referral number {n}" in fake.sent_to(OWNER)[-1]["text"]
            time.sleep(0.3)
        latencies.sort()
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
        print(f"APPEND -> Telegram push, {len(latencies)} samples: median {statistics.median(latencies):.3f} s, "
              f"p95 {p95:.3f} s, min {latencies[0]:.3f} s, max {latencies[-1]:.3f} s (goal: median < 0.8 s)")
        return 0
    finally:
        stop.set()
        time.sleep(1.0)
        fake.close()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
