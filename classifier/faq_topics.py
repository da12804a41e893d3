"""The FAQ topic model a long-running process uses: built once per FAQ and corpus, kept on disk, served.

The topic model (:mod:`classifier.faq_model`) is trained from ``faq.toml`` and the corpus. Training it needs
scikit-learn, and a process that imports scikit-learn keeps its ~80 MB for good, so the daemon does not train
it itself: :func:`topic_model` looks for a built model under ``<model_dir>/faq/``, named by a hash of all
that goes into it (the FAQ's questions, the corpus files, the scikit-learn version, the serving format), and
only when there is none runs ``python -m classifier.faq_topics`` to build one. An edited ``faq.toml`` or a
new corpus file changes the hash, so the model is rebuilt at the next start, as before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from bot.errors import ModelError
from bot.faq import FaqEntry
from classifier.artifact import check_safe
from classifier.children import run_module
from classifier.corpus import data_dir
from classifier.serving import FORMAT, ServingError, ServingModel, load, save

RECIPE = 1
"""Bumped when ``classifier.faq_model`` learns differently, so that models built before are rebuilt."""
KEEP = 3
"""Built models kept in ``<model_dir>/faq`` (the newest ones); older ones are removed after a build."""


class ServedTopics:
    """The :class:`bot.faq.TopicModel` of a served multi-label model: one probability per FAQ id."""

    def __init__(self, served: ServingModel) -> None:
        if served.kind != "multilabel-logistic":
            raise ServingError(f"a topic model must be multi-label, not {served.kind!r}")
        self.served = served
        self.ids = tuple(served.classes)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability that each text asks each FAQ id, shape ``(len(texts), len(ids))``."""
        return self.served.predict_proba(self.served.features(list(texts)))


def fingerprint(entries: Sequence[FaqEntry], corpus: Path | None = None) -> str:
    """A hash of everything the topic model is built from (not of the answers: they do not change it)."""
    digest = hashlib.sha256()
    try:
        sklearn_version = metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        sklearn_version = "none"
    digest.update(json.dumps([RECIPE, FORMAT, sklearn_version,
                              [[e.id, list(e.questions)] for e in entries]]).encode("utf-8"))
    for path in sorted((corpus or data_dir()).glob("*.jsonl")):
        digest.update(path.name.encode("utf-8") + b"\x00")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def build(templates: Path, out: Path) -> None:
    """Train the topic model for the FAQ in ``templates`` and write its served form to ``out``."""
    from bot.faq import load_faq
    from classifier.corpus import load_corpus
    from classifier.export import export_multilabel
    from classifier.faq_model import train_for

    entries = load_faq(templates)
    model = train_for(entries, load_corpus(label="advice_request"))
    save(export_multilabel(model.union, model.estimator, list(model.ids)), out)


def topic_model(entries: Sequence[FaqEntry], templates: Path, model_dir: Path,
                say: Callable[[str], None] = lambda _: None) -> ServedTopics:
    """The served topic model of this FAQ: from ``<model_dir>/faq`` if built before, else built now in a
    child process (so that scikit-learn never enters this one)."""
    folder = Path(model_dir) / "faq"
    path = folder / f"topics-{fingerprint(entries)}.npz"
    if path.exists():
        try:
            check_safe(path)
            return ServedTopics(load(path))
        except ServingError as exc:
            say(f"the FAQ topic model {path} is damaged ({exc}): building it again")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = time.perf_counter()
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    try:
        run_module("classifier.faq_topics", ["--templates", str(templates), "--out", str(tmp)],
                   what="building the FAQ topic model", timeout=600)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    for old in sorted(folder.glob("topics-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]:
        old.unlink(missing_ok=True)
    say(f"FAQ topic model built in {time.perf_counter() - started:.1f} s")
    try:
        return ServedTopics(load(path))
    except ServingError as exc:
        raise ModelError(f"the FAQ topic model just built cannot be read: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m classifier.faq_topics --templates DIR --out FILE``: what :func:`topic_model` runs."""
    parser = argparse.ArgumentParser(prog="python -m classifier.faq_topics")
    parser.add_argument("--templates", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    build(args.templates, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
