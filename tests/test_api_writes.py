"""Writes over HTTP against a real server (``vigileos serve`` in a subprocess over an
embedded store): the seed's four record calls as JSON, and line protocol on InfluxDB's
``/write`` and ``/api/v2/write``, each read back through the store."""

from __future__ import annotations

import base64
import gzip
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from vigileos_analytics.api.writes import parse_line_protocol
from vigileos_analytics.errors import LineProtocolError
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

READ_TOKEN = "read-token-for-write-tests"
WRITE_TOKEN = "write-token-for-write-tests"
WRITER = {"Authorization": f"Bearer {WRITE_TOKEN}"}
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
EVER = Selection(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


class Server:
    """A ``vigileos serve`` subprocess over an embedded store in ``folder``."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.folder = folder
        self.url = f"duckdb:///{folder / 'metrics.duckdb'}"
        open_store(self.url).close()
        (folder / "inventory.csv").write_text("equipment_id,name,type,location\nEQ-1,Pump 1,pump,Lyon\n",
                                              encoding="utf-8")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIGILEOS_", "INFLUXDB_"))}
        self.log = folder / "serve.log"
        with open(self.log, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vigileos_analytics", "serve", "--port", str(self.port)], cwd=folder,
                env={**clean, "VIGILEOS_STORE_URL": self.url, "VIGILEOS_INVENTORY": str(folder / "inventory.csv"),
                     **env}, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text(encoding='utf-8')[-2000:]}")
            try:
                if httpx.get(f"{self.base}/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError("the server did not answer within 60 s")

    def points(self, equipment_id: str) -> pd.DataFrame:
        with open_store(self.url) as store:
            frame = store.query(Selection(EVER.start, EVER.end, equipment_ids=[equipment_id]))
        return frame.sort_values(["time", "metric_type"]).reset_index(drop=True)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("api-writes"), VIGILEOS_API_TOKEN=READ_TOKEN,
                     VIGILEOS_API_WRITE_TOKEN=WRITE_TOKEN)
    yield running
    running.stop()


def _post(server: Server, path: str, **kwargs) -> httpx.Response:
    kwargs.setdefault("headers", WRITER)
    return httpx.post(f"{server.base}{path}", timeout=30, **kwargs)


def _dashboard(server: Server) -> dict:
    answer = httpx.get(f"{server.base}/api/influxdb/dashboard/", timeout=60,
                       headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _row(dashboard: dict, equipment_id: str) -> dict:
    return next(r for r in dashboard["equipment_metrics"] if r["equipment_id"] == equipment_id)


def test_the_dashboard_answers_a_write_at_once(server: Server) -> None:
    # The dashboard is a shared snapshot; the read right after a write must include it.
    before = _dashboard(server)
    assert "F-1" not in [r["equipment_id"] for r in before["equipment_metrics"]]
    at = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    assert _post(server, "/api/equipment/F-1/status", json={
        "previous_status": "operational", "new_status": "maintenance", "time": at.isoformat()}).status_code == 204
    after = _dashboard(server)
    assert _row(after, "F-1")["current_status"] == "maintenance"
    assert after["summary"]["total_equipment"] == before["summary"]["total_equipment"] + 1
    assert after["summary"]["maintenance"] == before["summary"]["maintenance"] + 1
    line = f"equipment_metrics,equipment_id=F-1,metric_type=cpu_usage value=42.5 {int(at.timestamp())}"
    assert _post(server, "/write?db=metrics&precision=s", content=line).status_code == 204
    last = _dashboard(server)
    assert _row(last, "F-1")["performance"]["cpu_avg"] == 42.5
    assert _row(last, "F-1")["last_metric"] == at.isoformat()


# -- JSON writes -----------------------------------------------------------------------------

def test_metric_is_written_before_the_answer(server: Server) -> None:
    answer = _post(server, "/api/equipment/J-1/metrics", json={
        "metric_type": "temperature", "value": 21.5, "tags": {"sensor": "inlet"}, "time": T0.isoformat()})
    assert answer.status_code == 204, answer.text
    points = server.points("J-1")
    assert points[["metric_type", "value"]].values.tolist() == [["temperature", 21.5]]
    assert points["time"].iloc[0] == pd.Timestamp(T0) and points["tags"].iloc[0] == {"sensor": "inlet"}


def test_availability_performance_and_status(server: Server) -> None:
    at = (T0 + timedelta(minutes=1)).isoformat()
    assert _post(server, "/api/equipment/J-2/availability",
                 json={"available": False, "reason": "power", "time": at}).status_code == 204
    assert _post(server, "/api/equipment/J-2/performance",
                 json={"cpu_usage": 55, "memory_usage": 40.5, "response_time": 120, "time": at}).status_code == 204
    assert _post(server, "/api/equipment/J-2/status",
                 json={"previous_status": "operational", "new_status": "offline", "time": at}).status_code == 204
    points = server.points("J-2")
    assert dict(zip(points["metric_type"], points["value"], strict=True)) == {
        "availability": 0.0, "cpu_usage": 55.0, "memory_usage": 40.5, "response_time": 120.0, "status_change": 1.0}
    tags = dict(zip(points["metric_type"], points["tags"], strict=True))
    assert tags["availability"] == {"reason": "power"}
    assert tags["status_change"] == {"previous_status": "operational", "new_status": "offline"}


def test_partial_performance_and_status_reason(server: Server) -> None:
    at = T0.isoformat()
    assert _post(server, "/api/equipment/J-3/performance", json={"cpu_usage": 12.5, "time": at}).status_code == 204
    assert _post(server, "/api/equipment/J-3/status", json={
        "previous_status": "operational", "new_status": "maintenance", "reason": "filter", "time": at,
    }).status_code == 204
    points = server.points("J-3")
    assert points["metric_type"].tolist() == ["cpu_usage", "status_change"]
    assert points["tags"].iloc[1]["reason"] == "filter"


def test_write_without_time_takes_now(server: Server) -> None:
    before = datetime.now(UTC)
    assert _post(server, "/api/equipment/J-4/metrics", json={"metric_type": "cpu_usage", "value": 3}).status_code == 204
    stamp = server.points("J-4")["time"].iloc[0]
    assert before - timedelta(seconds=1) <= stamp <= datetime.now(UTC)


@pytest.mark.parametrize(("path", "body", "parameter"), [
    ("metrics", {"metric_type": "CPU Usage", "value": 1, "time": T0.isoformat()}, "metric_type"),
    ("metrics", {"metric_type": "cpu_usage", "value": 1, "time": "2024-03-01T12:00:00"}, "time"),
    ("performance", {"cpu_usage": 150, "memory_usage": 1, "response_time": 1}, "cpu_usage"),
    ("performance", {"response_time": -1}, "response_time"),
    ("status", {"previous_status": "operational", "new_status": "exploded"}, "new_status"),
    ("status", {"previous_status": "operational", "new_status": "broken", "reason": "x"}, "new_status"),
])
def test_invalid_json_writes_are_400_and_write_nothing(server: Server, path: str, body: dict,
                                                      parameter: str) -> None:
    answer = _post(server, f"/api/equipment/J-BAD/{path}", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["parameter"] == parameter
    assert server.points("J-BAD").empty


def test_unparsable_json_is_422(server: Server) -> None:
    answer = _post(server, "/api/equipment/J-BAD/availability", json={"available": "yes"})
    assert answer.status_code == 422 and answer.json()["parameter"] == "available"


# -- line protocol -----------------------------------------------------------------------------

LINES = ("equipment_metrics,equipment_id=L-1,metric_type=cpu_usage,site=Lyon\\ 2 value=42.5 {t0}\n"
         "equipment_metrics,equipment_id=L-1,metric_type=memory_usage value=61i {t1}\n"
         "# a comment\n"
         "equipment_metrics,equipment_id=L-1,metric_type=availability value=1 {t1}\n")


def _lines(equipment_id: str, unit_ns: int) -> str:
    t0 = int(T0.timestamp() * 1e9) // unit_ns
    return LINES.replace("L-1", equipment_id).format(t0=t0, t1=t0 + 60 * 1_000_000_000 // unit_ns)


@pytest.mark.parametrize(("precision", "unit_ns"), [("ns", 1), ("us", 1_000), ("ms", 1_000_000),
                                                    ("s", 1_000_000_000)])
def test_line_protocol_precisions(server: Server, precision: str, unit_ns: int) -> None:
    equipment_id = f"LP-{precision}"
    answer = _post(server, f"/write?db=metrics&precision={precision}", content=_lines(equipment_id, unit_ns))
    assert answer.status_code == 204, answer.text
    points = server.points(equipment_id)
    assert points["time"].tolist() == [pd.Timestamp(T0)] + [pd.Timestamp(T0 + timedelta(minutes=1))] * 2
    assert points[["metric_type", "value"]].values.tolist() == [
        ["cpu_usage", 42.5], ["availability", 1.0], ["memory_usage", 61.0]]
    assert points["tags"].iloc[0] == {"site": "Lyon 2"}


def test_nanoseconds_are_kept_exactly(server: Server) -> None:
    stamp = int(T0.timestamp()) * 1_000_000_000 + 123_456_789
    body = f"equipment_metrics,equipment_id=LP-exact,metric_type=cpu_usage value=1 {stamp}\n"
    assert _post(server, "/write?db=x", content=body).status_code == 204
    assert server.points("LP-exact")["time"].iloc[0].value == stamp


def test_gzip_body_and_influxdb2_path_with_token_scheme(server: Server) -> None:
    body = gzip.compress(_lines("LP-gz", 1_000_000_000).encode())
    answer = _post(server, "/api/v2/write?org=o&bucket=b&precision=s", content=body,
                   headers={"Authorization": f"Token {WRITE_TOKEN}", "Content-Encoding": "gzip"})
    assert answer.status_code == 204, answer.text
    assert len(server.points("LP-gz")) == 3


def test_line_without_timestamp_takes_server_time(server: Server) -> None:
    before = datetime.now(UTC)
    assert _post(server, "/write?db=x", content="equipment_metrics,equipment_id=LP-now,metric_type=cpu_usage value=7"
                 ).status_code == 204
    assert before - timedelta(seconds=1) <= server.points("LP-now")["time"].iloc[0] <= datetime.now(UTC)


def test_one_bad_line_refuses_the_whole_batch(server: Server) -> None:
    lines = _lines("LP-refused", 1).splitlines()
    lines.insert(2, "equipment_metrics,equipment_id=LP-refused,metric_type=cpu_usage value=abc 1")
    lines.append("cpu,host=a usage_idle=99 1")
    answer = _post(server, "/write?db=x", content="\n".join(lines))
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["bad_lines"] == 2
    assert [p["line"] for p in problem["lines"]] == [3, 6]
    assert "'abc' is not a number" in problem["lines"][0]["reason"]
    assert "measurement 'equipment_metrics' expected; got 'cpu'" in problem["lines"][1]["reason"]
    assert "line 3" in problem["error"] and "nothing written" in problem["detail"]
    assert server.points("LP-refused").empty


@pytest.mark.parametrize(("query", "body", "fragment"), [
    ("db=x&precision=h2", "equipment_metrics,equipment_id=A,metric_type=cpu_usage value=1 1", "precision"),
    ("precision=s", "equipment_metrics,equipment_id=A,metric_type=cpu_usage value=1 1", "database is required"),
    ("db=x", "equipment_metrics,equipment_id=A,metric_type=availability value=2 1", "line 1: availability"),
    ("db=x", "equipment_metrics,equipment_id=A,metric_type=cpu_usage value=1 1,5", "line 1: timestamp"),
    ("db=x&precision=s", "equipment_metrics,equipment_id=A,metric_type=cpu_usage value=1 9999999999999999",
     "out of range"),
    ("db=x", "equipment_metrics,metric_type=cpu_usage value=1 1", "line 1: equipment_id"),
])
def test_bad_requests_name_the_problem(server: Server, query: str, body: str, fragment: str) -> None:
    answer = _post(server, f"/write?{query}", content=body)
    assert answer.status_code == 400, answer.text
    assert fragment in answer.json()["detail"]
    assert server.points("A").empty


def test_bad_gzip_is_400(server: Server) -> None:
    answer = _post(server, "/write?db=x", content=b"not gzip", headers={**WRITER, "Content-Encoding": "gzip"})
    assert answer.status_code == 400 and "gzip" in answer.json()["detail"]


# -- who may write -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/equipment/AUTH/metrics", "/write?db=x", "/api/v2/write?bucket=b"])
def test_writes_need_the_write_token(server: Server, path: str) -> None:
    json_body = {"metric_type": "cpu_usage", "value": 1, "time": T0.isoformat()}
    lp = "equipment_metrics,equipment_id=AUTH,metric_type=cpu_usage value=1 1"
    kwargs = {"json": json_body} if "equipment" in path else {"content": lp}
    assert _post(server, path, headers={}, **kwargs).status_code == 401
    assert _post(server, path, headers={"Authorization": f"Bearer {READ_TOKEN}"}, **kwargs).status_code == 403
    assert _post(server, path, headers={"Authorization": "Bearer wrong"}, **kwargs).status_code == 401
    assert server.points("AUTH").empty


def test_influxdb1_credentials(server: Server) -> None:
    lp = "equipment_metrics,equipment_id=AUTH-1,metric_type=cpu_usage value=1 1"
    basic = base64.b64encode(f"telegraf:{WRITE_TOKEN}".encode()).decode()
    assert _post(server, "/write?db=x", content=lp, headers={"Authorization": f"Basic {basic}"}).status_code == 204
    assert _post(server, f"/write?db=x&u=telegraf&p={WRITE_TOKEN}", content=lp.replace("AUTH-1", "AUTH-2"),
                 headers={}).status_code == 204
    assert len(server.points("AUTH-1")) == 1 and len(server.points("AUTH-2")) == 1


def test_writes_are_off_without_a_write_token(tmp_path: Path) -> None:
    running = Server(tmp_path)
    try:
        answer = httpx.post(f"{running.base}/write?db=x", timeout=30,
                            content="equipment_metrics,equipment_id=OFF,metric_type=cpu_usage value=1 1")
        assert answer.status_code == 403 and "VIGILEOS_API_WRITE_TOKEN" in answer.json()["detail"]
    finally:
        running.stop()
    assert running.points("OFF").empty


# -- the parser alone ------------------------------------------------------------------------------

def test_parser_numbers_lines_over_the_whole_body() -> None:
    body = ("\n# header\nequipment_metrics,equipment_id=P,metric_type=x value=1 1\r\n"
            "equipment_metrics,value=3 value=1 2\n")
    with pytest.raises(LineProtocolError) as refused:
        parse_line_protocol(body)
    assert refused.value.problems == [(4, "'value' cannot be a tag key")]
    frame = parse_line_protocol(body.splitlines(keepends=True)[2], now_ns=0)
    assert frame["time"].iloc[0].value == 1 and frame["equipment_id"].iloc[0] == "P"


def test_series_keys_checked_once_give_the_same_points_and_bad_keys_stay_bad():
    """Bodies from the same writers reuse the series keys already checked: the second
    parse of a body equals the first, and a key refused once is refused every time."""
    from vigileos_analytics.errors import LineProtocolError

    body = ("equipment_metrics,equipment_id=A,metric_type=cpu_usage,site=Paris value=1.5 1700000000000000000\n"
            "equipment_metrics,equipment_id=B,metric_type=memory_usage value=2 1700000000000000001\n")
    first, second = parse_line_protocol(body), parse_line_protocol(body)
    pd.testing.assert_frame_equal(first, second)
    assert first["equipment_id"].astype(str).tolist() == ["A", "B"]
    assert first["site"].astype(object).tolist()[0] == "Paris" and pd.isna(first["site"].astype(object).tolist()[1])
    bad = "equipment_metrics,equipment_id=A,metric_type=Bad-Metric value=1 1700000000000000000\n"
    for _ in range(2):
        with pytest.raises(LineProtocolError, match="line 1"):
            parse_line_protocol(bad)
