"""ParsedMail + the classifier's prediction -> a :class:`Decision`. Pure: the same input gives the same output.

This is where the separate judgements meet: how sure the model is (``unsure``), whether the lead is a
priority, and which draft to propose. Both the offline ``triage`` command and the daemon call it, so they
cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.drafting import Drafter, reply_address
from bot.faq import FaqMatch, FaqMatcher
from bot.models import LEAD_LABELS, Decision, ParsedMail, Prediction
from bot.parser import UNPARSED
from bot.priority import score
from bot.promises import extract_promises

SUBJECT_ONLY_SURE = 0.75
"""How sure the model must be of a message with a subject and no text before it is not ``unsure``. The model
learnt from messages with text; on a subject alone its guesses lean to congratulation (measured: "nothing",
"hello" and "test" 0.62-0.63, "Congratulations!" 0.80, "congrats!!" 0.79)."""

MAX_UNANSWERED = 10
"""Unanswered questions kept of one message for ``faq-gaps``: a person asks a few; a mail of thousands is a
flood, and only its first ones are kept."""

FAQ_LABELS = ("advice_request", "congratulation")
"""Labels whose questions are matched against the FAQ (a congratulation often ends with one question)."""


@dataclass(frozen=True)
class TriagePolicy:
    """The settings triage needs (a slice of the config, so tests can build one directly)."""

    unsure_below: float = 0.6
    priority_threshold: float = 0.47
    vips: tuple[str, ...] = ()
    draft_labels: tuple[str, ...] = ("congratulation", "advice_request", "phd_offer", "job_lead")
    max_faq: int = 3


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_BINARY = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
"""Characters no text is made of: controls, and the replacement character of bytes no charset could read."""


def _not_text(text: str) -> bool:
    """Whether the text is mostly not text (a binary file, a body of garbage): over a tenth of its first
    4,000 characters are controls or undecodable bytes. The model would still find words in it (a binary
    file came out as an advice request at 0.94, its bytes as questions for the FAQ)."""
    sample = text[:4000]
    return len(sample) >= 40 and len(_BINARY.findall(sample)) > len(sample) // 10


def needs_faq(prediction: Prediction) -> bool:
    """Whether a message of this prediction is matched against the FAQ (callers batch those)."""
    return prediction.label in FAQ_LABELS


def decide(mail: ParsedMail, prediction: Prediction, policy: TriagePolicy, drafter: Drafter | None,
           matcher: FaqMatcher | None = None, *, topics: dict[str, float] | None = None) -> Decision:
    """Combine the prediction with priority scoring, FAQ matching and drafting into one decision.

    ``topics`` are the FAQ topic probabilities of this message when the caller computed them for a batch.
    """
    reasons = list(prediction.reasons)
    unreadable = (not mail.clean_text.strip() and not mail.subject.strip()) or _not_text(mail.clean_text)
    if unreadable:
        # Nothing to read: the model's guess would be noise. File it as other and ask the owner.
        prediction = Prediction("other", prediction.probabilities.get("other", 0.0), prediction.probabilities, ())
        reasons = ["no readable text: filed as other"]
    subject_only = not unreadable and not mail.clean_text.strip()
    bar = max(policy.unsure_below, SUBJECT_ONLY_SURE) if subject_only else policy.unsure_below
    unparsed = any(d.startswith(UNPARSED) for d in mail.defects)
    if unparsed:
        reasons.append("its structure could not be read: only its words were classified")
    unsure = unreadable or unparsed or prediction.confidence < bar
    if prediction.confidence < bar:
        reasons.append(f"unsure: confidence {prediction.confidence:.2f} < {bar:.2f}"
                       + (" (a subject and no text)" if subject_only else ""))
    prio = score(mail, prediction, threshold=policy.priority_threshold, vips=policy.vips)
    reasons.extend(prio.reasons)
    promises = extract_promises(mail.clean_text, mail.date.date()) if prediction.label in LEAD_LABELS and mail.date \
        else []
    for promise in promises[:2]:
        reasons.append(f'promise due {promise.due.isoformat()}: "{promise.phrase}"')
    matches: list[FaqMatch] = []
    unanswered: list[str] = []
    if matcher is not None and prediction.label in FAQ_LABELS and policy.max_faq > 0:
        matches, unanswered = matcher.match(mail.clean_text, limit=policy.max_faq, topics=topics)
        for m in matches:
            where = f'"{_short(m.sentence)}"' if m.sentence else "the message as a whole"
            reasons.append(f"faq {m.id} {m.score:.0f}: {where}")
        if prediction.label == "advice_request" and not matches:
            reasons.append("no FAQ entry matches: the draft needs your personal answer")
    draft = None
    if drafter is not None and prediction.label in policy.draft_labels:
        if not reply_address(mail):
            reasons.append("no address to reply to: no draft")
        elif unsure and not mail.clean_text.strip():
            # A subject alone ("(empty) sent by mistake from my phone") and a guess: a reply to it would
            # thank someone for a message they did not write. A sure one ("Congratulations!") is answered.
            reasons.append("no text and unsure: no draft")
        else:
            answers = [
                {"id": m.id, "title": matcher.entries[m.id].title, "answer": matcher.entries[m.id].answer,
                 "question": m.sentence}
                for m in matches
            ] if matcher is not None else []
            draft = drafter.render(mail, prediction.label, answers)
    return Decision(
        label=prediction.label,
        confidence=round(prediction.confidence, 4),
        unsure=unsure,
        priority=prio.priority,
        reasons=tuple(reasons),
        faq=tuple(m.id for m in matches),
        draft=draft,
        unanswered=tuple(unanswered[:MAX_UNANSWERED]) if prediction.label == "advice_request" else (),
        promise_due=min((p.due for p in promises), default=None),
    )
