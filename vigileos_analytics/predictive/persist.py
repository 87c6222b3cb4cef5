"""Training a model on a store, saving it with joblib beside its metadata, and
scoring the current fleet with it.

A saved model is one joblib file holding ``{"estimator", "metadata"}`` plus a
readable copy of the metadata in ``<name>.json``: model name, feature names,
horizon (hours), feature windows, training period (UTC), rows and failures seen,
the warning threshold, held-out scores against the baselines, and library versions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
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
from .evaluate import _out_of_fold, best_f1_threshold, evaluate_models, feature_columns
from .features import FeatureSpec, add_labels, build_features, status_events
from .models import SUPERVISED, UNSUPERVISED, classifier_zoo, risk_scores

__all__ = ["TrainedModel", "build_dataset", "train_model", "save_model", "load_model", "score_fleet"]


def build_dataset(store: MetricsStore, start: datetime, end: datetime, horizon: timedelta = timedelta(hours=24),
                  spec: FeatureSpec = FeatureSpec(), equipment_ids: list[str] | None = None) -> pd.DataFrame:
    """Features of every operational snapshot in [start, end] (UTC) with their labels."""
    start, end = validate_range(start, end)
    features = build_features(store, start, end, spec, equipment_ids)
    events = status_events(store, start - spec.history, end, equipment_ids)
    return add_labels(features, events, horizon, end)


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
                random_state: int = 0) -> TrainedModel:
    """Fit ``model`` on every labelled snapshot of [start, end] (UTC); with ``evaluate``, also
    score it against the constant and threshold baselines on held-out equipment and time."""
    zoo = classifier_zoo(random_state)
    if model not in zoo:
        raise ValidationError(f"model must be one of {', '.join(zoo)}; got {model!r}.", field="model", value=model)
    dataset = build_dataset(store, start, end, horizon, spec)
    labelled = dataset[dataset["label_known"]]
    columns = feature_columns(dataset)
    X, y = labelled[columns].to_numpy("float64"), labelled["label"].to_numpy()
    if model in SUPERVISED and len(np.unique(y)) < 2:
        raise ValidationError(f"the training period {start:%Y-%m-%d} – {end:%Y-%m-%d} has {int(y.sum())} snapshots "
                              f"before a failure out of {len(y)}; a supervised model needs both kinds. Use a longer "
                              "period or more equipment, or model 'isolation_forest'.", field="period")
    estimator = clone(zoo[model])
    if model in UNSUPERVISED:
        estimator.fit(X)
        threshold = best_f1_threshold(risk_scores(estimator, X), y)
    else:
        threshold = best_f1_threshold(_out_of_fold(estimator, X, y, labelled["equipment_id"].to_numpy()), y)
        estimator.fit(X, y)
    scores: list[dict[str, Any]] = []
    if evaluate and dataset["equipment_id"].nunique() >= 2:
        names = list(dict.fromkeys(["constant", "threshold_rule", model]))
        table = evaluate_models(dataset, horizon, names=names, random_state=random_state).table
        scores = json.loads(table.to_json(orient="records"))
    metadata = {
        "model": model, "features": columns, "horizon_hours": horizon.total_seconds() / 3600.0,
        "feature_spec": {k: (v.total_seconds() / 3600.0 if isinstance(v, timedelta) else list(v))
                         for k, v in asdict(spec).items()},
        "training_start": to_utc(start).isoformat(), "training_end": to_utc(end).isoformat(),
        "rows": int(len(y)), "positive_rows": int(y.sum()),
        "failures": int(labelled.loc[labelled["label"] == 1, ["equipment_id", "failure_time"]]
                        .drop_duplicates().shape[0]),
        "equipment": int(labelled["equipment_id"].nunique()),
        "threshold": float(threshold) if np.isfinite(threshold) else None, "scores": scores,
        "versions": {"vigileos_analytics": __version__, "scikit-learn": sklearn.__version__},
    }
    return TrainedModel(estimator, metadata)


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
    features; highest risk first."""
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
    risk = risk_scores(model.estimator, latest[model.features].to_numpy("float64")) if len(latest) else np.zeros(0)
    limit = model.metadata.get("threshold")
    out = latest.assign(risk=risk, warning=risk >= limit if limit is not None else False)
    return out[["equipment_id", "time", "risk", "warning", *model.features]].sort_values(
        ["risk", "equipment_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
