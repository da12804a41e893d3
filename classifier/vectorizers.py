"""TF-IDF vectorizers that give scikit-learn's numbers, several times faster at prediction.

``TfidfVectorizer`` turns every message into n-grams in a Python loop and counts each one through a
dictionary: it was most of the classifier's time in the daemon's first sync. These two learn exactly as
scikit-learn does (``fit`` is scikit-learn's ``CountVectorizer`` and ``TfidfTransformer``, so the vocabulary,
the document frequency cut-offs and the IDF weights are scikit-learn's) and transform with a
:class:`classifier.serving.Block`, the same code that serves the model in the daemon without scikit-learn:

- characters (``analyzer="char_wb"``): the n-grams of a word depend on the word alone and mail repeats its
  words, so the vocabulary columns of each distinct word are remembered, and a message costs one dictionary
  lookup per word;
- words and word pairs: the columns are looked up with ``map`` at C speed, and accents are stripped with one
  ``str.translate``.

``transform`` returns the same matrix as ``TfidfVectorizer`` with the same settings, bit for bit
(``tests/unit/test_vectorizers.py`` compares them on the whole corpus).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from classifier.columns import TOKEN_PATTERN, char_wb_ngrams, strip_accents
from classifier.serving import Block, terms_of

__all__ = ["CharNgramTfidf", "WordNgramTfidf", "char_wb_ngrams", "strip_accents"]


class _FastTfidf(TransformerMixin, BaseEstimator):
    """What both vectorizers share: fitting by scikit-learn, transforming by a serving :class:`Block`."""

    kind = ""

    def _counter(self) -> CountVectorizer:
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
        self._make_block()
        return self.tfidf_.transform(counts)

    def transform(self, docs: Iterable[str]) -> sparse.csr_matrix:
        """The TF-IDF matrix of ``docs``, the same as ``TfidfVectorizer.transform`` gives."""
        return self._block.transform(list(docs))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The features in column order (what ``ColumnTransformer`` prefixes with the block name)."""
        return self.counter_.get_feature_names_out()

    @property
    def block(self) -> Block:
        """The fitted block that transforms (what the served model uses, too)."""
        return self._block

    def _make_block(self) -> None:
        self._block = Block(self.kind, terms_of(self.vocabulary_), ngram_range=tuple(self.ngram_range),
                            strip_accents=bool(getattr(self, "strip_accents", False)), sublinear_tf=self.sublinear_tf,
                            idf=np.asarray(self.tfidf_.idf_), dtype=self.dtype)

    def __getstate__(self) -> dict[str, Any]:
        # The block (with its cache and lock) is rebuilt from the vocabulary: it does not go into the file.
        state = dict(super().__getstate__())
        state.pop("_block", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "vocabulary_" in state:
            self._make_block()


class CharNgramTfidf(_FastTfidf):
    """``TfidfVectorizer(analyzer="char_wb", lowercase=True)`` with a per-word cache of columns."""

    kind = "chars"

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


class WordNgramTfidf(_FastTfidf):
    """``TfidfVectorizer(ngram_range=(1, n), lowercase=True)`` on scikit-learn's word pattern, with
    ``strip_accents="unicode"`` when asked."""

    kind = "words"

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

    def _counter(self) -> CountVectorizer:
        return CountVectorizer(ngram_range=self.ngram_range, strip_accents="unicode" if self.strip_accents else None,
                               token_pattern=TOKEN_PATTERN, min_df=self.min_df, max_df=self.max_df,
                               max_features=self.max_features, dtype=self.dtype)
