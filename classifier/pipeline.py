"""The scikit-learn pipelines mentorbox can ship, and how to read a decision back out of them.

Every candidate shares one feature stage (TF-IDF on subject words, body words and body character n-grams,
plus the sender/bulk tokens of :mod:`classifier.features`) and differs only in the final estimator, so the
comparison in ``train.py`` measures the estimators and nothing else. All candidates are linear, which keeps
batch prediction fast and lets :func:`explain` name the features that pushed a decision.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from classifier.vectorizers import CharNgramTfidf, WordNgramTfidf

RANDOM_STATE = 20260123


def build_features() -> ColumnTransformer:
    """The shared feature stage over the (subject, body, meta) columns."""
    return ColumnTransformer(
        [
            # TfidfVectorizer's numbers, computed faster (classifier/vectorizers.py)
            ("subject", WordNgramTfidf((1, 2), sublinear_tf=True, strip_accents=True, min_df=2, dtype=np.float32), 0),
            ("words", WordNgramTfidf((1, 2), sublinear_tf=True, strip_accents=True, min_df=3, max_df=0.8,
                                     max_features=60_000, dtype=np.float32), 1),
            ("chars", CharNgramTfidf((3, 4), sublinear_tf=True, min_df=3, max_features=80_000, dtype=np.float32), 1),
            ("meta", CountVectorizer(token_pattern=r"\S+", lowercase=False, binary=True, dtype=np.float32), 2),
        ],
        sparse_threshold=1.0,
    )


def _logreg() -> BaseEstimator:
    return LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced")


def _svc_sigmoid() -> BaseEstimator:
    # Three calibration folds (not five) and tol=1e-3: a 10,000-message retrain stays well under a minute.
    return CalibratedClassifierCV(LinearSVC(C=1.0, class_weight="balanced", tol=1e-3), method="sigmoid", cv=3,
                                  ensemble=True, n_jobs=2)


def _complement_nb() -> BaseEstimator:
    return CalibratedClassifierCV(ComplementNB(alpha=0.3), method="sigmoid", cv=5, ensemble=True)


def _sgd_huber() -> BaseEstimator:
    return CalibratedClassifierCV(
        SGDClassifier(loss="modified_huber", alpha=1e-4, class_weight="balanced", max_iter=50, tol=None,
                      random_state=RANDOM_STATE),
        method="sigmoid", cv=5, ensemble=True,
    )


CANDIDATES: dict[str, tuple[str, Callable[[], BaseEstimator]]] = {
    "logreg": ("LogisticRegression (C=20, balanced), its own probabilities", _logreg),
    "svc-sigmoid": ("LinearSVC (C=1, balanced) + sigmoid calibration", _svc_sigmoid),
    "complement-nb": ("ComplementNB (alpha=0.3) + sigmoid calibration", _complement_nb),
    "sgd-huber": ("SGDClassifier (modified Huber) + sigmoid calibration", _sgd_huber),
}


def build_pipeline(candidate: str = "logreg") -> Pipeline:
    """A fresh, unfitted pipeline for one of :data:`CANDIDATES`."""
    try:
        _, factory = CANDIDATES[candidate]
    except KeyError:
        raise ValueError(f"unknown candidate {candidate!r}; choose from {', '.join(CANDIDATES)}") from None
    return Pipeline([("features", build_features()), ("model", factory())])


# --------------------------------------------------------------------------- explanations


def class_weights(model: BaseEstimator) -> np.ndarray | None:
    """Per-class linear weights ``(n_classes, n_features)`` of a fitted final estimator, if it has them.

    A calibrated ensemble averages the weights of its members; naive Bayes uses its centred log
    probabilities. Only the direction matters for explanations, not the scale.
    """
    if isinstance(model, CalibratedClassifierCV):
        found = [class_weights(c.estimator) for c in model.calibrated_classifiers_]
        members = [m for m in found if m is not None]
        return np.mean(members, axis=0) if members else None
    if hasattr(model, "coef_"):
        return np.asarray(model.coef_)
    if hasattr(model, "feature_log_prob_"):
        logp = np.asarray(model.feature_log_prob_)
        return logp - logp.mean(axis=0, keepdims=True)
    return None


def readable_name(name: str) -> str | None:
    """Turn a feature name of the ColumnTransformer into words an owner understands (None: do not show)."""
    block, _, term = name.partition("__")
    if block == "words":
        return f'"{term}"'
    if block == "subject":
        return f'subject "{term}"'
    if block == "meta":
        kind, _, value = term.partition(":")
        return {
            "sender": f"sender: {value}",
            "bulk": f"bulk mail ({value})",
            "recipients": "many recipients",
            "format": "HTML only",
            "has": "has attachment",
            "thread": "reply in a thread",
            "length": f"{value} message",
            "questions": f"questions: {value}",
            "subject": "empty subject",
        }.get(kind, term)
    return None  # character n-grams are real evidence but not readable on their own
