"""The behaviour every storage backend must show.

A backend's test module subclasses :class:`StoreContract` and provides a ``store``
fixture that gives a fresh, empty store. The same tests then run on each backend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from vigileos_analytics.errors import ValidationError
from vigileos_analytics.schema import Point
from vigileos_analytics.stores.base import MetricsStore, Retention, Selection, StorageFacts
from vigileos_analytics.stores.spool import Spool
from vigileos_analytics.stores.tiered import TieredStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)

INJECTIONS = [
    '1") |> drop(columns: ["_value',
    "${x}",
    "trailing\\",
    "new\nline",
    "' OR 1=1",
    '"; DROP MEASUREMENT equipment_metrics',
]


def points_frame(equipment_id: str, metric_type: str, minutes: list[int], values: list[float],
                 **tags: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "time": [T0 + timedelta(minutes=m) for m in minutes],
        "equipment_id": equipment_id,
        "metric_type": metric_type,
        "value": values,
    })
    for key, value in tags.items():
        frame[key] = value
    return frame


class StoreContract:
    """Tests that take a ``store`` fixture (fresh and empty)."""

    def test_write_then_query_round_trip(self, store):
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 1, 2], [10.0, 20.5, 30.0], location="Paris"))
        got = store.query(Selection(T0, T0 + HOUR))
        assert list(got["value"]) == [10.0, 20.5, 30.0]
        assert list(got["time"]) == [pd.Timestamp(T0 + timedelta(minutes=m)) for m in (0, 1, 2)]
        assert set(got["equipment_id"]) == {"EQ-1"}
        assert got["tags"].iloc[0] == {"location": "Paris"}
        assert str(got["time"].dtype) == "datetime64[ns, UTC]"

    def test_write_points_objects(self, store):
        result = store.write_points([Point("EQ-1", "temperature", 41.5, T0, {"sensor": "inlet"})])
        assert result.points == 1
        got = store.query(Selection(T0, T0 + HOUR, metric_types=["temperature"]))
        assert got["value"].tolist() == [41.5] and got["tags"].iloc[0] == {"sensor": "inlet"}

    def test_same_series_and_time_keeps_the_last_value(self, store):
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 1], [1.0, 2.0]))
        store.write_frame(points_frame("EQ-1", "cpu_usage", [1, 2], [5.0, 6.0]))
        store.write_frame(points_frame("EQ-1", "cpu_usage", [1], [7.0]))
        got = store.query(Selection(T0, T0 + HOUR))
        assert got["value"].tolist() == [1.0, 7.0, 6.0]

    def test_duplicates_inside_one_batch_keep_the_last(self, store):
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 0, 0], [1.0, 2.0, 3.0]))
        assert store.query(Selection(T0, T0 + HOUR))["value"].tolist() == [3.0]

    def test_different_tags_are_different_series(self, store):
        store.write_frame(points_frame("EQ-1", "temperature", [0], [1.0], sensor="a"))
        store.write_frame(points_frame("EQ-1", "temperature", [0], [2.0], sensor="b"))
        got = store.query(Selection(T0, T0 + HOUR))
        assert sorted(got["value"]) == [1.0, 2.0]

    def test_filters_by_equipment_metric_tags_and_half_open_time(self, store):
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 30, 60], [1.0, 2.0, 3.0], location="Paris"))
        store.write_frame(points_frame("EQ-2", "cpu_usage", [0], [4.0], location="Lyon"))
        store.write_frame(points_frame("EQ-1", "memory_usage", [0], [5.0], location="Paris"))
        assert store.query(Selection(T0, T0 + HOUR, equipment_ids=["EQ-1"], metric_types=["cpu_usage"]))[
            "value"].tolist() == [1.0, 2.0]  # 60 min is the excluded end
        assert store.query(Selection(T0, T0 + 2 * HOUR, tags={"location": "Lyon"}))["value"].tolist() == [4.0]
        assert store.query(Selection(T0, T0 + 2 * HOUR, equipment_ids=["nope"])).empty

    @pytest.mark.parametrize("hostile", INJECTIONS)
    def test_hostile_filter_values_match_nothing(self, store, hostile):
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0], location="Paris"))
        assert store.query(Selection(T0, T0 + HOUR, equipment_ids=[hostile])).empty
        assert store.query(Selection(T0, T0 + HOUR, metric_types=[hostile])).empty
        assert store.query(Selection(T0, T0 + HOUR, tags={"location": hostile})).empty
        assert len(store.query(Selection(T0, T0 + HOUR))) == 1

    def test_aggregate_whole_period(self, store):
        values = list(np.arange(1.0, 21.0))
        store.write_frame(points_frame("EQ-1", "cpu_usage", list(range(20)), values))
        agg = store.aggregate(Selection(T0, T0 + HOUR), functions=("count", "mean", "min", "max", "last"))
        row = agg.iloc[0]
        assert (row["equipment_id"], row["metric_type"], row["count"]) == ("EQ-1", "cpu_usage", 20)
        assert row["mean"] == pytest.approx(10.5) and row["min"] == 1.0 and row["max"] == 20.0 and row["last"] == 20.0

    def test_aggregate_p95_lies_between_the_ranks_around_it(self, store):
        values = [float(v) for v in range(1, 101)]
        store.write_frame(points_frame("EQ-1", "cpu_usage", list(range(100)), values))
        p95 = store.aggregate(Selection(T0, T0 + 2 * HOUR), functions=("p95",))["p95"].iloc[0]
        assert 95.0 <= p95 <= 96.0

    def test_aggregate_windows_align_to_the_epoch(self, store):
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 10, 20, 30, 40, 50], [1.0, 2, 3, 4, 5, 6]))
        agg = store.aggregate(Selection(T0, T0 + HOUR), every=timedelta(minutes=30), functions=("mean", "count"))
        assert agg["time"].tolist() == [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(minutes=30))]
        assert agg["mean"].tolist() == [2.0, 5.0] and agg["count"].tolist() == [3, 3]

    def test_aggregate_rejects_unknown_function(self, store):
        with pytest.raises(ValidationError, match="aggregate functions"):
            store.aggregate(Selection(T0, T0 + HOUR), functions=("median; DROP",))

    def test_latest_per_series_and_before(self, store):
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 5, 9], [1.0, 2.0, 3.0]))
        store.write_frame(points_frame("EQ-2", "cpu_usage", [3], [9.0]))
        latest = store.latest().sort_values("equipment_id")
        assert latest["value"].tolist() == [3.0, 9.0]
        before = store.latest(equipment_ids=["EQ-1"], before=T0 + timedelta(minutes=6))
        assert before["value"].tolist() == [2.0]
        assert before["time"].iloc[0] == pd.Timestamp(T0 + timedelta(minutes=5))

    def test_delete_by_range_and_tag(self, store):
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 10, 20], [1.0, 2.0, 3.0], location="Paris"))
        store.write_frame(points_frame("EQ-2", "cpu_usage", [10], [4.0], location="Lyon"))
        deleted = store.delete(Selection(T0 + timedelta(minutes=5), T0 + timedelta(minutes=15),
                                         tags={"location": "Paris"}))
        assert deleted in (1, -1)  # -1: the backend cannot count what it deleted
        assert sorted(store.query(Selection(T0, T0 + HOUR))["value"]) == [1.0, 3.0, 4.0]

    def test_equipment_ids(self, store):
        store.write_frame(points_frame("EQ-2", "cpu_usage", [0], [1.0]))
        store.write_frame(points_frame("EQ-1", "cpu_usage", [0], [1.0]))
        assert store.equipment_ids() == ["EQ-1", "EQ-2"]

    def test_availability_intervals_carry_state_in_and_mark_gaps(self, store):
        # up at -5 min (carried in), down at 20, samples stop at 40; staleness 10 min.
        store.write_frame(points_frame("EQ-1", "availability", [-5, 0, 10, 20, 30, 40], [1, 1, 1, 0, 0, 0]))
        got = store.availability_intervals(T0, T0 + HOUR, timedelta(minutes=10))
        up = (got.loc[got["state"] == 1, "end"] - got.loc[got["state"] == 1, "start"]).sum() / 1e9
        down = (got.loc[got["state"] == 0, "end"] - got.loc[got["state"] == 0, "start"]).sum() / 1e9
        assert up == 20 * 60 and down == 30 * 60  # 50..60 min unknown

    def test_availability_values_must_be_zero_or_one(self, store):
        with pytest.raises(ValidationError, match="availability values"):
            store.write_frame(points_frame("EQ-1", "availability", [0], [0.5]))

    def test_bad_frames_are_refused_whole(self, store):
        bad = points_frame("EQ-1", "cpu_usage", [0, 1], [1.0, float("nan")])
        with pytest.raises(ValidationError, match="finite"):
            store.write_frame(bad)
        assert store.query(Selection(T0, T0 + HOUR)).empty

    def test_health(self, store):
        health = store.health()
        assert health.ok and health.backend

    def test_capabilities_are_typed_protocol_members(self, store):
        assert isinstance(store, MetricsStore) and isinstance(TieredStore(store), MetricsStore)
        assert store.write_frame(points_frame("EQ-1", "cpu_usage", [0, 1], [1.0, 2.0]), spool=False).points == 2
        store.write_points([Point("EQ-1", "cpu_usage", 3.0, T0 + timedelta(minutes=2))], spool=False)
        facts = store.storage_facts()
        assert isinstance(facts, StorageFacts) and facts.series == 1 and facts.size_note
        assert facts.equipment[["equipment_id", "points"]].to_dict("records") == [{"equipment_id": "EQ-1",
                                                                                   "points": 3}]
        assert facts.equipment["last"].tolist() == [pd.Timestamp(T0 + timedelta(minutes=2))]
        assert store.spool is None or isinstance(store.spool, Spool)
        retention = store.retention()
        assert isinstance(retention, Retention) and retention.days is None and retention.duration is None
        assert retention.enforced_by_store is store.enforces_retention
        assert store.rollup_names() == [] and store.open_rollup("equipment_metrics_1h") is None
        for method in (store.open_rollup, store.create_rollup):
            with pytest.raises(ValidationError, match="not a rollup measurement"):
                method("cpu_usage")
