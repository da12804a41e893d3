"""Reading a fitted scikit-learn model out into a :class:`~classifier.serving.ServingModel` (at training time).

This is the only place that knows where scikit-learn keeps what a served model needs; it refuses (with
:class:`NotServable`) any piece it does not know, rather than serve something that classifies differently.
The triage pipeline (``ColumnTransformer`` + a linear estimator, calibrated or not) and the FAQ topic model
(``FeatureUnion`` + one-vs-rest logistic regressions) are covered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from classifier.pipeline import class_weights, readable_name
from classifier.serving import Block, ServingModel, terms_of
from classifier.vectorizers import _FastTfidf  # noqa: PLC2701


class NotServable(ValueError):
    """The fitted model has a part that :mod:`classifier.serving` cannot reproduce exactly."""


def export_block(transformer: Any) -> Block:
    """The serving block of one fitted vectorizer."""
    if isinstance(transformer, _FastTfidf):  # it transforms with a serving Block already
        tfidf = transformer.tfidf_
        if tfidf.norm != "l2" or not tfidf.use_idf:
            raise NotServable(f"TF-IDF with norm={tfidf.norm!r}, use_idf={tfidf.use_idf}")
        return transformer.block
    if (isinstance(transformer, CountVectorizer) and transformer.binary and not transformer.lowercase
            and transformer.token_pattern == r"\S+" and transformer.ngram_range == (1, 1)
            and transformer.analyzer == "word" and transformer.preprocessor is None
            and transformer.tokenizer is None and transformer.strip_accents is None):
        return Block(kind="tokens", terms=terms_of(transformer.vocabulary_), dtype=transformer.dtype)
    raise NotServable(f"feature block {type(transformer).__name__} with these settings")


def _linear(estimator: Any) -> tuple[np.ndarray, np.ndarray]:
    if not hasattr(estimator, "coef_") or not hasattr(estimator, "decision_function"):
        raise NotServable(f"estimator {type(estimator).__name__} is not linear")
    return np.asarray(estimator.coef_, dtype=np.float64), np.asarray(estimator.intercept_, dtype=np.float64)


def _head(model: Any, classes: list[str]) -> dict[str, Any]:
    """Weights and probability rule of the final estimator."""
    if isinstance(model, CalibratedClassifierCV):
        weights, intercepts, a, b = [], [], [], []
        for member in model.calibrated_classifiers_:
            if member.method != "sigmoid":
                raise NotServable(f"calibration method {member.method!r}")
            if list(member.estimator.classes_) != list(model.classes_):
                raise NotServable("a calibration member saw only some of the classes")
            w, i = _linear(member.estimator)
            weights.append(w)
            intercepts.append(i)
            a += [float(c.a_) for c in member.calibrators]
            b += [float(c.b_) for c in member.calibrators]
        return {"kind": "calibrated-sigmoid", "weights": np.vstack(weights), "intercepts": np.concatenate(intercepts),
                "members": len(weights), "calib_a": np.asarray(a), "calib_b": np.asarray(b)}
    if isinstance(model, LogisticRegression):
        w, i = _linear(model)
        if len(classes) > 2 and model.solver == "liblinear":
            raise NotServable("one-vs-rest logistic regression for more than two classes")
        return {"kind": "logistic" if len(classes) == 2 else "softmax", "weights": w, "intercepts": i}
    raise NotServable(f"final estimator {type(model).__name__}")


def export_pipeline(pipeline: Pipeline) -> ServingModel:
    """The served form of a fitted triage pipeline (``features`` ColumnTransformer, then ``model``)."""
    features, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
    if not isinstance(features, ColumnTransformer):
        raise NotServable(f"feature stage {type(features).__name__}")
    blocks, columns = [], []
    for name, transformer, column in features.transformers_:
        if name == "remainder":
            if transformer != "drop":
                raise NotServable("a ColumnTransformer that passes other columns through")
            continue
        if not isinstance(column, int):
            raise NotServable(f"block {name!r} reads columns {column!r}, not one")
        blocks.append(export_block(transformer))
        columns.append(column)
    classes = [str(c) for c in model.classes_]
    weights = class_weights(model)
    if weights is not None and weights.shape[0] == 1:  # binary models keep one row
        weights = np.vstack([-weights[0], weights[0]])
    relative = None if weights is None else weights - weights.mean(axis=0, keepdims=True)
    readable = [readable_name(str(n)) or "" for n in features.get_feature_names_out()]
    return ServingModel(classes=classes, blocks=blocks, column=list(columns), explain=relative, readable=readable,
                        **_head(model, classes))


def export_multilabel(union: FeatureUnion, model: OneVsRestClassifier, ids: list[str]) -> ServingModel:
    """The served form of a multi-label topic model: a FeatureUnion over one text, one-vs-rest logistic."""
    blocks = [export_block(t) for _, t in union.transformer_list]
    if not model.multilabel_:
        raise NotServable("a one-vs-rest model that is not multi-label")
    weights, intercepts = [], []
    for estimator in model.estimators_:
        if not isinstance(estimator, LogisticRegression):
            raise NotServable(f"topic estimator {type(estimator).__name__} (a topic with no negative examples?)")
        w, i = _linear(estimator)
        weights.append(w)
        intercepts.append(i)
    return ServingModel(kind="multilabel-logistic", classes=list(ids), blocks=blocks, column=[None] * len(blocks),
                        weights=np.vstack(weights), intercepts=np.concatenate(intercepts))
