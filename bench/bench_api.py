"""HTTP API speed: the dashboard endpoint beside the in-process ``fleet_summary()``, and
line-protocol ingest over ``/write`` beside the store's own ``write_frame``.

A fleet of ``--equipment`` x ``--days`` (simulated, ending now) goes into an embedded
store; ``vigileos serve`` runs over it in a subprocess on loopback. Measured in one run:

- ``fleet_summary()`` in process, ``--repeat`` calls: p50 / p95;
- ``GET /api/influxdb/dashboard/`` from 1 client (``--repeat`` requests in a row), the same
  with ``?at=`` (computed for every request), and from each of ``--clients`` (1, 10, 50)
  threads at once (``--per-client`` requests each): p50 / p95;
- ``--points`` points as line protocol POSTed to ``/write`` in batches of ``--batch``
  lines, and the same points (other equipment ids) through ``store.write_frame`` in the
  same batches: points/s.

Goals: dashboard p95 at 1 client <= 2x the in-process p95; at 50 clients <= 250 ms;
HTTP ingest >= 0.5x the direct write. Run::

    .venv/bin/python bench/bench_api.py [--equipment 100] [--days 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import pandas as pd

from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.ingest.simulate import FleetSpec
from vigileos_analytics.ingest.simulation_io import simulate_into_store
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection
from vigileos_analytics.stores.lineprotocol import encode_lines

TOKEN = "bench-write-token"


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    ms = np.asarray(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def start_server(folder: Path, url: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}
    env.update(VIGILEOS_STORE_URL=url, VIGILEOS_INVENTORY=str(folder / "inventory.csv"),
               VIGILEOS_API_WRITE_TOKEN=TOKEN)
    log = open(folder / "serve.log", "w", encoding="utf-8")  # noqa: SIM115  # kept open for the server's life
    process = subprocess.Popen([sys.executable, "-m", "vigileos_analytics", "serve", "--port", str(port)],
                               cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start; see serve.log")


def dashboard_clients(base: str, clients: int, per_client: int, params: dict | None = None) -> list[float]:
    """Latencies of ``clients`` concurrent clients each requesting the dashboard ``per_client``
    times in a row, on one kept-alive connection each. The clients are coroutines over raw
    HTTP/1.1 in one thread: on a small machine, client threads fighting over their own GIL
    would add their waits to the figures."""
    host, port = base.removeprefix("http://").split(":")
    path = "/api/influxdb/dashboard/" + (f"?{urlencode(params)}" if params else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()

    async def client(start: asyncio.Event) -> list[float]:
        reader, writer = await asyncio.open_connection(host, int(port))
        latencies = []
        try:
            await start.wait()
            for _ in range(per_client):
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 200") or not body.startswith(b'{"summary"'):
                    raise SystemExit(f"dashboard answered {head[:40]!r}: {body[:200]!r}")
        finally:
            writer.close()
        return latencies

    async def run() -> list[float]:
        start = asyncio.Event()
        tasks = [asyncio.create_task(client(start)) for _ in range(clients)]
        await asyncio.sleep(0.2)  # every connection open before the first request
        start.set()
        return [latency for done in await asyncio.gather(*tasks) for latency in done]

    return asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest_frame(points: int, equipment: int, prefix: str, end: datetime) -> pd.DataFrame:
    """``points`` cpu / memory points over ``equipment`` ids ``prefix-NNN``, one a second back from ``end``."""
    per = points // equipment
    ids = np.repeat([f"{prefix}-{i:03d}" for i in range(equipment)], per)
    offsets = np.tile(np.arange(per), equipment)
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "time": pd.to_datetime(int(end.timestamp() * 1e9) - offsets * 1_000_000_000, unit="ns", utc=True),
        "equipment_id": pd.Categorical(ids),
        "metric_type": pd.Categorical(np.where(offsets % 2 == 0, "cpu_usage", "memory_usage")),
        "value": np.round(rng.uniform(0, 100, len(ids)), 2),
        "site": pd.Categorical(np.where(np.arange(len(ids)) % 3 == 0, "Lyon 2", "Paris")),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equipment", type=int, default=100)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--clients", default="1,10,50", help="Comma-separated numbers of concurrent clients.")
    parser.add_argument("--per-client", type=int, default=100,
                        help="Requests per client in a row: enough for the phase to span several summary refreshes.")
    parser.add_argument("--points", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()
    counts = [int(n) for n in args.clients.split(",")]

    with tempfile.TemporaryDirectory(prefix="vigileos-bench-api-") as tmp:
        folder = Path(tmp)
        url = f"duckdb:///{folder / 'metrics.duckdb'}"
        store = open_store(url)
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        started = time.perf_counter()
        outcome = simulate_into_store(store, FleetSpec(equipment=args.equipment, days=args.days, end=end, seed=3),
                                      folder / "inventory.csv", None, progress=False)
        print(f"fleet: {args.equipment} equipment x {args.days:g} days, {outcome.points:,} points, "
              f"simulated in {time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.2f}")

        service = EquipmentAnalyticsService(store, inventory=folder / "inventory.csv")
        service.fleet_summary()  # warm-up
        inproc = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            service.fleet_summary()
            inproc.append(time.perf_counter() - t)

        process, base = start_server(folder, url)
        try:
            with httpx.Client(base_url=base, timeout=120) as client:  # warm-up: starts the workers
                client.get("/api/influxdb/dashboard/").raise_for_status()
                client.get("/api/influxdb/dashboard/", params={"at": datetime.now(UTC).isoformat()}
                           ).raise_for_status()
            one = dashboard_clients(base, 1, args.repeat)
            uncached = dashboard_clients(base, 1, args.repeat, {"at": datetime.now(UTC).isoformat()})
            computed_before = httpx.get(f"{base}/api/live/stats", timeout=30).json()["summaries_computed"]
            started, cpu_before = time.perf_counter(), cpu_seconds(process.pid)
            concurrent = {n: dashboard_clients(base, n, args.per_client) for n in counts}
            concurrent_s, serving_cpu = time.perf_counter() - started, cpu_seconds(process.pid) - cpu_before
            computed = httpx.get(f"{base}/api/live/stats", timeout=30).json()["summaries_computed"] - computed_before
        finally:
            process.terminate()
            process.wait(timeout=30)
        # Ingest on a server nobody is watching the dashboard of: the one above keeps its
        # snapshot warm for a minute after the last request, reading the store meanwhile.
        process, base = start_server(folder, url)
        try:
            http_frame = ingest_frame(args.points, 50, "H", end)
            direct_frame = ingest_frame(args.points, 50, "D", end)
            lines = encode_lines(http_frame)
            batches = lines.batches(args.batch)
            bodies = [lines.body(a, b) for a, b in batches]
            with httpx.Client(base_url=base, timeout=300, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                t = time.perf_counter()
                for body in bodies:
                    client.post("/write", params={"db": "metrics", "precision": "ns"}, content=body
                                ).raise_for_status()
                http_s = time.perf_counter() - t
            t = time.perf_counter()
            for a, b in batches:
                store.write_frame(direct_frame.iloc[a:b])
            direct_s = time.perf_counter() - t
        finally:
            process.terminate()
            process.wait(timeout=30)
        arrived = store.query(Selection(end - timedelta(days=30), end + timedelta(seconds=1),
                                        equipment_ids=["H-000", "D-000"]))["equipment_id"].value_counts()
        assert arrived.get("H-000") == arrived.get("D-000") == args.points // 50, arrived

    in50, in95 = percentiles(inproc)
    one50, one95 = percentiles(one)
    un50, un95 = percentiles(uncached)
    http_rate, direct_rate = args.points / http_s, args.points / direct_s
    print(f"fleet_summary() in process      p50 {in50:7.1f} ms  p95 {in95:7.1f} ms  ({args.repeat} calls)")
    print(f"dashboard over HTTP, 1 client   p50 {one50:7.1f} ms  p95 {one95:7.1f} ms  ({len(one)} requests); "
          f"p95 ratio to in-process {one95 / in95:.2f} (goal <= 2)")
    print(f"dashboard over HTTP, 1 client, ?at= (never cached) p50 {un50:7.1f} ms  p95 {un95:7.1f} ms; "
          f"p95 ratio to in-process {un95 / in95:.2f} (goal <= 2)")
    for n, samples in concurrent.items():
        p50, p95 = percentiles(samples)
        print(f"dashboard over HTTP, {n:2d} clients at once  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
              f"({len(samples)} requests; p95 ratio to in-process {p95 / in95:.2f}"
              f"{'; goal p95 <= 250 ms' if n >= 50 else ''})")
    requests = sum(len(samples) for samples in concurrent.values())
    print(f"  during those {concurrent_s:.1f} s: {computed} fleet summaries computed by the server's worker; "
          f"serving process CPU {serving_cpu * 1000 / requests:.2f} ms per request ({requests} requests)")
    print(f"line protocol over HTTP /write  {http_rate:12,.0f} points/s  ({args.points:,} points, "
          f"{len(batches)} POSTs of {args.batch:,}, {lines.nbytes / 1e6:.1f} MB)")
    print(f"store.write_frame, same points  {direct_rate:12,.0f} points/s; ratio HTTP / direct "
          f"{http_rate / direct_rate:.2f} (goal >= 0.5)")
    print(f"load average at the end {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs, shared with other work)")


if __name__ == "__main__":
    main()
