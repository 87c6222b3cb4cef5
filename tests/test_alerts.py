"""Alert rules (YAML validation), their evaluation on hand-made data with values checked
by arithmetic, the alert lifecycle in a real DuckDB store (raised once, ongoing,
resolved, listed), the seeded fleet's injected degradations, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from vigileos_analytics.analytics import anomaly
from vigileos_analytics.analytics.alert_rules import load_rules, parse_rules
from vigileos_analytics.analytics.alerts import (
    ALERT_METRIC,
    check_alerts,
    current_alerts,
    evaluate_rules,
    list_alerts,
    replay_alerts,
)
from vigileos_analytics.cli.alerts import alerts
from vigileos_analytics.cli.common import AppContext
from vigileos_analytics.errors import ConfigurationError, QueryError, ValidationError
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
    assert {r.kind for r in rules.values()} == {"threshold", "trend", "anomaly", "burn_rate"}


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


def test_anomaly_rule_uses_the_package_scorer_and_a_constant_series_raises_nothing(embedded_store) -> None:
    """A jump to 400 ms in the newest 10 minutes against a week of 100 +- 5 ms scores above
    the threshold; a constant series (MAD = 0) is evaluated without error and stays quiet."""
    rng = np.random.default_rng(1)
    base = points("EQ-A", "response_time", T0, 168, lambda h: 100 + rng.normal(0, 5, len(h)))
    base.loc[base["time"] >= T0 + timedelta(hours=168, minutes=-10), "value"] = 400.0
    embedded_store.write_frame(pd.concat([base, points("EQ-B", "response_time", T0, 168, 100)]))
    spec = {"rules": [{"name": "slow", "kind": "anomaly", "metric": "response_time", "severity": "info",
                       "window": "3d", "every": "10m"}]}
    rules = parse_rules(spec)
    assert rules[0].threshold == 0.5  # anomaly.THRESHOLD, the scorer's documented default
    now = T0 + timedelta(hours=168)
    frame = evaluate_rules(embedded_store, rules, now).set_index("equipment_id")
    assert frame.loc["EQ-A", "state"] == "firing" and 0.5 <= frame.loc["EQ-A", "value"] <= 1
    assert frame.loc["EQ-B", "state"] == "ok" and frame.loc["EQ-B", "value"] < 0.5
    before = evaluate_rules(embedded_store, rules, now - timedelta(minutes=10)).set_index("equipment_id")
    assert before.loc["EQ-A", "state"] == "ok"
    check = check_alerts(embedded_store, rules, now)
    assert check.raised["equipment_id"].tolist() == ["EQ-A"] and check.failures.empty


def test_an_old_anomaly_rule_with_z_is_refused_saying_what_to_write() -> None:
    spec = {"rules": [{"name": "old", "kind": "anomaly", "metric": "response_time", "severity": "info",
                       "window": "3d", "every": "1h", "z": 6}]}
    with pytest.raises(ConfigurationError, match=r"'old'.*'z'.*threshold: 0\.5"):
        parse_rules(spec)


@pytest.mark.parametrize("fields, named", [
    ({"min_coverage": 1.5}, "'min_coverage'"),
    ({"min_coverage": "half"}, "'min_coverage'"),
    ({"every": "7m"}, "'every'"),
    ({"kind": "anomaly", "window": "1d", "threshold": 2}, "'threshold'"),
])
def test_coverage_slots_and_score_thresholds_are_validated(fields, named) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_rules({"rules": [rule(name="my_rule", **fields)]})
    assert "'my_rule'" in str(info.value) and named in str(info.value)


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


def test_a_series_that_stops_goes_to_no_data_and_its_alert_is_resolved(embedded_store) -> None:
    embedded_store.write_frame(points("EQ-A", "cpu_usage", T0, 1, 95))  # 12 points, then nothing
    rules = parse_rules({"rules": [rule()]})  # 1h window: twelve 5-minute slots, half needed
    assert len(check_alerts(embedded_store, rules, T0 + timedelta(hours=1)).raised) == 1
    half = check_alerts(embedded_store, rules, T0 + timedelta(minutes=90))  # 6 of 12 slots: still evaluated
    assert len(half.ongoing) == 1 and half.conditions["coverage"].iloc[0] == pytest.approx(0.5)
    thin = check_alerts(embedded_store, rules, T0 + timedelta(minutes=100))  # 4 of 12: nothing changes
    assert thin.conditions["state"].tolist() == ["low coverage"] and thin.resolved.empty and thin.ongoing.empty
    assert len(current_alerts(embedded_store, T0 + timedelta(minutes=100))) == 1
    quiet = check_alerts(embedded_store, rules, T0 + timedelta(hours=5))
    assert quiet.no_data["equipment_id"].tolist() == ["EQ-A"] and len(quiet.resolved) == 1
    assert current_alerts(embedded_store, T0 + timedelta(hours=5)).empty
    stored = embedded_store.query(Selection(T0, T0 + timedelta(days=1), metric_types=(ALERT_METRIC,)))
    resolved = stored[[t.get("state") == "resolved" for t in stored["tags"]]]
    assert [t["reason"] for t in resolved["tags"]] == ["no data"]
    assert resolved["value"].tolist() == [95.0]  # the value it was raised with
    assert resolved["tags"].iloc[0]["message"].startswith("no data")
    later = check_alerts(embedded_store, rules, T0 + timedelta(hours=9))
    assert later.resolved.empty and later.raised.empty and later.no_data["equipment_id"].tolist() == ["EQ-A"]


def test_one_hour_of_data_does_not_fire_a_7_day_rule(embedded_store) -> None:
    """The first hour of a series (irregular real-shaped times): evaluated without error,
    'low coverage', nothing raised; the shipped rules too."""
    times = pd.Timestamp(T0) + pd.to_timedelta(np.cumsum([0, 290, 310, 300, 305, 295, 300, 299, 301, 300, 300]),
                                               unit="s")
    embedded_store.write_frame(pd.DataFrame({"time": times, "equipment_id": "EQ-NEW", "metric_type": "cpu_usage",
                                             "value": 97.5}))
    rules = parse_rules({"rules": [rule(name="cpu_high_7d", window="7d")]})
    result = check_alerts(embedded_store, rules, T0 + timedelta(hours=1))
    assert result.raised.empty and result.failures.empty
    assert result.conditions["state"].tolist() == ["low coverage"]
    assert result.conditions["coverage"].iloc[0] == pytest.approx(1 / 168)
    shipped = check_alerts(embedded_store, load_rules(ROOT / "parameters" / "alert_rules.yaml"),
                           T0 + timedelta(hours=1))
    assert shipped.raised.empty and shipped.failures.empty


def test_a_series_that_starts_mid_window_fires_once_half_the_window_holds_data(embedded_store) -> None:
    start = T0 + timedelta(days=4)  # 3 days of 95 % before the first check: 72 of 168 hourly slots
    embedded_store.write_frame(points("EQ-A", "cpu_usage", start, 24 * 5, 95))
    rules = parse_rules({"rules": [rule(window="7d")]})
    early = check_alerts(embedded_store, rules, start + timedelta(days=3))
    assert early.conditions["coverage"].iloc[0] == pytest.approx(72 / 168) and early.raised.empty
    assert early.conditions["value"].iloc[0] == pytest.approx(95)
    later = check_alerts(embedded_store, rules, start + timedelta(days=4))  # 96 of 168
    assert later.conditions["coverage"].iloc[0] == pytest.approx(96 / 168) and len(later.raised) == 1
    strict = parse_rules({"rules": [rule(name="strict", window="7d", min_coverage=0.9)]})
    assert check_alerts(embedded_store, strict, start + timedelta(days=4)).raised.empty


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


# -- failures, replay, real data -------------------------------------------------------------

NAB = ROOT.parent / "shared" / "benchmarks" / "nab" / "data" / "realKnownCause" / \
    "ec2_request_latency_system_failure.csv"


def _fleet(store) -> None:
    """Two equipment: EQ-A busy in hours 2-5 and from 30 h until it falls silent at 60 h; EQ-B calm."""
    def cpu(h):
        return np.where(((h >= 2) & (h < 5)) | (h >= 30), 95.0, 30.0 + h / 10)
    store.write_frame(pd.concat([points("EQ-A", "cpu_usage", T0, 60, cpu),
                                 points("EQ-B", "cpu_usage", T0, 72, lambda h: 40 + 5 * np.sin(h)),
                                 points("EQ-A", "memory_usage", T0, 72, lambda h: 20 + 1.5 * h)]))


REPLAY_RULES = {"rules": [
    rule(name="busy"),
    rule(name="busy_p95", function="p95", window="3h", threshold=90),
    {"name": "mem_up", "kind": "trend", "metric": "memory_usage", "severity": "warning", "window": "12h",
     "rate_per_day": 30, "threshold": 90, "horizon": "3d"},
]}


def _alert_points(store) -> pd.DataFrame:
    raw = store.query(Selection(T0 - timedelta(days=1), T0 + timedelta(days=10), metric_types=(ALERT_METRIC,)))
    frame = pd.DataFrame({"time": raw["time"], "equipment_id": raw["equipment_id"].astype(str),
                          "value": raw["value"], **{k: [t.get(k, "") for t in raw["tags"]]
                                                    for k in ("rule", "state", "message", "reason")}})
    return frame.sort_values(["time", "equipment_id", "rule"]).reset_index(drop=True)


def test_replay_writes_the_same_points_as_a_check_at_each_instant(embedded_store, tmp_path: Path) -> None:
    checked = open_store(f"duckdb:///{tmp_path / 'checked.duckdb'}")
    _fleet(embedded_store)
    _fleet(checked)
    rules = parse_rules(REPLAY_RULES)
    instants = pd.date_range(T0, T0 + timedelta(hours=72), freq="1h", inclusive="left")
    for now in instants:
        assert check_alerts(checked, rules, now.to_pydatetime()).failures.empty
    replayed = replay_alerts(embedded_store, rules, T0, T0 + timedelta(hours=72), timedelta(hours=1))
    assert replayed.instants == 72 and replayed.failures.empty
    a, b = _alert_points(checked), _alert_points(embedded_store)
    assert len(a) >= 6  # busy raised and resolved twice, mem_up raised, EQ-A's silence resolved
    pd.testing.assert_frame_equal(a.drop(columns="value"), b.drop(columns="value"))
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-9)
    assert "no data" in set(a["reason"])
    with pytest.raises(ValidationError, match="already holds"):  # a second replay would write history twice
        replay_alerts(embedded_store, rules, T0, T0 + timedelta(hours=72), timedelta(hours=1))
    dry = replay_alerts(embedded_store, rules, T0, T0 + timedelta(hours=72), timedelta(hours=1), dry_run=True)
    assert len(dry.events) == len(b) and len(_alert_points(embedded_store)) == len(b)


def test_a_failing_rule_or_equipment_never_stops_the_others(embedded_store, monkeypatch) -> None:
    """Nothing in the package fails on valid stored data, so the failures are injected:
    the store's aggregate fails for one metric (a whole rule) and the anomaly scorer
    fails for one equipment's series."""
    _fleet(embedded_store)
    embedded_store.write_frame(pd.concat([points(eq, "response_time", T0, 72, 100 + i) for i, eq in
                                          enumerate(["EQ-A", "EQ-B"])]))
    real_aggregate = embedded_store.aggregate

    def aggregate(selection, *args, **kwargs):
        if selection.metric_types == ("memory_usage",):
            raise QueryError("injected: the memory query failed")
        return real_aggregate(selection, *args, **kwargs)

    def score_series(times, values, params=None):
        if np.asarray(values)[0] == 100.0:  # EQ-A's series
            raise ValueError("injected: EQ-A cannot be scored")
        return real_score(times, values, params)

    real_score = anomaly.score_series
    monkeypatch.setattr(embedded_store, "aggregate", aggregate)
    monkeypatch.setattr(anomaly, "score_series", score_series)
    rules = parse_rules({"rules": [*REPLAY_RULES["rules"], {"name": "rt", "kind": "anomaly",
                                                            "metric": "response_time", "severity": "info",
                                                            "window": "1d", "every": "1h"}]})
    result = check_alerts(embedded_store, rules, T0 + timedelta(hours=3))
    assert result.raised["rule"].tolist() == ["busy", "busy_p95"]  # the good rules were evaluated and recorded
    failures = result.failures.sort_values("rule").reset_index(drop=True)
    assert failures[["rule", "equipment_id"]].values.tolist() == [["mem_up", ""], ["rt", "EQ-A"]]
    assert "injected: the memory query failed" in failures["error"][0]
    rows = result.conditions.set_index(["equipment_id", "rule"])
    assert rows.loc[("EQ-B", "rt"), "state"] != "error" and rows.loc[("EQ-A", "rt"), "state"] == "error"
    replayed = replay_alerts(embedded_store, rules, T0, T0 + timedelta(hours=6), timedelta(hours=1), dry_run=True)
    assert set(replayed.failures["rule"]) == {"mem_up", "rt"} and "busy" in set(replayed.events["rule"])


def test_cli_reports_failures_in_table_and_json_with_exit_code_8(embedded_store, store_path: Path, tmp_path: Path,
                                                                 monkeypatch) -> None:
    """The scorer is made to fail (injected, as nothing real fails on valid data)."""
    embedded_store.write_frame(pd.concat([points("EQ-A", "cpu_usage", T0, 3, 95),
                                          points("EQ-A", "response_time", T0, 30, 100)]))

    def broken(times, values, params=None):
        raise ValueError("injected scorer failure")

    monkeypatch.setattr(anomaly, "score_series", broken)
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"rules": [rule(name="busy"), {
        "name": "rt", "kind": "anomaly", "metric": "response_time", "severity": "info", "window": "1d",
        "every": "1h"}]}), encoding="utf-8")
    args = ["check", "--rules", str(rules_file), "--at", "2024-01-01T03:00"]
    table = CliRunner().invoke(alerts, args, obj=AppContext(f"duckdb:///{store_path}"))
    assert table.exit_code == 8, table.output
    assert "injected scorer failure" in table.output and "1 raised" in table.output
    again = CliRunner().invoke(alerts, [*args, "--json"], obj=AppContext(f"duckdb:///{store_path}"))
    assert again.exit_code == 8
    body = json.loads(again.stdout)
    assert body["failures"][0]["rule"] == "rt" and body["failures"][0]["equipment_id"] == "EQ-A"
    assert body["raised"] == [] and [r["rule"] for r in body["ongoing"]] == ["busy"]


def test_cli_replay_and_a_list_without_alerts(embedded_store, store_path: Path, tmp_path: Path) -> None:
    _fleet(embedded_store)
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(REPLAY_RULES), encoding="utf-8")
    app = AppContext(f"duckdb:///{store_path}")
    runner = CliRunner()
    empty = runner.invoke(alerts, ["list", "--start", "2024-01-01", "--end", "2024-01-05"], obj=app)
    assert empty.exit_code == 0 and empty.output.strip().splitlines() == [
        "No alerts from 2024-01-01 00:00 to 2024-01-05 00:00 UTC; the store holds none at all."]
    replay = ["replay", "--rules", str(rules_file), "--start", "2024-01-01", "--end", "2024-01-04", "--every", "1h"]
    dry = runner.invoke(alerts, [*replay, "--dry-run", "--json"], obj=app)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["instants"] == 72 and json.loads(dry.stdout)["events"]
    assert json.loads(runner.invoke(alerts, ["list", "--start", "2024-01-01", "--end", "2024-01-05", "--json"],
                                    obj=app).stdout) == []
    done = runner.invoke(alerts, replay, obj=app)
    assert done.exit_code == 0 and "written" in done.output
    twice = runner.invoke(alerts, replay, obj=app)
    assert twice.exit_code == 3 and "already holds" in twice.output
    before = runner.invoke(alerts, ["list", "--start", "2023-12-01", "--end", "2023-12-05"], obj=app)
    assert before.exit_code == 0 and len(before.output.strip().splitlines()) == 1
    assert "the store holds alerts from 2024-01-01 03:00 to" in before.output
    bad = runner.invoke(alerts, ["replay", "--start", "2024-01-04", "--end", "2024-01-01"], obj=app)
    assert bad.exit_code == 3 and "after its start" in bad.output


@pytest.mark.skipif(not NAB.exists(), reason=f"the NAB corpus is not at {NAB} (a sibling checkout of the benchmarks)")
def test_real_response_times_check_at_several_instants_and_replay(embedded_store, store_path: Path) -> None:
    """NAB's ec2_request_latency_system_failure (5-minute EC2 latencies, 2014-03-07 03:41 to
    2014-03-21 03:41) as one equipment's response_time, with the shipped rules."""
    real = pd.read_csv(NAB)
    embedded_store.write_frame(pd.DataFrame({"time": pd.to_datetime(real["timestamp"]).dt.tz_localize("UTC"),
                                             "equipment_id": "EC2", "metric_type": "response_time",
                                             "value": real["value"]}))
    runner, app = CliRunner(), AppContext(f"duckdb:///{store_path}")
    shipped = str(ROOT / "parameters" / "alert_rules.yaml")
    for at in ("2014-03-07T04:00", "2014-03-12T00:00", "2014-03-20T12:00", "2014-04-10T00:00"):
        result = runner.invoke(alerts, ["check", "--rules", shipped, "--at", at, "--json"], obj=app)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["failures"] == []
    first_hour = evaluate_rules(embedded_store, load_rules(shipped), datetime(2014, 3, 7, 4, tzinfo=UTC))
    assert first_hour["state"].tolist() == ["low coverage"]  # 19 minutes of a 14-day window
    replay = runner.invoke(alerts, ["replay", "--rules", shipped, "--start", "2014-03-07", "--end", "2014-04-12",
                                    "--dry-run", "--json"], obj=app)
    assert replay.exit_code == 0, replay.output
    assert json.loads(replay.stdout)["failures"] == []
    other = open_store(f"duckdb:///{store_path.parent / 'other.duckdb'}")
    other.write_frame(embedded_store.query(Selection(datetime(2014, 3, 1, tzinfo=UTC), datetime(2014, 4, 1, tzinfo=UTC),
                                                     metric_types=("response_time",))).drop(columns="tags"))
    replayed = replay_alerts(other, load_rules(shipped), datetime(2014, 3, 7, tzinfo=UTC),
                             datetime(2014, 4, 12, tzinfo=UTC), timedelta(hours=1))
    assert replayed.failures.empty and replayed.instants == 36 * 24
    # The series stops on 2014-03-21: 14 days later nothing can still be firing.
    assert current_alerts(other, datetime(2014, 4, 11, tzinfo=UTC)).empty
