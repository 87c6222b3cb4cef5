"""`vigileos sla` on a real store (a DuckDB file, and a real influxd): hand-worked figures
before and after an annotation, and clear errors for bad definitions and arguments."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from vigileos_analytics.cli import main
from vigileos_analytics.schema import AVAILABILITY, Point
from vigileos_analytics.stores import open_store

from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)

SLA_FILE = """
calendars:
  business:
    timezone: Europe/Paris
    hours: {mon-fri: "08:00-18:00"}
    holidays: [2026-04-03]
slas:
  - name: servers
    scope: {type: server}
    target: 99.5
    calendar: business
    minimum_outage: 2m
  - name: fleet-24x7
    scope: fleet
    target: 99
"""

# A: up from 25 March; down Monday 30 March 05:00-06:30Z (07:00-08:30 in Paris, only
# 06:00-06:30Z is service time); a 90 s blip on the 31st; down Wednesday 1 April 12:00-13:00Z;
# down all of Friday 3 April (a holiday in the calendar). B: up throughout.
STATES = [
    ("A", "2026-03-25T00:00:00", 1), ("A", "2026-03-30T05:00:00", 0), ("A", "2026-03-30T06:30:00", 1),
    ("A", "2026-03-31T10:00:00", 0), ("A", "2026-03-31T10:01:30", 1),
    ("A", "2026-04-01T12:00:00", 0), ("A", "2026-04-01T13:00:00", 1),
    ("A", "2026-04-03T08:00:00", 0), ("A", "2026-04-03T16:00:00", 1),
    ("B", "2026-03-25T00:00:00", 1),
]


@pytest.fixture(params=["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)])
def store_url(request, tmp_path, monkeypatch):
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'metrics.duckdb'}"
    else:
        server = request.getfixturevalue("influxd")
        url = f"influxdb1+{server.url}/sla_{uuid.uuid4().hex[:8]}?create_database=true&spool=off"
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("equipment_id,name,type,location\nA,Alpha,server,Paris-DC1\nB,Beta,server,Lyon-DC2\n")
    slas = tmp_path / "slas.yaml"
    slas.write_text(SLA_FILE)
    monkeypatch.setenv("VIGILEOS_INVENTORY", str(inventory))
    monkeypatch.setenv("VIGILEOS_SLAS", str(slas))
    monkeypatch.setenv("VIGILEOS_STALENESS", "30d")  # one sample per state change is enough
    store = open_store(url)
    store.write_points([Point(eq, AVAILABILITY, v, datetime.fromisoformat(t).replace(tzinfo=UTC))
                        for eq, t, v in STATES])
    store.close()
    return url


def run(url: str, *args: str):
    return CliRunner().invoke(main, ["--store", url, *args], catch_exceptions=False)


def status(url: str, *args: str) -> dict[str, dict]:
    result = run(url, "sla", "status", "--at", "2026-03-31T12:00", "--json", *args)
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


def test_status_before_and_after_an_annotation(store_url):
    # servers, week of Monday 30 March in Paris, 4 service days (Friday is a holiday) x 10 h
    # = 144,000 s per equipment. A loses 06:00-06:30Z (1,800 s) and 12:00-13:00Z (3,600 s);
    # the blip is under 2 min; Friday costs nothing. Group: up 282,600 s, unplanned 5,400 s:
    # 98.125 %; budget 0.5 % x 288,000 s = 1,440 s, remaining -3,960 s; 2 outages.
    before = status(store_url, "--period", "week")
    servers = before["servers"]
    assert servers["period_start"].startswith("2026-03-29T22:00:00")
    assert (servers["service_s"], servers["up_s"], servers["unplanned_s"]) == (288_000, 282_600, 5_400)
    assert servers["achieved_pct"] == pytest.approx(98.125)
    assert servers["budget"]["allowed_s"] == pytest.approx(1440)
    assert servers["budget"]["remaining_s"] == pytest.approx(-3960)
    assert (servers["outages"], servers["annotations"], servers["met"]) == (2, 0, False)
    # fleet-24x7, the UTC week: 604,800 s each; A loses 5,400 + 90 + 3,600 + 28,800 = 37,890 s.
    fleet = before["fleet-24x7"]
    assert (fleet["service_s"], fleet["unplanned_s"], fleet["outages"]) == (1_209_600, 37_890, 4)

    result = run(store_url, "sla", "annotate", "A", "--start", "2026-04-01T12:00", "--end", "2026-04-01T13:00",
                 "--as", "planned", "--reason", "CHG-1234 firmware", "--author", "alice")
    assert result.exit_code == 0, result.output
    assert "planned" in result.output

    # The Wednesday hour becomes planned: servers up 282,600 s, unplanned 1,800 s:
    # 99.367 %; budget 0.5 % x (288,000 - 3,600) = 1,422 s, remaining -378 s; 1 outage.
    after = status(store_url, "--period", "week")
    servers = after["servers"]
    assert (servers["planned_s"], servers["unplanned_s"], servers["up_s"]) == (3_600, 1_800, 282_600)
    assert servers["achieved_pct"] == pytest.approx(100 * 282_600 / 284_400)
    assert servers["budget"]["allowed_s"] == pytest.approx(1422)
    assert servers["budget"]["remaining_s"] == pytest.approx(-378)
    assert (servers["outages"], servers["annotations"]) == (1, 1)
    fleet = after["fleet-24x7"]
    assert (fleet["unplanned_s"], fleet["planned_s"], fleet["outages"], fleet["annotations"]) == (34_290, 3_600, 3, 1)

    listed = run(store_url, "sla", "annotations", "--start", "2026-03-01", "--end", "2026-05-01", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["equipment_id"], row["classification"], row["reason"], row["author"]) == (
        "A", "planned", "CHG-1234 firmware", "alice")
    assert row["start"].startswith("2026-04-01T12:00:00") and row["end"].startswith("2026-04-01T13:00:00")


def test_the_table_names_each_sla_and_its_state(store_url):
    result = run(store_url, "sla", "status", "servers", "--period", "week", "--at", "2026-03-31T12:00")
    assert result.exit_code == 0, result.output
    assert "servers" in result.output and "98.125" in result.output and "BREACHED" in result.output
    assert "servers: error budget spent at 2026-03-30 06:24 UTC." in result.output  # 1,440 s after 06:00Z
    assert "fleet-24x7" not in result.output


@pytest.mark.parametrize(("args", "code", "message"), [
    (["annotate", "A", "--start", "2026-04-01T13:00", "--end", "2026-04-01T12:00", "--as", "planned",
      "--reason", "x"], 3, "must end after it starts"),
    (["annotate", "NOPE", "--start", "2026-04-01T12:00", "--end", "2026-04-01T13:00", "--as", "planned",
      "--reason", "x"], 3, "NOPE"),
    (["annotate", "A", "--start", "2026-04-01T12:00", "--end", "2026-04-01T13:00", "--as", "planned",
      "--reason", "  "], 3, "needs a reason"),
    (["annotate", "A", "--start", "2026-04-01T12:00", "--end", "2026-04-01T13:00", "--as", "maybe",
      "--reason", "x"], 2, "maybe"),
    (["status", "nope"], 3, "No SLA named 'nope'"),
    (["status", "--period", "fortnight"], 3, "rolling length"),
    (["status", "--at", "2099-01-01"], 3, "in the future"),
    (["status", "--period", "150000d"], 3, "would start before 1970-01-01"),
    (["status", "--period", "99999999h"], 3, "would start before 1970-01-01"),
])
def test_bad_arguments_are_refused_clearly(tmp_path, monkeypatch, args, code, message):
    url = f"duckdb:///{tmp_path / 'metrics.duckdb'}"
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("equipment_id,name,type,location\nA,Alpha,server,Paris-DC1\n")
    monkeypatch.setenv("VIGILEOS_INVENTORY", str(inventory))
    slas = tmp_path / "slas.yaml"
    slas.write_text(SLA_FILE)
    monkeypatch.setenv("VIGILEOS_SLAS", str(slas))
    result = run(url, "sla", *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output


@pytest.mark.parametrize(("text", "message"), [
    ("slas: []", "non-empty list"),
    ("slas: [{name: a, target: 100}]", "field 'target'"),
    ("slas: [{name: a, target: .nan}]", "field 'target'"),
    ("slas: [{name: a, target: 99, calendar: nope}]", "no calendar named 'nope'"),
    ("slas: [{name: a, target: 99, scope: {room: 1}}]", "field 'scope'"),
    ("slas: [{name: a, target: 99, colour: red}]", "unknown field 'colour'"),
    ("slas: [{name: a, target: 99}, {name: a, target: 98}]", "appears twice"),
    ("calendars: {c: {timezone: Mars/Olympus, hours: {mon: '08:00-18:00'}}}\nslas: [{name: a, target: 99}]",
     "unknown time zone"),
    ("calendars: {c: {hours: {mon-fry: '08:00-18:00'}}}\nslas: [{name: a, target: 99}]", "not a day"),
    ("calendars: {c: {hours: {mon: '8-18'}}}\nslas: [{name: a, target: 99}]", "HH:MM-HH:MM"),
    ("calendars: {c: {hours: {mon: '08:00-18:00'}, holidays: [christmas]}}\nslas: [{name: a, target: 99}]",
     "expected a date"),
    ("maintenance: {w: {every: sunday}}\nslas: [{name: a, target: 99}]", "HH:MM-HH:MM"),
    ("maintenance: {w: {start: 2026-01-02, end: 2026-01-01}}\nslas: [{name: a, target: 99}]", "after start"),
    ("slas: [{name: a, target: 99, maintenance: [w]}]", "no maintenance window named 'w'"),
    ("slas: [{name: a, target: 99, minimum_outage: soon}]", "minimum_outage"),
    ("[1, 2", "not valid YAML"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time}}]", "exactly one of 'above' or 'below'"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time, above: 1, below: 2}}]", "exactly one of"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time, above: fast}}]", "'above' must be a number"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time, above: 5, counts_as: maybe}}]",
     "'counts_as' must be one of down, degraded"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time, above: 5, function: p95}}]",
     "'function' must be one of mean, max"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time, above: 5, every: soon}}]", "'every'"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time, above: 5, every: 1ms}}]",
     "'every' must be at least 1s"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time, above: 5, every: 500ms}}]",
     "'every' must be at least 1s"),
    ("slas: [{name: a, target: 99, degraded: {metric: 'Response Time', above: 5}}]", "'metric'"),
    ("slas: [{name: a, target: 99, degraded: {metric: response_time, above: 5, colour: red}}]",
     "unknown field 'colour'"),
    ("slas: [{name: a, target: 99, degraded: 500}]", "field 'degraded': expected a mapping"),
])
def test_bad_sla_files_name_the_entry_and_field(tmp_path, text, message):
    path = tmp_path / "slas.yaml"
    path.write_text(text)
    result = run(f"duckdb:///{tmp_path / 'm.duckdb'}", "sla", "status", "--slas", str(path))
    assert result.exit_code == 4, result.output
    assert message in result.output and str(path) in result.output


DEGRADED_FILE = """
slas:
  - name: rt-mean
    scope: {equipment: [B]}
    target: 99
    degraded: {metric: response_time, above: 500, every: 5m, counts_as: down}
  - name: rt-max
    scope: {equipment: [B]}
    target: 99
    degraded: {metric: response_time, above: 500, every: 5m, function: max}
"""
# B is up all day on Tuesday 31 March. Its response time, by 5-minute slot: 10:00-10:05
# 600 and 700 ms (mean 650: breached), 10:05-10:10 900 and 100 ms (mean 500, not above;
# max 900: breached), 10:10-10:15 200 ms; and 10:15-10:20 800 ms on Wednesday (another day).
RESPONSE_TIMES = [("2026-03-31T10:00:00", 600), ("2026-03-31T10:02:00", 700), ("2026-03-31T10:05:00", 900),
                  ("2026-03-31T10:07:00", 100), ("2026-03-31T10:10:00", 200), ("2026-04-01T10:15:00", 800)]


def test_degraded_response_times_are_shown_or_spent(store_url, tmp_path):
    store = open_store(store_url)
    store.write_points([Point("B", "response_time", float(v), datetime.fromisoformat(t).replace(tzinfo=UTC))
                        for t, v in RESPONSE_TIMES])
    store.close()
    path = tmp_path / "degraded.yaml"
    path.write_text(DEGRADED_FILE)
    figures = status(store_url, "--period", "day", "--slas", str(path))
    # The UTC day, 86,400 s. rt-mean: one breached slot, 300 s degraded, counted as down:
    # achieved 86,100 / 86,400; budget 864 s, 564 s left.
    mean = figures["rt-mean"]
    assert (mean["up_s"], mean["degraded_s"], mean["unplanned_s"]) == (86_100, 300, 0)
    assert mean["achieved_pct"] == pytest.approx(100 * 86_100 / 86_400)
    assert mean["budget"]["remaining_s"] == pytest.approx(564)
    assert mean["degraded"] == {"metric": "response_time", "function": "mean", "operator": "above",
                                "threshold": 500.0, "every_s": 300.0, "counts_as": "down"}
    # rt-max: two breached slots, 600 s degraded, only shown: achieved 100 %, budget untouched.
    worst = figures["rt-max"]
    assert (worst["up_s"], worst["degraded_s"], worst["achieved_pct"]) == (85_800, 600, 100)
    assert worst["budget"]["remaining_s"] == pytest.approx(864)
    table = run(store_url, "sla", "status", "--period", "day", "--at", "2026-03-31T12:00", "--slas", str(path))
    assert table.exit_code == 0, table.output
    assert "5 min (down)" in table.output and "10 min" in table.output


def test_a_degraded_default_applies_unless_an_sla_removes_it(tmp_path):
    from vigileos_analytics.analytics.sla_definitions import parse_slas

    document = {"defaults": {"degraded": {"metric": "response_time", "above": 500}},
                "slas": [{"name": "a", "target": 99}, {"name": "b", "target": 99, "degraded": "none"},
                         {"name": "c", "target": 99, "degraded": {"metric": "cpu_usage", "above": 90,
                                                                  "every": "1m", "counts_as": "down"}}]}
    a, b, c = (d.rules.degraded for d in parse_slas(document))
    assert a is not None and (a.metric, a.threshold, a.every.total_seconds(), a.function, a.counts_as) == (
        "response_time", 500, 300, "mean", "degraded")
    assert b is None
    assert c is not None and (c.metric, c.every.total_seconds(), c.counts_as) == ("cpu_usage", 60, "down")


def test_the_example_definitions_load():
    from vigileos_analytics.analytics.sla_definitions import load_slas
    from vigileos_analytics.templates import bundled_dir

    definitions = load_slas(bundled_dir("parameters") / "slas.yaml")
    assert [d.name for d in definitions] == ["servers-business-hours", "paris-dc1", "fleet"]
    assert definitions[0].rules.minimum_outage.total_seconds() == 120  # from defaults
    assert definitions[2].rules.minimum_outage.total_seconds() == 0  # its own field wins


def test_an_sla_without_data_says_why(tmp_path, monkeypatch):
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("equipment_id,name,type,location\nA,Alpha,server,Paris-DC1\n")
    slas = tmp_path / "slas.yaml"
    slas.write_text("slas:\n  - {name: servers, scope: {type: server}, target: 99}\n"
                    "  - {name: robots, scope: {type: robot}, target: 99}\n")
    monkeypatch.setenv("VIGILEOS_INVENTORY", str(inventory))
    monkeypatch.setenv("VIGILEOS_SLAS", str(slas))
    result = run(f"duckdb:///{tmp_path / 'metrics.duckdb'}", "sla", "status", "--period", "day")
    assert result.exit_code == 0, result.output
    assert "servers: its equipment has no availability sample" in result.output
    assert "robots: no equipment in its scope (type: robot)" in result.output
