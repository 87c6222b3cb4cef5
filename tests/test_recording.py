"""Recording: the seed's API, buffering, and nothing lost on failure, close or exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta

import pytest

from vigileos_analytics.errors import StoreAuthError, ValidationError, WriteError
from vigileos_analytics.ingest.recording import EquipmentMetricsService
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

from .influx_fixtures import ADMIN_USER, influxd, influxd_auth  # noqa: F401  (pytest fixtures)
from .store_contract import T0

NOW = T0 + timedelta(minutes=5)


def all_points(store):
    return store.query(Selection(T0 - timedelta(days=1), T0 + timedelta(days=1)))


def test_seed_api_records_the_data_model(embedded_store):
    with EquipmentMetricsService(embedded_store, clock=lambda: NOW) as rec:
        rec.record_metric("EQ-1", "temperature", 41.0, {"sensor": "inlet"})
        rec.record_availability("EQ-1", False, "power_cut")
        rec.record_performance("EQ-1", 55.0, 70.0, 120.0)
        rec.record_status_change("EQ-1", "operational", "offline")
    got = all_points(embedded_store).set_index("metric_type")
    assert got.loc["availability", "value"] == 0.0 and got.loc["availability", "tags"] == {"reason": "power_cut"}
    assert got.loc["status_change", "tags"] == {"previous_status": "operational", "new_status": "offline"}
    assert got.loc[["cpu_usage", "memory_usage", "response_time"], "value"].tolist() == [55.0, 70.0, 120.0]
    assert set(got["time"]) == {NOW}


def test_points_wait_in_the_buffer_until_flush(embedded_store):
    rec = EquipmentMetricsService(embedded_store, batch_size=3, clock=lambda: NOW)
    rec.record_metric("EQ-1", "cpu_usage", 1.0)
    rec.record_metric("EQ-1", "cpu_usage", 2.0, time=NOW + timedelta(seconds=1))
    assert rec.pending == 2 and all_points(embedded_store).empty
    rec.record_metric("EQ-1", "cpu_usage", 3.0, time=NOW + timedelta(seconds=2))  # reaches batch_size
    assert rec.pending == 0 and len(all_points(embedded_store)) == 3
    rec.close()


class BrokenThenHealedStore:
    """A real embedded store whose first writes fail, as a server outage would.
    Wraps the real store (no mock of its behaviour): only the failure is injected."""

    def __init__(self, store, failures):
        self.store, self.failures = store, failures

    def write_points(self, points):
        if self.failures:
            self.failures -= 1
            raise WriteError("store unreachable", unwritten=points)
        return self.store.write_points(points)


def test_a_failed_flush_keeps_every_point_for_the_next(embedded_store):
    rec = EquipmentMetricsService(BrokenThenHealedStore(embedded_store, failures=1), clock=lambda: NOW)
    rec.record_metric("EQ-1", "cpu_usage", 1.0)
    with pytest.raises(WriteError, match="1 buffered points were not written and stay buffered"):
        rec.flush()
    assert rec.pending == 1
    rec.record_metric("EQ-1", "cpu_usage", 2.0, time=NOW + timedelta(seconds=1))
    rec.close()
    assert all_points(embedded_store)["value"].tolist() == [1.0, 2.0]


def test_bad_input_is_refused_when_recorded(embedded_store):
    rec = EquipmentMetricsService(embedded_store, clock=lambda: NOW)
    cases = [
        (lambda: rec.record_metric("", "cpu_usage", 1.0), "equipment_id must be a non-empty string"),
        (lambda: rec.record_metric("x" * 65, "cpu_usage", 1.0), "at most 64"),
        (lambda: rec.record_metric("EQ-1", "CPU usage", 1.0), "metric_type must start"),
        (lambda: rec.record_metric("EQ-1", "cpu_usage", float("nan")), "finite number"),
        (lambda: rec.record_metric("EQ-1", "cpu_usage", "12"), "finite number"),
        (lambda: rec.record_metric("EQ-1", "cpu_usage", 1.0, {"time": "x"}), "tag names"),
        (lambda: rec.record_metric("EQ-1", "cpu_usage", 1.0, {"site": "a" * 300}), "at most 256"),
        (lambda: rec.record_metric("EQ-1", "cpu_usage", 1.0, time=datetime(2024, 1, 1)), "timezone-aware"),
        (lambda: rec.record_status_change("EQ-1", "operational", "broken"), "new_status must be one of"),
        (lambda: rec.record_availability("EQ-1", "yes"), "True or False"),
        (lambda: rec.record_performance("EQ-1", 120.0, 50.0, 10.0), "cpu_usage must be between 0 and 100"),
    ]
    for call, message in cases:
        with pytest.raises(ValidationError, match=message):
            call()
    assert rec.pending == 0


def test_extra_statuses_from_settings(embedded_store):
    from vigileos_analytics.schema import StatusRegistry

    rec = EquipmentMetricsService(embedded_store, statuses=StatusRegistry(("degraded",)), clock=lambda: NOW)
    rec.record_status_change("EQ-1", "operational", "degraded")
    assert rec.pending == 1


def test_buffered_points_are_written_at_interpreter_exit(store_path):
    url = f"duckdb:///{store_path}"
    script = textwrap.dedent(f"""
        from datetime import datetime, timezone
        from vigileos_analytics import open_store, EquipmentMetricsService
        rec = EquipmentMetricsService(open_store({url!r}), batch_size=1000)
        for i in range(10):
            rec.record_metric("EQ-1", "cpu_usage", float(i), time=datetime(2024, 1, 1, 0, i, tzinfo=timezone.utc))
        # no flush, no close: the process just ends
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert all_points(open_store(url))["value"].tolist() == [float(i) for i in range(10)]


def test_closed_service_refuses_points(embedded_store):
    rec = EquipmentMetricsService(embedded_store, clock=lambda: NOW)
    rec.close()
    with pytest.raises(ValidationError, match="closed"):
        rec.record_metric("EQ-1", "cpu_usage", 1.0)


def test_points_the_store_refuses_are_dropped_not_kept_for_a_retry(embedded_store):
    rec = EquipmentMetricsService(embedded_store, clock=lambda: NOW)
    rec.record_metric("EQ-1", "availability", 0.5)  # valid alone; the embedded store takes only 0 and 1
    with pytest.raises(ValidationError, match="1 recorded points were refused and dropped"):
        rec.close()
    assert rec.pending == 0 and all_points(embedded_store).empty
    with pytest.raises(ValidationError, match="closed"):
        rec.record_metric("EQ-1", "cpu_usage", 1.0)


def test_a_refusal_of_the_server_drops_the_batch_and_a_failure_keeps_it(embedded_store):
    class RefusingStore(BrokenThenHealedStore):
        def write_points(self, points):
            raise WriteError("refused", unwritten=points, **StoreAuthError("401", status=401).kind())

    rec = EquipmentMetricsService(RefusingStore(embedded_store, failures=0), clock=lambda: NOW)
    rec.record_metric("EQ-1", "cpu_usage", 1.0)
    with pytest.raises(WriteError, match="1 recorded points were dropped") as raised:
        rec.flush()
    assert raised.value.problem == "unauthorized" and rec.pending == 0


def run_record(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``vigileos record`` in its own interpreter, so what happens at its exit is seen too."""
    import os

    return subprocess.run([sys.executable, "-m", "vigileos_analytics", "--store", url, "record", *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def assert_reported_once(result: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    """One line on stderr, the command's own; nothing more at exit (no retry, no traceback)."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert result.stdout == ""


def test_record_of_a_refused_value_reports_it_once_and_writes_nothing(store_path):
    url = f"duckdb:///{store_path}"
    result = run_record(url, "EQ-1", "availability", "0.5")
    assert_reported_once(result, 3, "refused and dropped", "availability values must be 1")
    assert all_points(open_store(url)).empty


@pytest.mark.influxdb
def test_record_refused_by_influxd_is_reported_once_and_not_retried(influxd, influxd_auth):  # noqa: F811
    missing = run_record(f"influxdb1+{influxd.url}/never_created?spool=off", "EQ-1", "cpu_usage", "1")
    assert_reported_once(missing, 5, "1 recorded points were dropped", "database not found")
    unauthorized = run_record(f"influxdb1+{influxd_auth.url}/authdb?spool=off", "EQ-1", "cpu_usage", "1",
                              env={"INFLUXDB_USERNAME": ADMIN_USER, "INFLUXDB_PASSWORD": "wrong-pw"})
    assert_reported_once(unauthorized, 5, "answered 401", "INFLUXDB_USERNAME ('admin'")
    assert "wrong-pw" not in unauthorized.stderr
    backslash = run_record(f"influxdb1+{influxd.url}/db?create_database=true&spool=off", "EQ-1\\", "cpu_usage", "1")
    assert_reported_once(backslash, 3, "backslash")
