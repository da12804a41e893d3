"""Retrain time on 10,000 messages: the corpus, varied into 10,000 distinct messages, through the same
``retrain`` as ``mentorbox retrain`` (stratified 5-fold CV, fit, held-out scoring of new vs current).

Run:  python benchmarks/retrain_10k.py [--n 10000]
The variations shuffle sentences and drop words, so the vocabulary grows as it would with real mail.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.corpus import data_dir, example_from_fields, read_records  # noqa: E402
from classifier.manager import DEFAULT_CANDIDATE  # noqa: E402
from classifier.retrain import retrain  # noqa: E402

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def vary(body: str, rng: random.Random) -> str:
    sentences = _SENTENCE.split(body)
    rng.shuffle(sentences)
    words = " ".join(sentences).split(" ")
    return " ".join(w for w in words if rng.random() > 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(1)
    records = [r for _, r in read_records(sorted(data_dir().glob("*.jsonl")))]
    started = time.perf_counter()
    examples = []
    for i in range(args.n):
        r = records[i % len(records)]
        body = r["body"] if i < len(records) else vary(r["body"], rng)
        examples.append(example_from_fields(f"{r['id']}-v{i}", r["label"], sender=r["from"],
                                            subject=r["subject"], body=body, origin="benchmark"))
    built = time.perf_counter() - started
    stages: list[tuple[float, str]] = []
    started = time.perf_counter()
    _, report = retrain(examples, [], None, candidate=DEFAULT_CANDIDATE,
                        progress=lambda s: stages.append((time.perf_counter() - started, s)))
    total = time.perf_counter() - started
    print(f"{args.n} messages built and parsed in {built:.1f} s")
    for at, text in stages:
        print(f"  at {at:5.1f} s: {text}")
    print(f"retrain ({DEFAULT_CANDIDATE}, CV + fit + scoring): {total:.1f} s; CV macro-F1 {report.cv.macro_f1:.3f}")


if __name__ == "__main__":
    main()
