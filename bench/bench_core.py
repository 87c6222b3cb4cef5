"""Core benchmark: simulation and ingest throughput, and the fleet computations
(summary, availability, performance stats) each beside a bare DuckDB scan of the
same rows, all measured in the same run.

    .venv/bin/python bench/bench_core.py [--equipment 10000] [--days 1] [--keep PATH]

Goals: the simulator at >= 1 M points/s whatever the fleet size; each fleet
computation within 3x the bare scan of its rows; ``vigileos summary`` within 3x a
fresh process that imports duckdb and scans the same rows. Reads are repeated in
rounds (every operation once per round) so that a busy machine weighs on all of
them alike; the best of the rounds is compared. Not part of the pass/fail test suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from vigileos_analytics import EquipmentAnalyticsService, FleetSpec, open_store, simulate_fleet
from vigileos_analytics.schema import (
    AVAILABILITY,
    CPU_USAGE,
    MEMORY_USAGE,
    PERFORMANCE_METRICS,
    RESPONSE_TIME,
    STATUS_CHANGE,
)

GOAL_RATIO = 3.0
GOAL_POINTS_PER_S = 1e6

# Count and sum every value of the selected series in [start, end): the floor for any exact answer.
BARE_SCAN = ("SELECT count(*), sum(p.value) FROM points p JOIN series s ON p.series_id = s.series_id "
             "WHERE s.metric_type IN (SELECT unnest($1)) AND p.time >= $2 AND p.time < $3")


def rounds(repeats: int, operations: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best wall time of each operation over ``repeats`` rounds of all of them."""
    best = dict.fromkeys(operations, float("inf"))
    for _ in range(repeats):
        for name, fn in operations.items():
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def simulate(store, spec: FleetSpec):
    fleet = simulate_fleet(spec)
    generate_s = ingest_s = 0.0
    points = 0
    frames = fleet.frames()
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
    return fleet, points, generate_s, ingest_s


def cli_summary(path: Path, now: str, repeats: int, scan_metrics: list[str], start: int, end: int) -> None:
    """``vigileos summary`` as a user runs it, beside a fresh process doing the bare scan."""
    script = Path(sys.executable).with_name("vigileos")
    vigileos = [str(script)] if script.is_file() else [sys.executable, "-m", "vigileos_analytics"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}
    reference = [sys.executable, "-c",
                 f"import duckdb; con = duckdb.connect({str(path)!r}, read_only=True); "
                 f"print(con.execute({BARE_SCAN!r}, [{scan_metrics!r}, {start}, {end}]).fetchone())"]
    command = [*vigileos, "--store", f"duckdb:///{path}", "summary", "--at", now, "--json"]

    def run(argv: list[str]) -> Callable[[], None]:
        return lambda: subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)

    best = rounds(repeats, {"reference": run(reference), "summary": run(command)})
    print(f"{'vigileos summary':<20} {best['summary']:>7.3f} s | a python process importing duckdb and "
          f"scanning the same rows: {best['reference']:>6.3f} s (ratio {best['summary'] / best['reference']:>5.2f}x); "
          f"goal <= {GOAL_RATIO:g}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, default=10000)
    parser.add_argument("--days", type=float, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="keep the store at this path")
    parser.add_argument("--no-cli", action="store_true", help="skip the `vigileos summary` process timing")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="vigileos-bench-"))
    path = (args.keep or folder / "bench.duckdb").resolve()
    store = open_store(f"duckdb:///{path}")
    spec = FleetSpec(equipment=args.equipment, days=args.days, metrics=(CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME),
                     gaps_per_month=0.5)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; fleet: {args.equipment} equipment x "
          f"{args.days:g} days, availability at 1 min, cpu / memory / response time at 5 min")

    fleet, points, generate_s, ingest_s = simulate(store, spec)
    print(f"simulation: {points:,} points in {generate_s:.1f} s = {points / generate_s / 1e6:.2f} M points/s "
          f"(goal >= {GOAL_POINTS_PER_S / 1e6:g} M/s)")
    print(f"embedded ingest: {points:,} points in {ingest_s:.1f} s = {points / ingest_s / 1e6:.2f} M points/s")

    start, end = spec.start_ns, spec.end_ns
    start_dt, end_dt = (pd.Timestamp(t, tz="UTC").to_pydatetime() for t in (start, end))
    service = EquipmentAnalyticsService(store, inventory=fleet.inventory)
    scan_only: dict[str, float] = {}

    def bare(name: str, metrics: list[str]) -> Callable[[], tuple]:
        # Every service call opens the store, so does the reference; the scan alone is timed too.
        def scan() -> tuple:
            with duckdb.connect(str(path), read_only=True) as con:
                started = time.perf_counter()
                result = con.execute(BARE_SCAN, [metrics, start, end]).fetchone()
                scan_only[name] = min(scan_only.get(name, float("inf")), time.perf_counter() - started)
                return result
        return scan

    # The rows each operation must see: the summary reads status changes, availability
    # samples and performance points; availability reads samples; stats read performance points.
    summary_rows, availability_rows, performance_rows = (
        [STATUS_CHANGE, AVAILABILITY, *PERFORMANCE_METRICS], [AVAILABILITY], list(PERFORMANCE_METRICS))
    cases = {
        "fleet summary": (lambda: service.fleet_summary(now=end_dt, period=end_dt - start_dt), summary_rows),
        "fleet availability": (lambda: service.fleet_availability(start_dt, end_dt), availability_rows),
        "performance stats": (lambda: service.get_performance_stats(start_dt, end_dt), performance_rows),
    }
    operations: dict[str, Callable[[], object]] = {}
    for name, (fn, metrics) in cases.items():
        operations[name] = fn
        operations[f"bare scan: {name}"] = bare(name, metrics)
    best = rounds(args.repeats, operations)
    print(f"best of {args.repeats} rounds, load {os.getloadavg()[0]:.1f}:")
    for name, (_, metrics) in cases.items():
        rows = bare(name, metrics)()[0]
        fresh, scan = best[f"bare scan: {name}"], scan_only[name]
        print(f"{name:<20} {best[name]:>7.3f} s | open + bare scan of the same {rows:>11,} rows {fresh:>6.3f} s: "
              f"ratio {best[name] / fresh:>5.2f}x (goal <= {GOAL_RATIO:g}x); the scan alone {scan:>6.3f} s: "
              f"ratio {best[name] / scan:>5.2f}x")

    availability = service.fleet_availability(start_dt, end_dt)
    print(f"average availability: {availability['availability_pct'].mean():.3f} %, "
          f"samples seen: {availability['samples'].sum():,}")
    if not args.no_cli:
        day_ns = 86_400 * 10**9  # the command summarises the last 24 h
        cli_summary(path, pd.Timestamp(end, tz="UTC").isoformat(), args.repeats, summary_rows, end - day_ns, end)


if __name__ == "__main__":
    main()
