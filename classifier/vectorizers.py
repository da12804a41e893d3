"""TF-IDF vectorizers that give scikit-learn's numbers, several times faster at prediction.

``TfidfVectorizer`` turns every message into n-grams in a Python loop and counts each one through a
dictionary: it was most of the classifier's time in the daemon's first sync. These two do the same
arithmetic with fewer Python steps per message:

- :class:`CharNgramTfidf` (``analyzer="char_wb"``): the n-grams of a word depend on the word alone and mail
  repeats its words, so the vocabulary columns of each distinct word are remembered, and a message costs
  one dictionary lookup per word;
- :class:`WordNgramTfidf` (words and word pairs): the columns are looked up with ``map`` at C speed, and
  accents are stripped with one ``str.translate``.

In both, SciPy adds up the repeated columns and scikit-learn's own ``TfidfTransformer`` weighs them.
Learning (``fit``) is done by scikit-learn's ``CountVectorizer``, so the vocabulary and the document
frequency cut-offs are exactly scikit-learn's; ``transform`` returns the same matrix as ``TfidfVectorizer``
with the same settings (``tests/unit/test_vectorizers.py`` compares them on the whole corpus).
"""

from __future__ import annotations

import re
import sys
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

CACHE_WORDS = 50_000
"""Distinct words whose columns are remembered (about 150 bytes each, so at most some 8 MB per vectorizer);
the memory is dropped and rebuilt when a flood of new words exceeds it."""
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
"""scikit-learn's default word pattern."""


def char_wb_ngrams(word: str, low: int, high: int) -> list[str]:
    """The ``char_wb`` n-grams of one lower-cased word, in scikit-learn's order and multiplicity."""
    padded = f" {word} "
    size = len(padded)
    out: list[str] = []
    for n in range(low, high + 1):
        if size <= n:  # a word shorter than n (padding included) counts once, whole
            out.append(padded)
            break
        out.extend([padded[i : i + n] for i in range(size - n + 1)])
    return out


@lru_cache(maxsize=1)
def _combining_marks() -> dict[int, None]:
    """Every code point with a non-zero combining class (what ``strip_accents_unicode`` drops), for translate."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


def strip_accents(text: str) -> str:
    """scikit-learn's ``strip_accents_unicode`` (NFKD, then drop combining marks), with one translate."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_combining_marks())


class _FastTfidf(TransformerMixin, BaseEstimator):
    """What both vectorizers share: fitting by scikit-learn, and a sparse matrix from column lists."""

    def _counter(self) -> CountVectorizer:
        raise NotImplementedError

    def _doc_columns(self, doc: str, out: list[bytes]) -> int:
        """Append the doc's column numbers (packed int32, repeats allowed) to ``out``; return how many."""
        raise NotImplementedError

    def fit(self, docs: Iterable[str], y: Any = None) -> _FastTfidf:
        """Learn the vocabulary and the IDF weights exactly as ``TfidfVectorizer`` would."""
        self.fit_transform(docs)
        return self

    def fit_transform(self, docs: Iterable[str], y: Any = None, **_: Any) -> sparse.csr_matrix:
        """Fit, and return the training matrix (computed by scikit-learn itself)."""
        self.counter_ = self._counter()
        counts = self.counter_.fit_transform(list(docs))
        self.tfidf_ = TfidfTransformer(sublinear_tf=self.sublinear_tf).fit(counts)
        self.vocabulary_: dict[str, int] = self.counter_.vocabulary_
        self._reset_cache()
        return self.tfidf_.transform(counts)

    def transform(self, docs: Iterable[str]) -> sparse.csr_matrix:
        """The TF-IDF matrix of ``docs``, the same as ``TfidfVectorizer.transform`` gives."""
        chunks: list[bytes] = []  # the column numbers, as packed int32
        indptr = [0]
        for doc in docs:
            indptr.append(indptr[-1] + self._doc_columns(doc, chunks))
        columns = np.frombuffer(b"".join(chunks), dtype=np.int32).copy()  # writable: SciPy sorts it in place
        counts = sparse.csr_matrix(
            (np.ones(len(columns), dtype=self.dtype), columns, np.asarray(indptr, dtype=np.int64)),
            shape=(len(indptr) - 1, len(self.vocabulary_)),
        )
        counts.sum_duplicates()  # repeated n-grams become counts, columns sorted as scikit-learn's are
        return self.tfidf_.transform(counts)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The features in column order (what ``ColumnTransformer`` prefixes with the block name)."""
        return self.counter_.get_feature_names_out()

    def _reset_cache(self) -> None:
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # The cache is rebuilt on use and a lock cannot be pickled: neither goes into the model file.
        state = dict(super().__getstate__())
        state.pop("_cache", None)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._reset_cache()


class CharNgramTfidf(_FastTfidf):
    """``TfidfVectorizer(analyzer="char_wb", lowercase=True)`` with a per-word cache of columns."""

    def __init__(self, ngram_range: tuple[int, int] = (3, 4), *, sublinear_tf: bool = True, min_df: float | int = 1,
                 max_df: float | int = 1.0, max_features: int | None = None, dtype: Any = np.float64) -> None:
        self.ngram_range = ngram_range
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.dtype = dtype

    def _counter(self) -> CountVectorizer:
        return CountVectorizer(analyzer="char_wb", ngram_range=self.ngram_range, min_df=self.min_df,
                               max_df=self.max_df, max_features=self.max_features, dtype=self.dtype)

    def _doc_columns(self, doc: str, out: list[bytes]) -> int:
        cache = self._cache
        start = len(out)
        for word in doc.lower().split():
            hit = cache.get(word)
            out.append(self._columns(word) if hit is None else hit)
        return sum(map(len, out[start:])) // 4

    def _columns(self, word: str) -> bytes:
        vocabulary = self.vocabulary_
        low, high = self.ngram_range
        found = np.array([vocabulary[g] for g in char_wb_ngrams(word, low, high) if g in vocabulary],
                         dtype=np.int32).tobytes()  # packed: a tenth of the memory of a tuple of ints
        with self._lock:
            if len(self._cache) >= CACHE_WORDS:
                self._cache = {}
            self._cache[word] = found
        return found


class WordNgramTfidf(_FastTfidf):
    """``TfidfVectorizer(ngram_range=(1, n), lowercase=True)`` on scikit-learn's word pattern, with
    ``strip_accents="unicode"`` when asked."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), *, strip_accents: bool = True, sublinear_tf: bool = True,
                 min_df: float | int = 1, max_df: float | int = 1.0, max_features: int | None = None,
                 dtype: Any = np.float64) -> None:
        self.ngram_range = ngram_range
        self.strip_accents = strip_accents
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.dtype = dtype

    def _reset_cache(self) -> None:
        super()._reset_cache()
        if self.strip_accents:
            _combining_marks()  # built once per process (60 ms), when the model is loaded, not mid-sync

    def _counter(self) -> CountVectorizer:
        return CountVectorizer(ngram_range=self.ngram_range, strip_accents="unicode" if self.strip_accents else None,
                               token_pattern=TOKEN_PATTERN, min_df=self.min_df, max_df=self.max_df,
                               max_features=self.max_features, dtype=self.dtype)

    def _doc_columns(self, doc: str, out: list[bytes]) -> int:
        text = doc.lower()
        if self.strip_accents:
            text = strip_accents(text)
        tokens = _TOKENS.findall(text)
        get = self.vocabulary_.get
        low, high = self.ngram_range
        grams: list[str] = tokens if low == 1 else []
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            grams = grams + [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        found = [c for c in map(get, grams) if c is not None]
        out.append(np.array(found, dtype=np.int32).tobytes())
        return len(found)


_TOKENS = re.compile(TOKEN_PATTERN)
