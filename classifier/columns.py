"""Text -> the column numbers of a feature block, in pure Python (no NumPy: the reader process runs this).

A feature block of a served model (:class:`classifier.serving.Block`) does two things with a text: it finds
which of its vocabulary's terms occur, and how often (this module), then weighs them with TF-IDF and scales
them (NumPy, in ``serving``). The first half is the expensive one (a dictionary lookup per word or character
n-gram) and needs nothing but the vocabulary, so in a backlog the reader process does it ahead of time, on
the machine's other core, without loading NumPy or the model (see :mod:`bot.reader`).

The columns of a text come packed as native 4-byte integers (:data:`INT32`), one per occurrence, in no
particular order: the matrix step sums and sorts them, as scikit-learn's does.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from array import array
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
"""scikit-learn's default word pattern."""
_TOKENS = re.compile(TOKEN_PATTERN)
KINDS = ("words", "chars", "tokens")
CACHE_WORDS = 50_000
"""Distinct words whose character n-gram columns are remembered (about 150 bytes each, so at most some 8 MB
per block); the memory is dropped and rebuilt when a flood of new words exceeds it."""
INT32 = next(code for code in "ilh" if array(code).itemsize == 4)
"""The ``array`` type code of a native 4-byte integer (NumPy reads the packed columns as ``int32``)."""


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


class _CombiningMarks(dict[int, "int | None"]):
    """A ``str.translate`` table that drops the code points with a non-zero combining class (what
    ``strip_accents_unicode`` drops) and keeps the others, filled in as characters are met: a table of all
    1.1 million code points took 45-60 ms to build, paid by every reader process of a backlog."""

    def __missing__(self, cp: int) -> int | None:
        kept = None if unicodedata.combining(chr(cp)) else cp
        self[cp] = kept
        return kept


_MARKS = _CombiningMarks()


def strip_accents(text: str) -> str:
    """scikit-learn's ``strip_accents_unicode`` (NFKD, then drop combining marks), with one translate."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_MARKS)


@dataclass(eq=False)
class Columns:
    """Which vocabulary terms a text holds, as scikit-learn's vectorizers find them.

    ``words``: scikit-learn's word pattern on the lower-cased text (accents stripped if asked), then word
    n-grams. ``chars``: ``char_wb`` n-grams of each whitespace-separated word; the columns of each distinct
    word are remembered, so a message costs one dictionary lookup per word. ``tokens``: whitespace-separated
    tokens as they are (the meta tokens of :mod:`classifier.features`).
    """

    kind: str
    vocabulary: dict[str, int]
    ngram_range: tuple[int, int] = (1, 1)
    strip_accents: bool = False
    _cache: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown feature block kind {self.kind!r}")

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to the reader process) without the word cache and the lock."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_cache", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _cache={}, _lock=threading.Lock())

    def of(self, doc: str) -> bytes:
        """The columns of ``doc``'s terms, one per occurrence, packed (see :data:`INT32`)."""
        if self.kind == "chars":
            return self._chars(doc)
        if self.kind == "tokens":
            terms = doc.split()
        else:
            text = doc.lower()
            if self.strip_accents:
                text = strip_accents(text)
            tokens = _TOKENS.findall(text)
            low, high = self.ngram_range
            terms = tokens if low == 1 else []
            for n in range(max(low, 2), min(high, len(tokens)) + 1):
                terms = terms + [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        get = self.vocabulary.get
        return array(INT32, [c for c in map(get, terms) if c is not None]).tobytes()

    def _chars(self, doc: str) -> bytes:
        cache = self._cache
        parts = []
        for word in doc.lower().split():
            hit = cache.get(word)
            parts.append(self._word(word) if hit is None else hit)
        return b"".join(parts)

    def _word(self, word: str) -> bytes:
        vocabulary = self.vocabulary
        low, high = self.ngram_range
        found = array(INT32, [vocabulary[g] for g in char_wb_ngrams(word, low, high) if g in vocabulary]).tobytes()
        with self._lock:
            if len(self._cache) >= CACHE_WORDS:
                self._cache = {}
            self._cache[word] = found
        return found


Spec = Sequence[tuple[int | None, Columns]]
"""A model's feature blocks as (which column of the input row the block reads, or None: the row is one
text; the block's :class:`Columns`)."""


def row_columns(row: Sequence[str] | str, spec: Spec) -> tuple[bytes, ...]:
    """The columns of one input row, block by block (what :meth:`ServingModel.features_of` takes)."""
    return tuple(columns.of(_text(row, column)) for column, columns in spec)


def _text(row: Sequence[str] | str, column: int | None) -> str:
    if column is None:
        assert isinstance(row, str), "a block that reads whole rows needs rows that are texts"
        return row
    return row[column]
