"""Would worker processes bring the first sync to 1.5x the floor? A measured prototype, not the daemon.

Run:  python benchmarks/worker_processes.py [--workers 0|1|2] [--runs 2]
Same mailbox and floor as ``imap_backlog.py``. ``--workers 0`` measures the daemon as it is. With N > 0 the
parse-to-draft step of each batch (parse, classify, FAQ topics, decide, build the draft) runs in N processes
forked after the model is loaded, while the daemon's worker thread only records the results and its lane
fetches and APPENDs, as in ``bot/daemon.py``. Prints the sync time, its ratio to the floor, where the CPU went
(this process, everything else on the machine: the workers and Dovecot), and the workers' memory.

The result is in the README ("Why 1.5 is out of reach on this machine"): the machine's two cores are the
limit, not the GIL alone; worker processes gain 13-18 % and cost 35-48 MB each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import imap_backlog  # noqa: E402

import bot.daemon as daemon  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.imap_source import Mailbox  # noqa: E402
from bot.parser import parse_mail  # noqa: E402
from bot.store import MessageKey  # noqa: E402
from bot.tgformat import summarize  # noqa: E402
from bot.triage import decide  # noqa: E402
from tests.dovecot import PASSWORD, start_dovecot  # noqa: E402

WORKER: daemon.FolderWorker | None = None
"""The folder worker whose services the forked processes use (set before the pool forks)."""


def busy_seconds() -> float:
    """CPU time used by the whole machine so far (all cores, /proc/stat), in seconds."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def private_mb(pid: int) -> tuple[int, int]:
    """(private dirty MB, PSS MB) of a process, from /proc/PID/smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("Private_Dirty:", "Pss:"):
            values[parts[0]] = int(parts[1]) // 1024
    return values.get("Private_Dirty:", 0), values.get("Pss:", 0)


def triage(keys: dict[int, MessageKey], raws: dict[int, bytes]) -> list[tuple[Any, ...]]:
    """In a worker process: the parse-to-draft step of one batch, as the daemon's thread does it."""
    assert WORKER is not None
    services = WORKER.services
    mails = {uid: parse_mail(raw) for uid, raw in raws.items()}
    todo = list(mails)
    predictions = WORKER._predict([mails[uid] for uid in todo])
    topics = WORKER._topics(todo, mails, predictions)
    out = []
    for uid, prediction in zip(todo, predictions):
        decision = decide(mails[uid], prediction, services.policy, services.drafter, services.matcher,
                          topics=topics.get(uid))
        out.append((uid, mails[uid], decision, WORKER._actions(keys[uid], mails[uid], decision)))
    return out


def process_with_pool(pool: ProcessPoolExecutor):  # type: ignore[no-untyped-def]
    """A replacement for ``FolderWorker._process``: fetch in the lane, triage in the pool, record here."""

    def process(self: daemon.FolderWorker, mailbox: Mailbox, uidvalidity: int, uids: list[int], *,
                advance: bool, progress: Any) -> int:
        size = self.account.batch_size
        batches = [list(uids[i : i + size]) for i in range(0, len(uids), size)]

        def keys(batch: list[int]) -> dict[int, MessageKey]:
            return {uid: MessageKey(self.account.name, self.folder, uidvalidity, uid) for uid in batch}

        jobs: list[Future[list[tuple[Any, ...]]]] = []
        done = 0
        with ThreadPoolExecutor(max_workers=1) as lane:
            lane.submit(lambda: [jobs.append(pool.submit(triage, keys(b), mailbox.fetch(b))) for b in batches]).result()
            appending = None
            for n, batch in enumerate(batches):
                results = jobs[n].result()
                if appending is not None:
                    self._drafts_stored(appending.result())
                with self.store.transaction():
                    for uid, mail, decision, actions in results:
                        self.store.record_decision(
                            keys(batch)[uid], message_id=mail.message_id, sender=mail.sender, subject=mail.subject,
                            date=mail.date.isoformat() if mail.date else None, decision=decision, actions=actions,
                            address=mail.sender_address, summary=summarize(mail.clean_text), body=mail.clean_text)
                        done += 1
                    self.store.set_folder_state(self.account.name, self.folder, uidvalidity, batch[-1])
                drafts = self._claim_drafts()
                appending = lane.submit(self._lane_step, mailbox, drafts, [])
            if appending is not None:
                self._drafts_stored(appending.result())
        return done

    return process


def one_run(workers: int, batch: int, count: int) -> None:
    global WORKER
    server = start_dovecot()
    work = Path(tempfile.mkdtemp(prefix="mbxproc"))
    pool = None
    try:
        messages = imap_backlog.build_messages(count, random.Random(7))
        client = server.client()
        for start in range(0, len(messages), 100):
            client.multiappend("INBOX", messages[start : start + 100])
        config = work / "config.toml"
        config.write_text(
            f'[owner]\nname = "Kai Andersen"\naddress = "kai@andersen.dk"\n'
            f'[imap]\nhost = "localhost"\nport = {server.tls_port}\nusername = "test"\n'
            f'password_env = "MBX_BENCH_PW"\nca_file = "{server.ca_file}"\nbatch_size = {batch}\n'
            f'[store]\npath = "{work / "state.sqlite3"}"\n[classifier]\nmodel_dir = "{work / "model"}"\n'
            f'[logging]\nlevel = "WARNING"\n'
        )
        os.environ["MBX_BENCH_PW"] = PASSWORD
        floor_s, _ = imap_backlog.floor(server, batch)
        cfg = load_config(config)
        WORKER = daemon.FolderWorker(cfg.accounts[0], "INBOX", daemon.build_services(cfg, lambda _: None),
                                     threading.Event())
        if workers:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            list(pool.map(abs, range(workers * 4)))  # fork them now, before the clock starts
            WORKER._process = process_with_pool(pool).__get__(WORKER)  # type: ignore[method-assign]
        mailbox = Mailbox(cfg.accounts[0])
        machine, mine, started = busy_seconds(), os.times(), time.perf_counter()
        done = WORKER.sync(mailbox)
        wall = time.perf_counter() - started
        now = os.times()
        own = (now.user + now.system) - (mine.user + mine.system)
        others = busy_seconds() - machine - own
        print(f"workers={workers}: floor {floor_s:.2f} s, sync {wall:.2f} s ({done} messages), ratio "
              f"{wall / floor_s:.2f}; CPU: this process {own:.2f} s, the rest of the machine {others:.2f} s")
        if pool is not None:
            for pid in pool._processes:  # noqa: SLF001 - the prototype's own pool
                dirty, pss = private_mb(pid)
                print(f"  worker process {pid}: {dirty} MB private, PSS {pss} MB")
        mailbox.close()
        WORKER.close()
    finally:
        if pool is not None:
            pool.shutdown()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (0: the daemon as it is)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    for _ in range(args.runs):
        one_run(args.workers, args.batch, args.messages)


if __name__ == "__main__":
    main()
