"""Live mode: the simulator writes points at wall-clock pace until told to stop."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import follow
from vigileos_analytics.stores.base import Selection


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


def test_follow_waits_out_a_busy_store_and_loses_no_point(store_path, caplog):
    """Another process holding the store's lock (the real flock, taken here) makes writes
    fail with StoreBusyError; follow tries again at the next tick, as collect does."""
    from vigileos_analytics.stores.embedded import EmbeddedStore
    from vigileos_analytics.stores.locking import StoreLock

    store = EmbeddedStore(store_path, lock_timeout=timedelta(seconds=0.2))
    reader = EmbeddedStore(store_path)  # the test's own reads wait for the writer as long as needed
    reader.health()  # the file exists before the lock is taken
    spec = FleetSpec(equipment=1, days=1, resolution=timedelta(seconds=1), metrics_resolution=timedelta(seconds=1),
                     seed=5)
    stop = threading.Event()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["written"] = follow(store, spec, stop=stop)
        except Exception as exc:  # the failure this test is about: recorded, then asserted on
            outcome["error"] = exc

    started = datetime.now(UTC)
    with StoreLock(store_path, timeout_s=10).exclusive():
        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(2.5)  # at least two ticks fail while the lock is held
        assert worker.is_alive()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and reader.health().details["points"] == 0:
        time.sleep(0.5)
    stop.set()
    worker.join(timeout=30)
    assert "error" not in outcome, outcome
    assert outcome["written"] == reader.health().details["points"] > 0
    # the points due while the store was busy were written once it was free
    assert reader.latest()["time"].min() >= started - timedelta(seconds=2)
    stored = reader.query(Selection(started - timedelta(seconds=5), datetime.now(UTC) + timedelta(seconds=5)))
    first = stored["time"].min()
    assert first <= started + timedelta(seconds=1.5), (first, started)
    assert any("trying again at the next tick" in r.getMessage() for r in caplog.records)
