"""Predictive maintenance: features, labels, baselines and models, leak-free evaluation,
and saved models that score the current fleet.

- :mod:`.features`: features per equipment and snapshot from rolling windows, labels;
- :mod:`.models`: scikit-learn estimators and baselines (ours follow its conventions);
- :mod:`.evaluate`: splits by time and by equipment, PR-AUC, precision / recall, lead time;
- :mod:`.persist`: training on a store, joblib files with metadata, scoring the fleet.

Names are imported on first use: scikit-learn costs more than a second, and the CLI
lists the model names (:data:`CLASSIFIERS`) without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._imports import lazy_exports

if TYPE_CHECKING:
    from .evaluate import EvaluationResult, evaluate_models, split_by_time_and_equipment
    from .features import FeatureSpec, add_labels, build_features, feature_names, status_events
    from .models import ConstantRULRegressor, ThresholdRuleClassifier, classifier_zoo
    from .persist import TrainedModel, build_dataset, load_model, save_model, score_fleet, train_model

#: The models of :func:`~.models.classifier_zoo`, by name: trained on labels, or not.
SUPERVISED = ("constant", "threshold_rule", "logistic_regression", "gradient_boosting", "random_forest")
UNSUPERVISED = ("isolation_forest",)
CLASSIFIERS = SUPERVISED + UNSUPERVISED

_EXPORTS = {
    "EvaluationResult": ".evaluate", "evaluate_models": ".evaluate", "split_by_time_and_equipment": ".evaluate",
    "FeatureSpec": ".features", "add_labels": ".features", "build_features": ".features",
    "feature_names": ".features", "status_events": ".features",
    "ConstantRULRegressor": ".models", "ThresholdRuleClassifier": ".models", "classifier_zoo": ".models",
    "TrainedModel": ".persist", "build_dataset": ".persist", "load_model": ".persist", "save_model": ".persist",
    "score_fleet": ".persist", "train_model": ".persist",
}

__all__ = ["FeatureSpec", "build_features", "add_labels", "feature_names", "status_events", "build_dataset",
           "ThresholdRuleClassifier", "ConstantRULRegressor", "classifier_zoo",
           "EvaluationResult", "evaluate_models", "split_by_time_and_equipment",
           "TrainedModel", "train_model", "save_model", "load_model", "score_fleet",
           "CLASSIFIERS", "SUPERVISED", "UNSUPERVISED"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
