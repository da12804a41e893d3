"""Model files on disk: the fitted pipeline, its served form and a JSON sidecar, versioned, swapped atomically.

Layout of the model dir::

    model_dir/
      CURRENT.json            {"current": "<version>", "previous": "<version>" | null}, replaced atomically
      versions/<version>/model.joblib    the fitted scikit-learn pipeline (for retraining and comparisons)
      versions/<version>/serving.npz     the same model as plain arrays (what triage runs on, see
                                         classifier/serving.py)
      versions/<version>/model.json      (created, scikit-learn version, labels, training size and hash,
                                         metrics, sha256 of both files)

Installing a model writes a new version directory and then replaces ``CURRENT.json`` in one
``os.replace``, so a reader sees either the old model or the new one, never half of one; rollback just
points ``CURRENT.json`` back. Only files from the configured model dir are read, only files that belong to
the current user and that nobody else can write, and only when their sha256 matches the sidecar. Triage
reads ``serving.npz`` (no code runs when it is loaded, and it does not depend on the scikit-learn version);
``model.joblib`` runs code when it is loaded and is only read by ``retrain`` and for versions made before
``serving.npz`` existed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ModelError
from classifier.serving import ServingError, ServingModel
from classifier.serving import load as load_served
from classifier.serving import save as save_served

POINTER = "CURRENT.json"
MODEL_FILE = "model.joblib"
SERVING_FILE = "serving.npz"
SIDECAR = "model.json"


class ModelMismatch(ModelError):
    """The stored model was made by another scikit-learn, or its file does not match its sidecar."""


@dataclass(frozen=True)
class LoadedModel:
    """A model read from disk (its served form), with its sidecar metadata and its version name."""

    version: str
    served: ServingModel
    meta: dict[str, Any]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _write_private(path: Path, write: Callable[[Path], object]) -> None:
    """Have ``write`` make ``path`` through a temporary file: synced, 0600, renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_safe(path: Path) -> None:
    """Refuse a path that another user owns or can write: loading it could run their code."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise ModelError(f"refusing to load {path}: it belongs to another user (uid {st.st_uid})")
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise ModelError(f"refusing to load {path}: group or others can write it (run chmod go-w on it)")


class ModelStore:
    """The versioned model directory of one mentorbox."""

    def __init__(self, model_dir: Path) -> None:
        self.dir = Path(model_dir)

    @property
    def pointer_path(self) -> Path:
        """The file that names the current and previous versions."""
        return self.dir / POINTER

    def pointer(self) -> dict[str, str | None]:
        """``{"current": ..., "previous": ...}``; both None when nothing was installed yet."""
        try:
            data = json.loads(self.pointer_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"current": None, "previous": None}
        except (OSError, ValueError) as exc:
            raise ModelError(f"{self.pointer_path} is unreadable ({exc}): run mentorbox retrain --force") from None
        return {"current": data.get("current"), "previous": data.get("previous")}

    def has_model(self) -> bool:
        """Whether a current model is installed."""
        return bool(self.pointer()["current"])

    def pointer_stamp(self) -> float:
        """Modification time of the pointer (a running daemon polls it to pick up a new model)."""
        try:
            return self.pointer_path.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            return 0.0

    def save(self, pipeline: Any, meta: dict[str, Any]) -> str:
        """Write a new version (not yet current) and return its name: the pipeline and its served form."""
        import joblib
        import sklearn

        from classifier.export import export_pipeline

        served = export_pipeline(pipeline)  # first: a pipeline that cannot be served is not saved at all
        version = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        vdir = self.dir / "versions" / version
        vdir.parent.mkdir(exist_ok=True, mode=0o700)
        vdir.mkdir(mode=0o700)
        _write_private(vdir / MODEL_FILE, lambda path: joblib.dump(pipeline, path, compress=3))
        _write_private(vdir / SERVING_FILE, lambda path: save_served(served, path))
        full = dict(meta)
        full.update(
            version=version,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            sklearn_version=sklearn.__version__,
            model_sha256=sha256_file(vdir / MODEL_FILE),
            serving_sha256=sha256_file(vdir / SERVING_FILE),
        )
        atomic_write(vdir / SIDECAR, json.dumps(full, indent=2, sort_keys=True).encode("utf-8"))
        return version

    def install(self, version: str) -> None:
        """Make ``version`` current, keeping the one it replaces as previous (one atomic replace)."""
        current = self.pointer()["current"]
        pointer = {"current": version, "previous": current if current != version else self.pointer()["previous"]}
        atomic_write(self.pointer_path, json.dumps(pointer).encode("utf-8"))

    def rollback(self) -> str:
        """Swap current and previous; return the version now current."""
        pointer = self.pointer()
        if not pointer["previous"]:
            raise ModelError(f"no previous model to roll back to in {self.dir}")
        atomic_write(
            self.pointer_path,
            json.dumps({"current": pointer["previous"], "previous": pointer["current"]}).encode("utf-8"),
        )
        return str(pointer["previous"])

    def meta(self, version: str) -> dict[str, Any]:
        """The sidecar of a version."""
        path = self.dir / "versions" / version / SIDECAR
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ModelMismatch(f"the sidecar {path} is missing or damaged ({exc})") from None

    def load(self, version: str | None = None) -> LoadedModel:
        """Load a version (default: current) for triage, after checking ownership, permissions and hashes.

        Reads ``serving.npz``; a version saved before it existed gets one first, from its pipeline (which
        needs the scikit-learn it was built with: see :meth:`add_serving`).
        """
        version = version or self.pointer()["current"]
        if not version:
            raise ModelError(f"no model installed in {self.dir}")
        vdir = self.dir / "versions" / version
        for item in (self.dir, vdir):
            check_safe(item)
        meta = self.meta(version)
        if not meta.get("serving_sha256"):
            meta = self.add_serving(version)
        path = vdir / SERVING_FILE
        check_safe(path)
        if sha256_file(path) != meta.get("serving_sha256"):
            raise ModelMismatch(f"the serving file of {version} does not match the sha256 in its sidecar")
        try:
            served = load_served(path)
        except ServingError as exc:
            raise ModelMismatch(f"the model {version} cannot be served: {exc}") from None
        if list(served.classes) != list(meta.get("labels", served.classes)):
            raise ModelMismatch(f"the serving file of {version} has other labels than its sidecar")
        return LoadedModel(version, served, meta)

    def has_serving(self, version: str) -> bool:
        """Whether a version has its served form (versions saved by mentorbox before it served models have only the pipeline)."""
        return bool(self.meta(version).get("serving_sha256"))

    def add_serving(self, version: str) -> dict[str, Any]:
        """Write the served form of an older version from its pipeline, once; return the updated sidecar.

        Needs the scikit-learn the version was built with (:class:`ModelMismatch` otherwise, and for a
        pipeline that cannot be served): the caller then rebuilds the model from data.
        """
        from classifier.export import NotServable, export_pipeline

        try:
            served = export_pipeline(self.load_pipeline(version))
        except NotServable as exc:
            raise ModelMismatch(f"the model {version} cannot be served ({exc})") from None
        vdir = self.dir / "versions" / version
        _write_private(vdir / SERVING_FILE, lambda path: save_served(served, path))
        meta = self.meta(version)
        meta["serving_sha256"] = sha256_file(vdir / SERVING_FILE)
        atomic_write(vdir / SIDECAR, json.dumps(meta, indent=2, sort_keys=True).encode("utf-8"))
        return meta

    def load_pipeline(self, version: str | None = None) -> Any:
        """The fitted scikit-learn pipeline of a version (default: current), for retraining and comparisons.

        Checks ownership, permissions, hash and that this is the scikit-learn it was built with.
        """
        import joblib
        import sklearn

        version = version or self.pointer()["current"]
        if not version:
            raise ModelError(f"no model installed in {self.dir}")
        vdir = self.dir / "versions" / version
        for path in (self.dir, vdir, vdir / MODEL_FILE):
            check_safe(path)
        meta = self.meta(version)
        model_path = vdir / MODEL_FILE
        if meta.get("sklearn_version") != sklearn.__version__:
            raise ModelMismatch(
                f"the model {version} was built with scikit-learn {meta.get('sklearn_version')}, "
                f"this is {sklearn.__version__}"
            )
        if sha256_file(model_path) != meta.get("model_sha256"):
            raise ModelMismatch(f"the model file of {version} does not match the sha256 in its sidecar")
        try:
            return joblib.load(model_path)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means "rebuild it"
            raise ModelMismatch(f"the model file of {version} cannot be loaded: {type(exc).__name__}: {exc}") from None
