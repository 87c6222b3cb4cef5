"""Downsampling benchmark: `optimize` on 1,000 equipment x 30 days, and a 12-month
availability report read from rollups beside the same report from raw points.

    .venv/bin/python bench/bench_optimize.py [--equipment 1000] [--days 30]
        [--report-equipment 25] [--report-days 365] [--influx-equipment 10] [--influx-days 90]

1. embedded: ingest the fleet (the reference: how long writing these points takes
   here, now), then roll everything up; prints both and their ratio;
2. embedded: the same fleet of ``--report-equipment`` over ``--report-days`` twice,
   raw and rolled up (all but the last 7 days); the report (daily availability with
   maintenance excluded, plus performance statistics) on each, best of 3; checks the
   availability figures are identical and prints the ratio;
3. the same two on a real influxd (Debian's 1.6.7, started here), smaller, when it
   is installed.

Numbers depend on other load: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.influx_server import InfluxServer, find_influxd  # noqa: E402
from vigileos_analytics import EquipmentAnalyticsService, FleetSpec, open_store, simulate_fleet  # noqa: E402
from vigileos_analytics.lifecycle.optimize import optimize  # noqa: E402
from vigileos_analytics.schema import CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME  # noqa: E402

END = datetime(2024, 2, 1, tzinfo=UTC)
COLUMNS = ["availability_pct", "uptime_s", "downtime_s", "unknown_s", "maintenance_s", "outages", "samples"]


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def spec(equipment: int, days: float) -> FleetSpec:
    # A fixed end: the raw and the rolled-up copies of a fleet must be the same points.
    return FleetSpec(equipment=equipment, days=days, metrics=(CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME), seed=11,
                     end=END)


def ingest(store, fleet_spec: FleetSpec) -> tuple[int, float, object]:
    fleet = simulate_fleet(fleet_spec)
    points, seconds = 0, 0.0
    for frame in fleet.frames(chunk_equipment=25):
        started = time.perf_counter()
        store.write_frame(frame)
        seconds += time.perf_counter() - started
        points += len(frame)
    return points, seconds, fleet


def roll_all(store, fleet_spec: FleetSpec, keep_raw: timedelta) -> tuple[object, float]:
    end = pd.Timestamp(fleet_spec.end_ns, tz="UTC").to_pydatetime()
    started = time.perf_counter()
    result = optimize(store, keep_raw, now=end)
    return result, time.perf_counter() - started


def report(service: EquipmentAnalyticsService, fleet_spec: FleetSpec):
    start = pd.Timestamp(fleet_spec.start_ns, tz="UTC").to_pydatetime()
    end = pd.Timestamp(fleet_spec.end_ns, tz="UTC").to_pydatetime()
    daily = service.fleet_availability(start, end, freq="1D", exclude_maintenance=True)
    stats = service.get_performance_stats(start, end)
    return daily, stats


def best_of(repeats: int, fn):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), result


def downsample(label: str, store, fleet_spec: FleetSpec) -> None:
    points, ingest_s, _ = ingest(store, fleet_spec)
    result, optimize_s = roll_all(store, fleet_spec, timedelta(hours=1))
    print(f"[{label}] {fleet_spec.equipment} equipment x {fleet_spec.days:g} d: ingest {points:,} points in "
          f"{ingest_s:.1f} s ({points / ingest_s / 1e6:.2f} M/s); "
          f"optimize rolled {result.raw_points:,} raw points into "
          f"{result.rollup_points:,} rollup points and removed {result.deleted:,} in {optimize_s:.1f} s "
          f"({result.raw_points / optimize_s / 1e6:.2f} M/s); optimize / ingest = {optimize_s / ingest_s:.2f}x  "
          f"[{load()}]")


def report_from_rollups(label: str, raw, rolled, fleet_spec: FleetSpec) -> None:
    points, _, fleet = ingest(raw, fleet_spec)
    if rolled is None:  # embedded: a copy of the raw file
        rolled = open_store(f"duckdb:///{raw.path.with_name('rolled.duckdb')}")
        shutil.copyfile(raw.path, rolled.path)
    else:
        ingest(rolled, fleet_spec)
    result, optimize_s = roll_all(rolled, fleet_spec, timedelta(days=7))
    raw_service = EquipmentAnalyticsService(raw, inventory=fleet.inventory)
    rolled_service = EquipmentAnalyticsService(rolled, inventory=fleet.inventory)
    raw_best, raw_median, (raw_daily, raw_stats) = best_of(3, lambda: report(raw_service, fleet_spec))
    rolled_best, rolled_median, (rolled_daily, rolled_stats) = best_of(3, lambda: report(rolled_service, fleet_spec))
    same = raw_daily[COLUMNS].round(6).equals(rolled_daily[COLUMNS].round(6))
    p95_error = ((rolled_stats.set_index(["equipment_id", "metric_type"])["p95"]
                  / raw_stats.set_index(["equipment_id", "metric_type"])["p95"]) - 1).abs().max()
    print(f"[{label}] {fleet_spec.days:g}-day report, {fleet_spec.equipment} equipment ({points:,} raw points; "
          f"{result.raw_points:,} rolled into {result.rollup_points:,} in {optimize_s:.1f} s): raw best "
          f"{raw_best:.2f} s (median {raw_median:.2f}), rollups best {rolled_best:.2f} s (median {rolled_median:.2f}); "
          f"rollups / raw = {rolled_best / raw_best:.2f}x; daily availability identical: {same}; "
          f"largest p95 estimate error {p95_error:.1%}  [{load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, default=1000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--report-equipment", type=int, default=25)
    parser.add_argument("--report-days", type=float, default=365)
    parser.add_argument("--influx-equipment", type=int, default=10)
    parser.add_argument("--influx-days", type=float, default=90)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; availability at 1 min, cpu / memory / response time at 5 min")

    folder = Path(tempfile.mkdtemp(prefix="vigileos-bench-optimize-"))
    try:
        downsample("embedded", open_store(f"duckdb:///{folder / 'fleet.duckdb'}"), spec(args.equipment, args.days))
        for path in folder.glob("fleet*"):
            path.unlink()
        report_from_rollups("embedded", open_store(f"duckdb:///{folder / 'raw.duckdb'}"), None,
                            spec(args.report_equipment, args.report_days))
        if find_influxd() is None:
            print("[influxd] skipped: influxd is not installed (apt-get install -y influxdb)")
            return
        with InfluxServer(folder / "influxd") as server:
            url = f"influxdb1+{server.url}/{{}}?create_database=true&spool=off"
            downsample("influxd", open_store(url.format("fleet")), spec(args.influx_equipment, args.influx_days))
            report_from_rollups("influxd", open_store(url.format("raw")), open_store(url.format("rolled")),
                                spec(args.influx_equipment, args.influx_days))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
