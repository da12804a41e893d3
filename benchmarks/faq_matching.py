"""FAQ matching: choose the thresholds on the training part, report precision and recall on the held-out part.

Run:  python benchmarks/faq_matching.py
The labelled set is the corpus's advice requests (classifier/data/messages), each with the FAQ ids it asks
(``faq``); the split is the corpus's fixed held-out split. Precision and recall are over (message, id) pairs,
with at most 3 entries per message as in drafts. Thresholds are chosen by 5-fold cross-validation inside the
training part; the held-out part is touched once, at the end.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz import fuzz  # noqa: E402

from bot.drafting import shipped_templates_dir  # noqa: E402
from bot.faq import FaqMatcher, load_faq  # noqa: E402
from classifier.corpus import Example, load_corpus  # noqa: E402
from classifier.faq_model import train_for  # noqa: E402

SCORERS = {"token_set_ratio": fuzz.token_set_ratio, "token_sort_ratio": fuzz.token_sort_ratio,
           "partial_ratio": fuzz.partial_ratio, "WRatio": fuzz.WRatio}


def counts(matcher: FaqMatcher, examples: list[Example]) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for e in examples:
        truth = set(e.extra.get("faq") or [])
        got = {m.id for m in matcher.match(e.mail.clean_text, limit=3)[0]}
        tp, fp, fn = tp + len(truth & got), fp + len(got - truth), fn + len(truth - got)
    return tp, fp, fn


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


class _NotHeld:
    """Marks the examples of the other folds as trainable and this fold's as held out."""


def main() -> None:
    entries = load_faq(shipped_templates_dir())
    advice = [e for e in load_corpus() if e.label == "advice_request" and "faq" in e.extra]
    train = [e for e in advice if not e.held_out]
    held = [e for e in advice if e.held_out]
    print(f"{len(advice)} labelled advice requests ({sum(len(e.extra['faq']) for e in advice)} asked ids); "
          f"thresholds chosen on {len(train)}, reported on {len(held)} held out; {len(entries)} entries\n")

    print("fuzzy matching of question sentences alone (best threshold on the training part):\n")
    print("| scorer | threshold | precision | recall | F1 |")
    print("|---|---|---|---|---|")
    for name, scorer in SCORERS.items():
        best = max(
            (prf(*counts(FaqMatcher(entries, None, fuzzy_threshold=t, scorer=scorer), train)), t)
            for t in range(50, 100, 5)
        )
        (p, r, f), t = best
        print(f"| {name} | {t} | {p:.3f} | {r:.3f} | {f:.3f} |")

    # Topic model + token_set_ratio: pick both thresholds by 5-fold CV inside the training part.
    folds = [train[i::5] for i in range(5)]
    grid = [(pt, ft) for pt in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6) for ft in (85, 90, 95, 101)]
    totals = {g: [0, 0, 0] for g in grid}
    started = time.perf_counter()
    for k, test in enumerate(folds):
        rest = [e for j, fold in enumerate(folds) if j != k for e in fold]
        model = train_for(entries, rest)
        for pt, ft in grid:
            tp, fp, fn = counts(FaqMatcher(entries, model, prob_threshold=pt, fuzzy_threshold=ft), test)
            totals[(pt, ft)][0] += tp
            totals[(pt, ft)][1] += fp
            totals[(pt, ft)][2] += fn
    print("\ntopic model + fuzzy matching, 5-fold CV on the training part:\n")
    print("| model threshold | fuzzy threshold | precision | recall | F1 |")
    print("|---|---|---|---|---|")
    scored = []
    for (pt, ft), c in totals.items():
        p, r, f = prf(*c)
        scored.append((f, p, r, pt, ft))
    for f, p, r, pt, ft in sorted(scored, reverse=True)[:6]:
        print(f"| {pt} | {ft if ft <= 100 else 'off'} | {p:.3f} | {r:.3f} | {f:.3f} |")
    f, p, r, pt, ft = max(s for s in scored if s[1] >= 0.85)
    model = train_for(entries, train)
    hp, hr, hf = prf(*counts(FaqMatcher(entries, model, prob_threshold=pt, fuzzy_threshold=ft), held))
    print(f"\nchosen: model >= {pt}, fuzzy >= {ft} ({time.perf_counter() - started:.0f} s)")
    print(f"held-out ({len(held)} messages): precision {hp:.3f}, recall {hr:.3f}, F1 {hf:.3f}")


if __name__ == "__main__":
    main()
