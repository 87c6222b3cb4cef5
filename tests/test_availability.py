"""Time-weighted availability: edge cases worked out by hand, and invariants."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.errors import ValidationError
from vigileos_analytics.ingest.recording import EquipmentMetricsService
from vigileos_analytics.stores import open_store

from .store_contract import T0, points_frame

MIN = 60.0
W_END = T0 + timedelta(hours=1)


def service(store, staleness_min=10):
    return EquipmentAnalyticsService(store, staleness=timedelta(minutes=staleness_min))


def avail(store, start=T0, end=W_END, **kw):
    return service(store, kw.pop("staleness_min", 10)).calculate_availability("EQ-1", start, end, **kw)


def test_state_before_the_window_is_carried_in(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [-3, 5, 12, 20, 30, 40, 50], [0, 0, 0, 1, 1, 1, 1]))
    r = avail(embedded_store)
    # down from 0 (carried in from -3) to 20; up 20..60 (50 + 10 min staleness reaches the end).
    assert r.downtime_s == 20 * MIN and r.uptime_s == 40 * MIN
    assert r.availability_pct == pytest.approx(200 / 3)
    assert r.outages == 1 and r.mttr_s == 20 * MIN and r.mtbf_s == 40 * MIN
    assert r.coverage_pct == 100.0 and r.samples == 6


def test_a_sample_older_than_the_staleness_limit_is_not_carried_in(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [-30, 15], [0, 1]))
    r = avail(embedded_store)
    assert r.downtime_s == 0 and r.uptime_s == 10 * MIN and r.unknown_s == 50 * MIN
    assert r.availability_pct == 100.0 and r.coverage_pct == pytest.approx(100 / 6)


def test_gaps_are_unknown_not_up_or_down(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [0, 5, 40, 45], [1, 1, 1, 1]))
    r = avail(embedded_store)
    # 0..15 known (5 + 10 staleness), 15..40 unknown, 40..55 known, 55..60 unknown
    assert r.uptime_s == 30 * MIN and r.unknown_s == 30 * MIN and r.coverage_pct == 50.0


def test_a_single_sample(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [30], [0]))
    r = avail(embedded_store)
    assert r.downtime_s == 10 * MIN and r.uptime_s == 0 and r.availability_pct == 0.0 and r.outages == 1


def test_no_data_is_reported_as_no_coverage(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]))
    r = avail(embedded_store)
    assert r.availability_pct is None and r.coverage_pct == 0.0 and r.samples == 0
    assert r.mtbf_s is None and r.mttr_s is None and r.unknown_s == 3600


def test_samples_written_out_of_order_and_duplicated(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [50, 10, 30, 0, 20, 40], [1, 0, 1, 1, 0, 1]))
    embedded_store.write_frame(points_frame("EQ-1", "availability", [10, 20], [0, 0]))  # same again
    r = avail(embedded_store)
    assert r.downtime_s == 20 * MIN and r.uptime_s == 40 * MIN and r.outages == 1


def test_two_series_at_one_instant_unavailable_wins(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [0], [1], reason="ok"))
    embedded_store.write_frame(points_frame("EQ-1", "availability", [0], [0], reason="probe_failed"))
    r = avail(embedded_store, staleness_min=60)
    assert r.downtime_s == 3600 and r.uptime_s == 0


def test_overlapping_maintenance_windows_are_excluded_once(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", list(range(0, 60, 5)), [1] * 4 + [0] * 4 + [1] * 4))
    windows = [(T0 + timedelta(minutes=15), T0 + timedelta(minutes=30)),
               (T0 + timedelta(minutes=25), T0 + timedelta(minutes=35))]
    r = avail(embedded_store, maintenance_windows=windows)
    # 15..35 excluded (20 min, counted once); down 35..40; up 0..15 and 40..60
    assert r.maintenance_s == 20 * MIN and r.downtime_s == 5 * MIN and r.uptime_s == 35 * MIN
    assert r.coverage_pct == 100.0 and r.outages == 1


def test_maintenance_from_status_changes(embedded_store):
    with EquipmentMetricsService(embedded_store) as rec:
        rec.record_status_change("EQ-1", "operational", "maintenance", time=T0 + timedelta(minutes=10))
        rec.record_status_change("EQ-1", "maintenance", "operational", time=T0 + timedelta(minutes=20))
    embedded_store.write_frame(points_frame("EQ-1", "availability", list(range(0, 60)), [1] * 10 + [0] * 10 + [1] * 40))
    without = avail(embedded_store)
    excluded = avail(embedded_store, exclude_maintenance=True)
    assert without.downtime_s == 10 * MIN and without.outages == 1
    assert excluded.downtime_s == 0 and excluded.maintenance_s == 10 * MIN and excluded.availability_pct == 100.0


def test_outages_spanning_days_count_in_each_day(embedded_store):
    minutes = list(range(0, 3 * 24 * 60, 10))
    down = [1 if (24 * 60 - 60) <= m < (24 * 60 + 60) else 0 for m in minutes]
    embedded_store.write_frame(points_frame("EQ-1", "availability", minutes, [1 - d for d in down]))
    report = service(embedded_store).availability_report(T0, T0 + timedelta(days=3), "EQ-1")
    assert report["outages"].tolist() == [1, 1, 0]
    assert report["downtime_s"].tolist() == [3600.0, 3600.0, 0.0]
    assert report["samples"].tolist() == [144, 144, 144]


def test_bad_periods_and_equipment_are_refused(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [0], [1]))
    with pytest.raises(ValidationError, match="start_time must be before end_time"):
        avail(embedded_store, start=W_END, end=T0)
    with pytest.raises(ValidationError, match="timezone-aware"):
        avail(embedded_store, start=datetime(2024, 1, 1), end=W_END)
    with pytest.raises(ValidationError, match="unknown equipment 'EQ-9'"):
        service(embedded_store).calculate_availability("EQ-9", T0, W_END)


samples_strategy = st.lists(st.tuples(st.integers(-30, 300), st.integers(0, 1)), min_size=0, max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(samples=samples_strategy, cut=st.integers(1, 299), staleness=st.sampled_from([3, 10, 45]))
def test_invariants(tmp_path_factory, samples, cut, staleness):
    """0-100 %, up + down + unknown = window, and two windows that tile a period add up to it."""
    store = open_store(f"duckdb:///{tmp_path_factory.mktemp('prop') / 'm.duckdb'}")
    store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]))  # the equipment exists even without samples
    if samples:
        store.write_frame(points_frame("EQ-1", "availability", [m for m, _ in samples], [v for _, v in samples]))
    svc = service(store, staleness)
    end = T0 + timedelta(minutes=300)
    middle = T0 + timedelta(minutes=cut)
    whole = svc.calculate_availability("EQ-1", T0, end)
    left = svc.calculate_availability("EQ-1", T0, middle)
    right = svc.calculate_availability("EQ-1", middle, end)
    assert whole.availability_pct is None or 0 <= whole.availability_pct <= 100
    assert whole.uptime_s + whole.downtime_s + whole.unknown_s == pytest.approx(300 * MIN)
    for field in ("uptime_s", "downtime_s", "unknown_s"):
        assert getattr(left, field) + getattr(right, field) == pytest.approx(getattr(whole, field))
    assert left.samples + right.samples == whole.samples
    daily = svc.fleet_availability(T0, end, ["EQ-1"], freq="1h")
    assert daily["uptime_s"].sum() == pytest.approx(whole.uptime_s)
    assert daily["downtime_s"].sum() == pytest.approx(whole.downtime_s)


def test_analytics_refuse_bad_options(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [0], [1]))
    svc = service(embedded_store)
    with pytest.raises(ValidationError, match="freq must be a duration"):
        svc.fleet_availability(T0, W_END, freq="daily")
    with pytest.raises(ValidationError, match="staleness must be a positive timedelta"):
        EquipmentAnalyticsService(embedded_store, staleness=timedelta(0))
    with pytest.raises(ValidationError, match="equipment_ids must be a string or a list of strings"):
        embedded_store.query(__import__("vigileos_analytics").Selection(T0, W_END, equipment_ids=[1, 2]))
    with pytest.raises(ValidationError, match="maintenance"):
        svc.calculate_availability("EQ-1", T0, W_END, maintenance_windows=[(W_END, T0)])


def test_fleet_summary_rows_worked_out_by_hand(embedded_store):
    """Every figure of every row of a small fleet, including equipment without data and
    equipment with data but no inventory row."""
    import pandas as pd

    with EquipmentMetricsService(embedded_store) as rec:
        rec.record_status_change("EQ-1", "offline", "operational", time=T0 - timedelta(minutes=10))
        rec.record_status_change("EQ-2", "operational", "offline", time=T0 + timedelta(minutes=30))
    embedded_store.write_frame(points_frame("EQ-1", "availability", [0, 10, 20, 30, 40, 50], [1, 1, 1, 0, 0, 1]))
    embedded_store.write_frame(points_frame("EQ-1", "cpu_usage", [10, 20], [20.0, 40.0]))
    embedded_store.write_frame(points_frame("EQ-1", "response_time", [15], [100.0]))
    embedded_store.write_frame(points_frame("EQ-2", "availability", [0], [1]))
    embedded_store.write_frame(points_frame("EQ-4", "cpu_usage", [50], [70.0]))
    inventory = pd.DataFrame({"equipment_id": ["EQ-1", "EQ-2", "EQ-3"], "name": ["One", "Two", "Three"],
                              "type": ["server", "server", "machine"], "location": ["Paris", "Lyon", "Lille"]})
    svc = EquipmentAnalyticsService(embedded_store, inventory=inventory, staleness=timedelta(minutes=10))
    payload = svc.fleet_summary(now=W_END, period=timedelta(hours=1))

    rows = {r["equipment_id"]: r for r in payload["equipment"]}
    assert [r["equipment_id"] for r in payload["equipment"]] == ["EQ-1", "EQ-2", "EQ-3", "EQ-4"]
    # EQ-1: up 0..30 and 50..60, down 30..50 (10 min staleness joins the samples).
    assert rows["EQ-1"] == {
        "equipment_id": "EQ-1", "name": "One", "type": "server", "location": "Paris", "status": "operational",
        "availability_24h": pytest.approx(200 / 3), "coverage_24h": 100.0,
        "last_metric_time": "2024-01-01T00:50:00+00:00",
        "performance": {"cpu_usage": 30.0, "memory_usage": None, "response_time": 100.0},
    }
    # EQ-2: one sample at 0 covers 10 minutes; its last point is the status change at 30.
    assert rows["EQ-2"]["status"] == "offline" and rows["EQ-2"]["availability_24h"] == 100.0
    assert rows["EQ-2"]["coverage_24h"] == pytest.approx(100 / 6)
    assert rows["EQ-2"]["last_metric_time"] == "2024-01-01T00:30:00+00:00"
    assert rows["EQ-2"]["performance"] == {"cpu_usage": None, "memory_usage": None, "response_time": None}
    # EQ-3: in the inventory, no data at all.
    assert rows["EQ-3"] == {
        "equipment_id": "EQ-3", "name": "Three", "type": "machine", "location": "Lille", "status": "unknown",
        "availability_24h": None, "coverage_24h": 0.0, "last_metric_time": None,
        "performance": {"cpu_usage": None, "memory_usage": None, "response_time": None},
    }
    # EQ-4: data but no inventory row: named after its id.
    assert rows["EQ-4"] == {
        "equipment_id": "EQ-4", "name": "EQ-4", "type": "", "location": "", "status": "unknown",
        "availability_24h": None, "coverage_24h": 0.0, "last_metric_time": "2024-01-01T00:50:00+00:00",
        "performance": {"cpu_usage": 70.0, "memory_usage": None, "response_time": None},
    }
    assert payload["summary"] == {"total_equipment": 4, "operational": 1, "maintenance": 0, "offline": 1,
                                  "average_availability": pytest.approx((200 / 3 + 100) / 2)}
    assert all(type(v) is float for r in rows.values() for v in (r["availability_24h"], r["coverage_24h"])
               if v is not None)


def test_fleet_availability_ignores_rows_of_equipment_not_asked_for(embedded_store):
    embedded_store.write_frame(points_frame("EQ-1", "availability", [0, 30], [1, 0]))
    embedded_store.write_frame(points_frame("EQ-2", "availability", [0], [0]))
    table = service(embedded_store, 60).fleet_availability(T0, W_END, ["EQ-2", "EQ-1"])
    # Rows in the order asked; EQ-2 down the whole hour, EQ-1 up 0..30 then down.
    assert table["equipment_id"].tolist() == ["EQ-2", "EQ-1"]
    assert table["downtime_s"].tolist() == [3600.0, 1800.0] and table["uptime_s"].tolist() == [0.0, 1800.0]
    only = service(embedded_store, 60).fleet_availability(T0, W_END, ["EQ-1"])
    assert only["downtime_s"].tolist() == [1800.0] and only["outages"].tolist() == [1]
