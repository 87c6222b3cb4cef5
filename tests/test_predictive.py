"""Predictive maintenance: our estimators pass scikit-learn's checks; features match
arithmetic on hand-made data; labels match the simulator's truth; the split never
leaks; evaluation, saving, scoring and the CLI work on the seeded fleet."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.utils.estimator_checks import parametrize_with_checks

from vigileos_analytics.cli.common import AppContext
from vigileos_analytics.cli.predict import predict
from vigileos_analytics.errors import ConfigurationError, ValidationError
from vigileos_analytics.ingest.simulate import simulate_fleet
from vigileos_analytics.predictive import (
    ConstantRULRegressor,
    FeatureSpec,
    ThresholdRuleClassifier,
    build_dataset,
    build_features,
    evaluate_models,
    load_model,
    save_model,
    score_fleet,
    split_by_time_and_equipment,
    train_model,
)
from vigileos_analytics.stores import open_store

from .conftest import FLEET_END, SMALL_FLEET

T0 = datetime(2024, 1, 1, tzinfo=UTC)
H24 = timedelta(hours=24)


@parametrize_with_checks([ThresholdRuleClassifier(), ConstantRULRegressor()])
def test_our_estimators_follow_scikit_learn_conventions(estimator, check) -> None:
    check(estimator)


def test_threshold_rule_learns_the_separating_feature_and_limit() -> None:
    X = np.column_stack([np.zeros(8), [1, 2, 3, 4, 10, 11, 12, 13]])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    rule = ThresholdRuleClassifier().fit(X, y)
    assert (rule.feature_, rule.direction_, rule.threshold_) == (1, 1, 7.0)  # halfway between 4 and 10
    assert rule.predict([[0, 6.9], [0, 7.1]]).tolist() == [0, 1]


@pytest.fixture
def handmade_store(embedded_store):
    """EQ-A: CPU rising 1 %/h, memory flat at 50, a maintenance then back to operational."""
    times = pd.date_range(T0, periods=48 * 12, freq="5min", tz="UTC")
    h = (times - pd.Timestamp(T0)).total_seconds().to_numpy() / 3600
    metrics = pd.concat([
        pd.DataFrame({"time": times, "equipment_id": "EQ-A", "metric_type": "cpu_usage", "value": 10 + h}),
        pd.DataFrame({"time": times, "equipment_id": "EQ-A", "metric_type": "memory_usage", "value": 50.0}),
    ])
    status = pd.DataFrame({"time": pd.to_datetime([T0, T0 + timedelta(hours=20), T0 + timedelta(hours=22)], utc=True),
                           "equipment_id": "EQ-A", "metric_type": "status_change", "value": 1.0,
                           "previous_status": ["offline", "operational", "maintenance"],
                           "new_status": ["operational", "maintenance", "operational"]})
    embedded_store.write_frame(metrics)
    embedded_store.write_frame(status)
    return embedded_store


def test_rolling_features_follow_the_arithmetic(handmade_store) -> None:
    spec = FeatureSpec(step=timedelta(hours=6), window=timedelta(hours=12), recent=timedelta(hours=6),
                       baseline=timedelta(hours=6), metrics=("cpu_usage", "memory_usage"))
    frame = build_features(handmade_store, T0 + timedelta(hours=30), T0 + timedelta(hours=36), spec)
    row = frame.set_index("time").loc[pd.Timestamp(T0 + timedelta(hours=36))]
    # Hourly means of 10 + h over hours 24..35 are 10 + k + 11/24; their mean is 10 + 29.5 + 11/24.
    assert row["cpu_usage_mean"] == pytest.approx(10 + 29.5 + 11 / 24)
    assert row["cpu_usage_slope"] == pytest.approx(24.0)  # 1 %/h = 24 %/day
    assert row["cpu_usage_max"] == pytest.approx(10 + 36 - 1 / 12)
    assert row["cpu_usage_rise"] == pytest.approx(6.0)  # last 6 h against the 6 h before: 6 h apart
    assert row["memory_usage_std"] == pytest.approx(0.0) and row["memory_usage_slope"] == pytest.approx(0.0)
    assert row["hours_since_maintenance"] == pytest.approx(16.0)
    assert row["status"] == "operational"
    # The snapshot at hour 24 sees only data before it: no value from hour 24 on.
    early = build_features(handmade_store, T0 + timedelta(hours=24), T0 + timedelta(hours=24, minutes=1), spec)
    assert early["cpu_usage_max"].iloc[0] == pytest.approx(10 + 24 - 1 / 12)


def test_labels_match_the_simulator_truth(seeded_fleet_dir: Path) -> None:
    store = open_store(f"duckdb:///{seeded_fleet_dir / 'metrics.duckdb'}")
    end = FLEET_END
    dataset = build_dataset(store, end - timedelta(days=9), end, H24)
    truth = simulate_fleet(SMALL_FLEET).failures
    # The store records a failure at the first simulated minute at or after it.
    truth_minutes = set(zip(truth["equipment_id"], pd.to_datetime(truth["failure_time"], utc=True).dt.ceil("min"),
                            strict=True))
    labelled = dataset[dataset["label"] == 1]
    assert not labelled.empty
    assert set(zip(labelled["equipment_id"], labelled["failure_time"], strict=True)) <= truth_minutes
    rul = (labelled["failure_time"] - labelled["time"]).dt.total_seconds() / 3600
    assert ((rul > 0) & (rul <= 24)).all()
    assert np.allclose(labelled["rul_hours"], rul)
    assert (dataset.loc[~dataset["label_known"], "time"] + H24 > pd.Timestamp(end)).all()


@pytest.fixture(scope="module")
def seeded_dataset(seeded_fleet_dir: Path) -> pd.DataFrame:
    store = open_store(f"duckdb:///{seeded_fleet_dir / 'metrics.duckdb'}")
    return build_dataset(store, FLEET_END - timedelta(days=9), FLEET_END, H24)


def test_the_split_keeps_equipment_and_time_apart(seeded_dataset) -> None:
    split = split_by_time_and_equipment(seeded_dataset, H24, test_share=0.5)
    assert not set(split.train["equipment_id"]) & set(split.test["equipment_id"])
    assert (split.train["time"] + H24 <= split.split_time).all()
    assert (split.test["time"] >= split.split_time).all()
    assert split.train["label_known"].all() and split.test["label_known"].all()
    with pytest.raises(ValidationError, match="test_share"):
        split_by_time_and_equipment(seeded_dataset, H24, test_share=1.5)


def test_evaluation_reports_every_model_and_the_constant_scores_the_base_rate(seeded_dataset) -> None:
    split = split_by_time_and_equipment(seeded_dataset, H24, test_share=0.5)
    result = evaluate_models(seeded_dataset, H24, split=split)
    table = result.table.set_index("model")
    assert {"constant", "threshold_rule", "logistic_regression", "gradient_boosting", "random_forest",
            "isolation_forest"} <= set(table.index)
    positives = split.test["label"].mean()
    assert table.loc["constant", "pr_auc"] == pytest.approx(positives)  # AP of a constant = positive share
    assert table["pr_auc"].between(0, 1).all()
    assert len(result.scores) == len(split.test)


def test_train_save_load_and_score(seeded_fleet_dir: Path, tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{seeded_fleet_dir / 'metrics.duckdb'}")
    model = train_model(store, FLEET_END - timedelta(days=9), FLEET_END, horizon=H24, model="logistic_regression")
    path = save_model(model, tmp_path / "m.joblib")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["horizon_hours"] == 24 and meta["model"] == "logistic_regression"
    assert meta["training_end"] == FLEET_END.isoformat() and len(meta["features"]) == 22
    assert {s["model"] for s in meta["scores"]} == {"constant", "threshold_rule", "logistic_regression"}
    loaded = load_model(path)
    scores = score_fleet(store, loaded, FLEET_END)
    assert scores["risk"].between(0, 1).all() and scores["time"].max() <= pd.Timestamp(FLEET_END)
    assert scores["risk"].is_monotonic_decreasing
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_model(tmp_path / "missing.joblib")
    (tmp_path / "junk.joblib").write_text("not a model")
    with pytest.raises(ConfigurationError):
        load_model(tmp_path / "junk.joblib")


def test_cli_train_then_score(seeded_store_dir: Path, tmp_path: Path) -> None:
    app = AppContext(f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}")
    runner = CliRunner()
    model_path = tmp_path / "model.joblib"
    trained = runner.invoke(predict, ["train", "--start", "2024-01-23", "--end", "2024-02-01", "--model",
                                      "random_forest", "-o", str(model_path)], obj=app)
    assert trained.exit_code == 0, trained.output
    assert model_path.exists() and "Saved random_forest" in trained.output
    scored = runner.invoke(predict, ["score", "-m", str(model_path), "--at", "2024-02-01", "--json"], obj=app)
    assert scored.exit_code == 0, scored.output
    assert '"risk"' in scored.output
    missing = runner.invoke(predict, ["score", "-m", str(tmp_path / "none.joblib"), "--at", "2024-02-01"], obj=app)
    assert missing.exit_code == 4 and "predict train" in missing.output
