"""``availability_of``: the availability rules on a DataFrame that never entered a store.

The same samples written to a real DuckDB store and read back by the service give the
same figures, field by field; one case is worked out by hand; every mistake in the
frame is a ValidationError naming the column and the row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vigileos_analytics
from vigileos_analytics import AvailabilityResult, availability_of
from vigileos_analytics.analytics.service import EquipmentAnalyticsService
from vigileos_analytics.errors import ValidationError
from vigileos_analytics.stores import open_store
from vigileos_analytics.stores.base import Selection

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


#: Two equipment, minutes after T0 and state: a sample before the period carries its
#: state in, gaps longer than the staleness, an outage across the 00:30 window edge,
#: a sample after the period, and EQ-B's two samples of one instant that disagree.
SAMPLES = {
    "EQ-A": ([-7, 0, 5, 12, 20, 28, 34, 38, 41, 55, 61, 70, 95], [1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1]),
    "EQ-B": ([3, 8, 25, 25, 44, 50, 90, 119, 125], [0, 1, 1, 0, 1, 1, 0, 1, 1]),
}


def long_frame() -> pd.DataFrame:
    rows = [(eq, at(m), v) for eq, (minutes, values) in SAMPLES.items() for m, v in zip(minutes, values, strict=True)]
    return pd.DataFrame(rows, columns=["equipment_id", "time", "value"])


def store_with(frame: pd.DataFrame, path: Path):
    """The samples as availability points in a real DuckDB store; duplicates of one instant
    are written in two batches, so the store keeps the conservative 0 as the frame path does."""
    store = open_store(f"duckdb:///{path}")
    points = frame.assign(metric_type="availability", value=frame["value"].astype("float64"))
    dup = points.duplicated(["equipment_id", "time"], keep=False)
    store.write_frame(points[~dup | (points["value"] == 1)])
    store.write_frame(points[dup & (points["value"] == 0)])
    return store


def assert_same_table(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    ours = ours.sort_values(["equipment_id", "window_start"]).reset_index(drop=True)
    theirs = theirs.sort_values(["equipment_id", "window_start"]).reset_index(drop=True)
    assert list(ours.columns) == list(theirs.columns)
    for column in theirs.columns:
        assert ours[column].tolist() == pytest.approx(theirs[column].tolist(), nan_ok=True) \
            if ours[column].dtype.kind == "f" else ours[column].tolist() == theirs[column].tolist(), column


@pytest.mark.parametrize("options", [
    {},
    {"freq": "30min"},
    {"staleness": timedelta(minutes=3)},
    {"maintenance_windows": [(at(30), at(45))]},
    {"freq": "1h", "staleness": timedelta(minutes=20), "maintenance_windows": [(at(10), at(20)), (at(80), at(100))]},
])
def test_the_same_samples_give_the_same_fleet_table_as_the_store(tmp_path: Path, options: dict) -> None:
    frame = long_frame()
    service = EquipmentAnalyticsService(store_with(frame, tmp_path / "m.duckdb"))
    start, end = T0, T0 + 2 * HOUR
    theirs = service.fleet_availability(start, end, **options)
    ours = availability_of(frame, equipment="equipment_id", start=start, end=end,
                           staleness=options.get("staleness", service.staleness), freq=options.get("freq"),
                           maintenance=options.get("maintenance_windows"))
    assert_same_table(ours, theirs)
    assert ours["samples"].sum() > 0 and ours["outages"].sum() > 0  # the comparison saw outages and samples


def test_one_equipment_gives_the_same_result_as_calculate_availability(tmp_path: Path) -> None:
    frame = long_frame()
    service = EquipmentAnalyticsService(store_with(frame, tmp_path / "m.duckdb"))
    windows = pd.DataFrame({"equipment_id": ["EQ-A", "EQ-B"], "start": [at(50), at(0)], "end": [at(65), at(5)]})
    for equipment_id in SAMPLES:
        theirs = service.calculate_availability(equipment_id, T0, T0 + 2 * HOUR, maintenance_windows=[(at(30), at(45))])
        ours = availability_of(frame, equipment="equipment_id", equipment_id=equipment_id, start=T0,
                               end=T0 + 2 * HOUR, maintenance=[(at(30), at(45))])
        assert isinstance(ours, AvailabilityResult)
        assert ours == theirs, equipment_id  # every field, exactly
        assert ours.samples > 0 and ours.outages > 0
    # A frame of windows per equipment, as fleet_availability takes it.
    theirs = service.fleet_availability(T0, T0 + 2 * HOUR, maintenance_windows=windows)
    assert_same_table(availability_of(frame, equipment="equipment_id", start=T0, end=T0 + 2 * HOUR,
                                      maintenance=windows), theirs)


def test_the_simulated_fleet_gives_the_same_figures_from_a_frame(seeded_fleet_dir: Path) -> None:
    """Ten days of six simulated equipment (failures, maintenance, gaps), per day."""
    store = open_store(f"duckdb:///{seeded_fleet_dir / 'metrics.duckdb'}")
    service = EquipmentAnalyticsService(store)
    raw = store.query(Selection(datetime(2023, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC),
                                metric_types=("availability",)))
    frame = pd.DataFrame({"when": raw["time"], "eq": raw["equipment_id"].astype(str), "up": raw["value"] == 1})
    start, end = frame["when"].min().to_pydatetime(), frame["when"].max().to_pydatetime()
    theirs = service.fleet_availability(start, end, freq="1D")
    ours = availability_of(frame.sample(frac=1.0, random_state=3), time="when", value="up", equipment="eq", freq="1D")
    assert_same_table(ours, theirs)
    assert len(ours) == 6 * 10 and ours["outages"].sum() > 0


def test_a_case_worked_out_by_hand() -> None:
    """Staleness 10 min, the hour 00:00-01:00, maintenance 00:50-01:00:
    up 00:00-00:15 (the 00:05 sample holds 10 min), unknown 00:15-00:40, down 00:40-00:45,
    up 00:45-00:50, then maintenance. Known 15 + 5 + 5 = 25 min of 60 - 10 = 50: coverage 50 %;
    availability 20 / 25 = 80 %; one outage of 5 min; MTBF 20 min."""
    frame = pd.DataFrame({"time": [at(0), at(5), at(40), at(45)], "value": [True, True, False, True]})
    result = availability_of(frame, equipment_id="press-7", end=T0 + HOUR, maintenance=[(at(50), at(60))])
    assert result == AvailabilityResult(
        equipment_id="press-7", start=T0, end=T0 + HOUR, availability_pct=80.0, uptime_s=1200.0, downtime_s=300.0,
        unknown_s=1500.0, maintenance_s=600.0, outages=1, mtbf_s=1200.0, mttr_s=300.0, coverage_pct=50.0, samples=4)


def test_a_maintenance_frame_charges_each_window_to_its_own_equipment() -> None:
    """The case above with its 00:50-01:00 window in a frame: the same figures. A window of
    press-8 (00:00-00:30) beside it counts only for press-8: picked out of a two-equipment
    frame, press-7 keeps 600 s of maintenance, 80 % and 50 % coverage; a frame of press-7
    alone cannot take press-8's window (it would be charged to press-7: 2,400 s)."""
    frame = pd.DataFrame({"time": [at(0), at(5), at(40), at(45)], "value": [True, True, False, True]})
    own = pd.DataFrame({"equipment_id": ["press-7"], "start": [at(50)], "end": [at(60)]})
    alone = availability_of(frame, equipment_id="press-7", end=T0 + HOUR, maintenance=own)
    assert (alone.maintenance_s, alone.availability_pct, alone.coverage_pct) == (600.0, 80.0, 50.0)
    both = pd.DataFrame({"equipment_id": ["press-7", "press-8"], "start": [at(50), at(0)], "end": [at(60), at(30)]})
    two = pd.concat([frame.assign(eq="press-7"), frame.assign(eq="press-8")], ignore_index=True)
    assert availability_of(two, equipment="eq", equipment_id="press-7", end=T0 + HOUR, maintenance=both) == alone
    fleet = availability_of(two, equipment="eq", end=T0 + HOUR, maintenance=both)
    assert fleet["maintenance_s"].tolist() == [600.0, 1800.0]
    with pytest.raises(ValidationError, match=r"row 1 is for equipment_id 'press-8', which is not the frame's "
                                              r"equipment 'press-7'"):
        availability_of(frame, equipment_id="press-7", end=T0 + HOUR, maintenance=both)
    with pytest.raises(ValidationError, match="pass equipment_id="):
        availability_of(frame, end=T0 + HOUR, maintenance=own)


def test_status_text_and_defaults_the_span_of_the_frame() -> None:
    """Without start / end the period runs from the first to the last sample (00:00-00:30):
    offline 00:00-00:10, operational 00:10-00:30; maintenance counts as unavailable."""
    frame = pd.DataFrame({"t": [at(10), at(0), at(20), at(30)],
                          "s": ["operational", "offline", "maintenance", "operational"]})
    result = availability_of(frame, time="t", value="s")
    assert (result.start, result.end) == (T0, at(30))
    assert (result.uptime_s, result.downtime_s, result.outages, result.samples) == (600.0, 1200.0, 2, 3)
    assert result.equipment_id == ""


def test_shapes_mirror_the_service() -> None:
    frame = long_frame()
    fleet = availability_of(frame, equipment="equipment_id", start=T0, end=T0 + 2 * HOUR)
    assert fleet["equipment_id"].tolist() == ["EQ-A", "EQ-B"]
    assert list(fleet.columns[-2:]) == ["coverage_pct", "samples"]
    one = availability_of(frame[frame["equipment_id"] == "EQ-A"].drop(columns="equipment_id"), start=T0,
                          end=T0 + 2 * HOUR, equipment_id="EQ-A", freq="1h")
    assert one["window_start"].tolist() == [pd.Timestamp(T0), pd.Timestamp(T0 + HOUR)]
    assert vigileos_analytics.availability_of is availability_of


def test_an_empty_frame_with_a_period_is_all_unknown() -> None:
    frame = pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]"), "value": pd.Series([], dtype="int64")})
    result = availability_of(frame, start=T0, end=T0 + HOUR)
    assert (result.availability_pct, result.coverage_pct, result.unknown_s, result.samples) == (None, 0.0, 3600.0, 0)


def frame_with(**columns) -> pd.DataFrame:
    base = {"time": [at(0), at(5), at(10)], "value": [1, 0, 1], "eq": ["A", "A", "B"]}
    return pd.DataFrame({**base, **columns}, index=["a", "b", "c"])


BAD = [
    ("not a frame", [{"time": T0, "value": 1}], {}, "frame", "got list"),
    ("unknown column", frame_with(), {"time": "when"}, "time", "'when' is not in the frame"),
    ("unknown equipment column", frame_with(), {"equipment": "site"}, "equipment", "'site' is not in the frame"),
    ("two value columns", pd.DataFrame([[T0, 1, 0]], columns=["time", "value", "value"]), {}, "value", "several"),
    ("mixed offsets", frame_with(time=[pd.Timestamp("2024-01-01T00:00+01:00"), pd.Timestamp("2024-01-01T00:00+02:00"),
                                       T0]), {}, "time", "utc=True"),
    ("naive times", frame_with(time=[datetime(2024, 1, 1)] * 3), {}, "time", "naive"),
    ("naive text", frame_with(time=["2024-01-01 00:00"] * 3), {}, "time", "row 'a'"),
    ("missing time", frame_with(time=[at(0), None, at(1)]), {}, "time", "row 'b'"),
    ("before 1970", frame_with(time=[at(0), at(1), datetime(1969, 12, 31, tzinfo=UTC)]), {}, "time", "row 'c'"),
    ("NaN value", frame_with(value=[1.0, np.nan, 0.0]), {}, "value", "row 'b'"),
    ("value 2", frame_with(value=[1, 0, 2]), {}, "value", "got 2.0 in row 'c'"),
    ("unknown status", frame_with(value=["operational", "broken", "offline"]), {}, "value", "'broken' in row 'b'"),
    ("missing id", frame_with(eq=["A", None, "B"]), {"equipment": "eq"}, "equipment", "row 'b'"),
    ("blank id", frame_with(eq=["A", "B", ""]), {"equipment": "eq"}, "equipment", "row 'c'"),
    ("unknown equipment_id", frame_with(), {"equipment": "eq", "equipment_id": "Z"}, "equipment_id", "'Z'"),
    ("no span", frame_with().iloc[:1], {}, "end", "pass end="),
    ("empty", frame_with().iloc[:0], {}, "start", "pass start= and end="),
    ("end before start", frame_with(), {"end": T0 - HOUR}, "start_time", "before"),
    ("naive start", frame_with(), {"start": datetime(2024, 1, 1)}, "start_time", "timezone-aware"),
    ("staleness", frame_with(), {"staleness": timedelta(0)}, "staleness", "positive"),
    ("freq", frame_with(), {"freq": "soon"}, "freq", "'soon'"),
    ("maintenance text", frame_with(), {"maintenance": "nightly"}, "maintenance", "got str"),
    ("maintenance single", frame_with(), {"maintenance": [T0]}, "maintenance", "window 1"),
    ("maintenance naive", frame_with(), {"maintenance": [(datetime(2024, 1, 1), at(5))]}, "maintenance_windows",
     "window 1"),
    ("maintenance frame", frame_with(), {"maintenance": pd.DataFrame({"from": [T0], "end": [at(5)]})}, "maintenance",
     "missing ['start']"),
    ("maintenance row", frame_with(), {"maintenance": pd.DataFrame({"start": [at(9)], "end": [at(5)]}, index=["x"])},
     "maintenance", "row 'x'"),
    ("maintenance ids", frame_with(), {"equipment": "eq", "maintenance": pd.DataFrame({"start": [T0], "end": [at(5)]})},
     "maintenance", "equipment_id"),
    ("maintenance unknown id", frame_with(), {"equipment": "eq", "maintenance": pd.DataFrame(
        {"equipment_id": ["A", "GHOST"], "start": [T0, T0], "end": [at(5), at(5)]}, index=["w1", "w2"])},
     "maintenance", "row 'w2' is for equipment_id 'GHOST', which is not among the frame's equipment ['A', 'B']"),
    ("maintenance unknown id, one picked", frame_with(), {"equipment": "eq", "equipment_id": "A",
                                                          "maintenance": pd.DataFrame(
        {"equipment_id": ["GHOST"], "start": [T0], "end": [at(5)]})}, "maintenance", "row 0 is for equipment_id"),
    ("row label of a numpy index", frame_with(value=[1, 0, 7]).set_index(pd.Index([10, 20, 25])), {}, "value",
     "got 7.0 in row 25."),
]


@pytest.mark.parametrize(("frame", "options", "field", "says"), [case[1:] for case in BAD], ids=[c[0] for c in BAD])
def test_mistakes_are_validation_errors_naming_the_column_and_row(frame, options, field, says) -> None:
    with pytest.raises(ValidationError) as caught:
        availability_of(frame, **options)
    assert caught.value.field == field
    assert says in str(caught.value)


def test_rows_in_any_order_give_the_same_figures() -> None:
    frame = long_frame()
    shuffled = frame.sample(frac=1.0, random_state=1).set_index(pd.Index([f"r{i}" for i in range(len(frame))]))
    options = {"equipment": "equipment_id", "start": T0, "end": T0 + 2 * HOUR}
    assert_same_table(availability_of(shuffled, **options), availability_of(frame, **options))
