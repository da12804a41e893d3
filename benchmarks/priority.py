"""Priority of leads: fit the signal weights and choose the threshold on the training part, report held-out.

Run:  python benchmarks/priority.py
The labelled set is the corpus's PhD offers and job leads (classifier/data/messages), each marked with
``priority`` true/false, including hard cases (mass PhD announcements, generic recruiter spam, terse real
offers from known labs). The signals are those of ``bot.priority``; the weights are a logistic regression on
them (printed, to be copied into bot/priority.py); the threshold is the highest one whose cross-validated
recall on the training part is at least 0.95. The held-out part (the corpus's fixed split) is scored once.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402

from bot.models import Prediction  # noqa: E402
from bot.priority import BIAS, WEIGHTS, combine, signals  # noqa: E402
from classifier.corpus import load_corpus  # noqa: E402

NAMES = list(WEIGHTS)


def features(examples: list) -> np.ndarray:  # type: ignore[type-arg]
    rows = []
    for e in examples:
        values = signals(e.mail, Prediction(e.label, 0.9, {}, ()))  # confidence enters as 0 (0.9 - 0.9)
        rows.append([values[n] for n in NAMES])
    return np.asarray(rows)


def prf(truth: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    tp = int((truth & flagged).sum())
    return tp / max(1, int(flagged.sum())), tp / max(1, int(truth.sum()))


def sweep(truth: np.ndarray, scores: np.ndarray) -> float:
    """The highest threshold whose recall is still >= 0.95."""
    best = 0.0
    for threshold in np.arange(0.05, 0.95, 0.01):
        if prf(truth, scores >= threshold)[1] >= 0.95:
            best = float(threshold)
    return round(best, 2)


def main() -> None:
    leads = [e for e in load_corpus() if e.label in ("phd_offer", "job_lead") and "priority" in e.extra]
    train = [e for e in leads if not e.held_out]
    held = [e for e in leads if e.held_out]
    y_train = np.asarray([bool(e.extra["priority"]) for e in train])
    y_held = np.asarray([bool(e.extra["priority"]) for e in held])
    print(f"{len(leads)} labelled leads ({int(y_train.sum() + y_held.sum())} priority); "
          f"thresholds chosen on {len(train)}, reported on {len(held)} held out\n")
    x_train, x_held = features(train), features(held)

    def shipped(x: np.ndarray) -> np.ndarray:
        return np.asarray([combine({n: v for n, v in zip(NAMES, row)}, WEIGHTS, BIAS) for row in x])

    print("| weights | threshold (recall >= 0.95 on training part) | training P | training R | held-out P | held-out R |")
    print("|---|---|---|---|---|---|")
    threshold = sweep(y_train, shipped(x_train))
    rows = [("hand-set (shipped)", threshold, shipped(x_train), shipped(x_held))]
    model = LogisticRegression(C=1.0, max_iter=1000)
    cv = cross_val_predict(model, x_train, y_train, cv=StratifiedKFold(5, shuffle=True, random_state=1),
                           method="predict_proba")[:, 1]
    fitted = model.fit(x_train, y_train)
    rows.append(("logistic regression on the signals (CV on training)", sweep(y_train, cv), cv,
                 fitted.predict_proba(x_held)[:, 1]))
    for name, t, on_train, on_held in rows:
        tp, tr = prf(y_train, on_train >= t)
        hp, hr = prf(y_held, on_held >= t)
        print(f"| {name} | {t:.2f} | {tp:.3f} | {tr:.3f} | {hp:.3f} | {hr:.3f} |")
    print(f"| (every lead flagged) | - | {prf(y_train, np.ones_like(y_train))[0]:.3f} | 1.000 | "
          f"{prf(y_held, np.ones_like(y_held))[0]:.3f} | 1.000 |")
    print("\nfitted weights:", ", ".join(f"{n} {w:+.2f}" for n, w in zip(NAMES, fitted.coef_[0])))
    from bot.priority import THRESHOLD
    if abs(THRESHOLD - threshold) > 1e-9:
        print(f"note: bot.priority.THRESHOLD is {THRESHOLD}, the sweep chose {threshold:.2f}")


if __name__ == "__main__":
    main()
