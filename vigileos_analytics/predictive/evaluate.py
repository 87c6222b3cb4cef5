"""Leak-free evaluation of failure classifiers and remaining-useful-life regressors.

The split is by time *and* by equipment (:func:`split_by_time_and_equipment`):
training rows are snapshots of the training equipment whose horizon ends by the
split time (so no training label looks past it), test rows are snapshots of the
other equipment from the split time on. A warning threshold is chosen on the
training side only, from out-of-fold scores grouped by equipment.

Metrics on the test rows: PR-AUC (average precision), precision and recall of the
warnings at the horizon, and per failure (an equipment going offline with at least
one snapshot in the ``horizon`` before it): whether it was warned about and the
lead time (hours) from the first warning to the failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, mean_absolute_error
from sklearn.model_selection import GroupKFold

from ..errors import ValidationError
from .features import feature_names
from .models import UNSUPERVISED, classifier_zoo, risk_scores, rul_zoo

__all__ = ["Split", "EvaluationResult", "split_by_time_and_equipment", "evaluate_models", "best_f1_threshold",
           "feature_columns", "evaluate_rul"]

_NOT_FEATURES = {"equipment_id", "time", "status", "failure_time", "rul_hours", "label", "label_known",
                 "rul_capped_hours"}


def feature_columns(dataset: pd.DataFrame) -> list[str]:
    """The feature columns of a dataset, in :func:`feature_names` order where known."""
    known = [c for c in feature_names() if c in dataset.columns]
    return known + [c for c in dataset.columns if c not in _NOT_FEATURES and c not in known]


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    split_time: pd.Timestamp
    train_equipment: tuple[str, ...]
    test_equipment: tuple[str, ...]


def split_by_time_and_equipment(dataset: pd.DataFrame, horizon: timedelta, *, split_time: pd.Timestamp | None = None,
                                test_share: float = 0.3, random_state: int = 0) -> Split:
    """Hold out ``test_share`` of the equipment (drawn with ``random_state``) and the time after
    ``split_time`` (default: the middle of the snapshots); keep only rows whose label is known."""
    if not 0 < test_share < 1:
        raise ValidationError(f"test_share must be between 0 and 1; got {test_share!r}.", field="test_share")
    ids = np.array(sorted(dataset["equipment_id"].unique()))
    if len(ids) < 2:
        raise ValidationError(f"a split by equipment needs at least 2 equipment; got {len(ids)}. "
                              "Build the dataset over more equipment.", field="dataset")
    if split_time is None:
        t0, t1 = dataset["time"].min(), dataset["time"].max()
        split_time = (t0 + (t1 - t0) / 2).floor("1h")
    rng = np.random.default_rng(random_state)
    n_test = min(len(ids) - 1, max(1, int(round(test_share * len(ids)))))
    test_ids = np.sort(rng.permutation(ids)[:n_test])
    is_test = dataset["equipment_id"].isin(test_ids)
    known = dataset["label_known"].astype(bool)
    train = dataset[~is_test & known & (dataset["time"] + pd.Timedelta(horizon) <= split_time)]
    test = dataset[is_test & known & (dataset["time"] >= split_time)]
    return Split(train.reset_index(drop=True), test.reset_index(drop=True), pd.Timestamp(split_time),
                 tuple(sorted(set(ids) - set(test_ids))), tuple(test_ids))


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score limit (warn at or above it) with the best F1 on these rows."""
    if labels.sum() == 0:
        return float(np.inf)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    f1 = 2 * tp / (np.arange(1, len(s) + 1) + y.sum())
    f1 = np.where(np.r_[s[1:] != s[:-1], True], f1, -1.0)
    return float(s[int(np.argmax(f1))])


def _out_of_fold(model, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Scores of each training row from a model that did not see its equipment."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        return risk_scores(clone(model).fit(X, y), X)
    out = np.zeros(len(y))
    for fit_idx, pred_idx in GroupKFold(n_splits=min(3, n_groups)).split(X, y, groups):
        if len(np.unique(y[fit_idx])) < 2:
            out[pred_idx] = y[fit_idx].mean()
            continue
        out[pred_idx] = risk_scores(clone(model).fit(X[fit_idx], y[fit_idx]), X[pred_idx])
    return out


def _lead_times(test: pd.DataFrame, warned: np.ndarray) -> tuple[int, int, float]:
    """(failures, failures warned about, mean lead time in hours of the first warning)."""
    positive = test[test["label"] == 1].assign(warned=warned[test["label"].to_numpy() == 1])
    if positive.empty:
        return 0, 0, float("nan")
    first = positive[positive["warned"]].groupby(["equipment_id", "failure_time"])["time"].min()
    events = positive.groupby(["equipment_id", "failure_time"]).ngroups
    lead = (first.index.get_level_values("failure_time") - first).dt.total_seconds() / 3600.0
    return events, len(first), float(lead.mean()) if len(first) else float("nan")


@dataclass(frozen=True)
class EvaluationResult:
    """``table``: one row per classifier; ``rul``: one row per RUL regressor; ``scores``: the
    test rows with one risk column per model; ``thresholds``: warning limit per model."""

    table: pd.DataFrame
    rul: pd.DataFrame
    scores: pd.DataFrame
    thresholds: dict[str, float] = field(default_factory=dict)
    split: Split | None = None


def evaluate_models(dataset: pd.DataFrame, horizon: timedelta, *, names: Sequence[str] | None = None,
                    split: Split | None = None, random_state: int = 0) -> EvaluationResult:
    """Fit each model on the training side of ``split`` and score it on the test side."""
    split = split or split_by_time_and_equipment(dataset, horizon, random_state=random_state)
    columns = feature_columns(dataset)
    X_train, y_train = split.train[columns].to_numpy("float64"), split.train["label"].to_numpy()
    X_test, y_test = split.test[columns].to_numpy("float64"), split.test["label"].to_numpy()
    groups = split.train["equipment_id"].to_numpy()
    zoo = classifier_zoo(random_state)
    rows, scores, thresholds = [], split.test[["equipment_id", "time", "label", "failure_time"]].copy(), {}
    for name in names or list(zoo):
        model = zoo[name]
        if name in UNSUPERVISED:
            fitted = model.fit(X_train)
            limit = best_f1_threshold(risk_scores(fitted, X_train), y_train)
        elif len(np.unique(y_train)) < 2:
            continue  # nothing to learn from: no failure (or only failures) before the split
        else:
            limit = best_f1_threshold(_out_of_fold(model, X_train, y_train, groups), y_train)
            fitted = clone(model).fit(X_train, y_train)
        risk = risk_scores(fitted, X_test)
        warned = risk >= limit
        events, caught, lead = _lead_times(split.test, warned)
        tp = int((warned & (y_test == 1)).sum())
        rows.append({
            "model": name, "pr_auc": average_precision_score(y_test, risk) if y_test.any() else np.nan,
            "precision": tp / warned.sum() if warned.any() else np.nan,
            "recall": tp / y_test.sum() if y_test.any() else np.nan,
            "failures": events, "failures_warned": caught, "mean_lead_h": lead,
        })
        scores[name], thresholds[name] = risk, limit
    table = pd.DataFrame(rows, columns=["model", "pr_auc", "precision", "recall", "failures", "failures_warned",
                                        "mean_lead_h"])
    table.attrs.update(train_rows=len(split.train), test_rows=len(split.test), positive_rate=float(y_test.mean())
                       if len(y_test) else np.nan, split_time=str(split.split_time))
    return EvaluationResult(table, _evaluate_rul(split, columns, random_state), scores, thresholds, split)


def _evaluate_rul(split: Split, columns: list[str], random_state: int) -> pd.DataFrame:
    """Remaining useful life (hours, capped: ``rul_capped_hours``) on rows where it is known:
    MAE and RMSE overall, and MAE on rows within the horizon of a failure."""
    return evaluate_rul(split.train, split.test, columns, random_state)


def evaluate_rul(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], random_state: int = 0) -> pd.DataFrame:
    """Fit each of :func:`~.models.rul_zoo` on ``train`` and score it on ``test`` (see above)."""
    target = "rul_capped_hours" if "rul_capped_hours" in train.columns else "rul_hours"
    train, test = train[train[target].notna()], test[test[target].notna()]
    if len(train) < 10 or test.empty:
        return pd.DataFrame(columns=["model", "mae_h", "rmse_h", "mae_near_failure_h", "rows"])
    near = (test["label"] == 1).to_numpy()
    rows = []
    for name, model in rul_zoo(random_state).items():
        fitted = model.fit(train[columns].to_numpy("float64"), train[target].to_numpy())
        pred = fitted.predict(test[columns].to_numpy("float64"))
        truth = test[target].to_numpy()
        rows.append({"model": name, "mae_h": mean_absolute_error(truth, pred),
                     "rmse_h": float(np.sqrt(np.mean((truth - pred) ** 2))),
                     "mae_near_failure_h": mean_absolute_error(truth[near], pred[near]) if near.any() else np.nan,
                     "rows": len(test)})
    return pd.DataFrame(rows)
