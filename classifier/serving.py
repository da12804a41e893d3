"""A trained model served with NumPy and SciPy's sparse matrices alone: no scikit-learn at run time.

Why: importing scikit-learn costs a process about 80 MB of memory (124 MB against 45 MB for NumPy and
``scipy.sparse``, measured on the project's machine) and most of a second at start-up, and a pickled
scikit-learn model may not load, or may behave differently, under the next scikit-learn release. Everything a
linear model needs to classify is a handful of arrays: per feature block its vocabulary and IDF weights, then
the linear weights and, for calibrated models, the sigmoid calibration. ``classifier/export.py`` reads them out
of a fitted pipeline at training time; :func:`save` and :func:`load` keep them in an ``.npz`` file read with
``allow_pickle=False``, so loading a model runs no code.

The arithmetic is scikit-learn's, step by step, in the same order (``tests/unit/test_serving.py`` compares the
probabilities with the pipeline's on the whole corpus): :class:`Block` is also what the training-side
vectorizers (``classifier/vectorizers.py``) use to transform, and those are tested to give scikit-learn's
TF-IDF matrices bit for bit.
"""

from __future__ import annotations

import json
import uuid
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from classifier.columns import KINDS, Columns, Spec, row_columns

FORMAT = 1
"""Version of the ``.npz`` layout; a file of another version is refused (the model is then rebuilt)."""
MODEL_KINDS = ("calibrated-sigmoid", "softmax", "logistic", "multilabel-logistic")


class ServingError(ValueError):
    """A serving file that cannot be used (damaged, another format): the caller rebuilds the model."""


def terms_of(vocabulary: dict[str, int]) -> list[str]:
    """A fitted vocabulary (term -> column) as its terms in column order."""
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        terms[index] = term
    return terms


@dataclass(eq=False)
class Block:
    """One feature block: text in, a TF-IDF (or binary token) sparse matrix out, as scikit-learn computes it.

    ``words``: ``TfidfVectorizer`` on scikit-learn's word pattern, word n-grams, optional accent stripping.
    ``chars``: ``TfidfVectorizer(analyzer="char_wb")``. ``tokens``: ``CountVectorizer(token_pattern=r"\\S+",
    lowercase=False, binary=True)``, for the meta tokens of :mod:`classifier.features`. Finding the terms is
    :attr:`columns`' job (pure Python, see :mod:`classifier.columns`); weighing them is :meth:`matrix`'s.
    """

    kind: str
    terms: list[str]
    ngram_range: tuple[int, int] = (1, 1)
    strip_accents: bool = False
    sublinear_tf: bool = False
    idf: np.ndarray | None = None
    dtype: Any = np.float64
    columns: Columns = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ServingError(f"unknown feature block kind {self.kind!r}")
        vocabulary = {term: i for i, term in enumerate(self.terms)}
        if len(vocabulary) != len(self.terms):
            raise ServingError("a feature block lists a term twice")
        if self.idf is not None and len(self.idf) != len(self.terms):
            raise ServingError("a feature block has IDF weights for another number of terms")
        self.columns = Columns(self.kind, vocabulary, self.ngram_range, self.strip_accents)

    def __len__(self) -> int:
        return len(self.terms)

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        """The block's matrix for ``docs``: one row per doc, ``len(self)`` columns."""
        return self.matrix([self.columns.of(doc) for doc in docs])

    def matrix(self, found: Sequence[bytes]) -> sparse.csr_matrix:
        """The block's matrix for texts whose columns (:meth:`Columns.of`, maybe computed in another process)
        are ``found``: one row per text."""
        # Repeated terms become counts, and columns are sorted within each row as scikit-learn's are: one
        # np.unique over (row, column) keys does both (SciPy's sum_duplicates sorts row by row, 2x slower).
        width = max(len(self.terms), 1)
        sizes = np.fromiter(map(len, found), dtype=np.int64, count=len(found)) // 4
        keys = np.repeat(np.arange(len(found), dtype=np.int64), sizes) * width
        keys += np.frombuffer(b"".join(found), dtype=np.int32)
        keys, counts = np.unique(keys, return_counts=True)
        rows, columns = np.divmod(keys, width)
        indptr = np.zeros(len(found) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(found)), out=indptr[1:])
        x = sparse.csr_matrix((counts.astype(self.dtype), columns.astype(np.int32), indptr),
                              shape=(len(found), len(self.terms)))
        if self.kind == "tokens":
            x.data[:] = 1  # binary
            return x
        # TfidfTransformer.transform: sublinear tf, times idf, rows scaled to unit length (L2)
        if self.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1.0
        if self.idf is not None:
            x.data *= self.idf[x.indices]
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        norms = np.sqrt(np.bincount(rows, weights=x.data * x.data, minlength=x.shape[0]))
        nonzero = norms[rows] != 0.0
        x.data[nonzero] /= norms[rows][nonzero]
        return x


@dataclass(eq=False)
class ServingModel:
    """A linear classifier over feature blocks, with its probability rule and what explanations need.

    ``column[i]`` says which input column block ``i`` reads (``None``: the input is one text per row).
    ``weights`` has one row per (member, class) score: ``members`` calibrated copies for
    ``calibrated-sigmoid`` (each with sigmoid parameters ``calib_a``, ``calib_b`` per row), one per class
    otherwise. ``explain`` holds per class the weight of each feature relative to the average class (the
    direction a feature pushes), and ``readable`` its name in words, empty for features not worth showing.
    """

    kind: str
    classes: list[str]
    blocks: list[Block]
    column: list[int | None]
    weights: np.ndarray
    intercepts: np.ndarray
    members: int = 1
    calib_a: np.ndarray | None = None
    calib_b: np.ndarray | None = None
    explain: np.ndarray | None = None
    readable: list[str] = field(default_factory=list)
    key: str = field(init=False, repr=False)
    """Names this loaded model's feature blocks, for columns computed ahead (:func:`bot.models.memo`): unique
    per load, so columns found for a model that was swapped since are not used with the new one."""

    def __post_init__(self) -> None:
        self.key = f"columns:{uuid.uuid4().hex}"
        if self.kind not in MODEL_KINDS:
            raise ServingError(f"unknown model kind {self.kind!r}")
        width = sum(len(b) for b in self.blocks)
        rows = self.members * self._scores_per_member()
        if self.weights.shape != (rows, width) or self.intercepts.shape != (rows,):
            raise ServingError(f"weights of shape {self.weights.shape} do not fit {rows} scores x {width} features")
        if self.kind == "calibrated-sigmoid" and (self.calib_a is None or self.calib_b is None
                                                  or self.calib_a.shape != (rows,) or self.calib_b.shape != (rows,)):
            raise ServingError("a calibrated model without one sigmoid per score")
        if self.explain is not None and self.explain.shape != (len(self.classes), width):
            raise ServingError("explanation weights of the wrong shape")
        self._weights_t = np.ascontiguousarray(self.weights.T)

    def _scores_per_member(self) -> int:
        binary = len(self.classes) == 2 and self.kind != "multilabel-logistic"
        return 1 if binary else len(self.classes)

    @property
    def spec(self) -> Spec:
        """What finding the columns of an input row needs (pure Python: another process may do it)."""
        return [(column, block.columns) for block, column in zip(self.blocks, self.column)]

    def features(self, rows: Sequence[Sequence[str]] | Sequence[str]) -> sparse.csr_matrix:
        """The feature matrix of a batch: the blocks side by side, as ``ColumnTransformer`` builds it."""
        spec = self.spec
        return self.features_of([row_columns(row, spec) for row in rows])

    def features_of(self, found: Sequence[Sequence[bytes]]) -> sparse.csr_matrix:
        """The feature matrix of a batch whose rows' columns (:func:`row_columns`) are ``found``."""
        parts = [block.matrix([row[i] for row in found]) for i, block in enumerate(self.blocks)]
        return sparse.hstack(parts, format="csr")

    def predict_proba(self, x: sparse.csr_matrix) -> np.ndarray:
        """Probabilities ``(rows, classes)``, computed as the exported scikit-learn estimator computes them."""
        scores = np.asarray(x @ self._weights_t) + self.intercepts
        if self.kind == "multilabel-logistic":
            return _expit(scores)
        if self.kind == "logistic":  # binary: the score is the second class's
            p = _expit(scores)
            return np.hstack([1.0 - p, p])
        if self.kind == "softmax":
            scores = scores - scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            return np.asarray(scores / scores.sum(axis=1, keepdims=True))
        assert self.calib_a is not None and self.calib_b is not None
        calibrated = _expit(-(self.calib_a * scores + self.calib_b))
        n, per = len(self.classes), self._scores_per_member()
        mean = np.zeros((x.shape[0], n))
        for m in range(self.members):
            part = calibrated[:, m * per : (m + 1) * per]
            if per == 1:  # binary: the score is the second class's
                proba = np.hstack([1.0 - part, part])
            else:
                total = part.sum(axis=1, keepdims=True)
                proba = np.divide(part, total, out=np.full_like(part, 1 / n), where=total != 0)
            proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
            mean += proba
        mean /= self.members
        return mean

    def reasons(self, x: sparse.csr_matrix, labels: Sequence[int], top: int = 4) -> list[tuple[str, ...]]:
        """Per row of ``x``, up to ``top`` reasons like ``'"phd position" +1.80'``: the readable features that
        pushed most towards that row's class ``labels[row]`` (value times relative weight), strongest first.

        One sort for the whole batch (by row, then push), not one per row.
        """
        if self.explain is None:
            return [() for _ in labels]
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        pushes = x.data * self.explain[np.asarray(labels, dtype=np.int64)[rows], x.indices]
        keep = pushes >= 0.05
        rows, pushes, indices = rows[keep], pushes[keep], x.indices[keep]
        order = np.lexsort((-pushes, rows))  # by row, strongest push first
        out: list[list[str]] = [[] for _ in labels]
        readable = self.readable
        for row, push, index in zip(rows[order].tolist(), pushes[order].tolist(), indices[order].tolist()):
            found = out[row]
            if len(found) < top:
                text = readable[index]
                if text:
                    found.append(f"{text} {push:+.2f}")
        return [tuple(found) for found in out]


def _expit(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large negative ``z``."""
    out = np.empty_like(z, dtype=np.float64)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


# --------------------------------------------------------------------------- files


def _text_array(lines: Sequence[str]) -> np.ndarray:
    joined = "\n".join(lines)
    if any("\n" in line for line in lines):
        raise ServingError("a term holds a line break")
    return np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)


def _lines(array: np.ndarray, count: int) -> list[str]:
    if count == 0:
        return []
    lines = array.tobytes().decode("utf-8").split("\n")
    if len(lines) != count:
        raise ServingError(f"expected {count} terms, found {len(lines)}")
    return lines


def save(model: ServingModel, path: Path) -> None:
    """Write ``model`` to ``path`` (an ``.npz`` of plain arrays and a JSON header; no pickles)."""
    header: dict[str, Any] = {
        "format": FORMAT, "kind": model.kind, "classes": list(model.classes), "members": model.members,
        "column": list(model.column), "readable": len(model.readable),
        "blocks": [{"kind": b.kind, "terms": len(b.terms), "ngram_range": list(b.ngram_range),
                    "strip_accents": b.strip_accents, "sublinear_tf": b.sublinear_tf, "idf": b.idf is not None,
                    "dtype": np.dtype(b.dtype).name} for b in model.blocks],
    }
    arrays: dict[str, np.ndarray] = {"weights": model.weights, "intercepts": model.intercepts,
                                     "readable": _text_array(model.readable)}
    for name in ("calib_a", "calib_b", "explain"):
        value = getattr(model, name)
        if value is not None:
            arrays[name] = value
    for i, block in enumerate(model.blocks):
        arrays[f"terms{i}"] = _text_array(block.terms)
        if block.idf is not None:
            arrays[f"idf{i}"] = block.idf
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]


def load(path: Path) -> ServingModel:
    """Read a model written by :func:`save`; :class:`ServingError` if it is damaged or of another format."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        header = json.loads(arrays["header"].tobytes().decode("utf-8"))
        if header.get("format") != FORMAT:
            raise ServingError(f"serving file format {header.get('format')!r}, this mentorbox reads {FORMAT}")
        blocks = [
            Block(kind=b["kind"], terms=_lines(arrays[f"terms{i}"], b["terms"]),
                  ngram_range=(int(b["ngram_range"][0]), int(b["ngram_range"][1])),
                  strip_accents=bool(b["strip_accents"]), sublinear_tf=bool(b["sublinear_tf"]),
                  idf=arrays[f"idf{i}"] if b["idf"] else None, dtype=np.dtype(b["dtype"]))
            for i, b in enumerate(header["blocks"])
        ]
        return ServingModel(
            kind=header["kind"], classes=[str(c) for c in header["classes"]], blocks=blocks,
            column=[None if c is None else int(c) for c in header["column"]], weights=arrays["weights"],
            intercepts=arrays["intercepts"], members=int(header["members"]), calib_a=arrays.get("calib_a"),
            calib_b=arrays.get("calib_b"), explain=arrays.get("explain"),
            readable=_lines(arrays["readable"], int(header["readable"])),
        )
    except ServingError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ServingError(f"cannot read the serving file {path}: {type(exc).__name__}: {exc}") from None
