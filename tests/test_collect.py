"""``vigileos collect``: real host metrics (psutil) and a real probe of a local HTTP server
or TCP port, into a real DuckDB file or a real influxd; stopped by real signals."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from vigileos_analytics.cli import main
from vigileos_analytics.errors import ValidationError
from vigileos_analytics.ingest.collect import (
    HostSampler,
    ProbeResult,
    Sample,
    http_probe,
    parse_tcp_target,
    run_collector,
    tcp_probe,
)
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

from .influx_fixtures import influxd  # noqa: F401  (a pytest fixture)
from .influx_server import free_port

WIDE = Selection(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
SUMMARY_RE = re.compile(r"Wrote (\d+) samples \((\d+) points\)")


class _Handler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def web():
    """A tiny HTTP server on a loopback port; set ``web.status`` to change its answer."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    yield server
    server.shutdown()
    server.server_close()


def collect_until_signal(store_url: str, *args: str, samples: int = 2, sig: int = signal.SIGTERM):
    """Run ``python -m vigileos_analytics collect`` until it printed ``samples`` sample lines,
    then send ``sig``; returns (exit code, stdout)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "vigileos_analytics", "--store", store_url, "collect", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    try:
        while len([line for line in lines if " cpu " in line]) < samples:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        process.send_signal(sig)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, "".join(lines) + rest


def written(output: str) -> tuple[int, int]:
    match = SUMMARY_RE.search(output)
    assert match, output
    return int(match.group(1)), int(match.group(2))


@pytest.mark.timeout(60)
def test_sigterm_stops_cleanly_with_every_sample_in_the_store(tmp_path, web):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    code, output = collect_until_signal(url, "--interval", "1s", "--probe-url", web.url, "--equipment-id", "EQ-C")
    assert code == 0, output
    samples, points = written(output)
    assert samples >= 2 and points == 4 * samples
    frame = open_store(url).query(WIDE)
    counts = frame.groupby("metric_type").size().to_dict()
    assert counts == {"cpu_usage": samples, "memory_usage": samples, "availability": samples,
                      "response_time": samples}
    availability = frame[frame["metric_type"] == "availability"]
    assert (availability["value"] == 1.0).all() and all(t == {"reason": "ok"} for t in availability["tags"])
    percentages = frame[frame["metric_type"].isin(["cpu_usage", "memory_usage"])]["value"]
    assert percentages.between(0, 100).all() and (frame[frame["metric_type"] == "response_time"]["value"] > 0).all()
    assert set(frame["equipment_id"]) == {"EQ-C"}


@pytest.mark.influxdb
@pytest.mark.timeout(60)
def test_sigint_on_a_real_influxd(influxd, tmp_path):
    url = f"influxdb1+{influxd.url}/collectdb?create_database=true&spool={tmp_path / 'spool'}"
    code, output = collect_until_signal(url, "--interval", "1s", "--probe-tcp", influxd.url.split("//")[1],
                                        "--equipment-id", "EQ-I", sig=signal.SIGINT)
    assert code == 0, output
    samples, points = written(output)
    result = influxd.query("SELECT count(value) FROM equipment_metrics GROUP BY metric_type", db="collectdb")
    counts = {s["tags"]["metric_type"]: s["values"][0][1] for s in result["results"][0]["series"]}
    assert counts == {"cpu_usage": samples, "memory_usage": samples, "availability": samples,
                      "response_time": samples} and points == 4 * samples


def invoke(url: str, *args: str):
    return CliRunner().invoke(main, ["--store", url, "collect", "--interval", "100ms", *args])


def test_a_target_that_is_down_is_unavailable_with_its_reason(tmp_path):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    port = free_port()
    result = invoke(url, "--count", "2", "--probe-url", f"http://127.0.0.1:{port}/", "--equipment-id", "EQ-D")
    assert result.exit_code == 0, result.output
    assert "probe DOWN (connection_refused)" in result.output and written(result.output) == (2, 6)
    frame = open_store(url).query(WIDE)
    availability = frame[frame["metric_type"] == "availability"]
    assert availability["value"].tolist() == [0.0, 0.0]
    assert all(t == {"reason": "connection_refused"} for t in availability["tags"])
    assert "response_time" not in set(frame["metric_type"])  # nothing answered: no time to record


def test_an_http_error_is_unavailable_but_timed(tmp_path, web):
    web.status = 503
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    result = invoke(url, "--count", "1", "--probe-url", web.url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["points"] == 4
    frame = open_store(url).query(WIDE)
    availability = frame[frame["metric_type"] == "availability"]
    assert availability["tags"].tolist() == [{"reason": "http_503"}]
    assert (frame["metric_type"] == "response_time").sum() == 1


def test_default_equipment_is_the_host_name_and_without_probe_only_host_metrics(tmp_path):
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    result = invoke(url, "--count", "1", "--quiet")
    assert result.exit_code == 0 and written(result.output) == (1, 2)
    store = open_store(url)
    assert store.equipment_ids() == [socket.gethostname()]
    assert sorted(store.query(WIDE)["metric_type"]) == ["cpu_usage", "memory_usage"]


def test_an_unreachable_influxdb_sends_samples_to_the_spool(tmp_path):
    url = f"influxdb1+http://127.0.0.1:{free_port()}/db?timeout=1s&spool={tmp_path / 'spool'}"
    result = invoke(url, "--count", "2", "--equipment-id", "EQ-S", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["samples"] == 2 and summary["spooled_points"] == summary["points"] == 4


@pytest.mark.parametrize("args, message", [
    (["--probe-url", "http://a/", "--probe-tcp", "a:1"], "not both"),
    (["--probe-url", "ftp://a/"], "must start with http"),
    (["--probe-tcp", "nohost"], "host:port"),
    (["--interval", "soon"], "interval must be"),
    (["--count", "0"], "--count"),
])
def test_mistakes_are_one_line_errors(tmp_path, args, message):
    result = invoke(f"duckdb:///{tmp_path / 'm.duckdb'}", *args)
    assert result.exit_code in (2, 3) and message in result.output and "Traceback" not in result.output


def test_probes_directly(web):
    answered = http_probe(web.url, 2.0)()
    assert answered.available and answered.reason == "ok" and answered.response_time_ms > 0
    up = tcp_probe(f"127.0.0.1:{web.server_address[1]}", 2.0)()
    assert up.available and up.reason == "ok" and up.response_time_ms >= 0
    down = tcp_probe(f"127.0.0.1:{free_port()}", 2.0)()
    assert down == ProbeResult(False, "connection_refused", None)
    assert parse_tcp_target("[::1]:8086") == ("::1", 8086)
    with pytest.raises(ValidationError, match="1 to 65535"):
        parse_tcp_target("db:99999")


class _FixedSampler(HostSampler):
    """Fixed readings instead of psutil's, so the schedule can be checked alone."""

    def prime(self) -> None:
        pass

    def sample(self, at: datetime) -> Sample:
        return Sample(at, 12.5, 40.0, ProbeResult(True, "ok", 3.0))


def test_run_collector_stops_on_its_event_and_flushes(tmp_path):
    store = open_store(f"duckdb:///{tmp_path / 'm.duckdb'}")
    stop = threading.Event()
    seen = []

    def on_sample(sample: Sample) -> None:
        seen.append(sample)
        if len(seen) == 3:
            stop.set()

    clock = iter(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(100))
    started = time.monotonic()
    summary = run_collector(store, "EQ-R", timedelta(milliseconds=50), stop=stop, on_sample=on_sample,
                            clock=lambda: next(clock), sampler=_FixedSampler())
    assert time.monotonic() - started < 10
    assert (summary.samples, summary.points, summary.first.second, summary.last.second) == (3, 12, 0, 2)
    assert len(store.query(WIDE)) == 12
