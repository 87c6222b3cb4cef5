"""Evaluate the failure models on a simulated fleet with known injected failures.

Simulates ``--equipment`` x ``--days`` into a temporary DuckDB store, builds the
features and labels from the store, and compares the models on held-out equipment
after a split time (see vigileos_analytics.predictive.evaluate), over several
random equipment splits. Also checks the labels against the simulator's truth.

    .venv/bin/python bench/eval_predictive.py --equipment 60 --days 60
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.predictive import build_dataset, evaluate_models, split_by_time_and_equipment
from vigileos_analytics.schema import CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME, TEMPERATURE
from vigileos_analytics.stores import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, default=60)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--horizon-hours", type=float, default=24)
    parser.add_argument("--splits", type=int, default=3, help="random equipment splits to average over")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    end = datetime(2024, 3, 1, tzinfo=UTC)
    spec = FleetSpec(equipment=args.equipment, days=args.days, end=end, seed=args.seed,
                     metrics=(CPU_USAGE, MEMORY_USAGE, RESPONSE_TIME, TEMPERATURE))
    horizon = timedelta(hours=args.horizon_hours)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        store = open_store(f"duckdb:///{Path(folder) / 'metrics.duckdb'}")
        outcome = simulate_into_store(store, spec, progress=False)
        simulated = time.perf_counter() - started
        started = time.perf_counter()
        dataset = build_dataset(store, end - timedelta(days=args.days), end, horizon)
        built = time.perf_counter() - started
    truth = outcome.fleet.failures
    print(f"fleet: {args.equipment} equipment x {args.days:g} days, {outcome.points:,} points "
          f"(simulated in {simulated:.1f} s); {len(truth)} injected failures, {int(truth['degraded'].sum())} "
          f"with degradation; dataset {len(dataset):,} snapshots x {dataset.shape[1]} columns, "
          f"{int(dataset['label'].sum()):,} positive, built in {built:.1f} s; horizon {horizon}")
    seen = dataset.loc[dataset["label"] == 1, ["equipment_id", "failure_time"]].drop_duplicates()
    stamps = pd.to_datetime(truth["failure_time"], utc=True).dt.ceil("min")  # the store records the next minute
    print(f"labelled failures found in the truth (same equipment, same minute): "
          f"{seen.assign(t=seen['failure_time']).merge(truth.assign(t=stamps), on=['equipment_id', 't']).shape[0]}"
          f" of {len(seen)}")
    tables, ruls = [], []
    for split_seed in range(args.splits):
        started = time.perf_counter()
        split = split_by_time_and_equipment(dataset, horizon, random_state=split_seed)
        result = evaluate_models(dataset, horizon, split=split, random_state=split_seed)
        tables.append(result.table.assign(split=split_seed))
        ruls.append(result.rul.assign(split=split_seed))
        print(f"split {split_seed}: {result.table.attrs['train_rows']} train rows, {result.table.attrs['test_rows']} "
              f"test rows (positive rate {result.table.attrs['positive_rate']:.3f}), split at "
              f"{result.table.attrs['split_time']}, {time.perf_counter() - started:.1f} s")
    table = pd.concat(tables).groupby("model", sort=False).mean(numeric_only=True).drop(columns="split")
    print("\nfailure within the horizon, mean over splits (held-out equipment, after the split time):")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print("\nremaining useful life (hours, capped at 3 days), model beside the constant baseline, mean over splits:")
    print(pd.concat(ruls).groupby("model", sort=False).mean(numeric_only=True).drop(columns="split")
          .to_string(float_format=lambda v: f"{v:.1f}"))


if __name__ == "__main__":
    main()
