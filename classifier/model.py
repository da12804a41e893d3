"""A loaded classifier: batch prediction with calibrated confidence and readable reasons.

It runs on the served form of the model (:mod:`classifier.serving`: NumPy and SciPy only), whether the model
came from a file or was just trained: there is one prediction path, and a daemon that only classifies never
imports scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.models import LABELS, Label, ParsedMail, Prediction
from classifier.features import columns_of
from classifier.serving import ServingModel


class TriageModel:
    """Wraps a served model; ``version`` and ``meta`` say which model it is and how good it was."""

    def __init__(self, served: ServingModel, version: str = "unsaved", meta: dict[str, Any] | None = None) -> None:
        self.served = served
        self.version = version
        self.meta = meta or {}
        self.labels: tuple[Label, ...] = tuple(served.classes)  # type: ignore[arg-type]
        unknown = set(self.labels) - set(LABELS)
        if unknown:
            raise ValueError(f"model knows labels mentorbox does not: {sorted(unknown)}")

    @classmethod
    def from_pipeline(cls, pipeline: Any, version: str = "unsaved", meta: dict[str, Any] | None = None,
                      ) -> TriageModel:
        """A model for a fitted scikit-learn pipeline (imports scikit-learn to read it out)."""
        from classifier.export import export_pipeline

        return cls(export_pipeline(pipeline), version, meta)

    def predict(self, mails: Sequence[ParsedMail], *, reasons: int = 4) -> list[Prediction]:
        """Classify a batch (one vectorisation for all: much faster than one message at a time).

        The columns of each message are found once per message and model, and may have been found ahead of
        time, in the reader process (see :mod:`bot.prepare`).
        """
        if not mails:
            return []
        x = self.served.features_of([self.columns(mail) for mail in mails])
        probabilities = self.served.predict_proba(x)
        best = np.argmax(probabilities, axis=1).tolist()
        why = self.served.reasons(x, best, top=reasons)
        out: list[Prediction] = []
        for row, probs in enumerate(probabilities.tolist()):
            out.append(
                Prediction(
                    label=self.labels[best[row]],
                    confidence=float(probs[best[row]]),
                    probabilities={lab: round(p, 4) for lab, p in zip(self.labels, probs)},
                    reasons=why[row],
                )
            )
        return out

    def columns(self, mail: ParsedMail) -> tuple[bytes, ...]:
        """The columns of ``mail``'s terms in this model's feature blocks (computed once per message)."""
        return columns_of(mail, self.served.key, self.served.spec)
