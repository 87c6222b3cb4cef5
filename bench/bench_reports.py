"""Wall time of the monthly availability report (kernel start included) beside the
bare analytics calls it makes, for 25 and 100 equipment × 30 days at 1 minute.

    .venv/bin/python bench/bench_reports.py [--sizes 25 100] [--formats html pdf xlsx]

Goal: report overhead (kernel, notebook, HTML / PDF / Excel) under 10 s beyond the
analytics; 100 equipment under 30 s on a 2-core machine. Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.reports import run_report, tables
from vigileos_analytics.reports.context import open_report
from vigileos_analytics.stores import open_store

END = datetime(2024, 2, 1, tzinfo=UTC)


def bare_analytics(params: dict) -> float:
    """The calls the monthly notebook makes, in this process, without display."""
    started = time.perf_counter()
    ctx = open_report("monthly_availability", **params)
    tables.fleet_kpis(ctx)
    tables.availability_table(ctx)
    tables.daily_availability(ctx)
    tables.daily_table(ctx)
    tables.worst_incidents(ctx)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100])
    parser.add_argument("--formats", nargs="+", default=["html", "pdf", "xlsx"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / f"fleet{n}"
            store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
            simulate_into_store(store, FleetSpec(equipment=n, days=30, end=END, seed=1), folder / "inventory.csv",
                                progress=False)
            params = {"store_url": f"duckdb:///{folder / 'metrics.duckdb'}", "inventory": str(folder / "inventory.csv"),
                      "month": "2024-01"}
            bare = min(bare_analytics(params) for _ in range(2))
            started = time.perf_counter()
            run_report("monthly_availability", params | {"formats": args.formats}, Path(tmp) / "reports",
                       progress=False)
            total = time.perf_counter() - started
            rows.append((n, bare, total, total - bare))
    print(f"{'equipment':>9} {'analytics s':>12} {'report s':>9} {'overhead s':>11}  formats: {' '.join(args.formats)}")
    for n, bare, total, overhead in rows:
        print(f"{n:>9} {bare:>12.2f} {total:>9.2f} {overhead:>11.2f}")


if __name__ == "__main__":
    main()
