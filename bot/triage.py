"""ParsedMail + the classifier's prediction -> a :class:`Decision`. Pure: the same input gives the same output.

This is where the separate judgements meet: how sure the model is (``unsure``), whether the lead is a
priority, and which draft to propose. Both the offline ``triage`` command and the daemon call it, so they
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.drafting import Drafter
from bot.models import Decision, ParsedMail, Prediction
from bot.priority import score


@dataclass(frozen=True)
class TriagePolicy:
    """The settings triage needs (a slice of the config, so tests can build one directly)."""

    unsure_below: float = 0.6
    priority_threshold: float = 0.5
    vips: tuple[str, ...] = ()
    draft_labels: tuple[str, ...] = ("congratulation", "advice_request", "phd_offer", "job_lead")


def decide(mail: ParsedMail, prediction: Prediction, policy: TriagePolicy, drafter: Drafter | None) -> Decision:
    """Combine the prediction with priority scoring and drafting into one decision."""
    reasons = list(prediction.reasons)
    unreadable = not mail.clean_text.strip() and not mail.subject.strip()
    if unreadable:
        # Nothing to read: the model's guess would be noise. File it as other and ask the owner.
        prediction = Prediction("other", prediction.probabilities.get("other", 0.0), prediction.probabilities, ())
        reasons = ["no readable text: filed as other"]
    unsure = unreadable or prediction.confidence < policy.unsure_below
    if prediction.confidence < policy.unsure_below:
        reasons.append(f"unsure: confidence {prediction.confidence:.2f} < {policy.unsure_below:.2f}")
    prio = score(mail, prediction, threshold=policy.priority_threshold, vips=policy.vips)
    reasons.extend(prio.reasons)
    draft = None
    if drafter is not None and prediction.label in policy.draft_labels:
        draft = drafter.render(mail, prediction.label, [])
    return Decision(
        label=prediction.label,
        confidence=round(prediction.confidence, 4),
        unsure=unsure,
        priority=prio.priority,
        reasons=tuple(reasons),
        faq=(),
        draft=draft,
    )
