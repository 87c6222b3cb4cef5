"""Estimators for predictive maintenance: our own baselines, written to scikit-learn's
conventions (``__init__`` stores parameters, ``fit`` validates and returns ``self``,
fitted attributes end in ``_``, ``check_is_fitted``), and the zoo of models compared.

- :class:`ThresholdRuleClassifier`: the operator's rule "warn when one reading is
  above (or below) a limit", with the reading and limit learned from training data;
- :class:`ConstantRULRegressor`: remaining useful life = the training median, the
  baseline every RUL model must beat;
- :func:`classifier_zoo`: constant, threshold rule, logistic regression, gradient
  boosting, random forest and an unsupervised IsolationForest;
- :func:`risk_scores`: one score per row, higher = more likely to fail, for all of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from . import SUPERVISED, UNSUPERVISED

__all__ = ["ThresholdRuleClassifier", "ConstantRULRegressor", "classifier_zoo", "rul_zoo", "risk_scores",
           "SUPERVISED", "UNSUPERVISED"]


class ThresholdRuleClassifier(ClassifierMixin, BaseEstimator):
    """Binary rule on one feature: positive when ``direction * (x - threshold) > 0``.

    Parameters
    ----------
    feature : int or None
        Column index of the feature; ``None`` picks the column (and direction) with the
        best average precision on the training data.
    threshold : float or None
        The limit, in the feature's unit; ``None`` learns the one with the best F1.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_``, ``direction_``
    (+1 above, -1 below), ``threshold_`` and ``scale_`` (robust spread of the feature,
    which turns distance to the limit into a probability).
    """

    def __init__(self, feature: int | None = None, threshold: float | None = None) -> None:
        self.feature = feature
        self.threshold = threshold

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.poor_score = True
        return tags

    def fit(self, X: Any, y: Any) -> ThresholdRuleClassifier:
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError("Only binary classification is supported (fails / does not fail). "
                             f"The type of the target is {y_type}.")
        self.classes_ = unique_labels(y)
        if self.feature is not None and not (isinstance(self.feature, (int, np.integer))
                                             and 0 <= self.feature < X.shape[1]):
            raise ValueError(f"The 'feature' parameter of ThresholdRuleClassifier must be None or a column index "
                             f"in [0, {X.shape[1]}). Got {self.feature!r} instead.")
        positive = (y == self.classes_[-1]).astype(int)
        filled = np.where(np.isnan(X), np.nanmedian(np.where(np.isnan(X).all(0), 0.0, X), axis=0), X)
        filled = np.nan_to_num(filled)
        self.feature_, self.direction_ = self._choose_feature(filled, positive)
        x = filled[:, self.feature_]
        spread = np.subtract(*np.percentile(x, [75, 25]))
        self.scale_ = float(spread / 1.349) if spread > 0 else float(np.std(x)) or 1.0
        self.threshold_ = float(self.threshold) if self.threshold is not None else \
            self._best_threshold(x * self.direction_, positive) * self.direction_
        return self

    def _choose_feature(self, X: np.ndarray, positive: np.ndarray) -> tuple[int, int]:
        if len(np.unique(positive)) < 2:
            return (int(self.feature) if self.feature is not None else 0), 1
        columns = [int(self.feature)] if self.feature is not None else range(X.shape[1])
        scored = [(average_precision_score(positive, d * X[:, j]), j, d) for j in columns for d in (1, -1)]
        _, j, d = max(scored, key=lambda s: (s[0], -s[1], s[2]))
        return j, d

    @staticmethod
    def _best_threshold(x: np.ndarray, positive: np.ndarray) -> float:
        """The limit on ``x`` (positive above it) with the best F1 on the training rows."""
        order = np.argsort(-x, kind="stable")
        xs, ps = x[order], positive[order]
        tp = np.cumsum(ps)
        flagged = np.arange(1, len(xs) + 1)
        f1 = 2 * tp / (flagged + ps.sum()) if ps.sum() else np.zeros(len(xs))
        last_of_value = np.r_[xs[1:] != xs[:-1], True]  # a limit cannot split equal values
        best = int(np.argmax(np.where(last_of_value, f1, -1.0)))
        below = xs[best + 1] if best + 1 < len(xs) else xs[best] - 1.0
        return float((xs[best] + below) / 2.0)  # halfway to the next lower value

    def decision_function(self, X: Any) -> np.ndarray:
        """Signed distance to the limit in robust spreads (> 0: positive side)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        x = X[:, self.feature_]
        return np.nan_to_num(self.direction_ * (x - self.threshold_) / self.scale_, nan=-1.0)

    def predict_proba(self, X: Any) -> np.ndarray:
        d = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(d, -50, 50)))
        if len(self.classes_) == 1:
            return np.ones((len(d), 1))
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        d = self.decision_function(X)
        if len(self.classes_) == 1:
            return np.full(len(d), self.classes_[0])
        return self.classes_[(d > 0).astype(int)]


class ConstantRULRegressor(RegressorMixin, BaseEstimator):
    """Remaining useful life = a constant of the training targets (``strategy``:
    ``"median"`` or ``"mean"``), whatever the features. Fitted: ``constant_``."""

    def __init__(self, strategy: str = "median") -> None:
        self.strategy = strategy

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.regressor_tags.poor_score = True
        return tags

    def fit(self, X: Any, y: Any) -> ConstantRULRegressor:
        if self.strategy not in ("median", "mean"):
            raise ValueError(f"The 'strategy' parameter of ConstantRULRegressor must be 'median' or 'mean'. "
                             f"Got {self.strategy!r} instead.")
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", y_numeric=True)
        self.constant_ = float(np.median(y) if self.strategy == "median" else np.mean(y))
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.full(X.shape[0], self.constant_)


def classifier_zoo(random_state: int = 0) -> dict[str, Any]:
    """Fresh, unfitted models by name: :data:`CLASSIFIERS`, in that order (the CLI offers
    those names without importing this module)."""
    return {
        "constant": DummyClassifier(strategy="prior"),
        "threshold_rule": ThresholdRuleClassifier(),
        "logistic_regression": make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                             LogisticRegression(C=0.3, max_iter=5000, class_weight="balanced")),
        "gradient_boosting": HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15,
                                                            min_samples_leaf=20, l2_regularization=1.0,
                                                            random_state=random_state),
        "random_forest": RandomForestClassifier(n_estimators=100, min_samples_leaf=5, max_features="sqrt",
                                                class_weight="balanced_subsample", n_jobs=1,
                                                random_state=random_state),
        "isolation_forest": make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                          IsolationForest(n_estimators=200, random_state=random_state)),
    }


def rul_zoo(random_state: int = 0) -> dict[str, Any]:
    """Remaining-useful-life regressors (hours): the constant baseline and gradient boosting."""
    return {
        "constant": ConstantRULRegressor(),
        "gradient_boosting": HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                                           min_samples_leaf=20, loss="absolute_error",
                                                           random_state=random_state),
    }


def risk_scores(model: Any, X: Any) -> np.ndarray:
    """Higher = more likely to fail: the positive class's probability, or for an
    unsupervised detector the negated normality score."""
    if hasattr(model, "predict_proba") and not _is_unsupervised(model):
        proba = model.predict_proba(X)
        return proba[:, -1] if proba.shape[1] > 1 else np.zeros(len(proba))
    return -model.score_samples(X)


def _is_unsupervised(model: Any) -> bool:
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    return isinstance(final, IsolationForest)
