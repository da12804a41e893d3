"""Manual retraining: train on corpus + the owner's data, compare with the current model, decide.

The owner's data (corrections from the store, mail from folders mapped to labels) is split like the corpus:
one example in five, by a hash of its id, is held out and never trained on. The new model and the current
one are both scored on the same held-out data (the corpus's and the owner's), and the new one is installed
only when it is not worse on either, within :data:`TOLERANCE`, so a retrain can never silently make triage
worse. Pure: the CLI gathers the data and installs the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.models import LABELS
from classifier.corpus import Example
from classifier.train import Metrics, Progress, evaluate, fit, quiet

TOLERANCE = 0.01
"""How much lower a macro-F1 may be and still count as "not worse" (held-out sets are small and noisy)."""


@dataclass(frozen=True)
class RetrainReport:
    """What a retrain measured, and whether the new model may replace the current one."""

    candidate: str
    n_train: int
    n_owner_train: int
    cv: Metrics
    new_held: Metrics
    current_held: Metrics | None
    new_owner: Metrics | None
    current_owner: Metrics | None
    current_version: str | None
    verdict: str
    """``better``, ``not worse`` or ``worse``."""
    why: str

    @property
    def acceptable(self) -> bool:
        """Whether the new model may be installed without ``--force``."""
        return self.verdict != "worse"

    def render(self) -> str:
        """The report as plain text tables (what ``mentorbox retrain`` prints)."""
        lines = [
            f"trained {self.candidate} on {self.n_train} messages ({self.n_owner_train} of them the owner's)",
            "",
            f"stratified 5-fold cross-validation of the new model ({self.cv.n} messages):",
            *_per_label_table(self.cv),
            "",
            "held-out data, never trained on (new vs current model):",
        ]
        rows = [("corpus held-out", self.new_held, self.current_held)]
        if self.new_owner is not None:
            rows.append(("owner's held-out", self.new_owner, self.current_owner))
        lines.append(f"  {'set':<18} {'n':>5} {'new macro-F1':>13} {'current':>9}")
        for name, new, cur in rows:
            current = f"{cur.macro_f1:9.3f}" if cur is not None else f"{'-':>9}"
            lines.append(f"  {name:<18} {new.n:>5} {new.macro_f1:13.3f} {current}")
        lines += ["", "new model on the corpus held-out set:", *_per_label_table(self.new_held), ""]
        lines += ["confusion matrix (rows: true label, columns: predicted):", *_confusion(self.new_held), ""]
        lines.append(f"verdict: {self.verdict} ({self.why})")
        return "\n".join(lines)


def _per_label_table(m: Metrics) -> list[str]:
    out = [f"  {'label':<16} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>5}"]
    for label in LABELS:
        row = m.per_label.get(label)
        if row:
            out.append(f"  {label:<16} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} "
                       f"{row['support']:5d}")
    out.append(f"  {'macro-F1':<16} {'':>9} {'':>7} {m.macro_f1:6.3f} {m.n:5d}")
    return out


def _confusion(m: Metrics) -> list[str]:
    short = {"congratulation": "congr", "advice_request": "advice", "phd_offer": "phd", "job_lead": "job",
             "other": "other"}
    out = [f"  {'':<16}" + "".join(f"{short[lab]:>8}" for lab in m.labels)]
    for label, row in zip(m.labels, m.confusion):
        out.append(f"  {label:<16}" + "".join(f"{v:>8}" for v in row))
    return out


def _verdict(new: Metrics, cur: Metrics | None, new_owner: Metrics | None,
             cur_owner: Metrics | None) -> tuple[str, str]:
    if cur is None:
        return "better", "there is no current model"
    drops = []
    if new.macro_f1 < cur.macro_f1 - TOLERANCE:
        drops.append(f"corpus held-out macro-F1 {new.macro_f1:.3f} < current {cur.macro_f1:.3f} - {TOLERANCE}")
    if new_owner is not None and cur_owner is not None and new_owner.macro_f1 < cur_owner.macro_f1 - TOLERANCE:
        drops.append(f"owner's held-out macro-F1 {new_owner.macro_f1:.3f} < current {cur_owner.macro_f1:.3f} "
                     f"- {TOLERANCE}")
    if drops:
        return "worse", "; ".join(drops)
    gain = new.macro_f1 - cur.macro_f1
    if new_owner is not None and cur_owner is not None:
        gain += new_owner.macro_f1 - cur_owner.macro_f1
    if gain > 0:
        return "better", f"held-out macro-F1 up by {gain:.3f} in total"
    return "not worse", f"held-out macro-F1 within {TOLERANCE} of the current model"


def retrain(corpus: Sequence[Example], owner: Sequence[Example], current: Any | None, *,
            candidate: str, current_version: str | None = None, cv: bool = True,
            progress: Progress = quiet) -> tuple[Any, RetrainReport]:
    """Fit a new pipeline and compare it with ``current`` (a fitted pipeline, or None) on held-out data."""
    train = [e for e in corpus if not e.held_out] + [e for e in owner if not e.held_out]
    held = [e for e in corpus if e.held_out]
    owner_held = [e for e in owner if e.held_out]
    result = fit(train, candidate, cv=cv, progress=progress)
    progress(f"scoring the new and the current model on {len(held)} + {len(owner_held)} held-out messages")
    new_held = evaluate(result.pipeline, held)
    current_held = evaluate(current, held) if current is not None else None
    new_owner = evaluate(result.pipeline, owner_held) if owner_held else None
    current_owner = evaluate(current, owner_held) if owner_held and current is not None else None
    verdict, why = _verdict(new_held, current_held, new_owner, current_owner)
    report = RetrainReport(
        candidate=candidate, n_train=len(train), n_owner_train=sum(1 for e in owner if not e.held_out),
        cv=result.cv, new_held=new_held, current_held=current_held, new_owner=new_owner,
        current_owner=current_owner, current_version=current_version, verdict=verdict, why=why,
    )
    return result.pipeline, report
