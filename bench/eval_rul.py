"""Cross-validate the run-to-failure RUL model by unit on NASA C-MAPSS FD001 (or any table).

Each fold holds out whole units; each held-out unit is cut at a random cycle (as in the
official test split) and scored on that cycle against its true RUL capped at ``--cap``.
Prints RMSE / MAE per fold and the mean, for the model and the constant baseline, and the time.

    .venv/bin/python bench/eval_rul.py [--table ../shared/benchmarks/cmapss/train_FD001.txt] [--cv 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vigileos_analytics.predictive import RunSpec, cross_validate_rul, read_run_table

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "cmapss" / "train_FD001.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=DEFAULT)
    parser.add_argument("--unit", default="c1")
    parser.add_argument("--time", default="c2")
    parser.add_argument("--cap", type=float, default=125.0)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    frame = read_run_table(args.table, args.unit, args.time, header=args.table.suffix.lower() not in (".txt",))
    table = cross_validate_rul(frame, RunSpec(args.unit, args.time, cap=args.cap), folds=args.cv,
                               random_state=args.seed)
    took = time.perf_counter() - started
    print(f"{args.table.name}: {frame[args.unit].nunique()} units, {len(frame):,} rows; {args.cv}-fold CV by unit, "
          f"RUL capped at {args.cap:g}, seed {args.seed}")
    wide = table.pivot(index="fold", columns="model", values=["rmse", "mae"])
    wide = wide.reindex([*sorted(k for k in wide.index if k != "mean"), "mean"])
    print(wide.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"time: {took:.1f} s")


if __name__ == "__main__":
    main()
