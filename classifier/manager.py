"""Getting a usable model: load the installed one, or train one from the shipped corpus when there is none.

A model that cannot be trusted (another scikit-learn version, a file that does not match its sidecar) is
not loaded: it is rebuilt from data and the reason is said, because a pickled model from another library
version may load fine and still behave differently.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.errors import ModelError
from classifier.artifact import ModelMismatch, ModelStore
from classifier.children import lines, run_module
from classifier.corpus import Example, corpus_fingerprint, load_corpus
from classifier.model import TriageModel

DEFAULT_CANDIDATE = "svc-sigmoid"
Say = Callable[[str], None]


def train_and_save(store: ModelStore, examples: list[Example], *, candidate: str = DEFAULT_CANDIDATE,
                   cv: bool = False, extra_meta: dict[str, Any] | None = None, say: Say = lambda _: None,
                   ) -> tuple[str, dict[str, Any]]:
    """Fit on the non-held-out examples, measure on the held-out ones, save; return (version, sidecar)."""
    from classifier.train import evaluate, fit  # scikit-learn: only when a model is trained

    train = [e for e in examples if not e.held_out]
    held = [e for e in examples if e.held_out]
    result = fit(train, candidate, cv=cv, progress=say)
    say(f"evaluating on {len(held)} held-out messages")
    held_metrics = evaluate(result.pipeline, held)
    meta: dict[str, Any] = {
        "candidate": candidate,
        "labels": list(result.pipeline.classes_),
        "training_size": len(train),
        "training_sha256": corpus_fingerprint(train),
        "metrics": {"held_out": held_metrics.as_dict(), "cv": result.cv.as_dict() if cv else None},
    }
    meta.update(extra_meta or {})
    version = store.save(result.pipeline, meta)
    return version, store.meta(version)


def ensure_model(model_dir: Path, say: Say) -> TriageModel:
    """The installed model, or a new one trained from the shipped corpus (and installed) if needed."""
    store = ModelStore(model_dir)
    reason = ""
    if store.has_model():
        try:
            loaded = store.load()
            return TriageModel(loaded.served, loaded.version, loaded.meta)
        except ModelMismatch as exc:
            reason = f"{exc}: retraining it from data"
    else:
        reason = f"no model yet in {model_dir}: training one from the shipped corpus"
    started = time.perf_counter()
    examples = load_corpus()
    say(f"{reason} ({len(examples)} messages)")
    version, _ = train_and_save(store, examples, extra_meta={"origin": "shipped corpus"})
    store.install(version)
    loaded = store.load(version)
    say(f"model {version} installed in {time.perf_counter() - started:.1f} s")
    return TriageModel(loaded.served, loaded.version, loaded.meta)


def load_installed(model_dir: Path) -> TriageModel:
    """The installed model, or :class:`ModelError` (for commands that must not train on their own)."""
    loaded = ModelStore(model_dir).load()
    return TriageModel(loaded.served, loaded.version, loaded.meta)


__all__ = ["ModelError", "ensure_model", "load_installed", "train_and_save"]


class ModelHolder:
    """The model a long-running process uses, swapped for the new one when ``retrain`` installs it.

    ``get()`` costs one ``stat`` of the model dir's pointer file; when the pointer changed (a retrain or a
    rollback by another process), the new current model is loaded. A model that fails to load keeps the
    old one in service and reports why through ``say``, so a bad install never stops triage.
    """

    def __init__(self, model_dir: Path, say: Say) -> None:
        self._store = ModelStore(model_dir)
        self._say = say
        self._model = self._first_model(Path(model_dir))
        self._stamp = self._store.pointer_stamp()
        self._lock = threading.Lock()

    def _first_model(self, model_dir: Path) -> TriageModel:
        """The installed model; when there is none, or it cannot be used, or it has no served form yet, a
        child process trains it or adds the served form, so that scikit-learn's memory does not stay with
        this long-running one."""
        current = self._store.pointer()["current"]
        if current:
            try:
                if self._store.has_serving(current):
                    loaded = self._store.load()
                    return TriageModel(loaded.served, loaded.version, loaded.meta)
            except ModelMismatch as exc:
                self._say(f"{exc}: retraining it from data")
        # No model, an unusable one, or one saved before serving.npz existed: the child trains, or writes
        # the served form from the pipeline (both import scikit-learn).
        done = run_module("classifier.manager", [str(model_dir)], what=f"training a model in {model_dir}",
                          timeout=1800)
        for line in lines(done.stdout):
            self._say(line)
        loaded = self._store.load()
        return TriageModel(loaded.served, loaded.version, loaded.meta)

    def get(self) -> TriageModel:
        """The current model, reloaded first if a new one was installed since the last call."""
        stamp = self._store.pointer_stamp()
        if stamp == self._stamp:
            return self._model
        with self._lock:  # several daemon workers may notice the new model at once: load it once
            if stamp == self._stamp:
                return self._model
            self._stamp = stamp
            try:
                loaded = self._store.load()
            except ModelError as exc:
                self._say(f"new model could not be loaded, keeping {self._model.version}: {exc}")
            else:
                if loaded.version != self._model.version:
                    self._model = TriageModel(loaded.served, loaded.version, loaded.meta)
                    self._say(f"switched to model {loaded.version}")
        return self._model


if __name__ == "__main__":  # what ModelHolder runs: python -m classifier.manager MODEL_DIR
    try:
        ensure_model(Path(sys.argv[1]), lambda line: print(line, flush=True))
    except ModelError as exc:
        print(f"mentorbox: error: {exc}", file=sys.stderr)
        sys.exit(1)
