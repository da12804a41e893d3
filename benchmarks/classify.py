"""Classification speed: model load time, one-at-a-time and batch throughput over the corpus.

Run:  python benchmarks/classify.py [--repeat 3]
Trains a model into a temporary dir first (not timed), then measures on one core (the process is pinned
to CPU 0 where the OS allows it). Parsing is measured separately: the figures below start from ParsedMail.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bot.parser import parse_mail  # noqa: E402
from classifier.artifact import ModelStore  # noqa: E402
from classifier.corpus import data_dir, load_corpus, read_records, record_to_bytes  # noqa: E402
from classifier.manager import ensure_model  # noqa: E402
from classifier.model import TriageModel  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    with tempfile.TemporaryDirectory() as tmp:
        ensure_model(Path(tmp) / "model", lambda _: None)
        store = ModelStore(Path(tmp) / "model")
        loads = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            loaded = store.load()
            model = TriageModel(loaded.served, loaded.version, loaded.meta)
            loads.append(time.perf_counter() - started)
        mails = [e.mail for e in load_corpus()]
        raws = [record_to_bytes(r) for _, r in read_records(sorted(data_dir().glob("*.jsonl")))]

        started = time.perf_counter()
        for raw in raws:
            parse_mail(raw)
        parse_rate = len(raws) / (time.perf_counter() - started)

        batch_rates, single_rates = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            for i in range(0, len(mails), 256):
                model.predict(mails[i : i + 256])
            batch_rates.append(len(mails) / (time.perf_counter() - started))
            sample = mails[:300]
            started = time.perf_counter()
            for mail in sample:
                model.predict([mail])
            single_rates.append(len(sample) / (time.perf_counter() - started))
    print(f"messages: {len(mails)} (corpus), model: {loaded.meta.get('candidate')}, runs: {args.repeat}")
    print(f"model load (serving.npz + checks): median {statistics.median(loads) * 1000:.0f} ms")
    print(f"parse (raw bytes -> ParsedMail): {parse_rate:,.0f} messages/s")
    print(f"classify, batches of 256 (with reasons): median {statistics.median(batch_rates):,.0f} messages/s")
    print(f"classify, one at a time (with reasons): median {statistics.median(single_rates):,.0f} messages/s")


if __name__ == "__main__":
    main()
