"""SLA status benchmark: SLAs with service calendars, a maintenance schedule and
annotations over a fleet, beside plain ``fleet_availability`` on the same data.

    .venv/bin/python bench/bench_sla.py [--equipment 1000] [--days 90] [--sample 30m]

Writes a synthetic fleet into a fresh embedded store: availability samples every
``--sample`` (staleness twice that), an outage of 5 min to 6 h every few days per
equipment, a maintenance status now and then, and one annotation per 10 equipment.
Then times, best of 3, in this run:

1. the reference: ``fleet_availability`` over the same 90 days (maintenance excluded);
2. ``sla_status`` for three SLAs: business hours in Europe/Paris with holidays and a
   2 min minimum outage over the fleet, around the clock with a weekly maintenance
   window over one site, and around the clock over the fleet.

Prints each beside the reference with their ratio (goal: SLA status within 2x), one
SLA alone and the three together; other load shifts both, so the load average is
printed beside them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vigileos_analytics.analytics.service import EquipmentAnalyticsService  # noqa: E402
from vigileos_analytics.analytics.sla_annotations import annotate  # noqa: E402
from vigileos_analytics.analytics.sla_definitions import parse_slas  # noqa: E402
from vigileos_analytics.analytics.sla_status import sla_status  # noqa: E402
from vigileos_analytics.schema import AVAILABILITY, STATUS_CHANGE  # noqa: E402
from vigileos_analytics.stores import open_store  # noqa: E402
from vigileos_analytics.timeparse import parse_duration  # noqa: E402

SLAS = {
    "calendars": {
        "business": {"timezone": "Europe/Paris", "hours": {"mon-fri": "08:00-18:00"},
                     "holidays": ["2026-11-01", "2026-11-11", "2026-12-25"]},
        "always": {"timezone": "Europe/Paris", "hours": {"daily": "00:00-24:00"}},
    },
    "maintenance": {"sunday": {"every": "sunday", "hours": "02:00-04:00", "timezone": "Europe/Paris"}},
    "slas": [
        {"name": "business", "scope": "fleet", "target": 99.5, "calendar": "business", "minimum_outage": "2m"},
        {"name": "site", "scope": {"site": "S0"}, "target": 99.0, "calendar": "always", "maintenance": ["sunday"]},
        {"name": "fleet", "scope": "fleet", "target": 98.0, "calendar": "always"},
    ],
}


def best(runs: int, func) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def fleet_frame(n: int, start: datetime, end: datetime, sample: timedelta, seed: int = 7) -> pd.DataFrame:
    """Availability samples and status changes for ``n`` equipment, vectorized."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, end, freq=sample, inclusive="left").as_unit("ns").asi8
    ids = np.array([f"EQ-{i:04d}" for i in range(n)], dtype=object)
    value = np.ones((n, len(times)))
    # An outage of 5 min to 6 h every few days per equipment.
    per_eq = max(1, int((end - start) / timedelta(days=3)))
    rows = np.repeat(np.arange(n), per_eq)
    first = rng.integers(0, len(times), len(rows))
    length = np.maximum(1, (rng.uniform(300, 21600, len(rows)) / sample.total_seconds()).astype(int))
    for offset in range(int(length.max())):
        hit = offset < length
        value[rows[hit], np.minimum(first[hit] + offset, len(times) - 1)] = 0
    samples = pd.DataFrame({"time": pd.to_datetime(np.tile(times, n), utc=True),
                            "equipment_id": np.repeat(ids, len(times)), "metric_type": AVAILABILITY,
                            "value": value.ravel()})
    # A maintenance status of 2 h once a fortnight for a tenth of the fleet.
    chosen = ids[:: 10]
    starts = pd.to_datetime(rng.integers(times[0], times[-1], len(chosen)), utc=True)
    status = pd.concat([
        pd.DataFrame({"time": starts, "equipment_id": chosen, "metric_type": STATUS_CHANGE, "value": 1.0,
                      "previous_status": "operational", "new_status": "maintenance"}),
        pd.DataFrame({"time": starts + pd.Timedelta(hours=2), "equipment_id": chosen, "metric_type": STATUS_CHANGE,
                      "value": 1.0, "previous_status": "maintenance", "new_status": "operational"}),
    ], ignore_index=True)
    return pd.concat([samples, status], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--sample", default="30m")
    args = parser.parse_args()
    sample = parse_duration(args.sample, "sample")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    start = now - timedelta(days=args.days)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"duckdb:///{Path(folder) / 'bench.duckdb'}")
        t0 = time.perf_counter()
        frame = fleet_frame(args.equipment, start - timedelta(days=4), now, sample)
        store.write_frame(frame)
        inventory = pd.DataFrame({"equipment_id": [f"EQ-{i:04d}" for i in range(args.equipment)],
                                  "name": "", "type": "server",
                                  "location": [f"S{i % 4}" for i in range(args.equipment)]})
        service = EquipmentAnalyticsService(store, inventory=inventory, staleness=2 * sample, clock=lambda: now)
        for i in range(0, args.equipment, 10):
            at = start + timedelta(days=(i * 7) % args.days, hours=9)
            annotate(store, f"EQ-{i:04d}", at, at + timedelta(hours=1), "planned", "bench change")
        print(f"wrote {len(frame):,} points ({args.equipment} equipment x {args.days} days, a sample every "
              f"{args.sample}) in {time.perf_counter() - t0:.1f} s")
        definitions = parse_slas(SLAS)

        def reference() -> None:
            service.fleet_availability(start, now, exclude_maintenance=True)

        def slas() -> None:
            sla_status(service, definitions, period=f"{args.days}d", now=now)

        def one_sla() -> None:
            sla_status(service, definitions[:1], period=f"{args.days}d", now=now)

        reference()
        plain = best(3, reference)
        with_one = best(3, one_sla)
        with_slas = best(3, slas)
        results = sla_status(service, definitions, period=f"{args.days}d", now=now)
        load = os.getloadavg()[0]
        print(f"fleet_availability (reference):     {plain:7.2f} s")
        print(f"sla_status, 1 SLA (business hours): {with_one:7.2f} s   ratio {with_one / plain:.2f}x (goal <= 2x)")
        print(f"sla_status, {len(definitions)} SLAs:                {with_slas:7.2f} s   "
              f"ratio {with_slas / plain:.2f}x (goal <= 2x)   load {load:.1f}")
        for r in results:
            f = r.figures
            achieved = "–" if f.achieved_pct is None else f"{f.achieved_pct:.3f} %"
            print(f"  {r.definition.name:<9} {len(r.equipment_ids):>5} eq  achieved {achieved}  "
                  f"budget left {f.budget_remaining_s / 3600:8.1f} h  annotations {f.annotations}")


if __name__ == "__main__":
    main()
