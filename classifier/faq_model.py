"""Which FAQ entries an advice request asks about: a small multi-label model over the whole new text.

People rarely ask "How did you fund yourself?" in those words; they describe their situation over three
sentences and then ask "what would you do?". Fuzzy matching of the question sentences alone finds about half
of the asked entries (``benchmarks/faq_matching.py``), so the decision *which* entries are asked is made by
this model, trained on the labelled advice requests of the corpus plus every phrasing in ``faq.toml``; the
fuzzy matcher then finds *where* in the mail each one is asked. An entry added to ``faq.toml`` is learned from
its phrasings the next time the model is built (at start-up: it takes about a second).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import MultiLabelBinarizer

from bot.faq import FaqEntry
from classifier.corpus import Example
from classifier.vectorizers import CharNgramTfidf, WordNgramTfidf

C = 10.0


class FaqModel:
    """One-vs-rest logistic regression on word and character TF-IDF; one probability per FAQ id."""

    union: FeatureUnion
    """The word and character TF-IDF blocks, side by side."""
    estimator: OneVsRestClassifier
    """One logistic regression per FAQ id."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = tuple(ids)
        self._binarizer = MultiLabelBinarizer(classes=list(self.ids))
        self.union = FeatureUnion([
            ("words", WordNgramTfidf((1, 2), sublinear_tf=True, strip_accents=True)),
            ("chars", CharNgramTfidf((3, 5), sublinear_tf=True, min_df=2)),
        ])
        self.estimator = OneVsRestClassifier(LogisticRegression(C=C, solver="liblinear", class_weight="balanced"))

    def fit(self, texts: Sequence[str], labels: Sequence[Sequence[str]]) -> FaqModel:
        """Train on texts with their FAQ ids (ids not in ``self.ids`` are ignored)."""
        known = set(self.ids)
        targets = self._binarizer.fit_transform([[i for i in ids if i in known] for ids in labels])
        missing = [i for i, column in zip(self.ids, targets.T) if not column.any()]
        if missing:
            raise ValueError(f"no training text for FAQ id(s) {', '.join(missing)}")
        self.estimator.fit(self.union.fit_transform(list(texts)), targets)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability that each text asks each FAQ id, shape ``(len(texts), len(ids))``."""
        return np.asarray(self.estimator.predict_proba(self.union.transform(list(texts))))


def train_for(entries: Sequence[FaqEntry], examples: Sequence[Example]) -> FaqModel:
    """A model for these FAQ entries: their phrasings plus the labelled advice requests not held out.

    ``examples`` whose ``extra["faq"]`` lists the ids they ask are used, except the held-out ones, so that
    the benchmark's held-out figures describe exactly what ships.
    """
    texts = [q for entry in entries for q in entry.questions]
    labels = [[entry.id] for entry in entries for _ in entry.questions]
    for example in examples:
        asked = example.extra.get("faq")
        if asked is not None and example.label == "advice_request" and not example.held_out:
            texts.append(example.mail.clean_text)
            labels.append(list(asked))
    return FaqModel([e.id for e in entries]).fit(texts, labels)
