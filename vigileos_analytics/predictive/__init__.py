"""Predictive maintenance: features, labels, baselines and models, leak-free evaluation,
and saved models that score the current fleet.

- :mod:`.features`: features per equipment and snapshot from rolling windows, labels;
- :mod:`.models`: scikit-learn estimators and baselines (ours follow its conventions);
- :mod:`.evaluate`: splits by time and by equipment, PR-AUC, precision / recall, lead time;
- :mod:`.persist`: training on a store, joblib files with metadata, scoring the fleet.
"""

from .evaluate import EvaluationResult, evaluate_models, split_by_time_and_equipment
from .features import FeatureSpec, add_labels, build_features, feature_names, status_events
from .models import ConstantRULRegressor, ThresholdRuleClassifier, classifier_zoo
from .persist import TrainedModel, load_model, save_model, score_fleet, train_model, build_dataset

__all__ = ["FeatureSpec", "build_features", "add_labels", "feature_names", "status_events", "build_dataset",
           "ThresholdRuleClassifier", "ConstantRULRegressor", "classifier_zoo",
           "EvaluationResult", "evaluate_models", "split_by_time_and_equipment",
           "TrainedModel", "train_model", "save_model", "load_model", "score_fleet"]
