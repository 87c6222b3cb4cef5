"""Where a report's seconds go, and what a batch saves, measured in one run.

    .venv/bin/python bench/bench_reports.py [--sizes 25 100] [--batch 25] [--workers 2]

1. The monthly availability report for 25 and 100 equipment × 30 days at 1 minute,
   beside the bare analytics calls it makes (in this process, best of 2): the report's
   total, its overhead beyond the analytics, and the split into kernel start, cells
   (imports, analytics and display inside the kernel, notebook written), HTML
   (nbconvert), PDF (Chromium) and Excel (openpyxl). PDF and Excel run at the same time.
2. A batch of ``--batch`` equipment_detail reports (one per equipment, one Chromium,
   one kernel per worker) against one equipment_detail report measured just before it.

Goals: overhead ≤ 5 s for 100 equipment; the batch of 25 ≤ 3 × one report. The machine
is shared: read the ratios, which compare runs of the same minute. Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.reports import run_batch, run_report, tables
from vigileos_analytics.reports.context import open_report
from vigileos_analytics.reports.runner import STEPS
from vigileos_analytics.stores import open_store

END = datetime(2024, 2, 1, tzinfo=UTC)
FORMATS = ["html", "pdf", "xlsx"]


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


def fleet(folder: Path, equipment: int) -> dict:
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    simulate_into_store(store, FleetSpec(equipment=equipment, days=30, end=END, seed=1), folder / "inventory.csv",
                        progress=False)
    store.close()
    return {"store_url": f"duckdb:///{folder / 'metrics.duckdb'}", "inventory": str(folder / "inventory.csv"),
            "month": "2024-01", "formats": FORMATS}


def split(timings: dict[str, float]) -> str:
    return " ".join(f"{timings.get(step, 0.0):>6.2f}" for step in STEPS)


def monthly(sizes: list[int], tmp: Path) -> dict[int, dict]:
    rows = {}
    for n in sizes:
        params = fleet(tmp / f"fleet{n}", n)
        bare = min(bare_analytics({k: v for k, v in params.items() if k != "formats"}) for _ in range(2))
        started = time.perf_counter()
        out = run_report("monthly_availability", params, tmp / "reports", progress=False)
        total = time.perf_counter() - started
        rows[n] = {"params": params, "bare": bare, "total": total, "timings": out.timings}
    heads = " ".join(f"{step:>6}" for step in STEPS)
    print(f"monthly_availability ({', '.join(FORMATS)})")
    print(f"{'equipment':>9} {'analytics':>9} {'report':>7} {'overhead':>8} {'x anal.':>7} | {heads}   (seconds)")
    for n, row in rows.items():
        overhead = row["total"] - row["bare"]
        print(f"{n:>9} {row['bare']:>9.2f} {row['total']:>7.2f} {overhead:>8.2f} {row['total'] / row['bare']:>7.1f} "
              f"| {split(row['timings'])}")
    return rows


def batch(params: dict, count: int, workers: int, tmp: Path) -> None:
    ids = [f"EQ-{i:04d}" for i in range(1, count + 1)]
    started = time.perf_counter()
    one = run_report("equipment_detail", params | {"equipment": ids[:1]}, tmp / "one", progress=False)
    single = time.perf_counter() - started
    started = time.perf_counter()
    done = run_batch("equipment_detail", params | {"equipment": ids}, "equipment", tmp / "batch", workers=workers,
                     progress=False)
    whole = time.perf_counter() - started
    summed = {step: sum(r.timings.get(step, 0.0) for r in done.reports) for step in STEPS}
    print(f"\nequipment_detail: one report {single:.2f} s | {split(one.timings)}")
    print(f"batch of {len(done.reports)} ({workers} workers) {whole:.2f} s = {whole / single:.2f} x one report "
          f"({whole / len(done.reports):.2f} s a report); summed over its reports | {split(summed)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100])
    parser.add_argument("--batch", type=int, default=25, help="equipment in the batch (0: no batch)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = monthly(args.sizes, Path(tmp))
        if args.batch:
            size = min((n for n in rows if n >= args.batch), default=None)
            params = rows[size]["params"] if size else fleet(Path(tmp) / "batch-fleet", args.batch)
            batch(params, args.batch, args.workers, Path(tmp))


if __name__ == "__main__":
    main()
