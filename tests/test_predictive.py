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
    model = train_model(store, FLEET_END - timedelta(days=9), FLEET_END, horizon=H24, model="logistic_regression",
                        metrics=["cpu_usage", "memory_usage", "response_time", "temperature"])
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


# --- any store, any metrics, failures from a file, remaining life; run-to-failure tables ---

CMAPSS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "cmapss" / "train_FD001.txt"


@pytest.fixture
def custom_store(embedded_store):
    """Three pumps with only `temperature` and `vibration_rms`; P1's vibration climbs 10 h before each
    failure (every 3 days), P2 and P3 never fail. No status change is stored."""
    times = pd.date_range(T0, periods=24 * 12 * 24, freq="5min", tz="UTC")
    h = (times - pd.Timestamp(T0)).total_seconds().to_numpy() / 3600
    failures = [T0 + timedelta(days=d) for d in range(3, 24, 3)]
    to_next = np.min([np.where(h <= (f - T0).total_seconds() / 3600, (f - T0).total_seconds() / 3600 - h, 1e9)
                      for f in failures], axis=0)
    frames = []
    for eq in ("P1", "P2", "P3"):
        vib = 1.0 + (np.clip(10 - to_next, 0, 10) if eq == "P1" else 0.0) + 0.05 * np.sin(h)
        frames += [pd.DataFrame({"time": times, "equipment_id": eq, "metric_type": "temperature",
                                 "value": 40 + np.cos(h)}),
                   pd.DataFrame({"time": times, "equipment_id": eq, "metric_type": "vibration_rms", "value": vib})]
    embedded_store.write_frame(pd.concat(frames))
    return embedded_store, failures


def _failures_csv(path: Path, failures) -> Path:
    pd.DataFrame({"equipment_id": "P1", "time": [f.isoformat() for f in failures]}).to_csv(path, index=False)
    return path


def test_custom_metric_store_trains_with_metric_and_failures_file(custom_store, tmp_path: Path) -> None:
    store, failures = custom_store
    app = AppContext(f"duckdb:///{tmp_path / 'store' / 'metrics.duckdb'}")
    runner = CliRunner()
    csv = _failures_csv(tmp_path / "failures.csv", failures)
    base = ["train", "--start", "2024-01-05", "--end", "2024-01-24", "--horizon", "12h", "--model", "random_forest"]
    no_failures = runner.invoke(predict, [*base, "-o", str(tmp_path / "a.joblib")], obj=app)
    assert no_failures.exit_code == 3 and "Internal error" not in no_failures.output
    assert "--failures" in no_failures.output
    trained = runner.invoke(predict, [*base, "--metric", "vibration_rms", "--failures", str(csv),
                                      "-o", str(tmp_path / "m.joblib"), "--json"], obj=app)
    assert trained.exit_code == 0, trained.output
    meta = json.loads(trained.output)
    assert meta["feature_spec"]["metrics"] == ["vibration_rms"] and meta["failures"] >= 5
    assert all(f.startswith("vibration_rms_") or f.startswith("hours_since") for f in meta["features"])
    every = runner.invoke(predict, [*base, "--failures", str(csv), "-o", str(tmp_path / "b.joblib"), "--json"], obj=app)
    assert every.exit_code == 0, every.output
    assert json.loads(every.output)["feature_spec"]["metrics"] == ["temperature", "vibration_rms"]
    unknown = runner.invoke(predict, [*base, "--metric", "cpu_usage", "-o", str(tmp_path / "c.joblib")], obj=app)
    assert unknown.exit_code == 3 and "vibration_rms" in unknown.output
    scored = runner.invoke(predict, ["score", "-m", str(tmp_path / "m.joblib"), "--at", "2024-01-24", "--json"],
                           obj=app)
    assert scored.exit_code == 0, scored.output
    assert {row["equipment_id"] for row in json.loads(scored.output)} == {"P1", "P2", "P3"}


def test_failures_file_without_its_columns_is_one_clear_line(custom_store, tmp_path: Path) -> None:
    app = AppContext(f"duckdb:///{tmp_path / 'store' / 'metrics.duckdb'}")
    bad = tmp_path / "bad.csv"
    bad.write_text("machine,when\nP1,2024-01-04\n")
    out = CliRunner().invoke(predict, ["train", "--start", "2024-01-05", "--end", "2024-01-24", "--failures",
                                       str(bad)], obj=app)
    assert out.exit_code == 3 and "equipment_id,time" in out.output and "Internal error" not in out.output


def test_target_rul_on_the_seeded_fleet_saves_scores_against_the_constant(seeded_store_dir: Path,
                                                                          tmp_path: Path) -> None:
    app = AppContext(f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}")
    runner = CliRunner()
    trained = runner.invoke(predict, ["train", "--start", "2024-01-23", "--end", "2024-02-01", "--target", "rul",
                                      "-o", str(tmp_path / "rul.joblib"), "--json"], obj=app)
    assert trained.exit_code == 0, trained.output
    meta = json.loads(trained.output)
    assert meta["target"] == "rul" and {s["model"] for s in meta["scores"]} == {"constant", "gradient_boosting"}
    scored = runner.invoke(predict, ["score", "-m", str(tmp_path / "rul.joblib"), "--at", "2024-02-01", "--json"],
                           obj=app)
    assert scored.exit_code == 0, scored.output
    rows = json.loads(scored.output)
    assert rows and all(0 <= r["rul_hours"] <= 72.0 + 1e-6 for r in rows)


def _run_table(path: Path, units: int = 12, seed: int = 3) -> Path:
    """Units whose `wear` sensor rises as 100 / (remaining cycles + 5): a known degradation law."""
    rng = np.random.default_rng(seed)
    parts = []
    for unit in range(1, units + 1):
        life = int(rng.integers(80, 160))
        cycle = np.arange(1, life + 1)
        remaining = life - cycle
        parts.append(pd.DataFrame({"engine": unit, "cycle": cycle, "wear": 100 / (remaining + 5)
                                   + rng.normal(0, 0.05, life), "noise": rng.normal(0, 1, life), "flat": 1.0}))
    pd.concat(parts).to_csv(path, index=False)
    return path


def test_rul_train_and_score_beat_the_constant_on_a_known_law(tmp_path: Path) -> None:
    table = _run_table(tmp_path / "runs.csv")
    runner = CliRunner()
    model = tmp_path / "rul.joblib"
    trained = runner.invoke(predict, ["rul", "train", str(table), "--unit", "engine", "--time", "cycle", "--cap", "60",
                                      "--cv", "3", "-o", str(model), "--json"])
    assert trained.exit_code == 0, trained.output
    meta = json.loads(trained.output)
    mean = {s["model"]: s for s in meta["scores"] if s["fold"] == "mean"}
    assert mean["model"]["rmse"] < 0.5 * mean["constant"]["rmse"]
    assert meta["sensors"] == ["wear", "noise"] and json.loads(model.with_suffix(".json").read_text())["cap"] == 60
    # Score units cut 20 cycles before failure: remaining life is 20 for each.
    runs = pd.read_csv(table)
    cut = runs[runs.groupby("engine")["cycle"].transform("max") - runs["cycle"] >= 20]
    cut.to_csv(tmp_path / "cut.csv", index=False)
    scored = runner.invoke(predict, ["rul", "score", str(model), str(tmp_path / "cut.csv"), "--unit", "engine",
                                     "--time", "cycle", "--json"])
    assert scored.exit_code == 0, scored.output
    rows = pd.DataFrame(json.loads(scored.output))
    assert len(rows) == 12 and set(rows.columns) == {"unit", "last_time", "rul"}
    assert (rows["rul"] - 20).abs().mean() < 6  # the constant would be off by far more (cap 60)
    table_out = runner.invoke(predict, ["rul", "train", str(table), "--unit", "engine", "--time", "cycle",
                                        "--cv", "2", "-o", str(model)])
    assert table_out.exit_code == 0 and "constant" in table_out.output and "mean" in table_out.output


def test_rul_reads_whitespace_text_without_header(tmp_path: Path) -> None:
    runs = pd.read_csv(_run_table(tmp_path / "runs.csv", units=4))
    text = tmp_path / "runs.txt"
    text.write_text(runs.to_csv(sep=" ", header=False, index=False))
    from vigileos_analytics.predictive import read_run_table

    auto = read_run_table(text, "c1", "c2", header=False)
    named = read_run_table(text, "engine", "cycle", header=False, columns=["engine", "cycle", "wear", "noise", "flat"])
    assert list(auto.columns) == ["c1", "c2", "c3", "c4", "c5"] and len(named) == len(runs)


@pytest.mark.parametrize(("edit", "args", "message"), [
    (lambda f: f, ["--unit", "unit_id"], "no column 'unit_id'"),
    (lambda f: f[~((f["engine"] == 2) & (f["cycle"] > 1))], [], "at least 2 rows"),
    (lambda f: f.assign(noise=f["noise"].astype(str) + "x"), [], "must be numeric"),
])
def test_bad_run_tables_give_one_clear_line(tmp_path: Path, edit, args, message) -> None:
    runs = edit(pd.read_csv(_run_table(tmp_path / "runs.csv", units=4)))
    runs.to_csv(tmp_path / "bad.csv", index=False)
    opts = {"--unit": "engine", "--time": "cycle"}
    opts.update(dict(zip(args[::2], args[1::2], strict=True)))
    out = CliRunner().invoke(predict, ["rul", "train", str(tmp_path / "bad.csv"), *sum(opts.items(), ()),
                                       "--cv", "2", "-o", str(tmp_path / "m.joblib")])
    assert out.exit_code == 3, out.output
    assert message in out.output and "Internal error" not in out.output and len(out.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_cmapss_fd001_three_fold_cross_validation_beats_the_constant() -> None:
    if not CMAPSS.is_file():
        pytest.skip(f"C-MAPSS FD001 training file not found at {CMAPSS}")
    from vigileos_analytics.predictive import RunSpec, cross_validate_rul, read_run_table

    frame = read_run_table(CMAPSS, "c1", "c2", header=False)
    table = cross_validate_rul(frame, RunSpec("c1", "c2", cap=125), folds=3, random_state=0)
    mean = table[table["fold"] == "mean"].set_index("model")
    assert mean.loc["model", "rmse"] < 15 < mean.loc["constant", "rmse"]
