"""A loaded classifier: batch prediction with calibrated confidence and readable reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.models import LABELS, Label, ParsedMail, Prediction
from classifier.features import to_matrix
from classifier.pipeline import Explainer


class TriageModel:
    """Wraps a fitted pipeline; ``version`` and ``meta`` say which model it is and how good it was."""

    def __init__(self, pipeline: Any, version: str = "unsaved", meta: dict[str, Any] | None = None) -> None:
        self.pipeline = pipeline
        self.version = version
        self.meta = meta or {}
        self.labels: tuple[Label, ...] = tuple(pipeline.classes_)
        unknown = set(self.labels) - set(LABELS)
        if unknown:
            raise ValueError(f"model knows labels mentorbox does not: {sorted(unknown)}")
        self._explainer = Explainer(pipeline)

    def predict(self, mails: Sequence[ParsedMail], *, reasons: int = 4) -> list[Prediction]:
        """Classify a batch (one vectorisation for all: much faster than one message at a time)."""
        if not mails:
            return []
        x = self.pipeline.named_steps["features"].transform(to_matrix(list(mails))).tocsr()
        probabilities = self.pipeline.named_steps["model"].predict_proba(x)
        out: list[Prediction] = []
        for row, probs in enumerate(probabilities):
            best = int(np.argmax(probs))
            label = self.labels[best]
            out.append(
                Prediction(
                    label=label,
                    confidence=float(probs[best]),
                    probabilities={lab: round(float(p), 4) for lab, p in zip(self.labels, probs)},
                    reasons=self._explainer.explain(x, row, best, top=reasons),
                )
            )
        return out
