"""`GET /api/sla` and `/api/sla/annotations` from a real `vigileos serve`, on the
hand-worked store of tests/test_sla_cli.py: the same figures as the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from vigileos_analytics.analytics.sla_annotations import annotate
from vigileos_analytics.schema import AVAILABILITY, Point
from vigileos_analytics.stores import open_store

from .test_api import _start, _wait
from .test_sla_cli import DEGRADED_FILE, RESPONSE_TIMES, SLA_FILE, STATES

pytestmark = pytest.mark.slow  # starts a server


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory):
    folder: Path = tmp_path_factory.mktemp("api_sla")
    (folder / "inventory.csv").write_text("equipment_id,name,type,location\nA,Alpha,server,Paris-DC1\n"
                                          "B,Beta,server,Lyon-DC2\n")
    (folder / "slas.yaml").write_text(SLA_FILE + DEGRADED_FILE.split("slas:", 1)[1])
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    store.write_points([Point(eq, AVAILABILITY, v, datetime.fromisoformat(t).replace(tzinfo=UTC))
                        for eq, t, v in STATES])
    store.write_points([Point("B", "response_time", float(v), datetime.fromisoformat(t).replace(tzinfo=UTC))
                        for t, v in RESPONSE_TIMES])
    annotate(store, "A", datetime(2026, 4, 1, 12, tzinfo=UTC), datetime(2026, 4, 1, 13, tzinfo=UTC), "planned",
             "CHG-1234 firmware", "alice")
    store.close()
    process, url = _start(folder, VIGILEOS_SLAS=str(folder / "slas.yaml"), VIGILEOS_STALENESS="30d")
    try:
        _wait(process, url, {})
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_sla_status_has_the_hand_worked_figures(base):
    # As in tests/test_sla_cli.py after the annotation: servers up 282,600 s, unplanned
    # 1,800 s, planned 3,600 s; budget 0.5 % x 284,400 s = 1,422 s, remaining -378 s.
    answer = requests.get(f"{base}/api/sla", params={"period": "week", "at": "2026-03-31T12:00", "name": "servers"},
                          timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 1 and body["period"] == "week"
    [servers] = body["slas"]
    assert (servers["up_s"], servers["unplanned_s"], servers["planned_s"]) == (282_600, 1_800, 3_600)
    assert servers["budget"]["allowed_s"] == pytest.approx(1422)
    assert servers["budget"]["remaining_s"] == pytest.approx(-378)
    assert (servers["state"], servers["breached"], servers["at_risk"]) == ("breached", True, False)
    assert servers["met"] is False and servers["annotations"] == 1


def test_sla_status_shows_degraded_time_and_its_rule(base):
    # As in tests/test_sla_cli.py: B's one 5-minute slot above 500 ms, counted as down.
    answer = requests.get(f"{base}/api/sla", params={"period": "day", "at": "2026-03-31T12:00", "name": "rt-mean"},
                          timeout=60)
    assert answer.status_code == 200, answer.text
    [rt] = answer.json()["slas"]
    assert (rt["up_s"], rt["degraded_s"], rt["budget"]["spent_s"]) == (86_100, 300, 300)
    assert rt["degraded"]["counts_as"] == "down" and rt["degraded"]["every_s"] == 300


def test_sla_annotations_list_the_audit_trail(base):
    answer = requests.get(f"{base}/api/sla/annotations", params={"start": "2026-03-01", "end": "2026-05-01"},
                          timeout=60)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["annotations"]
    assert (row["equipment_id"], row["classification"], row["reason"], row["author"]) == (
        "A", "planned", "CHG-1234 firmware", "alice")


@pytest.mark.parametrize(("params", "parameter"), [
    ({"period": "fortnight"}, "period"), ({"name": "nope"}, "name"), ({"at": "yesterday-ish"}, "at"),
])
def test_bad_sla_parameters_are_400_problems(base, params, parameter):
    answer = requests.get(f"{base}/api/sla", params=params, timeout=60)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["parameter"] == parameter


def test_metrics_pages_at_nanosecond_times_move_on(tmp_path_factory: pytest.TempPathFactory):
    # Three points 1 ns apart: a cursor read back at microsecond precision would hand out
    # the first page again and again.
    import pandas as pd

    folder: Path = tmp_path_factory.mktemp("api_ns")
    (folder / "inventory.csv").write_text("equipment_id,name,type,location\nA,Alpha,server,Paris-DC1\n")
    store = open_store(f"duckdb:///{folder / 'metrics.duckdb'}")
    base_ns = pd.Timestamp("2026-03-01T00:00:00.000000100Z").value
    store.write_frame(pd.DataFrame({"time": pd.to_datetime([base_ns, base_ns + 1, base_ns + 2], utc=True),
                                    "equipment_id": "A", "metric_type": "cpu_usage", "value": [1.0, 2.0, 3.0]}))
    store.close()
    process, url = _start(folder)
    try:
        _wait(process, url, {})
        link = f"{url}/api/equipment/A/metrics/?start_time=2026-03-01&end_time=2026-03-02&limit=1"
        values = []
        for _ in range(5):
            page = requests.get(link, timeout=60).json()
            values += [m["value"] for m in page["metrics"]]
            link = page["next"]
            if link is None:
                break
        assert values == [1.0, 2.0, 3.0]
    finally:
        process.terminate()
        process.wait(timeout=30)
