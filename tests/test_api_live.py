"""Live push against a real server: WebSocket clients (``websockets``) of ``vigileos serve``
receive points another process writes, the dashboard summary, one poller per topic."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from vigileos_analytics.schema import Point
from vigileos_analytics.stores import open_store

from .test_api_writes import Server

READ_TOKEN = "read-token-for-live-tests"
WRITE_TOKEN = "write-token-for-live-tests"
READER = {"Authorization": f"Bearer {READ_TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("api-live"), VIGILEOS_API_TOKEN=READ_TOKEN,
                     VIGILEOS_API_WRITE_TOKEN=WRITE_TOKEN)
    with open_store(running.url) as store:
        store.write_points([Point("EQ-1", "cpu_usage", 10.0, datetime.now(UTC) - timedelta(minutes=5)),
                            Point("EQ-1", "availability", 1.0, datetime.now(UTC) - timedelta(minutes=5))])
    yield running
    running.stop()


def _socket(server: Server, path: str, headers: dict[str, str] | None = None) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{server.port}{path}", additional_headers=headers, open_timeout=10)


def _receive_until(ws: ClientConnection, wanted, timeout_s: float) -> tuple[dict, float]:
    """The first message ``wanted`` accepts, and how long it took."""
    started = time.monotonic()
    while True:
        left = timeout_s - (time.monotonic() - started)
        if left <= 0:
            raise AssertionError(f"no wanted message within {timeout_s} s")
        message = json.loads(ws.recv(timeout=left))
        if wanted(message):
            return message, time.monotonic() - started


def _stats(server: Server) -> dict:
    answer = httpx.get(f"{server.base}/api/live/stats", headers=READER, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_point_written_elsewhere_is_pushed_at_once(server: Server) -> None:
    # interval 60 s: the push can only come from the poll seeing a newer point.
    with _socket(server, f"/ws/equipment/W-1/metrics?interval=60&token={READ_TOKEN}") as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first == {"equipment_id": "W-1", "metrics": [], "newest": None}
        at = datetime.now(UTC).replace(microsecond=0)
        with open_store(server.url) as store:
            store.write_points([Point("W-1", "temperature", 48.25, at, {"sensor": "core"})])
        message, waited = _receive_until(ws, lambda m: m["metrics"], timeout_s=10)
    assert message["metrics"] == [{"time": at.isoformat(), "metric_type": "temperature", "value": 48.25,
                                   "tags": {"sensor": "core"}}]
    assert message["newest"] == at.isoformat()
    assert waited < 5


def test_interval_resends_the_latest(server: Server) -> None:
    with _socket(server, "/ws/equipment/EQ-1/metrics?interval=1", headers=READER) as ws:
        first = json.loads(ws.recv(timeout=10))
        started = time.monotonic()
        second = json.loads(ws.recv(timeout=10))
        elapsed = time.monotonic() - started
    assert {m["metric_type"] for m in first["metrics"]} == {"cpu_usage", "availability"}
    assert second == first
    assert 0.5 < elapsed < 3


def test_a_post_reaches_the_socket(server: Server) -> None:
    with _socket(server, f"/ws/equipment/W-2/metrics?interval=60&token={READ_TOKEN}") as ws:
        json.loads(ws.recv(timeout=10))
        answer = httpx.post(f"{server.base}/api/equipment/W-2/metrics", timeout=30,
                            headers={"Authorization": f"Bearer {WRITE_TOKEN}"},
                            json={"metric_type": "cpu_usage", "value": 33.0})
        assert answer.status_code == 204
        message, _ = _receive_until(ws, lambda m: m["metrics"], timeout_s=10)
    assert [(m["metric_type"], m["value"]) for m in message["metrics"]] == [("cpu_usage", 33.0)]


def test_two_clients_share_one_poller_which_stops_after_them(server: Server) -> None:
    before = _stats(server)["pollers_started"]
    with _socket(server, f"/ws/equipment/W-3/metrics?interval=1&token={READ_TOKEN}") as one, \
            _socket(server, "/ws/equipment/W-3/metrics?interval=1", headers=READER) as two:
        one.recv(timeout=10)
        two.recv(timeout=10)
        stats = _stats(server)
        topic = stats["topics"]["equipment:W-3"]
        assert topic["subscribers"] == 2 and topic["polling"]
        assert stats["pollers_started"] == before + 1
        polls = topic["polls"]
        time.sleep(3)
        # one poll a second for both clients, not one per client
        assert _stats(server)["topics"]["equipment:W-3"]["polls"] - polls <= 4
    deadline = time.monotonic() + 10
    while "equipment:W-3" in _stats(server)["topics"]:
        assert time.monotonic() < deadline, "the topic outlived its clients"
        time.sleep(0.1)


def test_dashboard_socket_sends_the_fleet_summary(server: Server) -> None:
    with _socket(server, f"/ws/dashboard?interval=2&token={READ_TOKEN}") as ws:
        message = json.loads(ws.recv(timeout=20))
    assert message["summary"]["total_equipment"] >= 1
    row = next(r for r in message["equipment"] if r["equipment_id"] == "EQ-1")
    assert row["name"] == "Pump 1" and row["performance"]["cpu_usage"] == 10.0


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/ws/dashboard", None, 401),
    ("/ws/dashboard?token=wrong", None, 401),
    ("/ws/equipment/EQ-1/metrics", {"Authorization": "Bearer wrong"}, 401),
    (f"/ws/equipment/EQ-1/metrics?interval=0.5&token={READ_TOKEN}", None, 400),
    (f"/ws/dashboard?hours=0&token={READ_TOKEN}", None, 400),
])
def test_refused_handshakes(server: Server, path: str, headers: dict | None, status: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        _socket(server, path, headers)
    assert refused.value.response.status_code == status
    assert json.loads(refused.value.response.body)["status"] == status


def test_open_reads_without_a_read_token(tmp_path: Path) -> None:
    running = Server(tmp_path)
    try:
        with _socket(running, "/ws/equipment/EQ-9/metrics") as ws:
            assert json.loads(ws.recv(timeout=10))["equipment_id"] == "EQ-9"
    finally:
        running.stop()
