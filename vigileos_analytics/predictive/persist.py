"""Training a model on a store, saving it with joblib beside its metadata, and
scoring the current fleet with it.

A saved model is one joblib file holding ``{"estimator", "metadata"}`` plus a
readable copy of the metadata in ``<name>.json``: model name, feature names,
horizon (hours), feature windows, training period (UTC), rows and failures seen,
the warning threshold, held-out scores against the baselines, and library versions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone

from .. import __version__
from ..errors import ConfigurationError, ValidationError
from ..schema import to_utc, validate_range
from ..stores.base import MetricsStore
from . import TARGETS
from .evaluate import (
    _out_of_fold,
    best_f1_threshold,
    evaluate_models,
    evaluate_rul,
    feature_columns,
    split_by_time_and_equipment,
)
from .features import FeatureSpec, add_labels, build_features, numeric_metrics, status_events
from .models import SUPERVISED, UNSUPERVISED, classifier_zoo, risk_scores, rul_zoo

__all__ = ["TrainedModel", "build_dataset", "train_model", "save_model", "load_model", "score_fleet"]


def build_dataset(store: MetricsStore, start: datetime, end: datetime, horizon: timedelta = timedelta(hours=24),
                  spec: FeatureSpec = FeatureSpec(), equipment_ids: list[str] | None = None,
                  failures: pd.DataFrame | None = None, rul_cap: timedelta = timedelta(days=3)) -> pd.DataFrame:
    """Features of every operational snapshot in [start, end] (UTC) with their labels. Failures
    are the store's changes to offline, or ``failures`` (e.g. :func:`~.features.failure_events`)."""
    start, end = validate_range(start, end)
    features = build_features(store, start, end, spec, equipment_ids)
    events = status_events(store, start - spec.history, end, equipment_ids) if failures is None else failures
    return add_labels(features, events, horizon, end, rul_cap)


def _choose_metrics(store: MetricsStore, metrics: Sequence[str] | None) -> tuple[str, ...]:
    """The metrics asked for (each must be in the store), or all of the store's numeric ones."""
    held = numeric_metrics(store)
    if not metrics:
        if not held:
            raise ValidationError("the store holds no numeric metric to build features from; write or import "
                                  "some first.", field="metrics")
        return held
    unknown = [m for m in metrics if m not in held]
    if unknown:
        raise ValidationError(f"the store has no metric {', '.join(map(repr, unknown))}; it has "
                              f"{', '.join(held) or 'none'}.", field="metrics", value=unknown)
    return tuple(dict.fromkeys(metrics))


@dataclass
class TrainedModel:
    """A fitted estimator and what it needs to be used again (see the module docstring)."""

    estimator: Any
    metadata: dict[str, Any]

    @property
    def features(self) -> list[str]:
        return list(self.metadata["features"])

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])


def train_model(store: MetricsStore, start: datetime, end: datetime, *, horizon: timedelta = timedelta(hours=24),
                model: str = "gradient_boosting", spec: FeatureSpec = FeatureSpec(), evaluate: bool = True,
                random_state: int = 0, metrics: Sequence[str] | None = None, failures: pd.DataFrame | None = None,
                target: str = "fails-within", rul_cap: timedelta = timedelta(days=3)) -> TrainedModel:
    """Fit ``model`` on every labelled snapshot of [start, end] (UTC); with ``evaluate``, also
    score it against its baselines on held-out equipment and time.

    ``metrics``: the features' metrics (default: every numeric metric of the store; they replace
    ``spec.metrics``). ``failures``: failure events instead of the store's status changes.
    ``target``: ``"fails-within"`` (a classifier of failure within ``horizon``) or ``"rul"`` (a
    regressor of the hours to the next failure, capped at ``rul_cap``)."""
    if target not in TARGETS:
        raise ValidationError(f"target must be one of {', '.join(TARGETS)}; got {target!r}.", field="target")
    zoo = classifier_zoo(random_state) if target == "fails-within" else rul_zoo(random_state)
    if model not in zoo:
        raise ValidationError(f"model for target {target!r} must be one of {', '.join(zoo)}; got {model!r}.",
                              field="model", value=model)
    spec = replace(spec, metrics=_choose_metrics(store, metrics))
    dataset = build_dataset(store, start, end, horizon, spec, failures=failures, rul_cap=rul_cap)
    if dataset.empty:
        raise ValidationError(f"no operational snapshot with data for {', '.join(spec.metrics)} between "
                              f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC; choose another period or "
                              "other metrics.", field="period")
    columns = feature_columns(dataset)
    if target == "rul":
        estimator, fit_facts, scores = _fit_rul(dataset, columns, zoo[model], horizon, evaluate, random_state)
    else:
        estimator, fit_facts, scores = _fit_classifier(dataset, columns, model, zoo[model], horizon, evaluate,
                                                       random_state, start, end)
    metadata = {
        "model": model, "target": target, "features": columns, "horizon_hours": horizon.total_seconds() / 3600.0,
        "rul_cap_hours": rul_cap.total_seconds() / 3600.0,
        "feature_spec": {k: (v.total_seconds() / 3600.0 if isinstance(v, timedelta) else list(v))
                         for k, v in asdict(spec).items()},
        "failures_from": "status changes" if failures is None else "failures file",
        "training_start": to_utc(start).isoformat(), "training_end": to_utc(end).isoformat(),
        **fit_facts, "scores": scores,
        "versions": {"vigileos_analytics": __version__, "scikit-learn": sklearn.__version__},
    }
    return TrainedModel(estimator, metadata)


def _fit_classifier(dataset: pd.DataFrame, columns: list[str], name: str, model: Any, horizon: timedelta,
                    evaluate: bool, random_state: int, start: datetime, end: datetime) -> tuple[Any, dict, list]:
    labelled = dataset[dataset["label_known"]]
    X, y = labelled[columns].to_numpy("float64"), labelled["label"].to_numpy()
    if name in SUPERVISED and len(np.unique(y)) < 2:
        raise ValidationError(f"the training period {start:%Y-%m-%d} – {end:%Y-%m-%d} has {int(y.sum())} snapshots "
                              f"before a failure out of {len(y)}; a supervised model needs both kinds. Use a longer "
                              "period or more equipment, give failures with --failures, or model "
                              "'isolation_forest'.", field="period")
    estimator = clone(model)
    if name in UNSUPERVISED:
        estimator.fit(X)
        threshold = best_f1_threshold(risk_scores(estimator, X), y)
    else:
        threshold = best_f1_threshold(_out_of_fold(estimator, X, y, labelled["equipment_id"].to_numpy()), y)
        estimator.fit(X, y)
    scores: list[dict[str, Any]] = []
    if evaluate and dataset["equipment_id"].nunique() >= 2:
        names = list(dict.fromkeys(["constant", "threshold_rule", name]))
        table = evaluate_models(dataset, horizon, names=names, random_state=random_state).table
        scores = json.loads(table.to_json(orient="records"))
    facts = {
        "rows": int(len(y)), "positive_rows": int(y.sum()),
        "failures": int(labelled.loc[labelled["label"] == 1, ["equipment_id", "failure_time"]]
                        .drop_duplicates().shape[0]),
        "equipment": int(labelled["equipment_id"].nunique()),
        "threshold": float(threshold) if np.isfinite(threshold) else None,
    }
    return estimator, facts, scores


def _fit_rul(dataset: pd.DataFrame, columns: list[str], model: Any, horizon: timedelta, evaluate: bool,
             random_state: int) -> tuple[Any, dict, list]:
    known = dataset[dataset["rul_capped_hours"].notna()]
    if known["rul_hours"].notna().sum() == 0:
        raise ValidationError("no snapshot is followed by a failure in the period; remaining life cannot be learned. "
                              "Use a longer period, or give failures with --failures.", field="period")
    estimator = clone(model).fit(known[columns].to_numpy("float64"), known["rul_capped_hours"].to_numpy())
    scores: list[dict[str, Any]] = []
    if evaluate and dataset["equipment_id"].nunique() >= 2:
        split = split_by_time_and_equipment(dataset, horizon, random_state=random_state)
        scores = json.loads(evaluate_rul(split.train, split.test, columns, random_state).to_json(orient="records"))
    facts = {"rows": int(len(known)), "failures": int(known[["equipment_id", "failure_time"]].dropna()
                                                      .drop_duplicates().shape[0]),
             "equipment": int(known["equipment_id"].nunique()), "threshold": None}
    return estimator, facts, scores


def save_model(model: TrainedModel, path: str | Path) -> Path:
    """Write ``path`` (joblib) and ``path`` with suffix ``.json`` (metadata); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"estimator": model.estimator, "metadata": model.metadata}, path)
    path.with_suffix(".json").write_text(json.dumps(model.metadata, indent=2), encoding="utf-8")
    return path


def load_model(path: str | Path) -> TrainedModel:
    """Read a model written by :func:`save_model`; a missing or foreign file is a ConfigurationError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"model file {path} does not exist; train one with `vigileos predict train`.")
    try:
        payload = joblib.load(path)
    except Exception as exc:  # joblib raises many kinds on a foreign or truncated file
        raise ConfigurationError(f"{path} is not a readable model file ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(payload, dict) or not {"estimator", "metadata"} <= set(payload):
        raise ConfigurationError(f"{path} holds no VIGILEOS model (expected estimator and metadata); "
                                 "train one with `vigileos predict train`.")
    return TrainedModel(payload["estimator"], payload["metadata"])


def score_fleet(store: MetricsStore, model: TrainedModel, now: datetime,
                equipment_ids: list[str] | None = None) -> pd.DataFrame:
    """Risk of failing within the model's horizon for each operational equipment, from its
    latest snapshot at or before ``now`` (UTC): equipment_id, time, risk, warning, plus the
    features; highest risk first. A ``rul`` model gives rul_hours instead (shortest first)."""
    meta = model.metadata["feature_spec"]
    fields: dict[str, Any] = {k: (timedelta(hours=v) if not isinstance(v, list) else tuple(v)) for k, v in meta.items()}
    spec = FeatureSpec(**fields)
    now = to_utc(now, "now")
    features = build_features(store, now - spec.step - spec.step, now, spec, equipment_ids)
    latest = features.sort_values("time").groupby("equipment_id", as_index=False).last()
    missing = [c for c in model.features if c not in latest.columns]
    if missing:
        raise ConfigurationError(f"the model needs features {missing} that this version does not compute; "
                                 "retrain it with `vigileos predict train`.")
    X = latest[model.features].to_numpy("float64")
    if model.metadata.get("target") == "rul":
        rul = model.estimator.predict(X) if len(latest) else np.zeros(0)
        out = latest.assign(rul_hours=rul)
        return out[["equipment_id", "time", "rul_hours", *model.features]].sort_values(
            ["rul_hours", "equipment_id"], kind="stable").reset_index(drop=True)
    risk = risk_scores(model.estimator, X) if len(latest) else np.zeros(0)
    limit = model.metadata.get("threshold")
    out = latest.assign(risk=risk, warning=risk >= limit if limit is not None else False)
    return out[["equipment_id", "time", "risk", "warning", *model.features]].sort_values(
        ["risk", "equipment_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
