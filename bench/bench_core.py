"""Core benchmark: simulation and ingest throughput, and the fleet computation
beside a bare DuckDB scan of the same rows.

    .venv/bin/python bench/bench_core.py [--equipment 1000] [--days 30] [--keep PATH]

Prints points/s and ratios measured in the same run on this machine. Not part of
the pass/fail test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from vigileos_analytics import EquipmentAnalyticsService, FleetSpec, open_store, simulate_fleet
from vigileos_analytics.schema import AVAILABILITY, CPU_USAGE, MEMORY_USAGE, PERFORMANCE_METRICS, RESPONSE_TIME


def best_of(repeats: int, fn):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, default=1000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="keep the store at this path")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="vigileos-bench-"))
    path = args.keep or folder / "bench.duckdb"
    store = open_store(f"duckdb:///{path.resolve()}")
    spec = FleetSpec(equipment=args.equipment, days=args.days, metrics=(CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME),
                     gaps_per_month=0.5)
    print(f"machine: {os.cpu_count()} cores; fleet: {args.equipment} equipment x {args.days:g} days, "
          "availability at 1 min, cpu / memory / response time at 5 min")

    fleet = simulate_fleet(spec)
    generate_s = ingest_s = 0.0
    points = 0
    frames = fleet.frames(chunk_equipment=25)
    while True:
        started = time.perf_counter()
        frame = next(frames, None)
        generate_s += time.perf_counter() - started
        if frame is None:
            break
        started = time.perf_counter()
        store.write_frame(frame)
        ingest_s += time.perf_counter() - started
        points += len(frame)
    print(f"simulation: {points:,} points in {generate_s:.1f} s = {points / generate_s / 1e6:.2f} M points/s "
          "(goal >= 1 M/s)")
    print(f"embedded ingest: {points:,} points in {ingest_s:.1f} s = {points / ingest_s / 1e6:.2f} M points/s "
          "(goal >= 1 M/s)")

    start, end = spec.start_ns, spec.end_ns
    import pandas as pd

    start_dt, end_dt = pd.Timestamp(start, tz="UTC").to_pydatetime(), pd.Timestamp(end, tz="UTC").to_pydatetime()
    service = EquipmentAnalyticsService(store, inventory=fleet.inventory)

    def fleet_computation():
        availability = service.fleet_availability(start_dt, end_dt)
        performance = service.get_performance_stats(start_dt, end_dt)
        return availability, performance

    con = duckdb.connect(str(path), read_only=True)
    series = con.execute("SELECT list(series_id) FROM series WHERE metric_type IN (SELECT unnest($1))",
                         [[AVAILABILITY, *PERFORMANCE_METRICS]]).fetchone()[0]

    def bare_scan():
        # Read every value of the same rows and count them: the floor for any exact answer.
        return con.execute("SELECT count(*), sum(value) FROM points WHERE series_id IN (SELECT unnest($1)) "
                           "AND time >= $2 AND time < $3", [series, start, end]).fetchone()

    scan_best, scan_median, (rows, _) = best_of(args.repeats, bare_scan)
    con.close()
    fleet_best, fleet_median, (availability, performance) = best_of(args.repeats, fleet_computation)
    avail_best, _, _ = best_of(args.repeats, lambda: service.fleet_availability(start_dt, end_dt))
    perf_best, _, _ = best_of(args.repeats, lambda: service.get_performance_stats(start_dt, end_dt))
    print(f"bare DuckDB scan+count of the same {rows:,} rows: best {scan_best:.3f} s, median {scan_median:.3f} s")
    print(f"fleet availability ({len(availability)} equipment) + performance stats ({len(performance)} rows): "
          f"best {fleet_best:.3f} s, median {fleet_median:.3f} s "
          f"(availability {avail_best:.3f} s, performance {perf_best:.3f} s)")
    print(f"ratio fleet / bare scan: {fleet_best / scan_best:.2f}x (goal <= 3x)")
    print(f"average availability: {availability['availability_pct'].mean():.3f} %, "
          f"samples seen: {availability['samples'].sum():,}")


if __name__ == "__main__":
    main()
