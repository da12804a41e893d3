"""One manual retrain, shared by ``mentorbox retrain`` and Telegram's /retrain.

Gathers the corpus, the owner's corrections and training folders, trains a candidate, scores it against the
current model on held-out data and saves it *without installing it*: the caller decides (the CLI installs
when the verdict allows, Telegram asks the owner with Install / Discard buttons).
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Config
from bot.errors import MentorboxError

if TYPE_CHECKING:  # classifier.retrain imports scikit-learn, which the daemon must not load
    from classifier.retrain import RetrainReport

Say = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    """A trained model waiting for a decision."""

    version: str | None
    """None for a dry run (nothing saved)."""
    report: RetrainReport
    current_version: str | None


@dataclass(frozen=True)
class Summary:
    """What the daemon shows of a retrain done in a child process (plain values: unpickling them in the
    daemon imports nothing of scikit-learn)."""

    version: str | None
    current_version: str | None
    verdict: str
    """``better``, ``not worse`` or ``worse``."""
    why: str
    report: str
    """The report as plain text tables."""


def build_candidate(config: Config, *, say: Say, step: Say, candidate: str | None = None,
                    save: bool = True) -> Candidate:
    """Train, compare and (unless ``save`` is False) save a candidate model; never installs it."""
    from bot.owner_data import corrections, folder_examples
    from classifier.artifact import ModelMismatch, ModelStore
    from classifier.corpus import corpus_fingerprint, load_corpus
    from classifier.manager import DEFAULT_CANDIDATE
    from classifier.retrain import retrain

    models = ModelStore(config.classifier.model_dir)
    corpus = load_corpus()
    step(f"read the corpus: {len(corpus)} messages")
    owner = corrections(config.store.path)
    step(f"read {len(owner)} corrections from the store")
    folders = folder_examples(config, say)
    owner += folders
    step(f"read {len(folders)} messages from {len(config.classifier.train_folders)} training folder(s)")
    current, current_version = None, None
    try:
        if models.has_model():
            current_version = models.pointer()["current"]
            current = models.load_pipeline(current_version)
    except ModelMismatch as exc:
        say(f"the current model cannot be used for comparison: {exc}")
    say(f"owner's data: {len(owner)} messages; current model: {current_version or 'none'}")
    name = candidate or DEFAULT_CANDIDATE
    pipeline, report = retrain(corpus, owner, current, candidate=name, current_version=current_version,
                               progress=step)
    if not save:
        return Candidate(None, report, current_version)
    train = [e for e in [*corpus, *owner] if not e.held_out]
    version = models.save(pipeline, {
        "candidate": name, "labels": list(pipeline.classes_), "training_size": len(train),
        "training_sha256": corpus_fingerprint(train), "origin": "mentorbox retrain",
        "owner_examples": len(owner),
        "metrics": {"held_out": report.new_held.as_dict(), "cv": report.cv.as_dict(),
                    "owner_held_out": report.new_owner.as_dict() if report.new_owner else None},
    })
    return Candidate(version, report, current_version)


def build_candidate_in_child(config: Config, *, say: Say, timeout: float = 3600) -> Summary:
    """:func:`build_candidate` in a child process, for the daemon (Telegram's /retrain).

    Training imports scikit-learn (about 80 MB that a process keeps for good) and holds the whole corpus in
    memory; in a child, all of it goes when the child ends, and the daemon stays as small as it started.
    The child's progress lines come back through ``say``; its :class:`Summary` comes back pickled on its stdout.
    """
    from classifier.children import run_module

    done = run_module("bot.retraining", [], what="the retrain", timeout=timeout, stdin=pickle.dumps(config),
                      stderr_lines=say)
    summary = pickle.loads(done.stdout)  # our own child's answer  # noqa: S301
    if not isinstance(summary, Summary):
        raise MentorboxError("the retrain answered something else than a model")
    return summary


def _child() -> int:
    """What :func:`build_candidate_in_child` runs: the config pickled on stdin, a Summary on stdout."""
    config = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our own parent

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        candidate = build_candidate(config, say=progress, step=progress)
    except MentorboxError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    report = candidate.report
    sys.stdout.buffer.write(pickle.dumps(Summary(candidate.version, candidate.current_version, report.verdict,
                                                 report.why, report.render())))
    return 0


if __name__ == "__main__":
    # Run the module's own copy, not __main__'s: the pickled Summary must name bot.retraining.Summary.
    from bot.retraining import _child as child

    sys.exit(child())
