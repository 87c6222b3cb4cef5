"""Restore rules (archives and stores with rollups and horizons meet), an optimize run
killed after it moved the horizon, and backups killed outright: on real DuckDB files,
with real subprocesses killed by SIGKILL.

Every store holds a few equipment over four days from D0, one sample of each metric
every 5 minutes: ``availability`` is 0 from 10:00 to 11:00 and 1 otherwise,
``cpu_usage`` is (sample number in the day) / 10. So over the four days each
equipment has, by hand: 1,152 samples per metric; 14,400 s down and 331,200 s up
(coverage 100 %); cpu_usage min 0, max 28.7, mean 14.35.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.cli import main
from vigileos_analytics.errors import ValidationError
from vigileos_analytics.lifecycle import backup, restore
from vigileos_analytics.lifecycle.optimize import optimize
from vigileos_analytics.lifecycle.partials import write_owner
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.stores.rollups import find_rollups

D0 = datetime(2024, 3, 1, tzinfo=UTC)
END = D0 + timedelta(days=4)
NOW = END  # optimize(older_than=1 day) at NOW puts the horizon at D0 + 3 days
HORIZON = D0 + timedelta(days=3)
SAMPLES = 4 * 288
REPO = Path(__file__).resolve().parents[1]


def points(ids: list[str]) -> pd.DataFrame:
    k = np.arange(SAMPLES)
    times = pd.to_datetime(D0) + pd.to_timedelta(k * 300, unit="s")
    in_day = k % 288
    parts = []
    for equipment_id in ids:
        parts.append(pd.DataFrame({"time": times, "equipment_id": equipment_id, "metric_type": "availability",
                                   "value": np.where(in_day // 12 == 10, 0.0, 1.0)}))
        parts.append(pd.DataFrame({"time": times, "equipment_id": equipment_id, "metric_type": "cpu_usage",
                                   "value": in_day / 10}))
    return pd.concat(parts, ignore_index=True)


def store_with(tmp_path: Path, name: str, ids: list[str]):
    store = open_store(f"duckdb:///{tmp_path / f'{name}.duckdb'}")
    if ids:
        store.write_frame(points(ids))
    return store


def assert_whole(store, ids: list[str]) -> None:
    """Every analytics figure of each equipment over the four days is the hand-worked one."""
    service = EquipmentAnalyticsService(store)
    availability = service.fleet_availability(D0, END).set_index("equipment_id")
    stats = service.reader.aggregate(Selection(D0, END, metric_types=("availability", "cpu_usage")),
                                     functions=("count", "mean", "min", "max")).set_index(
        ["equipment_id", "metric_type"])
    for equipment_id in ids:
        row = availability.loc[equipment_id]
        assert (row["uptime_s"], row["downtime_s"], row["coverage_pct"]) == pytest.approx((331_200, 14_400, 100)), \
            equipment_id
        cpu = stats.loc[(equipment_id, "cpu_usage")]
        assert cpu["count"] == SAMPLES and stats.loc[(equipment_id, "availability"), "count"] == SAMPLES
        assert (cpu["min"], cpu["max"], cpu["mean"]) == pytest.approx((0.0, 28.7, 14.35))


def raw_before(store, end: datetime) -> int:
    """Raw (rolled-up kinds of) points before ``end``: both metrics here are rolled up."""
    return len(store.query(Selection(D0 - timedelta(days=1), end)))


@pytest.fixture
def optimized_archive(tmp_path):
    """An archive of E1 and E2, optimized (1 h rollups) up to D0 + 3 days."""
    source = store_with(tmp_path, "source", ["E1", "E2"])
    optimize(source, timedelta(days=1), now=NOW)
    backup(source, tmp_path / "optimized.tar")
    source.close()
    return tmp_path / "optimized.tar"


def test_an_optimized_archive_into_a_raw_store_is_refused_then_rolled_up(tmp_path, optimized_archive):
    store = store_with(tmp_path, "target", ["E3"])
    with pytest.raises(ValidationError, match=r"Nothing was restored: 1,728 raw points of the store .*--roll-up"):
        restore(store, optimized_archive)
    assert store.rollup_names() == [] and raw_before(store, END) == 2 * SAMPLES
    assert_whole(store, ["E3"])  # untouched: still raw, still visible

    url = f"duckdb:///{tmp_path / 'target.duckdb'}"
    refused = CliRunner().invoke(main, ["--store", url, "restore", str(optimized_archive), "-q"])
    assert refused.exit_code == 3 and "--roll-up" in refused.output
    done = CliRunner().invoke(main, ["--store", url, "restore", str(optimized_archive), "-q", "--roll-up"])
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert "Rollups: equipment_metrics_1h, horizon 2024-03-04 00:00 UTC" in text
    # E3's three days before the horizon: 3 days x 288 samples x 2 metrics, added to the rollups.
    assert "1,728 raw points lay before the horizon: 1,728 added to equipment_metrics_1h, 0 already there; 1,728 " \
           "removed as raw." in text
    assert find_rollups(store).horizon == HORIZON and raw_before(store, HORIZON) == 0
    assert_whole(store, ["E1", "E2", "E3"])


def test_a_backup_of_a_period_before_the_horizon_carries_the_horizon(tmp_path):
    source = store_with(tmp_path, "source", ["E1"])
    optimize(source, timedelta(days=1), now=NOW)
    made = backup(source, tmp_path / "first-day", Selection(D0, D0 + timedelta(days=1)))
    fresh = open_store(f"duckdb:///{tmp_path / 'fresh.duckdb'}")
    restore(fresh, made.path)
    assert find_rollups(fresh).horizon == HORIZON  # without it the restored rollups would not be read
    day = EquipmentAnalyticsService(fresh).reader.aggregate(Selection(D0, D0 + timedelta(days=1)),
                                                            functions=("count",))
    assert day["count"].tolist() == [288, 288]


def test_a_raw_archive_into_an_optimized_store_is_refused_then_rolled_up(tmp_path):
    source = store_with(tmp_path, "source", ["E1", "E2"])
    backup(source, tmp_path / "raw")
    store = store_with(tmp_path, "target", ["E3"])
    optimize(store, timedelta(days=1), now=NOW)
    with pytest.raises(ValidationError, match="3,456 raw points of the archive would lie before the rollup horizon "
                                              "2024-03-04 00:00 UTC"):
        restore(store, tmp_path / "raw")
    assert raw_before(store, END) == 2 * 288  # E3's last day only: nothing was written
    result = restore(store, tmp_path / "raw", roll_up=True)
    assert result.points == 2 * 2 * SAMPLES and result.settled.added == 3456 and result.settled.already_held == 0
    assert find_rollups(store).horizon == HORIZON
    assert_whole(store, ["E1", "E2", "E3"])


def test_restoring_the_raw_backup_of_a_store_into_it_after_optimize_counts_nothing_twice(tmp_path):
    store = store_with(tmp_path, "target", ["E1", "E2"])
    backup(store, tmp_path / "before.tar")
    optimize(store, timedelta(days=1), now=NOW)
    result = restore(store, tmp_path / "before.tar", roll_up=True)
    # Every restored raw point before the horizon is one the rollups already count.
    assert (result.settled.already_held, result.settled.added, result.settled.deleted) == (3456, 0, 3456)
    assert_whole(store, ["E1", "E2"])


@pytest.mark.parametrize(("archive_every", "store_every"), [(timedelta(minutes=15), timedelta(hours=1)),
                                                            (timedelta(hours=1), timedelta(minutes=15))])
def test_rollups_of_different_windows_are_regrouped_into_the_coarser(tmp_path, archive_every, store_every):
    source = store_with(tmp_path, "source", ["E1", "E2"])
    optimize(source, timedelta(days=1), archive_every, now=NOW)
    backup(source, tmp_path / "archive")
    store = store_with(tmp_path, "target", ["E3"])
    optimize(store, timedelta(days=2), store_every, now=NOW)  # its horizon: D0 + 2 days
    with pytest.raises(ValidationError, match="regrouped into the windows of equipment_metrics_1h"):
        restore(store, tmp_path / "archive")
    assert_whole(store, ["E3"])
    result = restore(store, tmp_path / "archive", roll_up=True)
    info = find_rollups(store)
    assert (info.measurement, info.horizon) == ("equipment_metrics_1h", HORIZON)
    assert result.plan.store_regroup + result.plan.archive_regroup == ["equipment_metrics_15m"]
    # E3's day between its own horizon and the archive's went into the rollups.
    assert result.settled.added == 2 * 288 and raw_before(store, HORIZON) == 0
    assert store.open_rollup("equipment_metrics_15m").equipment_ids() == []
    assert_whole(store, ["E1", "E2", "E3"])


# -- an optimize run killed after the horizon moved ---------------------------------------------

KILL_AT_SECOND_DELETE = """
import os, signal, sys
from datetime import datetime, timedelta
from vigileos_analytics.lifecycle.optimize import optimize
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.embedded import EmbeddedStore

real, calls = EmbeddedStore.delete, []
def delete(self, selection):
    calls.append(selection)
    if len(calls) == 2:  # the first batch's raw points are gone, the others not yet
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, selection)
EmbeddedStore.delete = delete
optimize(open_store(sys.argv[1]), timedelta(days=1), now=datetime.fromisoformat(sys.argv[2]), batch_equipment=1)
"""


def test_optimize_killed_after_the_horizon_moved_is_finished_by_the_next_run(tmp_path):
    store_with(tmp_path, "killed", ["E1", "E2", "E3"]).close()
    url = f"duckdb:///{tmp_path / 'killed.duckdb'}"
    run = subprocess.run([sys.executable, "-c", KILL_AT_SECOND_DELETE, url, NOW.isoformat()], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == -9, run.stderr
    store = open_store(url)
    assert find_rollups(store).horizon == HORIZON
    assert raw_before(store, HORIZON) == 2 * 2 * 3 * 288  # E2 and E3 left behind the horizon
    again = optimize(store, timedelta(days=1), now=NOW)
    assert (again.resumed, again.late_points, again.deleted) == (3456, 0, 3456)
    assert raw_before(store, HORIZON) == 0
    assert_whole(store, ["E1", "E2", "E3"])


def test_a_sample_written_late_into_rolled_up_time_counts_for_its_staleness(tmp_path):
    store = store_with(tmp_path, "late", ["E1"])
    optimize(store, timedelta(days=2), now=NOW)
    late = D0 + timedelta(hours=14, minutes=2, seconds=30)  # down, where the rolled-up samples say up
    store.write_frame(pd.DataFrame({"time": [late], "equipment_id": ["E1"], "metric_type": ["availability"],
                                    "value": [0.0]}))
    again = optimize(store, timedelta(days=1), now=NOW)
    assert (again.late_points, again.resumed) == (1, 0)
    # Its neighbours are rolled up, so it holds for the staleness (10 min) and then the
    # rollups' state goes on: 600 s moved from up to down, nothing unknown.
    row = EquipmentAnalyticsService(store).fleet_availability(D0, END).set_index("equipment_id").loc["E1"]
    assert (row["uptime_s"], row["downtime_s"], row["coverage_pct"], row["outages"]) == pytest.approx(
        (331_200 - 600, 14_400 + 600, 100, 5))


# -- backups killed outright ---------------------------------------------------------------------

KILL_AFTER_FIRST_PART = """
import importlib, os, signal, sys
from vigileos_analytics.stores import open_store

module = importlib.import_module("vigileos_analytics.lifecycle.backup")

real = module._write_part
def write_part(*args, **kwargs):
    real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
module._write_part = write_part
module.backup(open_store(sys.argv[1]), sys.argv[2])
"""


def test_the_next_backup_removes_what_killed_backups_left(tmp_path):
    store_with(tmp_path, "store", ["E1"]).close()
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    archives = tmp_path / "archives"
    archives.mkdir()
    left = []
    for name in ("killed", "killed.tar"):
        run = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_PART, url, str(archives / name)], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == -9, run.stderr
        # One work folder left: the second backup removed the first's when it started.
        (only,) = archives.iterdir()
        assert only.name.startswith(f".{name}.partial-") and only.is_dir()
        left.append(only.name)
    running = archives / ".busy.partial-0000"  # a backup still running in this process: kept
    running.mkdir()
    write_owner(running)
    result = backup(open_store(url), archives / "next")
    assert [p.name for p in result.removed_partials] == left[-1:]
    assert sorted(p.name for p in archives.iterdir()) == [".busy.partial-0000", "next"]
    assert not (archives / "next" / ".owner.json").exists()
    assert os.getpid() == json.loads((running / ".owner.json").read_text())["pid"]
