"""The HTTP API against a real server: ``vigileos serve`` in a subprocess over the seeded
fleet, every payload compared with the in-process analytics on the same store."""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import requests

from vigileos_analytics.analytics.alerts import current_alerts, list_alerts
from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.api.paging import first_points
from vigileos_analytics.schema import Point
from vigileos_analytics.stores import open_store

from .conftest import FLEET_END

TOKEN = "read-token-for-tests"
WRITE_TOKEN = "write-token-for-tests"
START = FLEET_END - timedelta(days=2)
ALLOWED_ORIGIN = "https://status.example.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}
    return {**env, "VIGILEOS_STORE_URL": f"duckdb:///{folder / 'metrics.duckdb'}",
            "VIGILEOS_INVENTORY": str(folder / "inventory.csv"), **extra}


def _start(folder: Path, **extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    with open(folder.parent / f"serve-{port}.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "-m", "vigileos_analytics", "serve", "--port", str(port)],
                                   cwd=folder, env=_env(folder, **extra), stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def _wait(process: subprocess.Popen, base: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = Path(base.replace("http://127.0.0.1:", "serve-") + ".log")
            raise AssertionError(f"the server exited (see its log {log.name})")
        try:
            if requests.get(f"{base}/api/health", headers=headers, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or slow on a busy machine
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not answer within 60 s")


@pytest.fixture(scope="module")
def folder(seeded_fleet_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the seeded fleet with two alert events (one raised and cleared, one firing)."""
    target = tmp_path_factory.mktemp("api") / "fleet"
    shutil.copytree(seeded_fleet_dir, target)
    store = open_store(f"duckdb:///{target / 'metrics.duckdb'}")
    tags = {"rule": "cpu_high", "severity": "warning", "message": "cpu above 90"}
    store.write_points([
        Point("EQ-0001", "alert", 1.0, FLEET_END - timedelta(hours=5), {**tags, "state": "firing"}),
        Point("EQ-0001", "alert", 0.0, FLEET_END - timedelta(hours=4), {**tags, "state": "resolved"}),
        Point("EQ-0002", "alert", 1.0, FLEET_END - timedelta(hours=3), {**tags, "state": "firing"}),
    ])
    return target


@pytest.fixture(scope="module")
def servers(folder: Path):
    """Two servers started together: one with tokens, one with reads open and CORS on."""
    guarded = _start(folder, VIGILEOS_API_TOKEN=TOKEN, VIGILEOS_API_WRITE_TOKEN=WRITE_TOKEN)
    open_ = _start(folder, VIGILEOS_API_CORS_ORIGINS=f"{ALLOWED_ORIGIN},https://other.example")
    try:
        _wait(*guarded, {"Authorization": f"Bearer {TOKEN}"})
        _wait(*open_, {})
        yield guarded[1], open_[1]
    finally:
        for process, _ in (guarded, open_):
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def api(servers):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    base = servers[0]

    def get(path: str, **params):
        return session.get(base + path, params=params, timeout=30)

    return get


@pytest.fixture(scope="module")
def service(folder: Path) -> EquipmentAnalyticsService:
    return EquipmentAnalyticsService(open_store(f"duckdb:///{folder / 'metrics.duckdb'}"),
                                     inventory=folder / "inventory.csv")


def _iso(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body


# -- the seed's endpoints -------------------------------------------------------------------


def test_metrics_equal_the_in_process_payload(api, service):
    response = api("/api/equipment/EQ-0001/metrics/", start_time=START.isoformat(), end_time=FLEET_END.isoformat(),
                   metric_type="cpu_usage")
    assert response.status_code == 200
    body = response.json()
    expected = service.metrics_payload("EQ-0001", START, FLEET_END, "cpu_usage")
    assert body["equipment_id"] == "EQ-0001"
    assert body["metrics"] == expected["metrics"]
    assert body["count"] == expected["count"] > 0
    assert body["next"] is None
    first = body["metrics"][0]
    assert set(first) == {"time", "metric_type", "value", "tags"}
    assert isinstance(first["time"], str) and isinstance(first["value"], float) and isinstance(first["tags"], dict)
    assert isinstance(body["count"], int)


def test_metrics_pages_follow_the_next_link_without_losing_a_point(api, service):
    expected = service.metrics_payload("EQ-0002", START, FLEET_END)["metrics"]
    seen, pages = [], 0
    response = api("/api/equipment/EQ-0002/metrics/", start_time=START.isoformat(), end_time=FLEET_END.isoformat(),
                   limit=500)
    while True:
        body = response.json()
        assert body["count"] <= 500
        seen += body["metrics"]
        pages += 1
        if body["next"] is None:
            break
        response = requests.get(body["next"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert pages > 1
    assert seen == expected


def test_a_limit_on_a_long_range_returns_the_first_points(api, service):
    # Ten years of range over ten days of data: the page is the first 7 points and the link goes on.
    # One metric type: one point per instant, so a page is exactly `limit` points.
    response = api("/api/equipment/EQ-0003/metrics/", start_time="2014-02-01T00:00:00+00:00",
                   end_time=FLEET_END.isoformat(), metric_type="cpu_usage", limit=7)
    assert response.status_code == 200, response.text
    assert response.elapsed.total_seconds() < 5
    body = response.json()
    everything = service.metrics_payload("EQ-0003", FLEET_END - timedelta(days=11), FLEET_END, "cpu_usage")["metrics"]
    assert body["count"] == 7 and len(everything) > 1000
    assert body["metrics"] == everything[:7]
    assert body["next"] is not None
    following = requests.get(body["next"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).json()
    assert following["metrics"] == everything[7:14]


def test_a_page_reads_about_its_size_from_the_store(service):
    # first_points, the page's read, in process on the same store: few points read for a
    # small page over the whole fleet period, and exactly the first ones.
    start, end = FLEET_END - timedelta(days=11), FLEET_END
    everything = service.get_equipment_metrics("EQ-0001", start, end)
    assert len(everything) > 5000
    for want in (1, 25, 600):
        frame, complete = first_points(service, "EQ-0001", start, end, None, want)
        # At most twice the page, or up to the end of the second of its last point.
        same_second = int((everything["time"] < everything["time"].iloc[want - 1].ceil("s")
                           + pd.Timedelta(seconds=1)).sum())
        assert want <= len(frame) <= max(2 * want, same_second)
        assert not complete
        assert frame["time"].tolist() == everything["time"].iloc[:len(frame)].tolist()
        assert frame["value"].tolist() == everything["value"].iloc[:len(frame)].tolist()
    frame, complete = first_points(service, "EQ-0001", start, end, "cpu_usage", 10**6)
    assert complete and len(frame) == int((everything["metric_type"] == "cpu_usage").sum())


def test_metrics_as_csv(api, service):
    response = api("/api/equipment/EQ-0001/metrics/", start_time=START.isoformat(), end_time=FLEET_END.isoformat(),
                   metric_type="memory_usage", format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = service.metrics_payload("EQ-0001", START, FLEET_END, "memory_usage")["metrics"]
    assert [(r["time"], r["metric_type"], float(r["value"])) for r in rows] == [
        (m["time"], m["metric_type"], m["value"]) for m in expected]


def test_dashboard_equals_the_fleet_summary(api, service):
    response = api("/api/influxdb/dashboard/", hours=24, at=FLEET_END.isoformat())
    assert response.status_code == 200
    body = response.json()
    summary = service.fleet_summary(now=FLEET_END, period=timedelta(hours=24))
    assert body["summary"] == summary["summary"]
    assert set(body["summary"]) == {"total_equipment", "operational", "maintenance", "offline",
                                    "average_availability"}
    assert isinstance(body["summary"]["total_equipment"], int)
    assert isinstance(body["summary"]["average_availability"], float)
    assert len(body["equipment_metrics"]) == len(summary["equipment"]) == 6
    for row, want in zip(body["equipment_metrics"], summary["equipment"], strict=True):
        assert row["equipment_id"] == want["equipment_id"]
        assert row["name"] == want["name"]
        assert row["current_status"] == want["status"]
        assert row["availability_24h"] == want["availability_24h"]
        assert row["last_metric"] == want["last_metric_time"]
        assert row["performance"] == {"cpu_avg": want["performance"]["cpu_usage"],
                                      "memory_avg": want["performance"]["memory_usage"],
                                      "response_time_avg": want["performance"]["response_time"]}
        assert row["coverage_24h"] == want["coverage_24h"]


def test_the_shared_dashboard_is_the_fleet_summary_at_its_time(api, service):
    # Without `at`: the shared snapshot (worker process, served as ready bytes) must be exactly
    # the in-process summary at the time it says it was computed.
    first = api("/api/influxdb/dashboard/")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    again = api("/api/influxdb/dashboard/", hours=24)
    for body in (first.json(), again.json()):
        summary = service.fleet_summary(now=pd.Timestamp(body["generated_at"]).to_pydatetime(),
                                        period=timedelta(hours=24))
        assert body["summary"] == summary["summary"] and body["summary"]["total_equipment"] == 6
        assert [(r["equipment_id"], r["current_status"], r["availability_24h"], r["last_metric"])
                for r in body["equipment_metrics"]] == [
            (r["equipment_id"], r["status"], r["availability_24h"], r["last_metric_time"])
            for r in summary["equipment"]]
    other = api("/api/influxdb/dashboard/", hours=48).json()
    assert other["hours"] == 48


def _rows(table: pd.DataFrame) -> list[dict]:
    return [{"equipment_id": r["equipment_id"], "start": _iso(r["window_start"]), "end": _iso(r["window_end"]),
             "availability_pct": _num(r["availability_pct"]), "uptime_s": r["uptime_s"],
             "downtime_s": r["downtime_s"], "unknown_s": r["unknown_s"], "maintenance_s": r["maintenance_s"],
             "outages": r["outages"], "mtbf_s": _num(r["mtbf_s"]), "mttr_s": _num(r["mttr_s"]),
             "coverage_pct": _num(r["coverage_pct"]), "samples": r["samples"]}
            for r in table.to_dict(orient="records")]


def test_availability_report_per_day(api, service):
    response = api("/api/influxdb/availability-report/", start_date="2024-01-28", end_date="2024-01-30",
                   equipment_id="EQ-0003")
    assert response.status_code == 200
    body = response.json()
    table = service.availability_report(pd.Timestamp("2024-01-28", tz="UTC"), pd.Timestamp("2024-01-31", tz="UTC"),
                                        "EQ-0003")
    assert [{k: v for k, v in r.items() if k != "date"} for r in body["report"]] == _rows(table)
    assert [r["date"] for r in body["report"]] == ["2024-01-28", "2024-01-29", "2024-01-30"]
    assert body["count"] == 3


# -- beyond the seed ----------------------------------------------------------------------


def test_availability_of_the_fleet_and_of_one(api, service):
    body = api("/api/availability", start=START.isoformat(), end=FLEET_END.isoformat(),
               exclude_maintenance="true", staleness="15m").json()
    table = service.fleet_availability(START, FLEET_END, staleness=timedelta(minutes=15), exclude_maintenance=True)
    assert body["equipment"] == _rows(table)
    assert body["staleness_s"] == 900.0 and body["exclude_maintenance"] is True
    one = api("/api/availability", start=START.isoformat(), end=FLEET_END.isoformat(), equipment_id="EQ-0004").json()
    assert one["equipment"] == _rows(service.fleet_availability(START, FLEET_END, ["EQ-0004"]))
    text = api("/api/availability", start=START.isoformat(), end=FLEET_END.isoformat(), format="csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["equipment_id"] for r in rows] == table["equipment_id"].tolist()
    assert [float(r["uptime_s"]) for r in rows] == table["uptime_s"].tolist()


def test_equipment_list(api, service):
    body = api("/api/equipment").json()
    table = service.equipment()
    status = service.current_status()
    assert [(r["equipment_id"], r["name"], r["current_status"]) for r in body["equipment"]] == [
        (e, n, status[e]) for e, n in zip(table["equipment_id"], table["name"], strict=True)]
    assert body["count"] == 6


def test_alerts_current_and_over_a_period(api, service):
    firing = api("/api/alerts").json()
    expected = current_alerts(service.store)
    assert [(a["equipment_id"], a["rule"], a["state"], a["time"]) for a in firing["alerts"]] == [
        (e, r, s, _iso(t)) for e, r, s, t in zip(expected["equipment_id"], expected["rule"], expected["state"],
                                                  expected["time"], strict=True)]
    assert firing["count"] == 1
    events = api("/api/alerts", state="all", start=(FLEET_END - timedelta(days=1)).isoformat(),
                 end=FLEET_END.isoformat()).json()
    expected = list_alerts(service.store, FLEET_END - timedelta(days=1), FLEET_END)
    assert [(a["equipment_id"], a["state"], a["value"], a["message"]) for a in events["alerts"]] == list(
        zip(expected["equipment_id"], expected["state"], expected["value"], expected["message"], strict=True))
    assert events["count"] == 3


def test_health(api):
    body = api("/api/health").json()
    assert body["ok"] is True
    assert body["backend"] and body["steps"][0]["name"] == "reach"


def test_openapi_and_docs(servers):
    schema = requests.get(servers[0] + "/openapi.json", timeout=10).json()
    assert "/api/equipment/{equipment_id}/metrics/" in schema["paths"]
    assert "MetricsResponse" in schema["components"]["schemas"]
    assert requests.get(servers[0] + "/docs", timeout=10).status_code == 200


# -- security and errors ---------------------------------------------------------------------


def test_reads_need_the_token_when_one_is_set(servers):
    base = servers[0]
    _problem(requests.get(base + "/api/equipment", timeout=10), 401)
    _problem(requests.get(base + "/api/equipment", headers={"Authorization": "Bearer wrong"}, timeout=10), 401)
    # The dashboard too, while a snapshot is ready to serve.
    assert requests.get(base + "/api/influxdb/dashboard/", headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=60).status_code == 200
    _problem(requests.get(base + "/api/influxdb/dashboard/", timeout=10), 401)
    _problem(requests.get(base + "/api/influxdb/dashboard/?hours=24", headers={"Authorization": "Bearer wrong"},
                          timeout=10), 401)
    assert requests.get(base + "/api/equipment", headers={"Authorization": f"Bearer {WRITE_TOKEN}"},
                        timeout=10).status_code == 200


def test_reads_are_open_without_a_read_token(servers):
    assert requests.get(servers[1] + "/api/equipment", timeout=10).status_code == 200


@pytest.mark.parametrize("evil", ["' OR 1=1 --", '"; drop table points; --', "../", "..%2F..%2Fetc"])
def test_injection_strings_are_unknown_equipment(api, service, evil):
    before = service.equipment()["equipment_id"].tolist()
    path_body = _problem(api(f"/api/equipment/{requests.utils.quote(evil, safe='')}/metrics/"), 404)
    assert path_body.get("value", evil) == evil  # "../" decoded in the path matches no route: 404 as well
    query_body = _problem(api("/api/availability", equipment_id=evil), 404)
    assert query_body["parameter"] == "equipment_id" and query_body["value"] == evil
    _problem(api("/api/influxdb/availability-report/", start_date="2024-01-28", end_date="2024-01-29",
                 equipment_id=evil), 404)
    assert service.equipment()["equipment_id"].tolist() == before
    assert len(service.metrics_payload("EQ-0001", START, FLEET_END)["metrics"]) > 0


def test_bad_parameters_are_named(api):
    body = _problem(api("/api/equipment/EQ-0001/metrics/", start_time="yesterday-ish"), 400)
    assert body["parameter"] == "start_time" and body["value"] == "yesterday-ish"
    body = _problem(api("/api/availability", start=FLEET_END.isoformat(), end=START.isoformat()), 400)
    assert body["parameter"] == "start"
    body = _problem(api("/api/equipment/EQ-0001/metrics/", metric_type="no_such_metric"), 400)
    assert body["parameter"] == "metric_type" and "no_such_metric" in body["detail"]
    body = _problem(api("/api/influxdb/availability-report/", start_date="2024-13-01", end_date="2024-01-02"), 400)
    assert body["parameter"] == "start_date"
    body = _problem(api("/api/equipment/EQ-0001/metrics/", limit=100_001), 422)
    assert body["parameter"] == "limit"
    body = _problem(api("/api/influxdb/dashboard/", hours="many"), 422)
    assert body["parameter"] == "hours" and body["value"] == "many"


def test_a_large_body_is_refused(servers):
    response = requests.post(servers[1] + "/api/equipment", data=b"x" * (10 * 1024 * 1024 + 1), timeout=30)
    _problem(response, 413)


def test_serve_refuses_a_public_address_without_a_token(folder):
    result = subprocess.run([sys.executable, "-m", "vigileos_analytics", "serve", "--host", "0.0.0.0"],
                            cwd=folder, env=_env(folder), capture_output=True, text=True, timeout=60)
    assert result.returncode == 4
    assert "VIGILEOS_API_TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- CORS and a failing store ----------------------------------------------------------------


def test_cors_answers_only_the_configured_origins(servers):
    base = servers[1]
    allowed = requests.get(base + "/api/equipment", headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    other = requests.get(base + "/api/equipment", headers={"Origin": "https://evil.example"}, timeout=10)
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers
    preflight = requests.options(base + "/api/equipment", timeout=10, headers={
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = requests.options(base + "/api/equipment", timeout=10, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    # Without the setting (the guarded server), no CORS header at all.
    off = requests.get(servers[0] + "/api/equipment", timeout=10,
                       headers={"Origin": ALLOWED_ORIGIN, "Authorization": f"Bearer {TOKEN}"})
    assert "access-control-allow-origin" not in off.headers


@pytest.mark.slow  # starts a server of its own
def test_an_unreachable_store_is_a_503_problem(folder, tmp_path):
    # An InfluxDB URL on a loopback port nobody listens on: every store read is refused.
    closed = _free_port()
    process, base = _start(tmp_path, VIGILEOS_STORE_URL=f"influxdb1+http://127.0.0.1:{closed}/metrics",
                           VIGILEOS_INVENTORY=str(folder / "inventory.csv"))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the server exited"
            try:
                if requests.get(base + "/openapi.json", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.1)
        for path, params in (("/api/equipment", {}), ("/api/influxdb/dashboard/", {}),
                             ("/api/equipment/EQ-0001/metrics/", {"start_time": START.isoformat()}),
                             ("/api/availability", {})):
            body = _problem(requests.get(base + path, params=params, timeout=30), 503)
            assert body["title"] == "Store unavailable"
            assert f"127.0.0.1:{closed}" in body["detail"]
        health = requests.get(base + "/api/health", timeout=30)
        assert health.status_code == 503 and health.json()["ok"] is False
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_store_failure_in_the_dashboard_worker_keeps_its_kind(tmp_path):
    """The worker sends errors back as plain values; the serving side raises the same
    kind again (here: unreachable, a RetryableError), not a bare VigileosError."""
    from vigileos_analytics.api import snapshots
    from vigileos_analytics.config import load_settings
    from vigileos_analytics.errors import RetryableError

    inventory = tmp_path / "inventory.csv"
    inventory.write_text("equipment_id,name,type,location\nA,Alpha,server,Paris\n")
    settings = load_settings(dotenv_path=None, environ={
        "VIGILEOS_STORE_URL": f"influxdb1+http://127.0.0.1:{_free_port()}/metrics?spool=off&timeout=2s",
        "VIGILEOS_INVENTORY": str(inventory)})
    snapshots._worker.clear()
    snapshots._start_worker(settings)
    try:
        kind, message, detail = snapshots._compute(24, None)
    finally:
        snapshots._worker.clear()
    assert kind == "store"
    with pytest.raises(RetryableError) as raised:
        snapshots._raise_from_worker(kind, message, detail)
    assert raised.value.problem == "unreachable"
