"""Burn-rate alert rules on a real DuckDB store (and a real influxd for the hand-worked
instants): the multi-window rule fires and clears at instants worked out by hand from the
outage, a blip fires nothing, a replay writes what checks at each instant write, and a
bad SLA reference is an ``error`` state, not a crash."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from vigileos_analytics.analytics.alert_eval import evaluate_ends
from vigileos_analytics.analytics.alert_rules import load_rules, parse_rules
from vigileos_analytics.analytics.alerts import SlaSource, check_alerts, evaluate_rules, list_alerts, replay_alerts
from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.analytics.sla import DegradedRule, SlaRules
from vigileos_analytics.analytics.sla_burn import burn_rate, burn_window_sums
from vigileos_analytics.cli.alerts import alerts
from vigileos_analytics.cli.common import AppContext
from vigileos_analytics.errors import ConfigurationError, ValidationError
from vigileos_analytics.schema import AVAILABILITY, Point
from vigileos_analytics.stores import open_store

from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SLA_FILE = """
slas:
  - name: web
    scope: {type: server}
    target: 99.5
    minimum_outage: 2m
"""
INVENTORY = pd.DataFrame({"equipment_id": ["A", "B"], "name": ["Alpha", "Beta"], "type": ["server", "server"],
                          "location": ["Paris", "Lyon"]})
# Target 99.5 %: the budget share is 0.5 %. Fast: 1 h and 5 min at 14.4x, i.e. at least
# 259.2 s down in the last hour and 21.6 s in the last 5 minutes. Slow: 6 h and 30 min at 6x,
# i.e. 648 s and 54 s.
RULES = {"rules": [
    {"name": "fast", "kind": "burn_rate", "sla": "web", "long_window": "1h", "short_window": "5m",
     "factor": 14.4, "severity": "critical"},
    {"name": "slow", "kind": "burn_rate", "sla": "web", "long_window": "6h", "short_window": "30m",
     "factor": 6, "severity": "warning"},
]}
# A: down 10:00-10:20. B: a 90 s blip at 12:00 (under the 2 min minimum: up) and a 3 min
# outage at 14:00 (counted, but 180 s is under both long windows' thresholds).
CHANGES = [("A", "00:00", 1), ("A", "10:00", 0), ("A", "10:20", 1),
           ("B", "00:00", 1), ("B", "12:00", 0), ("B", "12:01:30", 1), ("B", "14:00", 0), ("B", "14:03", 1)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2024-01-01T{text}").replace(tzinfo=UTC)


def _source(store, tmp_path: Path) -> SlaSource:
    slas = tmp_path / "slas.yaml"
    slas.write_text(SLA_FILE, encoding="utf-8")
    store.write_points([Point(eq, AVAILABILITY, v, at(t)) for eq, t, v in CHANGES])
    # One sample per change: a sample holds for a day.
    service = EquipmentAnalyticsService(store, inventory=INVENTORY, staleness=timedelta(days=1))
    return SlaSource(slas=slas, service=service)


@pytest.fixture
def source(embedded_store, tmp_path: Path) -> SlaSource:
    return _source(embedded_store, tmp_path)


@pytest.fixture(params=["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)])
def any_store(request, tmp_path: Path):
    if request.param == "duckdb":
        return open_store(f"duckdb:///{tmp_path / 'any.duckdb'}")
    server = request.getfixturevalue("influxd")
    return open_store(f"influxdb1+{server.url}/burn_{uuid.uuid4().hex[:8]}?create_database=true&spool=off")


def states(store, rules, now: datetime, source: SlaSource) -> dict[tuple[str, str], pd.Series]:
    frame = evaluate_rules(store, rules, now, slas=source)
    return {(row.equipment_id, row.rule): row for row in frame.itertuples()}


def test_the_fast_rule_fires_once_both_windows_burn_and_clears_with_the_short_one(any_store, tmp_path) -> None:
    rules = parse_rules(RULES)
    store, source = any_store, _source(any_store, tmp_path)
    # 10:04: 240 s down in the hour, under 259.2 s. 10:05: 300 s: 300 / 3600 / 0.5 % = 16.67x,
    # and the 5 minutes are all down: 200x. Fires.
    assert states(store, rules, at("10:04"), source)["A", "fast"].state == "ok"
    fired = states(store, rules, at("10:05:30"), source)["A", "fast"]  # windows end at 10:05
    assert fired.state == "firing" and fired.value == pytest.approx(300 / 3600 / 0.005)
    assert "200.0× over 5m" in fired.message
    # 10:24: [10:19, 10:24) still holds 60 s down (40x): firing. 10:25: none in the last 5 min.
    assert states(store, rules, at("10:24"), source)["A", "fast"].state == "firing"
    cleared = states(store, rules, at("10:25"), source)["A", "fast"]
    assert cleared.state == "ok" and cleared.value == pytest.approx(1200 / 3600 / 0.005)
    # The slow rule: 660 s >= 648 s at 10:11 (600 s at 10:10); the last 30 min hold under 54 s
    # from 10:50 (at 10:49, [10:19, 10:49) holds 60 s).
    assert states(store, rules, at("10:10"), source)["A", "slow"].state == "ok"
    assert states(store, rules, at("10:11"), source)["A", "slow"].state == "firing"
    assert states(store, rules, at("10:49"), source)["A", "slow"].state == "firing"
    assert states(store, rules, at("10:50"), source)["A", "slow"].state == "ok"


def test_a_blip_and_a_short_outage_fire_neither_rule(any_store, tmp_path) -> None:
    rules = parse_rules(RULES)
    store, source = any_store, _source(any_store, tmp_path)
    replayed = replay_alerts(store, rules, at("11:00"), at("23:00"), timedelta(minutes=1),
                             equipment_ids=["B"], dry_run=True, slas=source)
    assert replayed.events.empty and replayed.failures.empty
    # At 14:03 the hour holds B's 180 s outage: 180 / 3600 / 0.5 % = 10x, under 14.4x.
    row = states(store, rules, at("14:03"), source)["B", "fast"]
    assert row.state == "ok" and row.value == pytest.approx(10)
    # At 12:01 the blip has lasted 60 s, under the minimum: nothing burns.
    assert states(store, rules, at("12:01"), source)["B", "fast"].value == 0


def test_replay_writes_what_a_check_at_each_instant_writes(embedded_store, source, tmp_path: Path) -> None:
    rules = parse_rules(RULES)
    checked = open_store(f"duckdb:///{tmp_path / 'checked.duckdb'}")
    checked.write_points([Point(eq, AVAILABILITY, v, at(t)) for eq, t, v in CHANGES])
    other = SlaSource(slas=source.slas, service=EquipmentAnalyticsService(checked, inventory=INVENTORY,
                                                                          staleness=timedelta(days=1)))
    # Every 8 minutes from 10:01 (the outage not yet counted: it has lasted 1 of the 2 minutes).
    # fast: 10:09 fires (540 s in the hour, 300 s in [10:04, 10:09)), 10:25 clears
    # ([10:20, 10:25) is up). slow: 10:09 holds 540 s < 648 s, 10:17 fires (1,020 s);
    # 10:49 still holds 60 s >= 54 s in [10:19, 10:49), 10:57 clears.
    for now in pd.date_range(at("10:01"), at("11:00"), freq="8min", inclusive="left"):
        assert check_alerts(checked, rules, now.to_pydatetime(), slas=other).failures.empty
    replayed = replay_alerts(embedded_store, rules, at("10:01"), at("11:00"), timedelta(minutes=8), slas=source)
    events = replayed.events[["time", "equipment_id", "rule", "state"]]
    assert events.values.tolist() == [
        [pd.Timestamp(at("10:09")), "A", "fast", "firing"], [pd.Timestamp(at("10:17")), "A", "slow", "firing"],
        [pd.Timestamp(at("10:25")), "A", "fast", "resolved"], [pd.Timestamp(at("10:57")), "A", "slow", "resolved"]]
    stored = list_alerts(checked, at("00:00"), at("23:00")).sort_values(["time", "rule"])
    assert stored[["time", "equipment_id", "rule", "state"]].values.tolist() == events.values.tolist()


def test_an_outage_counts_only_once_it_lasted_the_minimum_even_when_read_later() -> None:
    # Down 10:00-10:20, minimum 2 min. At 10:01 a check sees 60 s of down time: a blip, up.
    # Read up to 10:30 it is one 20-minute outage, but the figure at 10:01 must stay 0; at
    # 10:03 the outage counts: 180 s in the last 5 minutes, 180 / 300 / 0.5 % = 120x.
    def ns(text: str) -> int:
        return pd.Timestamp(at(text)).value

    data = pd.DataFrame({"equipment_id": ["A"] * 3, "state": [1, 0, 1],
                         "start": [ns("00:00"), ns("10:00"), ns("10:20")],
                         "end": [ns("10:00"), ns("10:20"), ns("23:00")]})
    rules = SlaRules(99.5, minimum_outage=timedelta(minutes=2))
    ends = pd.Series([ns("10:01"), ns("10:03"), ns("10:30")]).to_numpy("int64")
    sums = burn_window_sums(data, ["A"], rules, ends, [timedelta(minutes=5)])[timedelta(minutes=5)]
    assert sums.spent_s[:, 0].tolist() == [0, 180, 0]
    assert burn_rate(sums, 99.5)[:, 0].tolist() == pytest.approx([0, 120, 0])
    alone = burn_window_sums(data, ["A"], rules, ends[:1], [timedelta(minutes=5)])[timedelta(minutes=5)]
    assert alone.spent_s[0, 0] == 0


def test_an_alert_resolves_when_its_window_leaves_service_hours(embedded_store, tmp_path: Path) -> None:
    # Service Mon-Fri 08:00-18:00 UTC; 1 January 2024 is a Monday. Down 17:30-18:30.
    # 17:35: 300 s down in the hour and in the 5 minutes: fires. 19:35: [18:35, 19:35) holds
    # no service time: nothing burns, the alert resolves with the value 0.
    slas = tmp_path / "slas.yaml"
    slas.write_text("calendars: {office: {hours: {mon-fri: '08:00-18:00'}}}\n"
                    "slas: [{name: web, scope: {type: server}, target: 99.5, calendar: office}]\n", encoding="utf-8")
    embedded_store.write_points([Point("A", AVAILABILITY, v, at(t)) for t, v in
                                 (("00:00", 1), ("17:30", 0), ("18:30", 1))])
    source = SlaSource(slas=slas, service=EquipmentAnalyticsService(embedded_store, inventory=INVENTORY,
                                                                    staleness=timedelta(days=1)))
    rules = parse_rules({"rules": [RULES["rules"][0]]})
    assert check_alerts(embedded_store, rules, at("17:35"), slas=source).raised["equipment_id"].tolist() == ["A"]
    night = check_alerts(embedded_store, rules, at("19:35"), slas=source)
    assert night.resolved["equipment_id"].tolist() == ["A"] and night.resolved["value"].tolist() == [0]
    assert "no service time" in night.resolved["message"][0]


def test_a_young_outage_inside_a_breached_slot_is_degraded_time_as_a_check_sees_it() -> None:
    # Degraded counts as down; minimum outage 5 min; breached 15-minute slots 09:45-10:00
    # and 10:00-10:15; down from 09:58. 5-minute windows:
    # 10:00: the outage (120 s) is still a blip, so up, and degraded by the complete slot:
    #        [09:55, 10:00) is all degraded: 300 s.
    # 10:01: [09:56, 10:00) degraded (240 s); [10:00, 10:01) is in the slot not complete yet:
    #        up, nothing spent. 240 s.
    # 10:03: the outage has lasted 5 min: [09:58, 10:03) down, 300 s.
    def ns(text: str) -> int:
        return pd.Timestamp(at(text)).value

    data = pd.DataFrame({"equipment_id": ["A", "A"], "state": [1, 0], "start": [ns("00:00"), ns("09:58")],
                         "end": [ns("09:58"), ns("11:00")]})
    slots = pd.DataFrame({"equipment_id": ["A", "A"], "start": [ns("09:45"), ns("10:00")],
                          "end": [ns("10:00"), ns("10:15")]})
    rules = SlaRules(99.5, minimum_outage=timedelta(minutes=5),
                     degraded=DegradedRule("response_time", 500, timedelta(minutes=15), counts_as="down"))
    ends = pd.Series([ns("10:00"), ns("10:01"), ns("10:03")]).to_numpy("int64")
    five = timedelta(minutes=5)
    sums = burn_window_sums(data, ["A"], rules, ends, [five], degraded=slots)[five]
    assert sums.spent_s[:, 0].tolist() == [300, 240, 300]


@pytest.mark.parametrize("fields, named", [
    ({"sla": ""}, "'sla'"),
    ({"short_window": "2h"}, "'short_window'"),
    ({"long_window": None}, "'long_window'"),
    ({"factor": 0}, "'factor'"),
    ({"every": "7m"}, "'every'"),
    ({"metric": "cpu_usage"}, "'metric'"),
])
def test_a_bad_burn_rate_rule_names_the_field(fields, named) -> None:
    raw = {**RULES["rules"][0], "name": "my_rule", **fields}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConfigurationError) as info:
        parse_rules({"rules": [raw]}, "rules.yaml")
    assert "'my_rule'" in str(info.value) and named in str(info.value)


def test_a_missing_sla_or_a_broken_sla_file_is_an_error_state_and_the_other_rules_still_run(
        embedded_store, source, tmp_path: Path) -> None:
    rules = parse_rules({"rules": [{**RULES["rules"][0], "sla": "nope"}, RULES["rules"][1]]})
    result = check_alerts(embedded_store, rules, at("10:30"), slas=source)
    assert result.failures[["rule", "equipment_id"]].values.tolist() == [["fast", ""]]
    assert "no SLA named 'nope'" in result.failures["error"][0] and "web" in result.failures["error"][0]
    assert result.raised["rule"].tolist() == ["slow"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("slas: [{name: web, target: 120}]", encoding="utf-8")
    bad = SlaSource(slas=broken, service=source.service)
    failed = check_alerts(embedded_store, parse_rules(RULES), at("10:30"), slas=bad).failures
    assert set(failed["rule"]) == {"fast", "slow"} and "field 'target'" in failed["error"][0]


def test_the_shipped_burn_rules_reference_a_shipped_sla() -> None:
    from vigileos_analytics.analytics.sla_definitions import load_slas

    rules = {r.name: r for r in load_rules(ROOT / "parameters" / "alert_rules.yaml") if r.kind == "burn_rate"}
    fast, slow = rules["sla_fast_burn"], rules["sla_slow_burn"]
    assert (fast.window, fast.short_window, fast.factor, fast.severity) == (
        timedelta(hours=1), timedelta(minutes=5), 14.4, "critical")
    assert (slow.window, slow.short_window, slow.factor, slow.severity) == (
        timedelta(hours=6), timedelta(minutes=30), 6.0, "warning")
    names = {d.name for d in load_slas(ROOT / "parameters" / "slas.yaml")}
    assert fast.sla in names and slow.sla in names


def test_cli_check_and_replay_take_an_sla_file(embedded_store, source, store_path: Path, tmp_path: Path,
                                               monkeypatch) -> None:
    inventory = tmp_path / "inventory.csv"
    INVENTORY.to_csv(inventory, index=False)
    monkeypatch.setenv("VIGILEOS_INVENTORY", str(inventory))
    monkeypatch.setenv("VIGILEOS_STALENESS", "1d")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(RULES), encoding="utf-8")
    runner, app = CliRunner(), AppContext(f"duckdb:///{store_path}")
    base = ["--rules", str(rules_file), "--slas", str(source.slas)]
    replay = runner.invoke(alerts, ["replay", *base, "--start", "2024-01-01T09:00", "--end", "2024-01-01T12:00",
                                    "--every", "1m", "--dry-run", "--json"], obj=app)
    assert replay.exit_code == 0, replay.output
    assert [(e["rule"], e["state"]) for e in json.loads(replay.stdout)["events"]] == [
        ("fast", "firing"), ("slow", "firing"), ("fast", "resolved"), ("slow", "resolved")]
    check = runner.invoke(alerts, ["check", *base, "--at", "2024-01-01T10:06"], obj=app)
    assert check.exit_code == 0, check.output
    assert "1 raised" in check.output and "SLA web budget burning" in check.output


def test_an_unknown_id_in_an_equipment_scope_fails_alone_and_the_known_one_is_evaluated(
        embedded_store, source, tmp_path: Path) -> None:
    slas = tmp_path / "ghost.yaml"
    slas.write_text("slas: [{name: web, scope: {equipment: [A, GHOST]}, target: 99.5, minimum_outage: 2m}]\n",
                    encoding="utf-8")
    ghost = SlaSource(slas=slas, service=source.service)
    # 10:10: A down since 10:00, 600 s in the hour (33.3×) and the whole 5 minutes (200×): fast fires;
    # 600 s < 648 s over 6 h: slow is ok. GHOST is in neither the inventory nor the store.
    result = check_alerts(embedded_store, parse_rules(RULES), at("10:10"), slas=ghost)
    assert result.raised[["equipment_id", "rule"]].values.tolist() == [["A", "fast"]]
    assert result.raised["value"][0] == pytest.approx(600 / 3600 / 0.005)
    assert result.failures[["rule", "equipment_id"]].values.tolist() == [["fast", "GHOST"], ["slow", "GHOST"]]
    assert "unknown equipment 'GHOST' in the scope of SLA 'web'" in result.failures["error"][0]
    states = result.conditions.set_index(["equipment_id", "rule"])["state"].to_dict()
    assert states == {("A", "fast"): "firing", ("A", "slow"): "ok", ("GHOST", "fast"): "error",
                      ("GHOST", "slow"): "error"}


def test_a_service_over_another_store_is_refused(embedded_store, source, store_path: Path, tmp_path: Path) -> None:
    other = open_store(f"duckdb:///{tmp_path / 'other.duckdb'}")
    rules = parse_rules(RULES)
    with pytest.raises(ValidationError, match="not the store being checked"):
        evaluate_ends(other, rules[0], [pd.Timestamp(at("10:10"))], slas=source)
    result = check_alerts(other, rules, at("10:10"), slas=source)
    assert result.raised.empty and set(result.failures["rule"]) == {"fast", "slow"}
    assert "not the store being checked" in result.failures["error"][0]
    assert list_alerts(other, at("00:00"), at("23:00")).empty
    # The same database opened twice is the same store; a service built from the settings follows the store.
    again = open_store(f"duckdb:///{store_path}")
    assert check_alerts(again, rules, at("10:10"), slas=source).failures.empty
    built = SlaSource(slas=source.slas)
    assert built.analytics(embedded_store).store is embedded_store and built.analytics(other).store is other
