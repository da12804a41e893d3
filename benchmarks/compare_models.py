"""Compare the candidate classifiers: stratified 5-fold CV on the training split, then the held-out split.

Run:  python benchmarks/compare_models.py            (prints a Markdown table for the README)
Also: python benchmarks/compare_models.py --by-author (train on four corpus files, test on the fifth)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.corpus import load_corpus  # noqa: E402
from classifier.pipeline import CANDIDATES  # noqa: E402
from classifier.train import compare, evaluate, fit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by-author", action="store_true", help="leave-one-file-out evaluation")
    args = parser.parse_args()
    examples = load_corpus()
    train = [e for e in examples if not e.held_out]
    held = [e for e in examples if e.held_out]
    print(f"corpus: {len(examples)} messages; training split {len(train)}, held-out split {len(held)}\n")
    if args.by_author:
        by_author(examples)
        return
    print("| candidate | CV macro-F1 (mean ± sd of 5 folds) | CV log loss | CV ECE | held-out macro-F1 | "
          "held-out min recall | fit + CV time |")
    print("|---|---|---|---|---|---|---|")
    for result in compare(train):
        started = time.perf_counter()
        model = fit(train, result.name, cv=False).pipeline
        seconds = time.perf_counter() - started + result.seconds
        m = evaluate(model, held)
        folds = result.fold_f1
        mean = sum(folds) / len(folds)
        sd = (sum((f - mean) ** 2 for f in folds) / len(folds)) ** 0.5
        min_recall = min(v["recall"] for v in m.per_label.values())
        print(f"| {result.name}: {CANDIDATES[result.name][0]} | {mean:.3f} ± {sd:.3f} | "
              f"{result.metrics.log_loss:.3f} | {result.metrics.ece:.3f} | {m.macro_f1:.3f} | {min_recall:.3f} | "
              f"{seconds:.1f} s |")


def by_author(examples: list) -> None:  # type: ignore[type-arg]
    authors = sorted({e.id.split("-")[0] for e in examples})
    print("| held-out file | n | " + " | ".join(CANDIDATES) + " |")
    print("|---|---|" + "---|" * len(CANDIDATES))
    for author in authors:
        test = [e for e in examples if e.id.startswith(author + "-")]
        train = [e for e in examples if not e.id.startswith(author + "-")]
        scores = [evaluate(fit(train, c, cv=False).pipeline, test).macro_f1 for c in CANDIDATES]
        print(f"| {author} | {len(test)} | " + " | ".join(f"{s:.3f}" for s in scores) + " |")


if __name__ == "__main__":
    main()
