"""One writer process and reader processes on the same store file, at the same time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

from .store_contract import T0

WRITER = textwrap.dedent("""
    import sys, time, numpy as np, pandas as pd
    from vigileos_analytics import open_store
    store = open_store(sys.argv[1])
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    for batch in range(40):
        minutes = np.arange(batch * 500, (batch + 1) * 500)
        store.write_frame(pd.DataFrame({
            "time": t0 + pd.to_timedelta(minutes, unit="min"), "equipment_id": "EQ-1",
            "metric_type": "availability", "value": (minutes % 7 != 0).astype(float)}))
        time.sleep(0.05)  # like a simulator between chunks: readers get their turn
    print("writer done")
""")

READER = textwrap.dedent("""
    import sys, time
    from datetime import timedelta
    import pandas as pd
    from vigileos_analytics import open_store, EquipmentAnalyticsService
    store = open_store(sys.argv[1])
    svc = EquipmentAnalyticsService(store)
    t0 = pd.Timestamp("2024-01-01", tz="UTC").to_pydatetime()
    reads, seen = 0, []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = store.health()
        n = health.details.get("points", 0)
        seen.append(n)
        if n:
            svc.fleet_availability(t0, t0 + timedelta(days=20))
        reads += 1
        if n >= 20000:
            break
    assert seen == sorted(seen), "a reader saw the store go backwards"
    print("reader done", len(set(seen)), seen[-1])
""")


def test_one_writer_and_two_readers_in_separate_processes(store_path):
    url = f"duckdb:///{store_path}"
    open_store(url)  # create the file first, as `vigileos simulate` would
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for code in (WRITER, READER, READER)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    assert "writer done" in outputs[0][0]
    distinct_counts = []
    for out, _ in outputs[1:]:
        assert out.startswith("reader done") and out.split()[-1] == "20000"
        distinct_counts.append(int(out.split()[2]))
    assert max(distinct_counts) > 1, "no reader ever read while the writer was writing"
    final = open_store(url).query(Selection(T0, T0.replace(year=2025)))
    assert len(final) == 20000 and final["time"].is_monotonic_increasing
