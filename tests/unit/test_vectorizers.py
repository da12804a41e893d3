"""The fast vectorizers give exactly scikit-learn's TF-IDF matrices (they replace TfidfVectorizer in the model)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.corpus import data_dir, read_records
from classifier.vectorizers import CharNgramTfidf, WordNgramTfidf, char_wb_ngrams, strip_accents

AWKWARD = ["", "a", "ab", "İstanbul ÇAĞ ẞ", "tab\there\x0bvertical\x0cfeed", "x" * 60, "é ü ß ﬁ café naïve",
           "  lots   of   space ", "\u2003em space\u00a0no-break", "Ǆ ǅ ǆ ﬃ ① ² ㎏", "日本語のテキスト と 中文", "a-b_c d.e"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    records = [r for _, r in read_records(sorted(data_dir().glob("*.jsonl")))]
    return [r["body"] for r in records] + [r["subject"] for r in records]


PAIRS = [
    pytest.param(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True, min_df=3,
                                 max_features=80_000, dtype=np.float32),
                 CharNgramTfidf((3, 4), min_df=3, max_features=80_000, dtype=np.float32), id="chars-model"),
    pytest.param(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2),
                 CharNgramTfidf((3, 5), min_df=2), id="chars-faq"),
    pytest.param(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), max_df=0.5, sublinear_tf=False),
                 CharNgramTfidf((1, 2), max_df=0.5, sublinear_tf=False), id="chars-short"),
    pytest.param(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode", min_df=3, max_df=0.8,
                                 max_features=60_000, dtype=np.float32),
                 WordNgramTfidf((1, 2), min_df=3, max_df=0.8, max_features=60_000, dtype=np.float32), id="words-model"),
    pytest.param(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode"),
                 WordNgramTfidf((1, 2)), id="words-faq"),
    pytest.param(TfidfVectorizer(ngram_range=(2, 3)), WordNgramTfidf((2, 3), strip_accents=False, sublinear_tf=False),
                 id="words-pairs-triples"),
]


@pytest.mark.parametrize(("reference", "fast"), PAIRS)
def test_same_matrix_as_scikit_learn(reference: TfidfVectorizer, fast: CharNgramTfidf | WordNgramTfidf,
                                     texts: list[str]) -> None:
    """Given the corpus, when both are fitted and applied (also after a pickle round trip, as a saved model
    is), the matrices, their column order and the feature names are the same."""
    reference.fit(texts)
    trained = fast.fit_transform(texts)
    fitted = fast
    # fit_transform is scikit-learn's own arithmetic in another summation order: equal up to rounding
    assert np.allclose(trained.toarray()[:50], reference.transform(texts[:50]).toarray(), rtol=1e-6, atol=1e-7)
    loaded = pickle.loads(pickle.dumps(fitted))
    docs = texts + AWKWARD
    for model in (fitted, loaded, loaded):  # twice: the second pass reads the per-word cache
        got, want = model.transform(docs), reference.transform(docs)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
        assert np.array_equal(got.data, want.data)
    assert list(loaded.get_feature_names_out()) == list(reference.get_feature_names_out())


def test_the_cache_is_not_saved_with_the_model(texts: list[str]) -> None:
    model = CharNgramTfidf((3, 4)).fit(texts[:100])
    model.transform(texts[:100])
    assert model._block.columns._cache
    assert "_block" not in model.__getstate__() and not pickle.loads(pickle.dumps(model))._block.columns._cache


def test_char_ngrams_of_short_and_long_words() -> None:
    assert char_wb_ngrams("a", 3, 4) == [" a "]
    assert char_wb_ngrams("ab", 3, 4) == [" ab", "ab ", " ab "]
    assert char_wb_ngrams("abc", 3, 3) == [" ab", "abc", "bc "]


def test_strip_accents_matches_scikit_learn() -> None:
    from sklearn.feature_extraction.text import strip_accents_unicode

    # (the table of marks fills in as characters are met: every plane's worth of them, and again once known)
    wide = "".join(chr(cp) for cp in [*range(0x80, 0x3000), *range(0x3000, 0x30000, 7)] if not 0xD800 <= cp < 0xE000)
    for text in AWKWARD + ["Ångström Æther Œuvre ǅemal ḱ̃", wide, wide]:
        assert strip_accents(text) == strip_accents_unicode(text)
