"""Downsampling (`vigileos optimize`) and reads through rollups, on a real DuckDB file
and a real influxd: the figures computed before rolling up are the figures after."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.cli import main
from vigileos_analytics.errors import RollupError, ValidationError
from vigileos_analytics.lifecycle import backup, restore, set_retention, verify
from vigileos_analytics.lifecycle.chunks import to_write_frame
from vigileos_analytics.lifecycle.maintain import maintain_once, run_maintenance
from vigileos_analytics.lifecycle.optimize import optimize
from vigileos_analytics.schema import AVAILABILITY, STATUS_CHANGE, Point
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import MetricsStore, Selection
from vigileos_analytics.stores.embedded import EmbeddedStore
from vigileos_analytics.stores.rollups import find_rollups
from vigileos_analytics.stores.tiered import TieredStore

from .conftest import FLEET_END
from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)

START = FLEET_END - timedelta(days=10)
PERIOD = (START, FLEET_END)
_databases = itertools.count()
AVAILABILITY_COLUMNS = ["availability_pct", "uptime_s", "downtime_s", "unknown_s", "maintenance_s", "outages",
                        "mtbf_s", "mttr_s", "coverage_pct", "samples"]


@pytest.fixture
def seeded(seeded_store_dir: Path):
    return open_store(f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}")


@pytest.fixture
def influx_seeded(influxd, seeded):
    """The seeded fleet copied into a fresh database of the real influxd."""
    name = f"optimize_{next(_databases)}"
    store = open_store(f"influxdb1+{influxd.url}/{name}?create_database=true&spool=off")
    store.write_frame(to_write_frame(seeded.query(Selection(START - timedelta(days=1), FLEET_END))))
    yield store
    store.close()
    influxd.query(f'DROP DATABASE "{name}"')


def figures(store, inventory: Path) -> dict[str, pd.DataFrame]:
    """What reports and dashboards read: availability per day with maintenance excluded,
    performance statistics, and hourly means."""
    service = EquipmentAnalyticsService(store, inventory=inventory)
    hourly = service.reader.aggregate(Selection(*PERIOD, metric_types=("cpu_usage", "temperature")),
                                      every=timedelta(hours=1), functions=("count", "mean", "min", "max", "last"))
    return {
        "availability": service.fleet_availability(*PERIOD, freq="1D", exclude_maintenance=True),
        "whole": service.fleet_availability(*PERIOD),
        "stats": service.reader.aggregate(Selection(*PERIOD), functions=("count", "mean", "min", "max", "last", "p95")),
        "hourly": hourly,
    }


def assert_same_figures(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    for name in ("availability", "whole"):
        pd.testing.assert_frame_equal(after[name][AVAILABILITY_COLUMNS], before[name][AVAILABILITY_COLUMNS],
                                      check_exact=False, rtol=1e-12, atol=1e-9)
    keys = ["equipment_id", "metric_type"]
    stats_before = before["stats"][~before["stats"]["metric_type"].isin([STATUS_CHANGE, "alert"])].set_index(keys)
    stats_after = after["stats"].set_index(keys).loc[stats_before.index]
    assert (stats_after["count"] == stats_before["count"]).all()
    for column in ("min", "max", "last"):
        np.testing.assert_array_equal(stats_after[column], stats_before[column])
    np.testing.assert_allclose(stats_after["mean"], stats_before["mean"], rtol=1e-9)
    # p95 over rolled-up time is an estimate: the p95 of the windows' p95s.
    assert ((stats_after["p95"] - stats_before["p95"]).abs() <= 0.5 * stats_before["p95"].abs() + 1e-9).all()
    hourly_keys = keys + ["time"]
    pd.testing.assert_frame_equal(
        after["hourly"].sort_values(hourly_keys).reset_index(drop=True)[hourly_keys + ["count", "min", "max", "last"]],
        before["hourly"].sort_values(hourly_keys).reset_index(drop=True)[hourly_keys + ["count", "min", "max", "last"]],
        check_dtype=False)


def rolled_metric_points(store, end) -> int:
    """Raw points of rolled-up metric types before ``end``."""
    counts = store.aggregate(Selection(START - timedelta(days=1), end), functions=("count",))
    return int(counts.loc[~counts["metric_type"].isin([STATUS_CHANGE, "alert"]), "count"].sum())


# -- embedded ----------------------------------------------------------------------------------

def test_figures_are_the_same_after_two_optimize_runs(seeded, seeded_store_dir):
    inventory = seeded_store_dir / "inventory.csv"
    before = figures(seeded, inventory)
    status_before = len(seeded.query(Selection(*PERIOD, metric_types=(STATUS_CHANGE,))))

    first = optimize(seeded, timedelta(days=6), now=FLEET_END)
    assert first.cutoff == FLEET_END - timedelta(days=6) and first.previous_horizon is None
    assert first.raw_points > 0 and first.deleted == first.raw_points and first.rollup_points > 0
    assert rolled_metric_points(seeded, first.cutoff) == 0
    assert_same_figures(before, figures(seeded, inventory))

    second = optimize(seeded, timedelta(days=2, hours=5), now=FLEET_END)  # cutoff rounds down to the hour
    assert second.previous_horizon == first.cutoff
    assert second.cutoff == FLEET_END - timedelta(days=2, hours=5)
    assert rolled_metric_points(seeded, second.cutoff) == 0
    assert_same_figures(before, figures(seeded, inventory))

    # Status changes are events: kept raw, so status history and maintenance stay whole.
    assert len(seeded.query(Selection(*PERIOD, metric_types=(STATUS_CHANGE,)))) == status_before
    info = find_rollups(seeded)
    assert info.measurement == "equipment_metrics_1h" and info.horizon == second.cutoff
    assert info.staleness == timedelta(minutes=10)


def test_hourly_available_seconds_add_up_to_the_uptime(seeded, seeded_store_dir):
    before = EquipmentAnalyticsService(seeded, inventory=seeded_store_dir / "inventory.csv").fleet_availability(
        START, FLEET_END - timedelta(days=4))
    optimize(seeded, timedelta(days=4), now=FLEET_END)
    rollup = find_rollups(seeded).store
    seconds = rollup.aggregate(Selection(START, FLEET_END - timedelta(days=4), metric_types=(
        "availability__available_s", "availability__unavailable_s")), functions=("count", "mean"))
    seconds = seconds.assign(total=seconds["mean"] * seconds["count"]).pivot(
        index="equipment_id", columns="metric_type", values="total")
    expected = before.set_index("equipment_id")
    np.testing.assert_allclose(seconds["availability__available_s"], expected.loc[seconds.index, "uptime_s"])
    np.testing.assert_allclose(seconds["availability__unavailable_s"], expected.loc[seconds.index, "downtime_s"])
    # Windows are whole hours: each holds at most 3,600 known seconds.
    hourly = rollup.query(Selection(START, FLEET_END, metric_types=("availability__available_s",)))
    assert hourly["value"].max() <= 3600 and (hourly["time"].dt.minute == 0).all()


def test_dry_run_changes_nothing(seeded):
    before = seeded.aggregate(Selection(START - timedelta(days=1), FLEET_END), functions=("count",))
    result = optimize(seeded, timedelta(days=5), now=FLEET_END, dry_run=True)
    assert result.dry_run and result.deleted == 0
    assert result.raw_points == rolled_metric_points(seeded, FLEET_END - timedelta(days=5))
    assert set(result.counts["metric_type"]) >= {AVAILABILITY, "cpu_usage"}
    assert STATUS_CHANGE not in set(result.counts["metric_type"])
    pd.testing.assert_frame_equal(seeded.aggregate(Selection(START - timedelta(days=1), FLEET_END),
                                                   functions=("count",)), before)
    assert seeded.rollup_names() == []


def test_rollups_that_do_not_read_back_keep_the_raw_points(seeded, monkeypatch):
    # Fault injection (no real store loses writes on demand): the rollup store drops
    # every tenth point it is given.
    real_create_rollup = EmbeddedStore.create_rollup

    def lossy(self, name):
        store = real_create_rollup(self, name)
        write = store.write_frame
        store.write_frame = lambda frame: write(frame.iloc[np.arange(len(frame)) % 10 != 0])
        return store

    monkeypatch.setattr(EmbeddedStore, "create_rollup", lossy)
    before = rolled_metric_points(seeded, FLEET_END)
    with pytest.raises(RollupError, match="no raw point was removed"):
        optimize(seeded, timedelta(days=5), now=FLEET_END)
    assert rolled_metric_points(seeded, FLEET_END) == before
    monkeypatch.undo()
    assert find_rollups(seeded).horizon is None  # never in force: reads stay raw
    stats = TieredStore(seeded).aggregate(Selection(*PERIOD, metric_types=("cpu_usage",)), functions=("count",))
    assert stats["count"].sum() == seeded.aggregate(Selection(*PERIOD, metric_types=("cpu_usage",)),
                                                    functions=("count",))["count"].sum()


def test_the_tiered_store_is_a_whole_store_of_explicit_methods(seeded, monkeypatch):
    protocol = ({n for n in vars(MetricsStore) if not n.startswith("_")} | set(MetricsStore.__annotations__)
                | {"__enter__", "__exit__"})
    defined = set().union(*(vars(cls) for cls in TieredStore.__mro__ if cls is not object))
    assert "__getattr__" not in defined and protocol - defined == set()
    tiered = TieredStore(seeded)
    assert isinstance(tiered, MetricsStore) and TieredStore(tiered).raw is seeded
    assert (tiered.backend, tiered.spool, tiered.enforces_retention) == ("duckdb", None, False)
    assert tiered.retention() == seeded.retention() and tiered.rollup_names() == seeded.rollup_names() == []
    pd.testing.assert_frame_equal(tiered.storage_facts().equipment, seeded.storage_facts().equipment)
    tiered.write_points([Point("NEW-1", "cpu_usage", 5.0, FLEET_END)], spool=False)
    assert seeded.latest(equipment_ids=["NEW-1"])["value"].tolist() == [5.0]
    closed = []
    monkeypatch.setattr(seeded, "close", lambda: closed.append(True))
    with tiered as entered:
        assert entered is tiered
    assert closed == [True]
    service = EquipmentAnalyticsService(seeded)
    assert service.store is seeded and isinstance(service.reader, TieredStore) and service.reader.raw is seeded


def test_points_written_before_the_horizon_later_are_rolled_in_and_reported(seeded):
    first = optimize(seeded, timedelta(days=5), now=FLEET_END)
    hour = first.cutoff - timedelta(days=1)
    window = Selection(hour, hour + timedelta(hours=1), equipment_ids=("EQ-0001",), metric_types=("cpu_usage",))
    before = TieredStore(seeded).aggregate(window, functions=("count", "max"))
    late_time = hour + timedelta(minutes=30, seconds=1)
    seeded.write_frame(pd.DataFrame({"time": [late_time], "equipment_id": ["EQ-0001"], "metric_type": ["cpu_usage"],
                                     "value": [420.0]}))  # above any cpu_usage percentage
    assert TieredStore(seeded).aggregate(window, functions=("count",))["count"].tolist() == before["count"].tolist()
    second = optimize(seeded, timedelta(days=3), now=FLEET_END)
    assert (second.late_points, second.resumed) == (1, 0) and second.deleted > 0
    assert seeded.query(Selection(late_time, late_time + timedelta(seconds=1), metric_types=("cpu_usage",))).empty
    after = TieredStore(seeded).aggregate(window, functions=("count", "max"))
    assert after["count"].tolist() == [before["count"].iloc[0] + 1] and after["max"].tolist() == [420.0]


def test_bad_arguments_are_refused(seeded):
    with pytest.raises(ValidationError, match="older_than"):
        optimize(seeded, timedelta(0))
    with pytest.raises(ValidationError, match="divide a day"):
        optimize(seeded, timedelta(days=1), every=timedelta(minutes=7))
    with pytest.raises(ValidationError, match="divide a day"):
        optimize(seeded, timedelta(days=1), every=timedelta(seconds=30))
    optimize(seeded, timedelta(days=5), now=FLEET_END)
    with pytest.raises(ValidationError, match="--every 1h"):
        optimize(seeded, timedelta(days=3), every=timedelta(minutes=15), now=FLEET_END)


def test_nothing_to_do_when_everything_is_newer(seeded):
    result = optimize(seeded, timedelta(days=30), now=FLEET_END)
    assert result.raw_points == 0 and result.deleted == 0 and seeded.rollup_names() == []


def test_cli_optimize_dry_run_json_and_real_run(seeded_store_dir, monkeypatch):
    store_url = f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}"
    runner = CliRunner()
    # The fleet ends on 2024-02-01, so "older than" is measured from today's clock:
    # everything is older than a day.
    dry = runner.invoke(main, ["--store", store_url, "optimize", "--older-than", "1d", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    payload = json.loads(dry.output)
    assert payload["dry_run"] and payload["raw_points"] > 0 and payload["deleted"] == 0
    done = runner.invoke(main, ["--store", store_url, "optimize", "--older-than", "1d", "-q"])
    assert done.exit_code == 0, done.output
    assert f"removed {payload['raw_points']:,} raw points" in " ".join(done.output.split())
    bad = runner.invoke(main, ["--store", store_url, "optimize", "--older-than", "1d", "--every", "7m"])
    assert bad.exit_code == 3 and "divide a day" in bad.output
    assert runner.invoke(main, ["optimize", "--help"]).exit_code == 0


# -- real influxd ------------------------------------------------------------------------------

@pytest.mark.influxdb
def test_influxql_figures_are_the_same_after_optimize(influx_seeded, seeded_store_dir):
    inventory = seeded_store_dir / "inventory.csv"
    before = figures(influx_seeded, inventory)
    first = optimize(influx_seeded, timedelta(days=6), now=FLEET_END)
    assert first.deleted == first.raw_points > 0
    assert rolled_metric_points(influx_seeded, first.cutoff) == 0
    assert "equipment_metrics_1h" in influx_seeded.rollup_names()
    assert_same_figures(before, figures(influx_seeded, inventory))
    second = optimize(influx_seeded, timedelta(days=3), now=FLEET_END)
    assert second.previous_horizon == first.cutoff and second.deleted > 0
    assert_same_figures(before, figures(influx_seeded, inventory))


# -- backup and restore carry the rollups --------------------------------------------------------

def test_backup_and_restore_carry_the_rollups(seeded, seeded_store_dir, tmp_path):
    inventory = seeded_store_dir / "inventory.csv"
    before = figures(seeded, inventory)
    optimize(seeded, timedelta(days=5), now=FLEET_END)
    made = backup(seeded, tmp_path / "optimized.tar", chunk_points=20_000)
    assert made.rollup_points["equipment_metrics_1h"] > 0
    assert verify(tmp_path / "optimized.tar").manifest["rollups"] == {
        "equipment_metrics_1h": {"points": made.rollup_points["equipment_metrics_1h"]}}
    fresh = open_store(f"duckdb:///{tmp_path / 'fresh.duckdb'}")
    restored = restore(fresh, tmp_path / "optimized.tar")
    assert restored.points == made.points and restored.rollup_points == made.rollup_points
    assert find_rollups(fresh).horizon == FLEET_END - timedelta(days=5)
    assert_same_figures(before, figures(fresh, inventory))


@pytest.mark.influxdb
def test_rollups_survive_a_round_trip_through_influxd(seeded, seeded_store_dir, influxd, tmp_path):
    inventory = seeded_store_dir / "inventory.csv"
    before = figures(seeded, inventory)
    optimize(seeded, timedelta(days=5), now=FLEET_END)
    backup(seeded, tmp_path / "one.tar")
    name = f"optimize_{next(_databases)}"
    influx = open_store(f"influxdb1+{influxd.url}/{name}?create_database=true&spool=off")
    try:
        restore(influx, tmp_path / "one.tar")
        assert_same_figures(before, figures(influx, inventory))
        backup(influx, tmp_path / "two")
        back = open_store(f"duckdb:///{tmp_path / 'back.duckdb'}")
        restore(back, tmp_path / "two")
        assert_same_figures(before, figures(back, inventory))
    finally:
        influx.close()
        influxd.query(f'DROP DATABASE "{name}"')


def test_events_before_the_horizon_and_rolled_up_equipment_stay_visible(seeded, seeded_store_dir, tmp_path):
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("equipment_id,name,type,location\n")  # no inventory: equipment come from the store
    gone = pd.DataFrame({"time": [START + timedelta(hours=h) for h in range(3)], "equipment_id": "OLD-1",
                         "metric_type": "cpu_usage", "value": [1.0, 2.0, 3.0]})
    seeded.write_frame(gone)  # an equipment whose data is all older than the cutoff
    period = Selection(*PERIOD, metric_types=(STATUS_CHANGE, "cpu_usage"))
    before = seeded.aggregate(period, functions=("count",))
    optimize(seeded, timedelta(days=5), now=FLEET_END)
    service = EquipmentAnalyticsService(seeded, inventory=inventory)
    assert "OLD-1" in service.equipment()["equipment_id"].tolist()
    assert "OLD-1" not in seeded.equipment_ids()  # raw points gone, rollups hold it
    assert service.store is seeded and service.reader.raw is seeded
    after = service.reader.aggregate(period, functions=("count",))
    pd.testing.assert_frame_equal(after.sort_values(["equipment_id", "metric_type"]).reset_index(drop=True),
                                  before.sort_values(["equipment_id", "metric_type"]).reset_index(drop=True),
                                  check_dtype=False)


def test_check_verbose_names_the_rollups_and_their_horizon(seeded, seeded_store_dir):
    store_url = f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}"
    optimize(seeded, timedelta(days=4), now=FLEET_END)
    result = CliRunner().invoke(main, ["--store", store_url, "check", "--verbose", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)["facts"]
    assert facts["rollups"] == "equipment_metrics_1h"
    assert facts["rollup_horizon"] == (FLEET_END - timedelta(days=4)).isoformat()
    text = CliRunner().invoke(main, ["--store", store_url, "check", "-v"]).output
    assert "Rollups: equipment_metrics_1h (raw points from 2024-01-28 00:00 UTC on" in " ".join(text.split())


# -- maintenance on a schedule -------------------------------------------------------------------

def test_scheduled_maintenance_applies_retention_and_optimizes(seeded):
    set_retention(seeded, 8)
    now = FLEET_END
    run = maintain_once(seeded, optimize_older_than=timedelta(days=3), now=now)
    assert run.error is None
    assert run.cleanup.points > 0 and run.cleanup.cutoff == now - timedelta(days=8)
    assert len(seeded.query(Selection(START - timedelta(days=1), now - timedelta(days=8)))) == 0
    assert run.optimize.cutoff == now - timedelta(days=3) and run.optimize.deleted > 0


def test_the_schedule_keeps_running_after_a_failed_run(seeded):
    optimize(seeded, timedelta(days=5), now=FLEET_END)  # rollups of 1h exist: 15m windows are refused
    seen = []
    runs = run_maintenance(seeded, timedelta(milliseconds=10), optimize_older_than=timedelta(days=1),
                           rollup_every=timedelta(minutes=15), count=2, on_run=seen.append)
    assert len(runs) == 2 and seen == runs
    assert all(r.error and "--every 1h" in r.error for r in runs)
    with pytest.raises(ValidationError, match="every"):
        run_maintenance(seeded, timedelta(0))
    with pytest.raises(ValidationError, match="divide a day"):
        run_maintenance(seeded, timedelta(hours=1), optimize_older_than=timedelta(days=1),
                        rollup_every=timedelta(minutes=7))


def test_cli_maintain_runs_once_and_reports(seeded_store_dir):
    store_url = f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}"
    result = CliRunner().invoke(main, ["--store", store_url, "maintain", "--count", "1", "--optimize-older-than",
                                       "1d", "--json"])
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.output)["runs"]
    assert run["error"] is None and run["deleted"] is None and run["rolled_up"] > 0
    text = CliRunner().invoke(main, ["--store", store_url, "maintain", "--count", "1"]).output
    assert "retention: not set" in text


def test_export_says_when_part_of_the_period_is_rolled_up(seeded_store_dir, seeded, tmp_path):
    store_url = f"duckdb:///{seeded_store_dir / 'metrics.duckdb'}"
    optimize(seeded, timedelta(days=5), now=FLEET_END)
    out = CliRunner().invoke(main, ["--store", store_url, "export", str(tmp_path / "all.csv"), "-q"])
    assert out.exit_code == 0, out.output
    assert "were rolled up into equipment_metrics_1h" in " ".join(out.output.split())
    recent = CliRunner().invoke(main, ["--store", store_url, "export", str(tmp_path / "recent.csv"), "-q",
                                       "--start", (FLEET_END - timedelta(days=1)).isoformat()])
    assert recent.exit_code == 0 and "rolled up" not in recent.output
