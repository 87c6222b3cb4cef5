"""The outage spool: durable, ordered, bounded; and the real outage test, where
influxd is killed in the middle of a 100,000-point stream and restarted."""

from __future__ import annotations

import struct
import threading
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from vigileos_analytics.errors import StoreError, WriteError
from vigileos_analytics.schema import Point
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.stores.influx2 import Influx2Store
from vigileos_analytics.stores.spool import Spool

from .influx_server import InfluxServer, find_influxd, free_port
from .store_contract import T0


def test_records_replay_in_order_and_empty_the_spool(tmp_path):
    spool = Spool(tmp_path / "sp", segment_bytes=100)
    for i in range(10):
        spool.append(f"body {i}\n".encode() * 5, points=5)
    assert spool.state().records == 10 and spool.state().points == 50
    assert len(list((tmp_path / "sp").glob("*.spool"))) > 1  # rolled over into several segments
    seen = []
    assert spool.replay(seen.append) == 50
    assert seen == [f"body {i}\n".encode() * 5 for i in range(10)]
    assert not spool and spool.state().points == 0


def test_a_failed_send_stops_replay_and_resumes_at_that_record(tmp_path):
    spool = Spool(tmp_path / "sp", segment_bytes=64)
    for i in range(6):
        spool.append(b"r%d" % i, points=1)
    seen = []

    def flaky(payload):
        if payload == b"r3" and len(seen) == 3:
            raise ConnectionError("down again")
        seen.append(payload)

    with pytest.raises(ConnectionError):
        spool.replay(flaky)
    assert spool.state().records == 3
    # Another process (a new Spool object on the same folder) carries on where it stopped.
    Spool(tmp_path / "sp").replay(seen.append)
    assert seen == [b"r0", b"r1", b"r2", b"r3", b"r4", b"r5"]


def test_full_spool_refuses_with_a_clear_error(tmp_path):
    spool = Spool(tmp_path / "sp", max_bytes=200)
    spool.append(b"x" * 100, points=1)
    with pytest.raises(WriteError, match="spool .* is full.*spool_max"):
        spool.append(b"y" * 100, points=1)
    assert spool.state().records == 1


def test_a_torn_tail_is_cut_off_when_the_spool_is_reopened(tmp_path):
    spool = Spool(tmp_path / "sp")
    spool.append(b"whole", points=1)
    segment = next((tmp_path / "sp").glob("*.spool"))
    with open(segment, "ab") as handle:  # what a crash in the middle of append leaves
        handle.write(struct.pack("<4sIIQ", b"VSP1", 1000, 0, 7) + b"torn")
    reopened = Spool(tmp_path / "sp")
    reopened.append(b"after", points=1)
    seen = []
    reopened.replay(seen.append)
    assert seen == [b"whole", b"after"]


def test_a_damaged_record_is_reported_not_sent(tmp_path):
    spool = Spool(tmp_path / "sp")
    spool.append(b"payload", points=1)
    segment = next((tmp_path / "sp").glob("*.spool"))
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        Spool(tmp_path / "sp").replay(lambda payload: None)


def test_a_write_that_bypasses_the_spool_raises_on_an_outage_and_spools_nothing(tmp_path):
    """No server: the store points at a closed port, where the same write without
    ``spool=False`` goes to the spool."""
    store = open_store(f"influxdb1+http://127.0.0.1:{free_port()}/db?timeout=2s&spool={tmp_path / 'sp'}")
    frame = pd.DataFrame({"time": [T0, T0 + timedelta(seconds=1)], "equipment_id": "EQ-1", "metric_type": "m",
                          "value": [1.0, 2.0]})
    try:
        with pytest.raises(WriteError, match="0 of 2 points were written.*bypasses the spool") as caught:
            store.write_frame(frame, spool=False)
        assert caught.value.written == 0 and caught.value.unwritten["value"].tolist() == [1.0, 2.0]
        with pytest.raises(WriteError, match="bypasses the spool"):
            store.write_points([Point("EQ-1", "m", 3.0, T0)], spool=False)
        assert not store.spool and store.spool.state().points == 0
        assert store.write_frame(frame).points == 2 and store.spool.state().points == 2
    finally:
        store.close()


def test_an_influxdb2_write_that_bypasses_the_spool_is_refused_on_an_outage(tmp_path):
    """No server: the InfluxDB 2 store points at a closed port; its client retries,
    then gives the batch back."""
    store = Influx2Store(f"http://127.0.0.1:{free_port()}", token="t", org="o", bucket="b", timeout_s=1,
                         spool=Spool(tmp_path / "sp"))
    frame = pd.DataFrame({"time": [T0], "equipment_id": ["EQ-1"], "metric_type": ["m"], "value": [1.0]})
    try:
        with pytest.raises(WriteError) as caught:
            store.write_frame(frame, spool=False)
        assert caught.value.written == 0 and caught.value.unwritten["value"].tolist() == [1.0]
        assert not store.spool and store.spool.state().points == 0
        assert store.write_frame(frame).points == 1 and store.spool.state().points == 1
    finally:
        store.close()


@pytest.mark.influxdb
@pytest.mark.skipif(find_influxd() is None, reason="influxd is not installed: `apt-get install -y influxdb`")
def test_killing_influxd_mid_stream_loses_and_doubles_nothing(tmp_path):
    frames, per_frame = 10, 10_000
    total = frames * per_frame
    times = pd.date_range(T0, periods=total, freq="1s")
    equipment = np.array(["EQ-1", "EQ-2", "EQ-3", "EQ-4"])[np.arange(total) % 4]
    stream = pd.DataFrame({"time": times, "equipment_id": equipment, "metric_type": "cpu_usage",
                           "value": np.arange(total, dtype="float64")})
    with InfluxServer(tmp_path / "influxd") as server:
        store = open_store(f"influxdb1+{server.url}/outage?create_database=true&batch_size=1000&timeout=5s"
                           f"&spool={tmp_path / 'spool'}")
        progress, killed, restarted = threading.Event(), threading.Event(), threading.Event()
        spooled, errors = [], []

        def writer():
            try:
                for i in range(frames):
                    if i == 3:
                        progress.set()  # the kill lands while frame 3 is being posted
                    if i == 5:
                        killed.wait(30)
                    if i == 8:
                        restarted.wait(30)
                    store.write_frame(stream.iloc[i * per_frame:(i + 1) * per_frame])
                    spooled.append(store.spool.state().points)
            except Exception as exc:  # reported by the main thread
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        progress.wait(30)
        server.kill()
        killed.set()
        thread.join(0.5)
        server.start()
        restarted.set()
        thread.join(120)
        assert not errors, errors
        assert max(spooled) > 0, "the outage never reached the spool"
        store.replay_spool()
        assert not store.spool
        got = store.query(Selection(T0, T0 + timedelta(days=2)))
        store.close()
    assert len(got) == total
    assert got["time"].is_unique
    assert np.array_equal(got["value"].to_numpy(), np.arange(total, dtype="float64"))
