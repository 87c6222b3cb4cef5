"""Predictive maintenance: features, labels, baselines and models, leak-free evaluation,
and saved models that score the current fleet.

- :mod:`.features`: features per equipment and snapshot from rolling windows, labels;
- :mod:`.models`: scikit-learn estimators and baselines (ours follow its conventions);
- :mod:`.evaluate`: splits by time and by equipment, PR-AUC, precision / recall, lead time;
- :mod:`.persist`: training on a store (failure within a horizon, or remaining life), joblib
  files with metadata, scoring the fleet;
- :mod:`.rul`: remaining useful life from run-to-failure tables (CSV, Parquet, text),
  cross-validated by unit.

Names are imported on first use: scikit-learn costs more than a second, and the CLI
lists the model names (:data:`CLASSIFIERS`) without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._imports import lazy_exports

if TYPE_CHECKING:
    from .evaluate import EvaluationResult, evaluate_models, evaluate_rul, split_by_time_and_equipment
    from .features import (
        FeatureSpec,
        add_labels,
        build_features,
        failure_events,
        feature_names,
        numeric_metrics,
        status_events,
    )
    from .models import ConstantRULRegressor, ThresholdRuleClassifier, classifier_zoo, rul_zoo
    from .persist import TrainedModel, build_dataset, load_model, save_model, score_fleet, train_model
    from .rul import RunSpec, cross_validate_rul, read_run_table, rul_target, run_features, score_rul, train_rul

#: The models of :func:`~.models.classifier_zoo`, by name: trained on labels, or not.
SUPERVISED = ("constant", "threshold_rule", "logistic_regression", "gradient_boosting", "random_forest")
UNSUPERVISED = ("isolation_forest",)
CLASSIFIERS = SUPERVISED + UNSUPERVISED
#: What ``train_model`` learns (``persist.TARGETS``), and the models of ``rul_zoo``.
TARGETS = ("fails-within", "rul")
RUL_MODELS = ("constant", "gradient_boosting")

_EXPORTS = {
    "EvaluationResult": ".evaluate", "evaluate_models": ".evaluate", "split_by_time_and_equipment": ".evaluate",
    "FeatureSpec": ".features", "add_labels": ".features", "build_features": ".features",
    "feature_names": ".features", "status_events": ".features", "failure_events": ".features",
    "numeric_metrics": ".features", "evaluate_rul": ".evaluate",
    "ConstantRULRegressor": ".models", "ThresholdRuleClassifier": ".models", "classifier_zoo": ".models",
    "rul_zoo": ".models",
    "RunSpec": ".rul", "read_run_table": ".rul", "run_features": ".rul", "rul_target": ".rul",
    "cross_validate_rul": ".rul", "train_rul": ".rul", "score_rul": ".rul",
    "TrainedModel": ".persist", "build_dataset": ".persist", "load_model": ".persist", "save_model": ".persist",
    "score_fleet": ".persist", "train_model": ".persist",
}

__all__ = ["FeatureSpec", "build_features", "add_labels", "feature_names", "status_events", "build_dataset",
           "ThresholdRuleClassifier", "ConstantRULRegressor", "classifier_zoo",
           "EvaluationResult", "evaluate_models", "split_by_time_and_equipment",
           "TrainedModel", "train_model", "save_model", "load_model", "score_fleet",
           "failure_events", "numeric_metrics", "evaluate_rul", "rul_zoo",
           "RunSpec", "read_run_table", "run_features", "rul_target", "cross_validate_rul", "train_rul", "score_rul",
           "CLASSIFIERS", "SUPERVISED", "UNSUPERVISED", "TARGETS", "RUL_MODELS"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
