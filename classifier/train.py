"""Fitting, cross-validating and reporting: the pure part of training (no store, no IMAP, no CLI).

``compare`` cross-validates every candidate of :mod:`classifier.pipeline` on the same folds;
``fit`` trains the chosen one; ``evaluate`` scores a fitted model on held-out examples. The CLI's
``retrain`` command and ``benchmarks/`` are built from these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, f1_score, log_loss, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from bot.models import LABELS, ParsedMail
from classifier.corpus import Example
from classifier.features import COLUMNS, to_row
from classifier.pipeline import CANDIDATES, RANDOM_STATE, build_pipeline

Progress = Callable[[str], None]


def to_matrix(mails: list[ParsedMail]) -> np.ndarray:
    """Model input for a batch: an object array with one column per entry of :data:`COLUMNS`."""
    out = np.empty((len(mails), len(COLUMNS)), dtype=object)
    for i, mail in enumerate(mails):
        out[i] = to_row(mail)
    return out


def quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Metrics:
    """Classification quality on one set of examples."""

    n: int
    macro_f1: float
    per_label: dict[str, dict[str, float]]
    confusion: list[list[int]]
    labels: tuple[str, ...] = LABELS
    log_loss: float | None = None
    ece: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for the model sidecar)."""
        return {
            "n": self.n, "macro_f1": round(self.macro_f1, 4), "per_label": self.per_label,
            "confusion": self.confusion, "labels": list(self.labels),
            "log_loss": None if self.log_loss is None else round(self.log_loss, 4),
            "ece": None if self.ece is None else round(self.ece, 4),
        }


def expected_calibration_error(probabilities: np.ndarray, truth: np.ndarray, classes: Sequence[str],
                               bins: int = 10) -> float:
    """How far the stated confidence is from the observed accuracy, averaged over confidence bins."""
    confidence = probabilities.max(axis=1)
    predicted = np.asarray(classes)[probabilities.argmax(axis=1)]
    correct = predicted == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def metrics(truth: Sequence[str] | np.ndarray, predicted: Sequence[str] | np.ndarray,
            probabilities: np.ndarray | None = None,
            classes: Sequence[str] = LABELS) -> Metrics:
    """Precision, recall and F1 per label, macro-F1, the confusion matrix and, with probabilities, calibration."""
    truth_a, pred_a = np.asarray(truth), np.asarray(predicted)
    p, r, f, s = precision_recall_fscore_support(truth_a, pred_a, labels=list(LABELS), zero_division=0)
    per_label: dict[str, dict[str, float]] = {
        label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4),
                "support": int(s[i])}
        for i, label in enumerate(LABELS)
    }
    present = [lab for lab in LABELS if lab in set(truth_a)]
    macro = float(f1_score(truth_a, pred_a, labels=present, average="macro", zero_division=0)) if present else 0.0
    ll = ece = None
    if probabilities is not None and len(truth_a):
        ll = float(log_loss(truth_a, probabilities, labels=list(classes)))
        ece = expected_calibration_error(probabilities, truth_a, classes)
    return Metrics(
        n=len(truth_a), macro_f1=macro, per_label=per_label,
        confusion=confusion_matrix(truth_a, pred_a, labels=list(LABELS)).tolist(), log_loss=ll, ece=ece,
    )


@dataclass(frozen=True)
class CandidateResult:
    """One line of the candidate comparison."""

    name: str
    description: str
    metrics: Metrics
    fold_f1: tuple[float, ...]
    seconds: float


@dataclass(frozen=True)
class TrainingResult:
    """A fitted pipeline and what was measured while making it."""

    pipeline: Any
    candidate: str
    cv: Metrics
    n_train: int
    comparison: tuple[CandidateResult, ...] = field(default=())


def _xy(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    return to_matrix([e.mail for e in examples]), np.asarray([e.label for e in examples])


def cross_validate(candidate: str, examples: Sequence[Example], folds: int = 5) -> CandidateResult:
    """Stratified k-fold predictions for one candidate; every example is predicted by a model that never saw it."""
    x, y = _xy(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE)
    started = time.perf_counter()
    probabilities = cross_val_predict(build_pipeline(candidate), x, y, cv=splitter, method="predict_proba", n_jobs=2)
    seconds = time.perf_counter() - started
    classes = sorted(set(y))
    predicted = np.asarray(classes)[probabilities.argmax(axis=1)]
    fold_f1 = tuple(
        float(f1_score(y[test], predicted[test], average="macro")) for _, test in splitter.split(x, y)
    )
    return CandidateResult(candidate, CANDIDATES[candidate][0], metrics(y, predicted, probabilities, classes),
                           fold_f1, seconds)


def compare(examples: Sequence[Example], candidates: Sequence[str] = tuple(CANDIDATES),
            progress: Progress = quiet) -> list[CandidateResult]:
    """Cross-validate every candidate on the same folds, best first (macro-F1, then log loss)."""
    results = []
    for name in candidates:
        progress(f"cross-validating {name}")
        results.append(cross_validate(name, examples))
    return sorted(results, key=lambda r: (-round(r.metrics.macro_f1, 3), r.metrics.log_loss or 0.0))


def fit(examples: Sequence[Example], candidate: str = "logreg", *, cv: bool = True,
        progress: Progress = quiet) -> TrainingResult:
    """Train ``candidate`` on ``examples``; with ``cv`` also report its stratified cross-validation."""
    labels = {e.label for e in examples}
    missing = [lab for lab in LABELS if lab not in labels]
    if missing:
        raise ValueError(f"the training set has no examples of {', '.join(missing)}")
    cv_result = None
    if cv:
        progress(f"cross-validating {candidate} on {len(examples)} messages")
        cv_result = cross_validate(candidate, examples)
    progress(f"fitting {candidate} on {len(examples)} messages")
    x, y = _xy(examples)
    pipeline = clone(build_pipeline(candidate)).fit(x, y)
    empty = Metrics(0, 0.0, {}, [])
    return TrainingResult(pipeline, candidate, cv_result.metrics if cv_result else empty, len(examples))


def evaluate(pipeline: Any, examples: Sequence[Example]) -> Metrics:
    """Score a fitted pipeline on examples it was not trained on."""
    if not examples:
        return Metrics(0, 0.0, {}, [])
    x, y = _xy(examples)
    probabilities = pipeline.predict_proba(x)
    classes = list(pipeline.classes_)
    predicted = np.asarray(classes)[probabilities.argmax(axis=1)]
    return metrics(y, predicted, probabilities, classes)
