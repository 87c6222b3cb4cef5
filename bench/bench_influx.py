"""InfluxDB backend figures on this machine, as ratios to what sets the limit.

1. Writes: points/s through ``InfluxQLStore.write_frame`` (encode + batches + gzip
   + HTTP) into a real influxd, beside posting the same line protocol, pre-built,
   with a plain ``requests`` client (the server's own limit here). Goal >= 0.8.
2. Encoding: points/s of :mod:`vigileos_analytics.stores.lineprotocol` beside
   influxdb-client's DataFrame serializer, and a byte-identical check. Goal >= 5x.
3. Reading: one equipment x 30 days at 1 minute (43,200 points) into a DataFrame.
4. Flux results: reading annotated CSV with pandas beside the client's
   ``query_data_frame`` (served by a local HTTP server: no InfluxDB 2 here).

Run: ``.venv/bin/python bench/bench_influx.py [--points 500000]``. Starts its own
influxd through tests/influx_server.py.
"""

from __future__ import annotations

import argparse
import http.server
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.influx_server import InfluxServer  # noqa: E402
from vigileos_analytics.schema import normalize_points_frame  # noqa: E402
from vigileos_analytics.stores import open_store  # noqa: E402
from vigileos_analytics.stores.base import Selection  # noqa: E402
from vigileos_analytics.stores.lineprotocol import encode_lines  # noqa: E402

START = pd.Timestamp("2024-01-01", tz="UTC")


def fleet_frame(points: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    equipment = np.array([f"EQ-{i:03d}" for i in range(50)])
    metrics = np.array(["cpu_usage", "memory_usage", "response_time"])
    n_series = len(equipment) * len(metrics)
    per_series = points // n_series
    index = np.arange(per_series * n_series)
    return pd.DataFrame({
        "time": START + pd.to_timedelta((index // n_series) * 10, unit="s"),
        "equipment_id": equipment[index % len(equipment)],
        "metric_type": metrics[(index // len(equipment)) % len(metrics)],
        "value": np.round(rng.normal(50, 15, len(index)), 2),
        "location": np.where(index % 2 == 0, "Site A", "Site B"),
    })


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def bench_encoding(frame: pd.DataFrame) -> None:
    from influxdb_client.client.write.dataframe_serializer import data_frame_to_list_of_points
    from influxdb_client.client.write_api import PointSettings

    sample = frame.iloc[:100_000]
    normalized = normalize_points_frame(sample)
    client_lines: list[str] = []

    def client():
        client_lines[:] = data_frame_to_list_of_points(
            sample, PointSettings(), data_frame_measurement_name="equipment_metrics",
            data_frame_tag_columns=["equipment_id", "metric_type", "location"], data_frame_timestamp_column="time")

    client_s = best_of(1, client)
    ours_s = best_of(3, lambda: encode_lines(normalized).body())
    identical = encode_lines(normalized).body() == ("\n".join(client_lines) + "\n").encode()
    print(f"encoding   : ours {len(sample) / ours_s:,.0f} points/s, influxdb-client {len(sample) / client_s:,.0f} "
          f"points/s, ratio {client_s / ours_s:.1f}x (goal >= 5x), byte-identical: {identical}")


def bench_writes(server: InfluxServer, frame: pd.DataFrame, batch: int) -> None:
    normalized = normalize_points_frame(frame)
    lines = encode_lines(normalized)
    bodies = [lines.body(a, b) for a, b in lines.batches(batch)]
    server.query('CREATE DATABASE "raw"')
    session = requests.Session()

    def raw():
        for body in bodies:
            session.post(f"{server.url}/write", params={"db": "raw", "precision": "ns"}, data=body).raise_for_status()

    raw_s = best_of(2, raw)
    print(f"writes     : plain client posting pre-built line protocol: {len(frame) / raw_s:,.0f} points/s")
    for gzip in ("false", "true"):
        store = open_store(f"influxdb1+{server.url}/proj_{gzip}?create_database=true&batch_size={batch}&gzip={gzip}"
                           "&spool=off")
        store_s = best_of(2, lambda store=store: store.write_frame(frame))
        store.close()
        print(f"             through the project (gzip={gzip}): {len(frame) / store_s:,.0f} points/s, "
              f"ratio {raw_s / store_s:.2f} (goal >= 0.8)")


def bench_query(server: InfluxServer) -> None:
    minutes = 30 * 24 * 60
    frame = pd.DataFrame({"time": START + pd.to_timedelta(np.arange(minutes), unit="min"), "equipment_id": "EQ-1",
                          "metric_type": "cpu_usage", "value": np.random.default_rng(2).normal(40, 10, minutes)})
    store = open_store(f"influxdb1+{server.url}/query30d?create_database=true&spool=off")
    store.write_frame(frame)
    selection = Selection(START.to_pydatetime(), (START + pd.Timedelta(days=30)).to_pydatetime(),
                          equipment_ids=["EQ-1"])
    seconds = best_of(3, lambda: store.query(selection))
    assert len(store.query(selection)) == minutes
    agg_s = best_of(3, lambda: store.aggregate(selection, every=pd.Timedelta(hours=1).to_pytimedelta()))
    store.close()
    print(f"query      : 1 equipment x 30 days at 1 min ({minutes:,} points) into a DataFrame "
          f"in {seconds * 1000:.0f} ms "
          f"({minutes / seconds:,.0f} points/s); hourly aggregate (6 functions) in {agg_s * 1000:.0f} ms")


def bench_flux_csv() -> None:
    import warnings

    from influxdb_client import InfluxDBClient
    from influxdb_client.client.warnings import MissingPivotFunction

    from vigileos_analytics.stores.influx2 import _points, read_annotated_csv

    warnings.simplefilter("ignore", MissingPivotFunction)

    minutes = 30 * 24 * 60
    times = (START + pd.to_timedelta(np.arange(minutes), unit="min")).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = np.round(np.random.default_rng(3).normal(40, 10, minutes), 3)
    rows = "".join(f",,0,{t},{v},EQ-1,cpu_usage\r\n" for t, v in zip(times, values, strict=True))
    body = ("#datatype,string,long,dateTime:RFC3339,double,string,string\r\n"
            "#group,false,false,false,false,true,true\r\n"
            "#default,_result,,,,,\r\n,result,table,_time,_value,equipment_id,metric_type\r\n" + rows + "\r\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = InfluxDBClient(url=url, token="bench", org="bench")
    query = 'from(bucket: "b") |> range(start: 0)'
    client_s = best_of(2, lambda: client.query_api().query_data_frame(query))
    ours_s = best_of(3, lambda: _points(read_annotated_csv(client.query_api().query_raw(query).data.decode())))
    client.close()
    server.shutdown()
    print(f"flux csv   : 43,200 points: query_data_frame {client_s * 1000:.0f} ms, pandas on query_raw "
          f"{ours_s * 1000:.0f} ms ({client_s / ours_s:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    frame = fleet_frame(args.points)
    bench_encoding(frame)
    bench_flux_csv()
    with tempfile.TemporaryDirectory() as folder, InfluxServer(Path(folder)) as server:
        bench_writes(server, frame, args.batch)
        bench_query(server)


if __name__ == "__main__":
    main()
