"""Alert replay benchmark: a month of hourly checks of the shipped rules over a simulated fleet.

    .venv/bin/python bench/bench_alerts.py [--equipment 100] [--days 30] [--every 1h]

Simulates the fleet into a fresh embedded store, then times, best of 3:

1. the reference: the plain store aggregations the replay needs (one ``aggregate`` per
   rule over the replayed period and its history, in the rule's slots);
2. ``replay_alerts`` with ``dry_run`` (same evaluation, nothing written) over the period;
3. a few single ``check_alerts`` calls, for the cost per instant of a loop of checks.

Prints the times and the replay / aggregation ratio, both measured in this run. Numbers
depend on other load: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vigileos_analytics.analytics.alert_rules import load_rules  # noqa: E402
from vigileos_analytics.analytics.alerts import check_alerts, replay_alerts  # noqa: E402
from vigileos_analytics.ingest.simulate import FleetSpec  # noqa: E402
from vigileos_analytics.ingest.simulation_io import simulate_into_store  # noqa: E402
from vigileos_analytics.stores import open_store  # noqa: E402
from vigileos_analytics.stores.base import Selection  # noqa: E402
from vigileos_analytics.timeparse import parse_duration  # noqa: E402

RULES = Path(__file__).resolve().parents[1] / "parameters" / "alert_rules.yaml"


def best(runs: int, func) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, default=100)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--every", default="1h")
    args = parser.parse_args()
    end = datetime(2024, 3, 1, tzinfo=UTC)
    every = parse_duration(args.every, "every")
    rules = load_rules(RULES)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"duckdb:///{Path(folder) / 'bench.duckdb'}")
        spec = FleetSpec(equipment=args.equipment, days=args.days + 28, end=end, seed=3)
        t0 = time.perf_counter()
        simulate_into_store(store, spec, progress=False)
        print(f"simulated {args.equipment} equipment x {args.days + 28:g} days in {time.perf_counter() - t0:.1f} s")
        start = end - timedelta(days=args.days)

        def aggregations() -> None:
            with store.session():
                for rule in rules:  # the history each rule reads before the first instant, then the period
                    history = 2 * rule.window if rule.kind == "anomaly" else rule.window
                    store.aggregate(Selection(start - history, end, metric_types=(rule.metric,)), every=rule.every,
                                    functions=("count", "mean"))

        reference = best(3, aggregations)
        replay_s = best(3, lambda: replay_alerts(store, rules, start, end, every, dry_run=True))
        result = replay_alerts(store, rules, start, end, every, dry_run=True)
        check_s = best(3, lambda: check_alerts(store, rules, end))
        per_rule = {}
        for rule in rules:
            per_rule[rule.name] = best(1, lambda rule=rule: replay_alerts(store, [rule], start, end, every,
                                                                          dry_run=True))
    print(f"load average {os.getloadavg()[0]:.1f}; {len(rules)} shipped rules; {result.instants} instants "
          f"every {args.every}; {len(result.events)} alert points")
    print(f"store aggregations (reference)   {reference:7.2f} s")
    print(f"replay (dry run)                 {replay_s:7.2f} s   ratio {replay_s / reference:5.1f}x the aggregations")
    print(f"one check                        {check_s:7.2f} s   a loop of checks: ~{check_s * result.instants:.0f} s")
    for name, seconds in per_rule.items():
        print(f"  replay of {name:<24} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
