"""The simulator: reproducible, realistic, and consistent with the truth it keeps."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from vigileos_analytics.errors import ValidationError
from vigileos_analytics.ingest import simulate
from vigileos_analytics.ingest.simulate import FleetSpec, simulate_fleet

from .conftest import FLEET_END

SPEC = FleetSpec(equipment=4, days=20, end=FLEET_END, seed=3, mtbf_hours=72)


def points(spec=SPEC, chunk_equipment=2):
    return pd.concat(list(simulate_fleet(spec).frames(chunk_equipment=chunk_equipment)), ignore_index=True)


# The properties below hold for explicit chunks and for the default, sized by points.
CHUNKINGS = pytest.mark.parametrize("chunking", [2, None], ids=["2-equipment-chunks", "default-chunks"])


def test_same_seed_same_fleet_and_chunking_does_not_matter():
    a = pd.concat(list(simulate_fleet(SPEC).frames(chunk_equipment=1)), ignore_index=True)
    b = pd.concat(list(simulate_fleet(SPEC).frames(chunk_equipment=4)), ignore_index=True)
    key = ["equipment_id", "metric_type", "time"]
    a = a.astype({"equipment_id": str, "metric_type": str}).sort_values(key, kind="stable").reset_index(drop=True)
    b = b.astype({"equipment_id": str, "metric_type": str}).sort_values(key, kind="stable").reset_index(drop=True)
    assert a[key].equals(b[key])
    other = points(FleetSpec(equipment=4, days=20, end=FLEET_END, seed=4, mtbf_hours=72))
    assert len(other) != len(a) or not np.allclose(other["value"].to_numpy(), a["value"].to_numpy())


@CHUNKINGS
def test_availability_and_status_follow_the_truth(chunking):
    fleet = simulate_fleet(SPEC)
    frame = points(chunk_equipment=chunking)
    assert len(fleet.failures) >= 4
    avail = frame[frame["metric_type"] == "availability"]
    for eq, failure, repair in fleet.failures[["equipment_id", "failure_time", "repair_time"]].itertuples(index=False):
        inside = avail[(avail["equipment_id"] == eq) & (avail["time"].astype("int64") >= failure)
                       & (avail["time"].astype("int64") < repair)]
        assert (inside["value"] == 0).all() and (inside["reason"].astype(str) == "failure").all()
    changes = frame[frame["metric_type"] == "status_change"]
    to_offline = changes[changes["new_status"].astype(str) == "offline"]
    assert len(to_offline) == len(fleet.failures)
    # metrics are absent while down or in maintenance
    cpu = frame[frame["metric_type"] == "cpu_usage"]
    assert len(cpu) < len(avail) / 5


@CHUNKINGS
def test_degradation_precedes_a_share_of_failures(chunking):
    fleet = simulate_fleet(SPEC)
    frame = points(chunk_equipment=chunking)
    memory = frame[frame["metric_type"] == "memory_usage"]
    degraded = fleet.failures[fleet.failures["degraded"]]
    assert len(degraded) >= 2
    rises = []
    for eq, failure in degraded[["equipment_id", "failure_time"]].itertuples(index=False):
        mine = memory[memory["equipment_id"] == eq]
        series = pd.Series(mine["value"].to_numpy(), index=mine["time"].astype("int64").to_numpy())
        before = series[(series.index > failure - 2 * 3_600_000_000_000) & (series.index < failure)]
        baseline = series[(series.index < failure - 72 * 3_600_000_000_000)]
        if len(before) and len(baseline):
            rises.append(before.mean() - baseline.mean())
    assert rises and np.mean(rises) > 10  # memory creeps up by tens of % before degraded failures


@CHUNKINGS
def test_values_stay_in_their_physical_ranges_with_daily_seasonality(chunking):
    frame = points(chunk_equipment=chunking)
    cpu = frame[frame["metric_type"] == "cpu_usage"]
    assert cpu["value"].between(0, 100).all()
    assert (frame.loc[frame["metric_type"] == "response_time", "value"] > 0).all()
    hours = cpu["time"].dt.hour
    assert cpu.loc[hours.between(13, 15), "value"].mean() > cpu.loc[hours.between(0, 3), "value"].mean() + 5


@pytest.mark.parametrize("kwargs, message", [
    ({"equipment": 0}, "equipment must be"),
    ({"days": -1}, "days must be"),
    ({"resolution": timedelta(0)}, "resolution must be"),
    ({"degradation_share": 2}, "degradation_share"),
    ({"mtbf_hours": 0}, "mtbf_hours must be positive"),
])
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        FleetSpec(**kwargs)


def test_default_chunks_are_sized_by_points_and_keep_the_keys(monkeypatch):
    spec = FleetSpec(equipment=7, days=1, end=FLEET_END, seed=3, mtbf_hours=12, metrics=("cpu_usage",))
    fleet = simulate_fleet(spec)
    per_equipment = 24 * 60 + 24 * 12  # availability every minute, cpu every 5 minutes, at most
    monkeypatch.setattr(simulate, "CHUNK_POINTS", 2 * per_equipment)
    chunks = list(fleet.frames())
    assert [c["equipment_id"].astype(str).unique().tolist() for c in chunks] == [
        ["EQ-0001", "EQ-0002"], ["EQ-0003", "EQ-0004"], ["EQ-0005", "EQ-0006"], ["EQ-0007"]]
    assert all(len(c) <= 2 * per_equipment for c in chunks)
    key = ["equipment_id", "metric_type", "time", "reason", "previous_status", "new_status"]

    def rows(frames):  # rows come metric by metric within a chunk: compare them sorted
        frame = pd.concat(frames, ignore_index=True)[key].astype(str)
        return frame.sort_values(key, kind="stable").reset_index(drop=True)

    assert rows(chunks).equals(rows(fleet.frames(chunk_equipment=1)))
    with pytest.raises(ValidationError, match="chunk_equipment must be a positive whole number"):
        next(fleet.frames(chunk_equipment=0))


def test_a_subset_of_metrics_has_the_values_of_the_full_set():
    full = points(FleetSpec(equipment=3, days=3, end=FLEET_END, seed=5))
    for subset in [("cpu_usage", "response_time"), ("memory_usage",), ("network_traffic",)]:
        part = points(FleetSpec(equipment=3, days=3, end=FLEET_END, seed=5, metrics=subset))
        expected = full[full["metric_type"].isin(["availability", "status_change", *subset])]
        assert part.astype({"metric_type": str}).reset_index(drop=True).equals(
            expected.astype({"metric_type": str}).reset_index(drop=True))
