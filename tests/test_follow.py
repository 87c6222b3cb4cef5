"""Live mode: the simulator writes points at wall-clock pace until told to stop."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import follow


def test_follow_writes_new_points_as_time_passes_and_stops_cleanly(embedded_store):
    spec = FleetSpec(equipment=2, days=1, resolution=timedelta(seconds=1), metrics_resolution=timedelta(seconds=1),
                     seed=5)
    stop = threading.Event()
    result: dict[str, int] = {}
    worker = threading.Thread(target=lambda: result.update(written=follow(embedded_store, spec, stop=stop)))
    started = datetime.now(UTC)
    worker.start()
    counts = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (len(counts) < 2 or counts[-1] <= counts[0]):
        time.sleep(1.0)
        counts.append(embedded_store.health().details["points"])
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert counts[-1] > counts[0] > 0, counts
    assert result["written"] == embedded_store.health().details["points"]
    latest = embedded_store.latest()
    # live points are stamped with the wall clock, not in the future
    assert (latest["time"] <= datetime.now(UTC)).all() and (latest["time"] >= started - timedelta(seconds=2)).all()
    assert set(latest["equipment_id"]) == {"EQ-0001", "EQ-0002"}


def test_simulate_follow_command_stops_on_sigint(tmp_path):
    import signal
    import subprocess
    import sys

    url = f"duckdb:///{tmp_path / 'live.duckdb'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigileos_analytics", "--store", url, "simulate", "-n", "2", "--days", "0.01",
         "--resolution", "1s", "--metrics-resolution", "1s", "--follow", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "live.duckdb").exists():
            time.sleep(0.5)
        time.sleep(4)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Following" in out and "Stopped;" in out
    assert int(out.split("Stopped; ")[1].split()[0].replace(",", "")) > 0
