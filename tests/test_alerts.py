"""Alert rules (YAML validation), their evaluation on hand-made data with values checked
by arithmetic, the alert lifecycle in a real DuckDB store (raised once, ongoing,
resolved, listed), the seeded fleet's injected degradations, and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from vigileos_analytics.analytics.alert_rules import load_rules, parse_rules
from vigileos_analytics.analytics.alerts import ALERT_METRIC, check_alerts, current_alerts, evaluate_rules, list_alerts
from vigileos_analytics.cli.alerts import alerts
from vigileos_analytics.cli.common import AppContext
from vigileos_analytics.errors import ConfigurationError
from vigileos_analytics.ingest.simulate import simulate_fleet
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

from .conftest import FLEET_END, SMALL_FLEET

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def points(equipment_id: str, metric: str, start: datetime, hours: float, value) -> pd.DataFrame:
    """Points every 5 minutes for ``hours``; ``value`` is a number or a function of hours since start."""
    times = pd.date_range(start, periods=int(hours * 12), freq="5min", tz="UTC")
    h = (times - pd.Timestamp(start)).total_seconds().to_numpy() / 3600.0
    values = value(h) if callable(value) else np.full(len(times), float(value))
    return pd.DataFrame({"time": times, "equipment_id": equipment_id, "metric_type": metric, "value": values})


def rule(**fields) -> dict:
    return {"name": "r", "kind": "threshold", "metric": "cpu_usage", "severity": "warning", "window": "1h",
            "threshold": 80, **fields}


# -- rules files ------------------------------------------------------------------------


def test_the_shipped_rules_file_holds_the_seed_rules_and_every_kind() -> None:
    rules = {r.name: r for r in load_rules(ROOT / "parameters" / "alert_rules.yaml")}
    cpu = rules["cpu_high_7d"]
    assert (cpu.metric, cpu.window, cpu.function, cpu.threshold, cpu.severity) == \
        ("cpu_usage", timedelta(days=7), "mean", 80.0, "warning")
    memory = rules["memory_high"]
    assert (memory.metric, memory.threshold, memory.severity) == ("memory_usage", 90.0, "critical")
    assert {r.kind for r in rules.values()} == {"threshold", "trend", "anomaly"}


@pytest.mark.parametrize("fields, named", [
    ({"severity": "urgent"}, "'severity'"),
    ({"window": "seven days"}, "'window'"),
    ({"threshold": "high"}, "'threshold'"),
    ({"colour": "red"}, "'colour'"),
    ({"kind": "trend", "every": "2h", "window": "1h", "rate_per_day": 1}, "'every'"),
    ({"kind": "trend", "window": "1d", "threshold": None}, "'rate_per_day'"),
    ({"metric": "CPU usage"}, "'metric'"),
])
def test_a_bad_rule_is_refused_naming_the_rule_and_the_field(fields, named) -> None:
    document = {"rules": [rule(name="my_rule", **fields)]}
    document["rules"][0] = {k: v for k, v in document["rules"][0].items() if v is not None}
    with pytest.raises(ConfigurationError) as info:
        parse_rules(document, "rules.yaml")
    assert "'my_rule'" in str(info.value) and named in str(info.value) and "rules.yaml" in str(info.value)


def test_duplicate_names_missing_files_and_bad_yaml_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unique"):
        parse_rules({"rules": [rule(), rule()]})
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_rules(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_rules(tmp_path / "bad.yaml")


# -- evaluation ---------------------------------------------------------------------------


def test_threshold_rule_value_is_the_windowed_mean(embedded_store) -> None:
    embedded_store.write_frame(pd.concat([points("EQ-A", "cpu_usage", T0, 3, lambda h: 70 + 10 * h),
                                          points("EQ-B", "cpu_usage", T0, 3, 50)]))
    now = T0 + timedelta(hours=3)
    frame = evaluate_rules(embedded_store, parse_rules({"rules": [rule()]}), now)
    # Last hour of EQ-A: 70 + 10 h for h = 2, 2 + 1/12, ..., 2 + 11/12: mean 90 + 10 * 11/24.
    a, b = frame.set_index("equipment_id").loc["EQ-A"], frame.set_index("equipment_id").loc["EQ-B"]
    assert a["value"] == pytest.approx(90 + 10 * 11 / 24) and a["firing"]
    assert b["value"] == pytest.approx(50) and not b["firing"]


def test_trend_rule_slope_and_forecast_follow_the_line(embedded_store) -> None:
    embedded_store.write_frame(points("EQ-A", "memory_usage", T0, 24, lambda h: 40 + 1.5 * h))
    spec = {"rules": [{"name": "mem_up", "kind": "trend", "metric": "memory_usage", "severity": "warning",
                       "window": "12h", "every": "1h", "rate_per_day": 10, "threshold": 90}]}
    now = T0 + timedelta(hours=24, minutes=20)
    frame = evaluate_rules(embedded_store, parse_rules(spec), now)
    row = frame.iloc[0]
    assert row["value"] == pytest.approx(1.5 * 24) and row["firing"]
    # Hourly means sit 11/24 h after each hour's start: the line reads 40 + 1.5 (h + 11/24);
    # it reaches 90 at h = 50/1.5 - 11/24 = 32 h 52.5 min after T0.
    assert "2024-01-02 08:52" in row["message"]


def test_anomaly_rule_scores_the_last_complete_window(embedded_store) -> None:
    rng = np.random.default_rng(1)
    base = points("EQ-A", "response_time", T0, 72, lambda h: 100 + rng.normal(0, 5, len(h)))
    base.loc[base["time"] >= T0 + timedelta(hours=71), "value"] = 400.0
    embedded_store.write_frame(pd.concat([base, points("EQ-B", "response_time", T0, 72, 100)]))
    spec = {"rules": [{"name": "slow", "kind": "anomaly", "metric": "response_time", "severity": "info",
                       "window": "2d", "every": "1h", "z": 6}]}
    frame = evaluate_rules(embedded_store, parse_rules(spec), T0 + timedelta(hours=72)).set_index("equipment_id")
    assert frame.loc["EQ-A", "firing"] and frame.loc["EQ-A", "value"] > 6
    assert not frame.loc["EQ-B", "firing"]  # a flat series: z = 0


# -- lifecycle ------------------------------------------------------------------------------


def test_an_ongoing_condition_is_raised_once_and_resolved_when_it_clears(embedded_store) -> None:
    embedded_store.write_frame(points("EQ-A", "cpu_usage", T0, 4, 95))
    embedded_store.write_frame(points("EQ-A", "cpu_usage", T0 + timedelta(hours=4), 4, 20))
    rules = parse_rules({"rules": [rule()]})
    first = check_alerts(embedded_store, rules, T0 + timedelta(hours=2))
    second = check_alerts(embedded_store, rules, T0 + timedelta(hours=3))
    again = check_alerts(embedded_store, rules, T0 + timedelta(hours=3))  # the same instant twice
    cleared = check_alerts(embedded_store, rules, T0 + timedelta(hours=6))
    later = check_alerts(embedded_store, rules, T0 + timedelta(hours=7))
    assert (len(first.raised), len(second.raised), len(again.raised), len(cleared.raised)) == (1, 0, 0, 0)
    assert len(second.ongoing) == 1 and second.ongoing["since"].iloc[0] == pd.Timestamp(T0 + timedelta(hours=2))
    assert len(cleared.resolved) == 1 and cleared.resolved["value"].iloc[0] == pytest.approx(20)
    assert later.resolved.empty and later.raised.empty
    stored = embedded_store.query(Selection(T0, T0 + timedelta(days=1), metric_types=(ALERT_METRIC,)))
    assert len(stored) == 2
    events = list_alerts(embedded_store, T0, T0 + timedelta(days=1))
    assert events["state"].tolist() == ["resolved", "firing"]
    assert events["time"].tolist() == [pd.Timestamp(T0 + timedelta(hours=6)), pd.Timestamp(T0 + timedelta(hours=2))]
    assert set(events["rule"]) == {"r"} and set(events["severity"]) == {"warning"}
    assert current_alerts(embedded_store, T0 + timedelta(hours=3))["equipment_id"].tolist() == ["EQ-A"]
    assert current_alerts(embedded_store, T0 + timedelta(hours=7)).empty


def test_without_data_an_open_alert_stays_open(embedded_store) -> None:
    embedded_store.write_frame(points("EQ-A", "cpu_usage", T0, 1, 95))
    rules = parse_rules({"rules": [rule()]})
    assert len(check_alerts(embedded_store, rules, T0 + timedelta(hours=1)).raised) == 1
    quiet = check_alerts(embedded_store, rules, T0 + timedelta(hours=5))
    assert quiet.resolved.empty and len(current_alerts(embedded_store, T0 + timedelta(hours=5))) == 1


def test_injected_degradations_raise_memory_trend_alerts_before_the_failure(seeded_store_dir: Path) -> None:
    """The simulator's degraded failures (memory creeping up) are caught by the shipped
    memory trend rule one hour before the failure; alerts are written and listed."""
    store = open_store(f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}")
    rules = [r for r in load_rules(ROOT / "parameters" / "alert_rules.yaml") if r.name == "memory_rising"]
    truth = simulate_fleet(SMALL_FLEET).failures
    start = pd.Timestamp(FLEET_END) - pd.Timedelta(days=SMALL_FLEET.days) + pd.Timedelta(days=1)
    degraded = truth[truth["degraded"] & (pd.to_datetime(truth["failure_time"], utc=True) > start)]
    assert len(degraded) >= 2
    caught = 0
    for failure in degraded.itertuples():
        before = pd.Timestamp(failure.failure_time, tz="UTC").floor("1h") - pd.Timedelta(hours=1)
        result = check_alerts(store, rules, before.to_pydatetime())
        firing = set(result.raised["equipment_id"]) | set(result.ongoing["equipment_id"])
        caught += failure.equipment_id in firing
    assert caught >= len(degraded) - 1
    listed = list_alerts(store, start.to_pydatetime(), FLEET_END)
    assert (listed["rule"] == "memory_rising").any() and set(listed["state"]) <= {"firing", "resolved"}


# -- command line ---------------------------------------------------------------------------


def test_cli_check_then_list(seeded_store_dir: Path) -> None:
    url = f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}"
    rules_file = ROOT / "parameters" / "alert_rules.yaml"
    runner = CliRunner()
    result = runner.invoke(alerts, ["check", "--rules", str(rules_file), "--at", "2024-01-22T12:00"],
                           obj=AppContext(url))
    assert result.exit_code == 0, result.output
    assert "raised" in result.output
    again = runner.invoke(alerts, ["check", "--rules", str(rules_file), "--at", "2024-01-22T12:00", "--json"],
                          obj=AppContext(url))
    assert again.exit_code == 0 and '"raised": []' in again.output
    listed = runner.invoke(alerts, ["list", "--start", "2024-01-20", "--end", "2024-01-23", "--json"],
                           obj=AppContext(url))
    assert listed.exit_code == 0 and '"state": "firing"' in listed.output


def test_cli_reports_a_bad_rules_file_with_exit_code_4(seeded_store_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(yaml.safe_dump({"rules": [rule(name="cpu", severity="loud")]}), encoding="utf-8")
    result = CliRunner().invoke(alerts, ["check", "--rules", str(bad), "--at", "2024-01-22"],
                                obj=AppContext(f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}"))
    assert result.exit_code == 4
    assert "'cpu'" in result.output and "'severity'" in result.output
