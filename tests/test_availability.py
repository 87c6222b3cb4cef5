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
